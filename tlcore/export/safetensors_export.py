"""Safetensors export: the weights of the model that classifies target images (for AdaBN
its target-statistics copy), keyed as a TL Studio backbone, with the model card in the
file's metadata. No pickle anywhere: the file can be inspected and loaded safely."""
from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

from ..atomic import atomic_output
from .run_model import RunModel, load_run_model

CARD_KEY = "tlstudio.model_card"


def export_safetensors(folder: str | Path, out: str | Path, card: dict | None = None,
                       run: RunModel | None = None, card_file: bool = True) -> dict:
    """Write ``out`` (.safetensors) and, unless ``card_file`` is off, ``<stem>.model_card.json``
    next to it: the weights alone do not say the classes, input size or normalisation."""
    from .model_card import build_model_card
    run = run or load_run_model(folder)
    card = card or build_model_card(folder, run)
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in run.module.model.state_dict().items()}
    out = Path(out)
    with atomic_output(out) as tmp:
        save_file(weights, str(tmp), metadata={CARD_KEY: json.dumps(card)})
        os.chmod(tmp, 0o644)  # safetensors creates it owner-only; an export is meant to be shared
    if not card_file:
        return {"path": out, "card": None}
    card_path = out.with_name(out.name.removesuffix(".safetensors") + ".model_card.json")
    with atomic_output(card_path) as tmp:
        tmp.write_text(json.dumps(card, indent=2))
    return {"path": out, "card": card_path}


def load_safetensors_model(path: str | Path):
    """(backbone in eval mode, model card) from an exported file: a fresh backbone of the
    card's architecture, the exported weights loaded strictly. Expects images normalised
    with the card's mean and std (``preprocessing``), not raw pixels."""
    from safetensors.torch import load_file

    from ..backbones import create_backbone
    with safe_open(str(path), framework="pt") as fh:
        card = json.loads(fh.metadata()[CARD_KEY])
    model = create_backbone(card["backbone"], "none", num_classes=len(card["classes"]))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval(), card
