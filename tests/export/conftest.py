"""Real runs to export, trained once per test session in this process (no worker start-up):
the pretrained default fine-tuned on printed digits, and two adaptation runs (DANN, AdaBN:
the strategies whose evaluation module needs a look of its own), plus a venv for the
bundle's predict.py."""
import os
from contextlib import contextmanager

import pytest


def _train(store, config, name):
    from tlcore.runs.worker import run_recorded
    run_id = store.create_run(config, name)
    with one_torch_thread():  # session fixtures are made before any per-test fixture
        result = run_recorded(store, run_id)
    assert result.status == "finished", result.summary.get("error")
    return run_id


@contextmanager
def one_torch_thread():
    """Training and exporting with one thread: next to another busy process, two threads that
    wait for each other cost several times the CPU (see tests/feasibility/conftest.py)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _one_thread_per_test():
    """Per test, not per directory: a wider scope would leave the rest of the suite on one."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def export_store(tmp_path_factory):
    from tlcore.runs import RunStore
    return RunStore(tmp_path_factory.mktemp("export") / "runs")


@pytest.fixture(scope="session")
def finetuned(export_store):
    """efficientnet_lite0 with its ImageNet weights, last two stages fine-tuned on syndigits at
    32 px: about 5 s on 2 cores. lr 0.01 for 2 epochs makes it confident (mean top probability
    about 0.45, 8 of 10 classes predicted), so agreement between runtimes is a real test."""
    from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
    config = RunConfig(data=DataConfig(target="syndigits", per_class=20, image_size=32),
                       model=ModelConfig(freeze="last:2"), optim=OptimConfig(lr=0.01),
                       schedule=ScheduleConfig(epochs=2), batch_size=16)
    return export_store.get(_train(export_store, config, "export-finetune"))


@pytest.fixture(scope="session")
def finetuned_model(finetuned):
    """(RunModel, TestImages) of the finetuned run, loaded once for the checks that share them."""
    from tlcore.export import load_run_model
    from tlcore.export.images import run_test_images
    return load_run_model(finetuned.folder), run_test_images(finetuned.folder)


# The adaptation runs: mnist -> syndigits, one epoch, random init. DANN on the DANN paper's
# digits CNN; AdaBN and MCC with domain-specific BatchNorm (the target-statistics copy every
# adaptation method can evaluate with) on torchvision's mobilenet_v3_small, since the digits
# CNN has no BatchNorm and the evaluation copy would then equal the backbone it was made from.
# name: (strategy, backbone, image size, parameters)
ADAPTED = {"dann": ("dann", "dann_digits_cnn", 28, {}), "adabn": ("adabn", "mobilenet_v3_small", 32, {}),
           "mcc-dsbn": ("mcc", "mobilenet_v3_small", 32, {"bn_mode": "domain"})}


@pytest.fixture(scope="session")
def adapted(export_store):
    """{strategy: run row} for the runs of ADAPTED (a few seconds each)."""
    from tlcore.config import DataConfig, ModelConfig, RunConfig, ScheduleConfig, StrategyConfig
    rows = {}
    for name, (strategy, backbone, size, params) in ADAPTED.items():
        config = RunConfig(data=DataConfig(target="syndigits", source="mnist", per_class=20, image_size=size),
                           model=ModelConfig(backbone=backbone, weights="none", freeze="none"),
                           strategy=StrategyConfig(strategy, params), schedule=ScheduleConfig(epochs=1),
                           batch_size=16)
        rows[name] = export_store.get(_train(export_store, config, f"export-{name}"))
    return rows


@pytest.fixture(scope="session")
def bundle(finetuned, tmp_path_factory):
    """The finetuned run's bundle, written once and unpacked: (zip path, unpacked folder, seconds)."""
    import time
    import zipfile
    from pathlib import Path

    from tlcore.export import write_bundle
    start = time.perf_counter()
    with one_torch_thread():
        path = write_bundle(finetuned.folder, record=finetuned)
    seconds = time.perf_counter() - start
    unpacked = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(path) as zf:
        zf.extractall(unpacked)
    (top,) = list(unpacked.iterdir())
    return Path(path), top, seconds


# ---- a virtual environment with nothing but what the bundle's predict.py may use
PREDICT_PACKAGES = ("onnxruntime", "pillow", "numpy")


def _python_ok(python) -> bool:
    import subprocess
    # The three import, and torch (standing for everything else here) does not.
    probe = "import onnxruntime, PIL, numpy, importlib.util as u; raise SystemExit(u.find_spec('torch') is not None)"
    return python.exists() and subprocess.run([str(python), "-I", "-c", probe], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def predict_venv():
    """(venv python, seconds it took to make; 0 when reused): a plain venv (no system site
    packages, no pip) into which this environment's pip installs exactly the versions of
    onnxruntime, Pillow and numpy installed here (the runtime pins), from the package index,
    with their own requirements and nothing else. Kept under ~/.cache/tlstudio-tests, keyed
    by Python and those versions, so only the first session pays for it. Skipped only when
    the package index cannot be reached."""
    import hashlib
    import shutil
    import subprocess
    import sys
    import time
    from importlib.metadata import version
    from pathlib import Path
    pins = [f"{name}=={version(name)}" for name in PREDICT_PACKAGES]
    key = hashlib.sha256(" ".join([sys.version, *pins]).encode()).hexdigest()[:12]
    root = Path(os.environ.get("TLSTUDIO_TEST_CACHE") or Path.home() / ".cache" / "tlstudio-tests")
    venv = root / f"predict-venv-{key}"
    if (venv / "ready").exists() and _python_ok(venv / "bin" / "python"):
        return venv / "bin" / "python", 0.0
    start = time.perf_counter()
    build = root / f".predict-venv-{key}.{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(build)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(build / "bin" / "python"), "install", "--no-input", *pins]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=900)
    if installed.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        reach = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "onnxruntime"],
                               capture_output=True, text=True, timeout=300)
        if reach.returncode != 0:
            pytest.skip(f"the package index is unreachable, so no venv for predict.py: {reach.stderr[-300:]}")
        pytest.fail(f"pip could not install {pins} into a fresh venv:\n{installed.stderr[-2000:]}")
    (build / "ready").write_text("\n".join(pins) + "\n")
    shutil.rmtree(venv, ignore_errors=True)
    build.rename(venv)  # only bin/python is run, which finds its pyvenv.cfg next to it after a move
    assert _python_ok(venv / "bin" / "python")
    return venv / "bin" / "python", time.perf_counter() - start
