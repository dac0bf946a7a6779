"""Classify images with this bundle's model.onnx: python predict.py IMAGE [IMAGE ...] [--json]

Needs only onnxruntime, Pillow and numpy. Prints file, top class and its probability.
(Shipped verbatim as predict.py in TL Studio's export bundles; it must not import tlcore.)
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
CARD = json.loads((HERE / "model_card.json").read_text())
SIZE, MAX_SIDE = CARD["input"]["size"], CARD["input"]["max_side"]


def load(path):
    """The dashboard's decoding (model_card.json "input"): EXIF rotation, transparency on
    white, RGB, longer side cut to MAX_SIDE, then bilinear straight to SIZE x SIZE, uint8."""
    img = ImageOps.exif_transpose(Image.open(path))
    if img.mode in ("P", "PA", "RGBA", "LA", "La", "RGBa") or "transparency" in img.info:
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    img = img.convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)  # only ever shrinks
    return np.asarray(img.resize((SIZE, SIZE), Image.Resampling.BILINEAR), dtype=np.uint8)


def main(args):
    files = [a for a in args if a != "--json"]
    if not files:
        sys.exit(__doc__)
    session = ort.InferenceSession(str(HERE / "model.onnx"), providers=["CPUExecutionProvider"])
    for f in files:  # normalisation and softmax are inside the model: it takes the raw pixels
        prob = session.run(None, {CARD["input"]["onnx_input"]: load(f)[None]})[0][0]
        row = {"file": f, "class": CARD["classes"][int(prob.argmax())], "probability": float(prob.max())}
        print(json.dumps(row) if "--json" in args else f"{f}\t{row['class']}\t{row['probability']:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
