"""The run bundle: one zip with the model in three formats, its card, the run's config and
metrics, the confusion matrix, and a predict.py that needs only onnxruntime, Pillow, numpy.

Every model in it is checked against the dashboard's predictions on the run's target test
set before the zip exists; the figures go into model_card.json. Everything is made in a
hidden folder next to the zip and the zip appears by one rename, so a half-built bundle is
never served and nothing is written outside the run folder (or the path given).
"""
from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from ..atomic import atomic_output
from ..run_folder import RunFolder
from ..run_record import RunRecord, is_run_id
from .images import run_test_images
from .model_card import build_model_card
from .onnx_export import export_onnx
from .report_files import confusion_png, metrics_csv
from .run_model import ExportError, load_run_model
from .safetensors_export import export_safetensors
from .torchscript_export import export_torchscript
from .verify import verify_onnx, verify_safetensors, verify_torchscript

PREDICT_SCRIPT = Path(__file__).with_name("standalone_predict.py")
BUNDLE_FILES = ("model.onnx", "model.safetensors", "model.torchscript.pt", "model_card.json", "config.json",
                "metrics.csv", "confusion_matrix.png", "predict.py", "README.txt")


def _bundle_name(folder: Path, record: RunRecord | None) -> str:
    run_id = record.id if record else folder.name
    return f"tlstudio-{run_id}" if is_run_id(run_id) else "tlstudio-run"  # never an odd name in the zip


def default_bundle_path(folder: str | Path, record: RunRecord | None = None) -> Path:
    """RUN_FOLDER/exports/tlstudio-RUN_ID.zip."""
    folder = Path(folder)
    return RunFolder(folder).export(f"{_bundle_name(folder, record)}.zip")


def _readme(card: dict, top: str) -> str:
    checks = card["verification"]
    lines = [f"TL Studio model bundle: run {card['run_id'] or '-'} ({card['strategy']} on {card['backbone']}), "
             f"exported {card['exported']}.", "",
             f"Classes ({len(card['classes'])}): {', '.join(map(str, card['classes']))}",
             f"Input: RGB, {card['input']['size']} x {card['input']['size']} px; see model_card.json \"input\".", "",
             "Predict with nothing but onnxruntime, Pillow and numpy (the versions it was checked with):",
             "    pip install " + " ".join(f"{name}=={card['software'][name.lower()]}"
                                       for name in ("onnxruntime", "Pillow", "numpy")),
             f"    python {top}/predict.py IMAGE [IMAGE ...] [--json]", "",
             "Files:",
             "  model.onnx            uint8 images (N, S, S, 3) in, class probabilities out; dynamic batch;",
             "                        normalisation and softmax inside the graph",
             "  model.torchscript.pt  the same module for torch.jit.load",
             "  model.safetensors     the weights of a TL Studio backbone (normalise inputs yourself: mean/std in",
             "                        the card; tlcore.export.load_safetensors_model rebuilds it)",
             "  model_card.json       classes, input contract, mean/std, backbone, metrics, config, checks",
             "  config.json           the run's full configuration (replay: python -m tlcore train --config)",
             "  metrics.csv           every step's losses and every epoch's metrics (long form)",
             "  confusion_matrix.png  the exported ONNX model on the run's target test set", "",
             "Checked against the torch model the dashboard uses, on the run's target test set:"]
    lines += [f"  {v['runtime']}: {v['n']} images, top-1 agreement {v['top1_agreement']:.1%}, "
              f"max probability difference {v['max_prob_diff']:.1e}" for v in checks.values()]
    lines += ["", f"Exported weights: {card['checkpoint']['file']} (the run's best validation epoch when it kept "
              "one). The run's own scores in model_card.json \"metrics\" are from its final evaluation."]
    return "\n".join(lines) + "\n"


def write_bundle(run_folder: str | Path, out_zip: str | Path | None = None, record: RunRecord | None = None) -> Path:
    """Build the bundle zip of a run (default: RUN_FOLDER/exports/tlstudio-RUN_ID.zip).
    Raises NoCheckpoint for a run without a checkpoint and ExportError when an export does
    not reproduce the torch model's predictions."""
    folder = Path(run_folder)
    out = Path(out_zip) if out_zip else default_bundle_path(folder, record)
    run = load_run_model(folder)
    test = run_test_images(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    top = _bundle_name(folder, record)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".bundle-") as work_dir:
        work = Path(work_dir)
        card = build_model_card(folder, run, record)  # the checks are added once they have passed
        onnx_info = export_onnx(folder, work / "model.onnx", run=run)
        export_torchscript(folder, work / "model.torchscript.pt", run=run)
        export_safetensors(folder, work / "model.safetensors", card=card, run=run, card_file=False)
        checks = {"onnx": verify_onnx(folder, work / "model.onnx", run, test),
                  "torchscript": verify_torchscript(folder, work / "model.torchscript.pt", run, test),
                  "safetensors": verify_safetensors(folder, work / "model.safetensors", run, test)}
        failed = [v.describe() for v in checks.values() if not v.passed]
        if failed:
            raise ExportError("the exported model does not reproduce the run's predictions: " + "; ".join(failed))
        card["verification"] = {k: v.to_dict() for k, v in checks.items()}
        card["onnx"] = {k: v for k, v in onnx_info.items() if k != "path"}
        files = {"model_card.json": json.dumps(card, indent=2),
                 "config.json": RunFolder(folder).file(RunFolder.CONFIG).read_text(),
                 "metrics.csv": metrics_csv(folder), "README.txt": _readme(card, top)}
        for name, text in files.items():
            (work / name).write_text(text)
        (work / "confusion_matrix.png").write_bytes(confusion_png(
            checks["onnx"].confusion_matrix, run.class_names,
            f"Exported model on the target test set ({checks['onnx'].n} images)"))
        shutil.copyfile(PREDICT_SCRIPT, work / "predict.py")
        with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in BUNDLE_FILES:
                zf.write(work / name, f"{top}/{name}")
    return out
