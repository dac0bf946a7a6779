"""``python -m tlcore auto``: find the best recipe for a labelled target (and a source) within
a time budget, recorded in the run store as one run that ends as the winner's."""
from __future__ import annotations

import argparse
import sys

from . import train as train_cli

DATA_FLAGS = ("target", "source", "target_domain", "source_domain", "per_class", "target_labels", "img_size",
              "shared_classes", "balance", "seed", "backbone", "weights", "batch_size", "device", "precision",
              "threads", "name")


def _config(args):
    """The train command's config from the flags given here (the others at their defaults)."""
    parser = argparse.ArgumentParser()
    train_cli.add_parser(parser.add_subparsers())
    defaults = vars(parser.parse_args(["train"]))
    given = {k: v for k, v in vars(args).items() if k in defaults and k in DATA_FLAGS}
    return train_cli.config_from_args(argparse.Namespace(**{**defaults, **given}))


def _cmd_auto(args) -> int:
    from ..registry import UnknownNameError
    from ..train import ConfigError, validate_config
    from ..search import DEFAULT_BUDGET_S, MIN_BUDGET_S, SearchError
    try:
        if args.budget is not None and args.budget < MIN_BUDGET_S:
            raise SearchError(f"a budget of {args.budget:g} s is too small for even one candidate: give at least "
                              f"{MIN_BUDGET_S} s (the default, {DEFAULT_BUDGET_S} s, fits the demo on 2 CPU cores)")
        config = _config(args)
        validate_config(config)
    except (ConfigError, UnknownNameError, SearchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = config.replace(search_budget_s=float(args.budget or DEFAULT_BUDGET_S))
    return _run(args, config)


def _run(args, config) -> int:
    import os

    from ..backbones import WeightsError
    from ..data import IngestError
    from ..runs import RunStore, RunStoreError
    from ..runs.worker import run_recorded
    from ..search import SearchError
    try:
        store = RunStore(args.runs_dir)
        run_id = store.create_run(config, config.name or "recipe search", folder=args.out,
                                  owner=train_cli.run_owner(args))
        folder = store.get(run_id).folder
        os.environ["TLSTUDIO_RUN_FOLDER"] = str(folder)
        print(f"run {run_id} in {folder}: trying recipes for {config.search_budget_s:g} s "
              f"(stop it with: python -m tlcore runs stop {run_id})", file=sys.stderr)
        result = run_recorded(store, run_id)
    except (SearchError, WeightsError, IngestError, RunStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_leaderboard(result.summary, folder)
    return 0 if result.status in ("finished", "stopped") else 1


def _print_leaderboard(summary: dict, folder) -> None:
    from rich.console import Console
    from rich.table import Table
    search = summary.get("search") or {}
    rows = search.get("candidates", [])
    label_free = any("validator" in row for row in rows)
    table = Table(title=f"recipe search: {search.get('seconds', '?')} s of a {search.get('budget_s', '?')} s budget"
                  + (f"; no target labels, ranked by the validator {rows[0].get('validator_name')}" if label_free
                     else ""))
    for column in ("recipe", *(("validator",) if label_free else ()), "val accuracy", "epochs", "seconds", "status"):
        table.add_column(column)
    for row in rows:
        val, score = row.get("val_accuracy"), row.get("validator")
        table.add_row(("★ " if row.get("winner") else "") + row["recipe"],
                      *((("-" if score is None else f"{score:.3f}"),) if label_free else ()),
                      "-" if val is None else f"{val:.3f}",
                      str(row["epochs"]), f"{row['seconds']:.0f}", row["status"] + (f" ({row['note']})"
                                                                                    if row.get("note") else ""))
    console = Console()
    console.print(table)
    test = summary.get("target.test.accuracy")
    console.print(f"winner: {search.get('winner')}, kept: target val {summary.get('target.val.accuracy', 0):.3f}"
                  f", target test {'-' if test is None else f'{test:.3f}'} (before transfer: "
                  f"{summary.get('before.target.test.accuracy', float('nan')):.3f}); files in {folder}")
    if label_free:
        console.print("val accuracy is shown, not used: without target labels the validator chose (the target's "
                      "val labels are what a user without labels would not have)")


def add_parser(sub) -> None:
    p = sub.add_parser("auto", help="find the best recipe within a time budget (successive halving on the val split)")
    p.add_argument("--target", help="target data: built-in domain, folder or zip (default syndigits)")
    p.add_argument("--source", help="labelled source data: the adaptation recipes are tried too")
    p.add_argument("--target-domain", help="domain inside a multi-domain target root")
    p.add_argument("--source-domain", help="domain inside a multi-domain source root")
    p.add_argument("--per-class", type=int, help="load at most this many images per class")
    p.add_argument("--target-labels", type=int, help="labelled target images per class to train on (0: none; the "
                   "adaptation recipes are then ranked by a label-free validator)")
    p.add_argument("--shared-classes", action="store_true", default=None,
                   help="with a source whose classes only partly match the target's: use only the classes both have")
    p.add_argument("--img-size", type=int, help="input size in pixels (default: the backbone's)")
    p.add_argument("--balance", help="class balance of the labelled training data: auto | sampler | off")
    p.add_argument("--budget", type=float, help="seconds for the whole search, the winner's retraining included "
                                                "(default 180)")
    p.add_argument("--seed", type=int)
    p.add_argument("--backbone")
    p.add_argument("--weights", help="imagenet | none | file:PATH")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--threads", type=int)
    p.add_argument("--name")
    p.add_argument("--out", help="run folder (default: RUNS_DIR/RUN_ID)")
    p.add_argument("--runs-dir", help="the run store (default $TLSTUDIO_RUNS_DIR or ./runs)")
    train_cli.add_owner_argument(p)
    p.set_defaults(func=_cmd_auto)
