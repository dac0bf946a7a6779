"""``python -m tlcore ...``, also installed as the ``tlstudio`` command: the core without the
dashboard, and ``app``, which starts it. One module per group of commands; each adds its
own sub-parser.

Exit codes: 0 success, 2 unusable input (with the reason on stderr).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import auto, catalogue, dashboard, export, feasibility, runs, train

BENCH_HELP = "run the benchmarks of a checkout: the same as python -m benchmarks (see its --help)"


def build_parser(prog: str = "python -m tlcore") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="TL Studio core")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("app", help=dashboard.APP_HELP, add_help=False)
    catalogue.add_parsers(sub)
    train.add_parser(sub)
    auto.add_parser(sub)
    runs.add_parser(sub)
    sub.add_parser("bench", help=BENCH_HELP, add_help=False)
    feasibility.add_feasibility_parser(sub)
    export.add_export_parser(sub)
    return parser


def _bench(argv: list[str]) -> int:
    """The benchmarks live beside the package in a checkout (benchmarks/, next to
    BENCHMARKS.md) and are not part of it: this runs ``python -m benchmarks`` there as a
    process of its own, so the package never imports them."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "__main__.py").exists():
        print(f"error: no benchmarks/ folder next to {root / 'tlcore'}; run from a checkout of TL Studio",
              file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p))
    return subprocess.call([sys.executable, "-m", "benchmarks", *argv], cwd=root, env=env)


def main(argv: list[str] | None = None, prog: str = "python -m tlcore") -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # its own parser: sections, modes and flags live with the benchmarks
        return _bench(argv[1:])
    if argv[:1] == ["app"]:  # the rest is Streamlit's flags, passed through
        return dashboard.run_app(argv[1:], prog=f"{prog} app")
    args = build_parser(prog).parse_args(argv)
    return args.func(args)


def tlstudio() -> int:
    """The ``tlstudio`` console script (pyproject.toml): the same commands."""
    return main(prog="tlstudio")
