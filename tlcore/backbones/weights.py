"""Loading weights from files the user supplies, safely.

safetensors files are plain tensors. Anything else goes through
``torch.load(weights_only=True)``, whose restricted unpickler refuses every object that
is not a tensor or a plain container, so a pickle carrying a payload never runs.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..atomic import write_bytes


class WeightsError(ValueError):
    """Weights that cannot be used, with a message meant for the user."""


class WeightsUnavailable(WeightsError):
    """Pretrained weights that are not on this machine; the message says what file to place."""


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {str(path)!r}")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if path.suffix == ".safetensors" or _looks_like_safetensors(head):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path.name!r} is not a valid safetensors file ({exc})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # A pickle (it starts with the PROTO opcode) or a torch zip that the restricted
        # unpickler refused: it holds objects or opcodes beyond plain tensors.
        if "Unsupported global" in str(exc) or head[:1] == b"\x80" or head[:2] == b"PK":
            detail = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln), "")
            raise WeightsError(
                f"refused to load {path.name!r}: it is a pickle that holds more than plain tensors "
                f"(it could run code when opened). Save plain weights instead, e.g. with safetensors. "
                f"Detail: {detail}") from None
        raise WeightsError(f"{path.name!r} is not a readable PyTorch weights file") from None
    except (RuntimeError, OSError, EOFError, ValueError, AttributeError) as exc:
        raise WeightsError(f"{path.name!r} is not a readable PyTorch weights file ({exc})") from None
    return _as_state_dict(obj, path.name)


def _looks_like_safetensors(head: bytes) -> bool:
    # An 8-byte little-endian header length, then the JSON header starting with '{'.
    return len(head) >= 9 and head[8:9] == b"{"


def _as_state_dict(obj, name: str) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{name!r} does not hold a state dict (a mapping of names to tensors)")
    # Checkpoints saved from DataParallel/DDP prefix every key with 'module.'.
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def hub_checkpoint(url_or_filename: str) -> Path:
    """Where torchvision/timm keep a downloaded checkpoint (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / url_or_filename.rsplit("/", 1)[-1]


def keep_weights_file(data: bytes, file_name: str, root: str | Path, check) -> Path:
    """Store uploaded weights as ROOT/uploads/weights/<sha256>.<ext> after ``check(path)``
    (which loads them into the chosen backbone) accepts them; a refused file is removed."""
    import hashlib
    suffix = ".safetensors" if _looks_like_safetensors(data[:16]) else ".pt"
    folder = Path(root) / "uploads" / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{suffix}"
    fresh = not path.exists()
    if fresh:
        write_bytes(path, data)
    try:
        check(path)
    except Exception:
        if fresh:
            path.unlink(missing_ok=True)
        raise
    return path
