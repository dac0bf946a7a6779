"""``python -m tlcore export RUN_ID --format onnx|torchscript|safetensors|bundle``.

Exit codes as in the rest of tlcore.cli: 0 success, 2 unusable input (reason on stderr), and 1 when
an export was made but did not reproduce the run's predictions (the file is removed).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

FORMATS = ("onnx", "torchscript", "safetensors", "bundle")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt", "safetensors": ".safetensors", "bundle": ".zip"}


def add_export_parser(subparsers) -> None:
    """``export`` as a sub-command of ``python -m tlcore``."""
    p = subparsers.add_parser("export", help="export a run's best model: ONNX, TorchScript, safetensors or a "
                                             "bundle zip (all three, model card, metrics, predict.py)")
    add_export_arguments(p)


def add_export_arguments(p) -> None:
    p.add_argument("run_id", help="see: python -m tlcore runs list")
    p.add_argument("--format", choices=FORMATS, default="bundle", help="what to write (default: bundle)")
    p.add_argument("--out", help="the file to write (default: RUN_FOLDER/exports/...)")
    p.add_argument("--runs-dir", help="the run store (default $TLSTUDIO_RUNS_DIR or ./runs)")
    p.set_defaults(func=cmd_export)


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def cmd_export(args) -> int:
    from ..export import (ExportError, default_bundle_path, export_onnx, export_safetensors, export_torchscript,
                          load_run_model, verify_onnx, verify_torchscript, write_bundle)
    from ..predict import NoCheckpoint
    from ..runs import RunStore, RunStoreError
    try:
        store = RunStore(args.runs_dir)
        row = store.get(args.run_id)  # refuses anything that is not a run id before it names a path
    except KeyError as exc:
        return _fail(exc.args[0])
    except RunStoreError as exc:
        return _fail(str(exc))
    folder = row.folder
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            out = out / (default_bundle_path(folder, row).stem + SUFFIX[args.format])
    elif args.format == "bundle":
        out = default_bundle_path(folder, row)
    else:
        out = row.files.export("model" + SUFFIX[args.format])
    start = time.perf_counter()
    try:
        if args.format == "bundle":
            write_bundle(folder, out, record=row)
            print(f"wrote {out} ({_size(out)}, {time.perf_counter() - start:.1f} s); models checked against "
                  "the run's predictions (see model_card.json)")
            return 0
        run = load_run_model(folder)
        if args.format == "safetensors":
            from ..export.model_card import build_model_card
            written = export_safetensors(folder, out, card=build_model_card(folder, run, row), run=run)
            print(f"wrote {out} ({_size(out)}) and {written['card']}")
            return 0
        export = export_onnx if args.format == "onnx" else export_torchscript
        verify = verify_onnx if args.format == "onnx" else verify_torchscript
        export(folder, out, run=run)
        check = verify(folder, out, run=run)
    except NoCheckpoint as exc:
        return _fail(str(exc))
    except ExportError as exc:
        return _fail(str(exc), 1)
    except (OSError, ValueError) as exc:  # the run's data or files not readable, a full disk, ...
        return _fail(f"could not export run {args.run_id}: {exc}")
    except KeyError as exc:  # a backbone or strategy no longer registered (UnknownNameError)
        return _fail(f"could not export run {args.run_id}: {exc.args[0]}")
    if not check.passed:
        out.unlink(missing_ok=True)
        return _fail(f"the export does not reproduce the run's predictions, so it was removed: {check.describe()}", 1)
    print(f"wrote {out} ({_size(out)}, {time.perf_counter() - start:.1f} s); {check.describe()}")
    return 0
