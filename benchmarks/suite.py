"""``python -m tlcore bench [--quick|--full] [--only NAME] [--jobs N]``: run the benchmark
sections, print their tables, write ``BENCHMARKS.json`` next to ``BENCHMARKS.md`` and put
the tables into BENCHMARKS.md between ``<!-- bench:NAME:MODE -->`` markers, so every
figure in the report comes from a file the command wrote.

A section is a function ``run(mode, jobs, log) -> dict`` with ``tables`` (title, columns,
rows of strings), optional ``notes`` and any raw figures; it registers itself with
``@section(name, title, quick_budget_s)``. A section that keeps its raw ``runs`` can also
register ``tables(result) -> dict`` (``retable=``): ``--retable`` then redraws its tables
from BENCHMARKS.json with the current code, without training anything again.
"""
from __future__ import annotations

import argparse
import os
import json
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tlcore.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
RESULTS = ROOT / "BENCHMARKS.json"


@dataclass(frozen=True)
class SectionInfo:
    name: str
    title: str
    quick_budget_s: int  # what the quick mode may take on the 2-core CI-sized machine
    retable: Callable | None = None  # result -> {"tables", "notes"} from its stored runs


_SECTIONS: Registry[SectionInfo] = Registry("benchmark section")


def section(name: str, title: str, quick_budget_s: int, retable: Callable | None = None) -> Callable:
    def wrap(fn: Callable) -> Callable:
        _SECTIONS.register(name, SectionInfo(name, title, quick_budget_s, retable), fn)
        return fn
    return wrap


# The order sections are listed and run in.
MODULES = ("transfer", "recipe_search", "adaptation", "adaptation_selection", "adaptation_classic", "semi_supervised",
           "speed", "speed_real", "speed_models")


def _load_sections() -> list[str]:
    import importlib
    for module in MODULES:
        importlib.import_module(f"{__package__}.{module}")
    names = _SECTIONS.names()  # registration order within a module
    return sorted(names, key=lambda n: MODULES.index(_SECTIONS.get(n).factory.__module__.rsplit(".", 1)[1]))


def render(result: dict) -> str:
    """Markdown of one section's result: how it was made, then its tables and notes."""
    m = result["machine"]
    lines = [f"`{result['command']}` — {result['date']}, CPU {m['cpu']}"
             + (f", {m['isa']}" if m.get("isa") else "") + f" ({m['cores']} cores)"
             + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU")
             + f", torch {m['torch']}; {result['wall_s']:.0f} s."]
    lines += [f"Runs whose label matches '{r['text']}' were run again on {r['date']} "
              f"(`... --rerun '{r['text']}'`), the others kept." for r in result.get("rerun", [])]
    lines.append("")
    for t in result["tables"]:
        if t.get("title"):
            lines += [f"*{t['title']}*", ""]
        lines += ["| " + " | ".join(t["columns"]) + " |", "|" + "---|" * len(t["columns"])]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in t["rows"]]
        lines.append("")
    lines += [f"- {n}" for n in result.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"


def update_report(results: dict[str, dict], report: Path = REPORT) -> None:
    """Replace each ``<!-- bench:NAME:MODE -->`` block of the report with its tables; a
    section the report has no block for is appended under its title."""
    text = report.read_text() if report.exists() else "# Benchmarks\n"
    for key, result in results.items():
        start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
        block = f"{start}\n{render(result)}{end}"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: block, text)
        else:
            text = text.rstrip() + f"\n\n## {result['title']} ({result['mode']})\n\n{block}\n"
    report.write_text(text)


def save_results(results: dict[str, dict], path: Path = RESULTS) -> dict:
    stored = json.loads(path.read_text()) if path.exists() else {}
    stored.update(results)
    path.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")
    return stored


