"""Checkpoints: model weights as safetensors, optimiser and loop state as a plain torch
file read back with ``weights_only=True``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer, scheduler, state: dict, best: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = folder / "last.safetensors.tmp"
    save_file(weights, str(tmp))
    tmp.replace(folder / "last.safetensors")  # atomic: a crash mid-write never leaves half a file
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, folder / "last_state.pt")
    (folder / "last.json").write_text(json.dumps(state, indent=2))
    if best:
        shutil.copyfile(folder / "last.safetensors", folder / "best.safetensors")
    return folder / "last.safetensors"


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer=None, scheduler=None) -> dict:
    folder = Path(folder)
    if not (folder / "last.safetensors").exists():
        raise FileNotFoundError(f"no checkpoint in {folder}")
    model.load_state_dict(load_file(str(folder / "last.safetensors")), strict=True)
    if optimizer is not None:
        extra = torch.load(folder / "last_state.pt", map_location="cpu", weights_only=True)
        optimizer.load_state_dict(extra["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(extra["scheduler"])
    return json.loads((folder / "last.json").read_text())
