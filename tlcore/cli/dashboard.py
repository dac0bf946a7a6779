"""``tlstudio app``: start the dashboard, from a checkout or from an installed package.

The core never imports streamlit: this finds the dashboard's app.py and hands over to
``python -m streamlit run`` in the same interpreter, with the runs folder fixed first (so
the dashboard and every worker it starts use the one printed here, wherever it runs).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

APP_HELP = "start the dashboard (Streamlit); options other than --runs-dir go to `streamlit run`"
# The folder that holds tlcore: a checkout, or site-packages, where pyproject.toml installs
# the checkout's app.py, pages/, assets/ and .streamlit/ as tlstudio_dashboard/.
_ROOT = Path(__file__).resolve().parents[2]
INSTALLED = _ROOT / "tlstudio_dashboard"


def dashboard_dir() -> Path | None:
    """The folder with app.py and pages/: the installed copy, else the checkout this tlcore is
    in (also what `pip install -e .` gives). None when neither is there."""
    for folder in (INSTALLED, _ROOT):
        if (folder / "app.py").is_file() and (folder / "pages" / "shared" / "setup.py").is_file():
            return folder
    return None


def parser(prog: str = "tlstudio app") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=APP_HELP + ", e.g. --server.port 8502 or --server.address 0.0.0.0 "
        "(see `python -m streamlit run --help`). The settings of the app's .streamlit/config.toml apply "
        "(localhost only, no usage statistics); these options override them.", allow_abbrev=False)
    p.add_argument("--runs-dir", help="the run store (default $TLSTUDIO_RUNS_DIR or ./runs)")
    return p


def streamlit_command(argv: list[str], prog: str = "tlstudio app") -> tuple[list[str], dict[str, str]] | str:
    """The command and environment that start the dashboard, or why it cannot start."""
    from ..runs import runs_dir
    args, streamlit_args = parser(prog).parse_known_args(argv)
    folder = dashboard_dir()
    if folder is None:
        return f"no dashboard (app.py and pages/) next to {_ROOT / 'tlcore'}: reinstall the tlstudio package"
    if importlib.util.find_spec("streamlit") is None:
        return f"streamlit is not installed for {sys.executable}: pip install -r requirements.txt"
    runs = runs_dir(args.runs_dir)
    env = dict(os.environ, TLSTUDIO_RUNS_DIR=str(runs))
    return [sys.executable, "-m", "streamlit", "run", str(folder / "app.py"), *streamlit_args], env


def run_app(argv: list[str], prog: str = "tlstudio app") -> int:
    made = streamlit_command(argv, prog)
    if isinstance(made, str):
        print(f"error: {made}", file=sys.stderr)
        return 2
    command, env = made
    print(f"TL Studio dashboard: {Path(command[4]).parent}\n"
          f"Runs folder: {env['TLSTUDIO_RUNS_DIR']} (change it with --runs-dir or TLSTUDIO_RUNS_DIR)", flush=True)
    sys.stderr.flush()
    if os.name == "nt":  # no exec there: wait for the server instead
        return subprocess.call(command, env=env)
    # Streamlit replaces this process, so Ctrl-C and a service manager's SIGTERM reach the server itself.
    os.execve(sys.executable, command, env)
    return 0  # not reached
