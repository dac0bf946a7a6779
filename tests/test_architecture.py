"""The shape of the code, checked (README "Layout"). import-linter checks the layers and
cycles (``lint-imports`` in .ci/run); these check what it cannot see: the page scripts,
what importing a module does, run-folder file names, and function length."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore.run_folder import RunFolder

ROOT = Path(__file__).resolve().parents[1]
CODE = sorted((ROOT / "tlcore").rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py")) + [ROOT / "app.py"]
MAX_FUNCTION_LINES = 60


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported(module: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "pages").rglob("*.py")) + [ROOT / "app.py"], ids=lambda p: p.name)
def test_pages_start_no_process_or_thread(path):
    """Background work goes through tlcore.jobs; a page only calls it."""
    assert not imported(tree(path)) & {"subprocess", "threading", "multiprocessing", "concurrent"}, path


def test_the_core_never_imports_streamlit():
    offenders = [p for p in (ROOT / "tlcore").rglob("*.py") if "streamlit" in imported(tree(p))]
    assert offenders == []


def test_importing_any_core_module_changes_no_environment():
    """Every module of tlcore, imported in a fresh interpreter, leaves os.environ as it was
    (threads and the OpenMP policy are set for a job by tlcore.jobs, never by an import)."""
    # Libraries set their own variables when imported (torch: TORCHINDUCTOR_CACHE_DIR, numba:
    # KMP_*): they are imported first, so what is measured is what our modules do.
    script = """
import importlib, json, os, pkgutil, sys
for library in ("torch", "torchvision", "timm", "lightning_fabric", "sklearn", "numba", "umap", "cleanlab",
                "pytorch_grad_cam", "onnx", "onnxruntime", "onnxscript"):
    importlib.import_module(library)
before = dict(os.environ)
import tlcore
changed = {}
for info in pkgutil.walk_packages(tlcore.__path__, "tlcore."):
    if info.name.endswith(("__main__", "standalone_predict")):  # scripts: the CLI, a bundle's predict.py
        continue
    importlib.import_module(info.name)
    now = dict(os.environ)
    if now != before:
        changed[info.name] = sorted(k for k in set(now) | set(before) if now.get(k) != before.get(k))
        before = now
print(json.dumps(changed))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}


RUN_FILES = {v for k, v in vars(RunFolder).items() if k.isupper() and isinstance(v, str)}
NOT_A_RUN_FOLDER = {("tlcore/backbones/weights.py", "checkpoints")}  # torch hub's cache of downloads


def test_only_run_folder_builds_paths_inside_a_run_folder():
    """`folder / "config.json"` (or any other file of a run folder) appears in run_folder.py only."""
    found = []
    for path in CODE:
        if path.name == "run_folder.py":
            continue
        for node in ast.walk(tree(path)):
            parts = []
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                parts = [node.right]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "Path", "join"):
                parts = node.args[1:]
            where = str(path.relative_to(ROOT))
            found += [f"{where}:{node.lineno} {p.value}" for p in parts if isinstance(p, ast.Constant)
                      and p.value in RUN_FILES and (where, p.value) not in NOT_A_RUN_FOLDER]
    assert found == []


def test_functions_fit_on_a_screen():
    long = []
    for path in CODE:
        for node in ast.walk(tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_importing_the_core_never_hides_the_fit_function():
    """``from tlcore import fit`` is the notebook's entry point; a submodule named tlcore.fit
    replaced it with itself once anything imported that module directly (29 tests failed)."""
    code = ("import tlcore.search, tlcore.runs.search_run, tlcore.fitting\n"
            "from tlcore import fit\n"
            "assert callable(fit) and fit.__module__ == 'tlcore.fitting', fit\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
