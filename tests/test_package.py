"""TL Studio as an installed package (pyproject.toml): `pip install .` into a fresh virtual
environment gives a `tlstudio` command that trains, lists runs and serves the dashboard
from anywhere, without the checkout on sys.path. Also: the dependency lists pyproject.toml
reads, the packages it lists, and `tlstudio app`'s arguments."""
import json
import os
import shutil
import site
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# The Learn page with its four stored lessons drawn (the lessons are package data).
STORED_LESSONS_SHOWN = ("() => (document.querySelector('[data-testid=stMain]')?.innerText"
                        ".match(/Shown: stored result/g) || []).length === 4")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CHROMIUM = os.environ.get("TLSTUDIO_CHROMIUM", "/usr/bin/chromium")
# The smallest real run of tests/train/test_cli_train.py, one epoch.
TINY = ["--target", "syndigits", "--backbone", "dann_digits_cnn", "--weights", "none", "--img-size", "28",
        "--per-class", "12", "--epochs", "1", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.02"]


def requirements(name: str) -> list[Requirement]:
    """The lines of a requirements file, each parsed as a requirement: setuptools reads the file
    as the package's dependencies (pyproject.toml), where a pip option such as -r or --index-url
    would break the build."""
    lines = [line.strip() for line in (ROOT / name).read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


def test_the_dependencies_are_requirements_txt_and_each_line_is_a_requirement():
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    assert {r.name for r in requirements("requirements.txt")} >= {"torch", "streamlit", "timm"}
    assert [r.name for r in requirements("requirements-mlflow.txt")][0] == "mlflow-skinny"


def test_every_package_of_tlcore_and_of_the_dashboard_is_installed():
    """pyproject.toml lists the packages one by one (the dashboard is installed under another
    name, which setuptools' find cannot give): a new package of tlcore must be added there."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tlcore").rglob("__init__.py")}
    assert {p for p in listed if p.startswith("tlcore")} == on_disk, "list it in pyproject.toml's packages"
    folders = {"tlstudio_dashboard": ROOT, "tlstudio_dashboard.pages": ROOT / "pages",
               "tlstudio_dashboard.pages.shared": ROOT / "pages" / "shared"}
    assert listed - on_disk == set(folders)
    assert all(any(folder.glob("*.py")) for folder in folders.values())
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["tlstudio_dashboard"]
    # Each entry names files (a glob may name several: the Learn page's stored lessons).
    assert all(any(path.is_file() for path in ROOT.glob(name)) for name in data) and "assets/logo.png" in data


def test_app_passes_streamlits_options_through_and_fixes_the_runs_folder(tmp_path, monkeypatch, capsys):
    from tlcore.cli import dashboard, main
    started = []
    monkeypatch.setattr(dashboard.os, "execve", lambda exe, cmd, env: started.append((exe, cmd, env)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TLSTUDIO_RUNS_DIR", raising=False)
    assert main(["app", "--server.port", "8502", "--runs-dir", "store", "--server.headless=true"]) == 0
    [(exe, cmd, env)] = started
    assert exe == sys.executable and cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(ROOT / "app.py")  # not installed: the checkout's own
    assert cmd[5:] == ["--server.port", "8502", "--server.headless=true"]
    assert env["TLSTUDIO_RUNS_DIR"] == str(tmp_path / "store")
    out = capsys.readouterr().out
    assert f"Runs folder: {tmp_path / 'store'}" in out and f"TL Studio dashboard: {ROOT}" in out
    monkeypatch.setattr(dashboard, "dashboard_dir", lambda: None)
    assert main(["app"]) == 2 and "no dashboard" in capsys.readouterr().err


def test_pip_install_gives_a_working_tlstudio_command_outside_the_checkout(tmp_path):
    """About 30 s on 2 idle cores. A fresh venv that sees this interpreter's packages
    (--system-site-packages: torch and the rest are already installed from the pins, several
    GB, and need no download) and no pip of its own (this interpreter's runs; Python 3.11's
    bundled setuptools in the venv would shadow ours and cannot build a wheel without the
    separate `wheel` package). --no-build-isolation: the build uses the installed setuptools
    instead of downloading one; --no-index: nothing is downloaded at all, so a pin that is not
    installed fails here at once. Built from a copy of the checkout: pip builds in the source
    folder, and a build/ left in the checkout could put deleted modules into a later wheel."""
    started = time.time()
    source, venv, work = tmp_path / "source", tmp_path / "venv", tmp_path / "work"
    shutil.copytree(ROOT, source, ignore=_not_copied)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    if sys.prefix != sys.base_prefix:  # run from a venv: --system-site-packages reaches only the base's packages
        packages = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
        (packages / "outer-venv.pth").write_text("\n".join(site.getsitepackages()))  # ...so add this venv's too
    python, tlstudio = venv / "bin" / "python", venv / "bin" / "tlstudio"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TLSTUDIO_RUNS_DIR", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", TLSTUDIO_FEATURE_MAPS="off")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-cache-dir",
                           "--disable-pip-version-check", "-q", str(source)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    work.mkdir()

    def run(*args, timeout=240):
        return subprocess.run([*map(str, args)], capture_output=True, text=True, env=env, cwd=work, timeout=timeout)

    # The installed copy is what runs, not the checkout; its dependencies are requirements.txt's.
    found = run(python, "-c", "import json, tlcore, importlib.metadata as m; from tlcore.cli import dashboard; "
               "print(json.dumps([tlcore.__file__, str(dashboard.dashboard_dir()), m.requires('tlstudio')]))")
    assert found.returncode == 0, found.stderr
    core, dashboard, requires = json.loads(found.stdout)
    assert Path(core).is_relative_to(venv) and Path(dashboard) == Path(core).parents[1] / "tlstudio_dashboard"
    assert [Requirement(r) for r in requires if "extra ==" not in r] == requirements("requirements.txt")
    assert {Requirement(r).name for r in requires if "extra == \"mlflow\"" in r} == {
        r.name for r in requirements("requirements-mlflow.txt")}

    r = run(tlstudio, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: tlstudio") and "app" in r.stdout and "train" in r.stdout
    r = run(tlstudio, "train", *TINY, "--name", "from-the-package")  # ./runs of the working directory
    assert r.returncode == 0, r.stderr[-3000:]
    [folder] = (work / "runs").glob("2*")
    assert json.loads((folder / "summary.json").read_text())["status"] == "finished"
    r = run(tlstudio, "runs", "list")
    assert r.returncode == 0 and folder.name in r.stdout and "finished" in r.stdout, r.stdout + r.stderr
    _check_the_dashboard(tlstudio, env, work, Path(dashboard), folder.name)
    print(f"install, train, runs list and dashboard: {time.time() - started:.0f} s")


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """Caches, build output, run folders and secrets stay behind; tests/ and benchmarks/ too
    (not part of the package)."""
    skip = {n for n in names if n in ("__pycache__", ".pytest_cache", "secrets.toml") or n.endswith(".egg-info")}
    if Path(folder) == ROOT:
        skip |= set(names) & {".git", "runs", "data", ".tlstudio", ".whl", ".gl", "test-artifacts", "build", "dist",
                              "tests", "benchmarks"}
    return skip


def _check_the_dashboard(tlstudio: Path, env: dict, work: Path, dashboard: Path, run_id: str):
    """`tlstudio app` with Streamlit's flags: it says where the dashboard and the runs folder
    are, serves on the port given, with the installed .streamlit/config.toml (localhost only),
    and the home page renders with the logo and shows the run trained above."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = work / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(tlstudio), "app", "--server.headless=true", f"--server.port={port}"], env=env,
                                cwd=work, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        text = log.read_text()
        assert f"TL Studio dashboard: {dashboard}" in text and f"Runs folder: {work / 'runs'}" in text, text
        assert f"URL: {url}" in text and "Network URL" not in text, text  # server.address from the config
        assert b"<title>" in urllib.request.urlopen(url, timeout=10).read()
        if shutil.which(CHROMIUM):
            _render_home(f"{url}/?run={run_id}", run_id)
        elif os.environ.get("TLSTUDIO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    finally:
        proc.terminate()  # Streamlit itself: `tlstudio app` became it
        proc.wait(timeout=20)


def _render_home(url: str, run_id: str):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_selector("[data-testid=stSidebar]", timeout=60_000)
            page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)
            page.get_by_text("Target: syndigits").wait_for(timeout=60_000)
            assert page.locator("[data-testid=stException]").count() == 0, page.inner_text("body")[:2000]
            assert run_id in page.inner_text("[data-testid=stSidebar]")
            # The logo was found beside app.py: Streamlit serves it as media (a path it cannot read stays a bare URL).
            icon = page.evaluate("document.querySelector('link[rel~=icon]').getAttribute('href')")
            assert "/media/" in icon, icon
            # The Learn page's stored lessons were installed with it (package data).
            page.goto(url.split("?")[0].rstrip("/") + "/learn")
            # All four sections drawn (the first "All of them compared" on the page is a link at its top).
            try:
                page.wait_for_function(STORED_LESSONS_SHOWN, timeout=90_000)
            except Exception as exc:  # noqa: BLE001 - say what the page shows instead
                raise AssertionError(page.inner_text("body")[:3000]) from exc
        finally:
            browser.close()