def print_tables(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    console = Console(width=200)
    for t in result["tables"]:
        table = Table(title=f"{result['title']}: {t.get('title', '')}".rstrip(": "))
        for c in t["columns"]:
            table.add_column(c)
        for row in t["rows"]:
            table.add_row(*(str(c) for c in row))
        console.print(table)
    for n in result.get("notes", []):
        console.print(f"- {n}")


def retable(names: list[str], mode: str, out: Path, report: bool) -> int:
    stored = json.loads(out.read_text()) if out.exists() else {}
    redrawn = {}
    for name in names:
        entry, key = _SECTIONS.get(name), f"{name}:{mode}"
        if entry.info.retable is None or key not in stored:
            continue
        redrawn[key] = {**stored[key], **entry.info.retable(stored[key])}
        print_tables(redrawn[key])
    if not redrawn:
        print(f"error: nothing to redraw: no stored {mode} results of {', '.join(names)} with runs in {out}",
              file=sys.stderr)
        return 2
    save_results(redrawn, out)
    if report:
        update_report(redrawn)
    return 0


def main(argv: list[str] | None = None) -> int:
    # Measured in this process as the app's layout jobs run (tlcore.jobs.environment): numba's
    # compiled UMAP code cached in TL Studio's cache folder. Set before anything imports numba.
    from tlcore.jobs import cache_dir
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    names = _load_sections()
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode",
                      help="one seed, small settings: all sections in under 10 minutes on 2 CPU cores (default)")
    mode.add_argument("--full", action="store_const", const="full", dest="mode",
                      help="3 seeds and the full grids (accuracy sections: an hour or more on a CPU)")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help=f"run only these sections (repeatable, or comma-separated): {', '.join(names)}")
    ap.add_argument("--jobs", type=int, default=2, help="training runs in parallel (worker processes)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="the JSON results file (default: BENCHMARKS.json)")
    ap.add_argument("--no-report", action="store_true", help="write the JSON but leave BENCHMARKS.md")
    ap.add_argument("--rerun", metavar="REGEX",
                    help="run only the training runs whose label matches REGEX (e.g. 'MMD|joint'), keep the "
                         "stored rows of the others, and redraw the tables")
    ap.add_argument("--list", action="store_true", help="list the sections and exit")
    ap.add_argument("--retable", action="store_true",
                    help="redraw the chosen sections' tables from the stored runs in the JSON (no training)")
    args = ap.parse_args(argv)
    args.mode = args.mode or "quick"
    if args.list:
        for n in names:
            i = _SECTIONS.get(n).info
            print(f"{n:<16} {i.title} (quick budget {i.quick_budget_s} s)")
        return 0
    chosen = [n.strip() for item in args.only or [] for n in item.split(",") if n.strip()] or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"error: unknown benchmark section(s) {', '.join(unknown)}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.retable:
        return retable(chosen, args.mode, args.out, not args.no_report)
    from . import common
    m, results, t_all = common.machine(), {}, time.perf_counter()
    stored = json.loads(args.out.read_text()) if args.rerun and args.out.exists() else {}
    for name in chosen:
        entry = _SECTIONS.get(name)
        print(f"== {name} ({args.mode}): {entry.info.title}", flush=True)
        t0 = time.perf_counter()
        common.RERUN.update(text=args.rerun, stored=stored.get(f"{name}:{args.mode}", {}).get("runs", []))
        out = entry.factory(args.mode, args.jobs, lambda msg: print(msg, flush=True))
        command = f"python -m tlcore bench --{args.mode} --only {name}" + (
            f" --jobs {args.jobs}" if args.jobs != 2 else "")
        if args.rerun:  # the section's date and time are its first run's; say what was run again
            earlier = [r for r in stored.get(f"{name}:{args.mode}", {}).get("rerun", []) if r["text"] != args.rerun]
            out["rerun"] = earlier + [{"text": args.rerun, "date": date.today().isoformat()}]  # the latest of each
        result = {"section": name, "title": entry.info.title, "mode": args.mode, "date": date.today().isoformat(),
                  "machine": m, "command": command, "argv": shlex.join(sys.argv), **out,
                  "wall_s": round(time.perf_counter() - t0, 1)}
        if args.rerun and f"{name}:{args.mode}" in stored:  # the whole grid's time, not the rerun's
            result["wall_s"] = stored[f"{name}:{args.mode}"]["wall_s"]
        results[f"{name}:{args.mode}"] = result
        print_tables(result)
        print(f"   {name}: {result['wall_s']:.0f} s", flush=True)
        save_results({f"{name}:{args.mode}": result}, args.out)  # after each section: an interrupted run keeps its work
        if not args.no_report:
            update_report({f"{name}:{args.mode}": result})
    print(f"all sections: {time.perf_counter() - t_all:.0f} s; results in {args.out}"
          + ("" if args.no_report else f" and {REPORT.name}"))
    return 0
