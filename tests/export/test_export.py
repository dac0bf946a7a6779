"""Exports of a real trained run: ONNX (checked with onnxruntime), TorchScript, safetensors
with its model card, the bundle zip, the CLI, and the bundle's predict.py in a venv that
holds only onnxruntime, Pillow and numpy, against the dashboard's own predictions."""
import argparse
import ast
import csv
import io
import json
import subprocess
import zipfile
from pathlib import Path

import hostile_files as h
import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from tlcore.cli.export import add_export_parser
from tlcore.export import (export_onnx, export_torchscript, load_run_model, load_safetensors_model, verify_onnx,
                           verify_torchscript, write_bundle)
from tlcore.export.bundle import BUNDLE_FILES
from tlcore.export.images import run_test_images
from tlcore.export.verify import MAX_PROB_DIFF
from tlcore.predict import Predictor, square_inputs
from tlcore.runs.read import target_test_predictions

N_TEST = 30  # syndigits, 20 images a class, 15% test split


def export_cli(*argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore")
    add_export_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    return args.func(args)


# ---- ONNX, TorchScript, safetensors: each against the torch model on the run's test set

def test_onnx_gives_the_torch_model_s_top1_and_probabilities_on_the_test_set(finetuned, finetuned_model, bundle):
    _, unpacked, _ = bundle
    check = verify_onnx(finetuned.folder, unpacked / "model.onnx", *finetuned_model)
    assert check.n == N_TEST and check.same_images_as_run  # the images the Evaluate page scored
    assert check.top1_agreement == 1.0 and check.max_prob_diff < MAX_PROB_DIFF == 1e-4
    card = json.loads((unpacked / "model_card.json").read_text())
    assert card["verification"]["onnx"]["passed"] and card["onnx"]["exporter"] == "dynamo"


def test_onnx_batch_is_dynamic(finetuned_model, bundle):
    _, unpacked, _ = bundle
    session = ort.InferenceSession(str(unpacked / "model.onnx"), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, out.name) == ("image", "tensor(uint8)", "probabilities")
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [32, 32, 3]
    x = square_inputs(finetuned_model[1].images[:7], 32)
    seven = session.run(None, {"image": x})[0]
    one = np.concatenate([session.run(None, {"image": x[i:i + 1]})[0] for i in range(7)])
    assert seven.shape == (7, 10) and np.allclose(seven.sum(1), 1, atol=1e-5)
    assert np.abs(seven - one).max() < 1e-6
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == [str(d) for d in range(10)] and meta["input_size"] == "32"


def test_torchscript_matches_torch_at_batch_1_and_7(finetuned, finetuned_model, bundle):
    _, unpacked, _ = bundle
    check = verify_torchscript(finetuned.folder, unpacked / "model.torchscript.pt", *finetuned_model)
    assert check.n == N_TEST and check.top1_agreement == 1.0 and check.max_prob_diff < MAX_PROB_DIFF
    with pytest.warns(FutureWarning):  # torch 2.14 deprecates torch.jit; it still loads
        module = torch.jit.load(str(unpacked / "model.torchscript.pt"))
    run, test = finetuned_model
    x = torch.from_numpy(square_inputs(test.images[:7], 32))
    with torch.no_grad():
        for batch in (x[:1], x):
            assert torch.allclose(module(batch), run.module(batch), atol=1e-6)


def test_safetensors_and_model_card_round_trip_into_a_fresh_backbone(finetuned, finetuned_model, bundle):
    _, unpacked, _ = bundle
    model, card = load_safetensors_model(unpacked / "model.safetensors")
    assert card["classes"] == [str(d) for d in range(10)] and card["input"]["size"] == 32
    assert card["backbone"] == "efficientnet_lite0" and card["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
    assert card["config"] == json.loads(Path(finetuned.folder, "config.json").read_text())
    assert card["metrics"]["target.test.accuracy"] == finetuned.summary["target.test.accuracy"]
    assert card["checkpoint"]["file"] == "best.safetensors" and len(card["checkpoint"]["sha256"]) == 64
    predictor = finetuned_model[0].predictor
    x = torch.from_numpy(square_inputs(finetuned_model[1].images, 32)).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert torch.allclose(model(predictor.preprocess(x)), predictor.model(predictor.preprocess(x)), atol=1e-5)
    shipped = json.loads((unpacked / "model_card.json").read_text())
    assert shipped["verification"]["safetensors"]["passed"]
    assert {k: v for k, v in shipped.items() if k not in ("verification", "onnx")} == \
        {k: v for k, v in card.items() if k != "verification"}


# ---- the bundle

def _logic_lines(path: Path) -> int:
    """Lines of code, less blank lines, comments, docstrings and imports."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        docstring = isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str)
        if docstring or isinstance(node, (ast.Import, ast.ImportFrom)):
            skip |= set(range(node.lineno, node.end_lineno + 1))
    code = [line for i, line in enumerate(path.read_text().splitlines(), 1) if i not in skip]
    return sum(1 for line in code if line.strip() and not line.lstrip().startswith("#"))


def test_bundle_holds_every_file_and_a_short_predict_py(finetuned, bundle):
    path, unpacked, seconds = bundle
    assert path.parent == Path(finetuned.folder) / "exports"
    names = zipfile.ZipFile(path).namelist()
    top = f"tlstudio-{finetuned.id}"
    assert names == [f"{top}/{n}" for n in BUNDLE_FILES]
    card = json.loads((unpacked / "model_card.json").read_text())
    assert set(card) >= {"classes", "input", "preprocessing", "backbone", "metrics", "config", "exported"}
    assert json.loads((unpacked / "config.json").read_text()) == card["config"]
    rows = list(csv.DictReader(io.StringIO((unpacked / "metrics.csv").read_text())))
    assert {r["kind"] for r in rows} == {"step", "epoch"} and any(r["name"] == "target.val.accuracy" for r in rows)
    png = Image.open(unpacked / "confusion_matrix.png")
    assert png.format == "PNG" and min(png.size) > 300
    readme = (unpacked / "README.txt").read_text()
    assert "python" in readme and "top-1 agreement 100.0%" in readme
    tree = ast.parse((unpacked / "predict.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"json", "sys", "pathlib", "numpy", "onnxruntime", "PIL"}
    assert _logic_lines(unpacked / "predict.py") <= 22, "predict.py should stay about 20 lines of logic"
    print(f"bundle {path.stat().st_size / 1e6:.1f} MB in {seconds:.1f} s")


def test_a_failed_bundle_leaves_the_previous_one_and_no_debris(finetuned, bundle, monkeypatch):
    path, _, _ = bundle
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("tlcore.export.bundle.export_onnx", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_bundle(finetuned.folder, record=finetuned)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary folder or file left


# ---- every strategy whose evaluation module is its own, and the exporter fallback

def _evaluation_module_owner(strategy: str) -> tuple[str, str]:
    """The classes whose eval_model and load_eval_state the strategy runs."""
    from tlcore.backbones import create_backbone
    from tlcore.strategies import create_strategy
    cls = type(create_strategy(strategy, create_backbone("dann_digits_cnn", "none", 10), 10))
    return tuple(next(k.__qualname__ for k in cls.__mro__ if name in vars(k))
                 for name in ("eval_model", "load_eval_state"))


def test_the_tested_strategies_cover_every_own_evaluation_module(finetuned, adapted):
    """A strategy that evaluates with a module of its own (not the plain backbone) is
    exported through it: every such implementation has a run in the export tests."""
    from tlcore.strategies import list_strategies
    runs = [finetuned, *adapted.values()]
    tested = {_evaluation_module_owner(json.loads((Path(r.folder) / "config.json").read_text())["strategy"]["name"])
              for r in runs}
    for name in list_strategies():
        assert _evaluation_module_owner(name) in tested, f"export tests needed for {name}"


@pytest.mark.parametrize("strategy", ["dann", "adabn", "mcc-dsbn"])
def test_adaptation_runs_export_what_they_evaluate_with(adapted, strategy):
    folder = adapted[strategy].folder
    run = load_run_model(folder)
    if strategy != "dann":  # what is exported: the target-statistics copy, not the source-trained backbone
        from safetensors.torch import load_file
        state = load_file(str(run.predictor.checkpoint))
        exported = run.module.model.state_dict()
        stats = [k for k in exported if k.endswith("running_mean")]
        assert stats and all(torch.equal(exported[k], state[f"_target_model.{k}"]) for k in stats)
        assert not all(torch.equal(exported[k], state[f"backbone.{k}"]) for k in stats)
    # The CPU-heavy torch.export path is covered by the default backbone's bundle and by DANN's;
    # AdaBN's module goes through the older exporter, the fallback (about 1 s instead of 9).
    exporter = "dynamo" if strategy == "dann" else "legacy"
    info = export_onnx(folder, Path(folder) / "exports" / "m.onnx", exporter=exporter, run=run)
    assert info["exporter"] == exporter
    export_torchscript(folder, Path(folder) / "exports" / "m.pt", run=run)
    test = run_test_images(folder)
    for verify, name in ((verify_onnx, "m.onnx"), (verify_torchscript, "m.pt")):
        check = verify(folder, Path(folder) / "exports" / name, run, test)
        assert check.n == N_TEST and check.top1_agreement == 1.0 and check.max_prob_diff < MAX_PROB_DIFF, check


def test_a_model_torch_export_cannot_capture_falls_back_to_the_older_exporter(adapted, monkeypatch):
    folder = adapted["dann"].folder

    def cannot_capture(*args):
        raise RuntimeError("torch.export could not capture the graph")
    monkeypatch.setattr("tlcore.export.onnx_export._dynamo", cannot_capture)
    info = export_onnx(folder, Path(folder) / "exports" / "fallback.onnx")
    assert info["exporter"] == "legacy" and "could not capture" in info["fallback_reason"]
    check = verify_onnx(folder, info["path"])
    assert check.top1_agreement == 1.0 and check.max_prob_diff < MAX_PROB_DIFF
    with pytest.raises(RuntimeError):
        export_onnx(folder, Path(folder) / "exports" / "strict.onnx", exporter="dynamo")
    assert not (Path(folder) / "exports" / "strict.onnx").exists()


# ---- the command line

def test_cli_exports_and_refuses_unusable_input(export_store, adapted, capsys):
    runs_dir = str(export_store.root)
    run = adapted["dann"]
    assert export_cli(run.id, "--format", "onnx", "--runs-dir", runs_dir) == 0
    out = capsys.readouterr().out
    assert "top-1 agreement 100.0%" in out and (Path(run.folder) / "exports" / "model.onnx").exists()
    target = Path(run.folder) / "exports" / "weights.safetensors"
    assert export_cli(run.id, "--format", "safetensors", "--out", str(target), "--runs-dir", runs_dir) == 0
    assert target.exists() and target.with_name("weights.model_card.json").exists()
    for hostile in ("../../etc", "20260101-000000-zzzzzz", "x" * 500):
        assert export_cli(hostile, "--runs-dir", runs_dir) == 2
        assert "not a run id" in capsys.readouterr().err
    assert export_cli("20260101-000000-abcdef", "--runs-dir", runs_dir) == 2
    assert "no run" in capsys.readouterr().err
    from tlcore.config import RunConfig
    untrained = export_store.create_run(RunConfig(), "never trained")
    assert export_cli(untrained, "--format", "onnx", "--runs-dir", runs_dir) == 2
    assert "no checkpoint yet" in capsys.readouterr().err


# ---- done when: the bundle's predict.py, in a venv with only onnxruntime, Pillow and numpy

def _extra_images() -> dict[str, bytes]:
    """Files that take the decoding steps the dashboard applies: transparency, a palette, EXIF
    rotation, and one larger than the 512 px the dashboard cuts every image down to."""
    big = h.photo(3, (900, 700))
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    h.photo(4, (60, 40)).save(rotated, "JPEG", exif=exif.tobytes())
    return {"rgba.png": h.rgba_png(), "palette.png": h.palette_transparent_png(),
            "rotated.jpg": rotated.getvalue(), "big.png": h.encode(big)}


def test_bundle_predict_py_reproduces_the_dashboard_in_a_bare_venv(finetuned, finetuned_model, export_store, bundle,
                                                                  predict_venv, tmp_path):
    python, venv_seconds = predict_venv
    _, unpacked, _ = bundle
    listed = subprocess.run([str(python), "-I", "-c", "import importlib.metadata as m; print(sorted("
                             "d.metadata['Name'].lower() for d in m.distributions()))"],
                            capture_output=True, text=True, check=True).stdout
    allowed = {"onnxruntime", "pillow", "numpy", "flatbuffers", "packaging", "protobuf"}  # and their requirements
    assert set(ast.literal_eval(listed)) <= allowed and {"onnxruntime", "pillow", "numpy"} <= set(
        ast.literal_eval(listed)), listed
    test = finetuned_model[1]
    files = {f"test_{i:03d}.png": h.encode(Image.fromarray(img)) for i, img in enumerate(test.images)}
    files.update(_extra_images())
    images = tmp_path / "images"
    images.mkdir()
    for name, data in files.items():
        (images / name).write_bytes(data)
    done = subprocess.run([str(python), "-I", str(unpacked / "predict.py"), "--json", *sorted(files)],
                          cwd=images, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    got = {row["file"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert sorted(got) == sorted(files)
    # The Predict page: the same files through the Predictor (decode_image, then its resize).
    shown = {row["file"]: row["top"][0] for row in Predictor(finetuned.folder).predict_files(
        sorted(files.items()), k=1)}
    for name in files:
        assert got[name]["class"] == shown[name][0], name
        assert abs(got[name]["probability"] - shown[name][1]) < MAX_PROB_DIFF, name
    # The Evaluate page: the run's saved test predictions (made with the same, best, epoch's weights).
    saved = target_test_predictions(export_store, finetuned.id)
    assert finetuned.summary["best_epoch"] == saved["epoch"] and saved["ids"] == test.ids
    assert [got[f"test_{i:03d}.png"]["class"] for i in range(len(test.ids))] == \
        [saved["class_names"][p] for p in saved["pred"]]
    assert len({got[n]["class"] for n in got}) > 3  # a model that says one class everywhere would prove little
    print(f"predict venv: {'reused' if not venv_seconds else f'made in {venv_seconds:.1f} s'}")
