"""``python -m tlcore train``: one run (or a seed group) in the foreground, recorded in the
run store like a dashboard run, with a progress bar on the terminal."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_owner_argument(parser) -> None:
    parser.add_argument("--owner", help="whose run it is in the dashboard (default: your login name); only its "
                                        "owner or a teacher can stop or resume it there")


def run_owner(args) -> str:
    """--owner, else the login name: the command line runs on the server, so it may act as anyone."""
    from ..runs.owners import clean_name, os_user
    return clean_name(args.owner) if getattr(args, "owner", None) else os_user()


def config_from_args(args):
    """A RunConfig from --config (if given) with every flag the user typed on top."""
    from ..config import RunConfig
    from ..runs.replay import as_replay
    base = as_replay(RunConfig.from_json(args.config)) if args.config else RunConfig()  # same threads as recorded
    d = base.to_dict()
    flag_to_key = {"target": ("data", "target"), "source": ("data", "source"),
                   "target_domain": ("data", "target_domain"), "source_domain": ("data", "source_domain"),
                   "per_class": ("data", "per_class"), "target_labels": ("data", "target_labels_per_class"),
                   "img_size": ("data", "image_size"), "augment": ("data", "augment"),
                   "balance": ("data", "balance"), "shared_classes": ("data", "shared_classes_only"),
                   "backbone": ("model", "backbone"), "weights": ("model", "weights"),
                   "freeze": ("model", "freeze"), "bn_policy": ("model", "bn_policy"),
                   "lr_decay": ("model", "lr_decay"), "strategy": ("strategy", "name"),
                   "optimizer": ("optim", "name"), "lr": ("optim", "lr"),
                   "weight_decay": ("optim", "weight_decay"), "epochs": ("schedule", "epochs"),
                   "scheduler": ("schedule", "scheduler"), "warmup_epochs": ("schedule", "warmup_epochs"),
                   "patience": ("schedule", "early_stopping_patience"),
                   "eval_every": ("schedule", "eval_every"), "batch_size": (None, "batch_size"),
                   "seed": (None, "seed"), "device": (None, "device"), "precision": (None, "precision"),
                   "memory_format": (None, "memory_format"),
                   "devices": (None, "devices"), "name": (None, "name"), "threads": (None, "threads"),
                   "map_every": ("feature_map", "every"), "map_points": ("feature_map", "per_domain")}
    for flag, (section, key) in flag_to_key.items():
        value = getattr(args, flag)
        if value is not None:
            (d[section] if section else d)[key] = value
    if args.strategy is not None and not args.config:
        d["strategy"]["params"] = {}
    for item in args.param or []:
        key, _, value = item.partition("=")
        d["strategy"]["params"][key.strip()] = _parse_value(value)
    if not args.config:  # the same rule as the Train page: a chosen plan, else the strategy's, else the default
        from ..strategies import freeze_for
        try:
            d["model"]["freeze"] = freeze_for(d["strategy"]["name"], args.freeze)
        except KeyError:  # an unknown strategy: validation names the valid ones
            pass
    return RunConfig.from_dict(d)


def _cmd_train(args) -> int:
    from ..backbones import WeightsError
    from ..data import IngestError
    from ..registry import UnknownNameError
    from ..runs.seeds import check_seeds
    from ..train import ConfigError, train
    try:
        config = config_from_args(args)
        from ..train import validate_config
        validate_config(config)
        check_seeds(args.seeds)
    except (ConfigError, UnknownNameError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import os

    from ..runs import RunStoreError
    problem = ("--resume needs --out RUN_FOLDER (or use: python -m tlcore runs resume RUN_ID)"
               if args.resume and not args.out else
               "--seeds runs several runs: it cannot be combined with --resume or --devices"
               if args.seeds > 1 and (args.resume or config.devices > 1) else None)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        if int(os.environ.get("LOCAL_RANK", "0")) > 0:
            # A further process of a --devices N run (Fabric re-runs this command): it trains
            # its shard; rank 0 records the run and writes the files.
            from ..run_folder import RunFolder
            train(config, resume_from=RunFolder(os.environ["TLSTUDIO_RUN_FOLDER"]) if args.resume else None)
            return 0
        if args.config:  # a replay: say first what may keep it from matching the original
            from ..config import RunConfig
            from ..runs.replay import config_warnings
            for warning in config_warnings(RunConfig.from_json(args.config), _recorded_device(args.config)):
                print(f"warning: {warning}", file=sys.stderr)
        statuses = _train_seeds(args, config)
    except (ConfigError, UnknownNameError, WeightsError, IngestError, RunStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if set(statuses) <= {"finished", "stopped"} else 1


def _train_seeds(args, config) -> list[str]:
    """Train ``config`` here with seeds s, s+1, ... (one after another: side by side they
    would only slow each other down); with several, print the group's mean ± std."""
    import os

    from ..listeners import RichProgress
    from ..runs import RunStore
    from ..runs.seeds import seed_configs, seed_group, seed_name
    from ..runs.store import NEW_GROUP
    from ..runs.worker import run_recorded
    from .runs import format_group
    store, several, group, statuses = RunStore(args.runs_dir), args.seeds > 1, None, []
    for cfg in seed_configs(config, args.seeds):
        folder = Path(args.out) / f"seed-{cfg.seed}" if several and args.out else args.out
        name = seed_name(cfg.name or cfg.strategy.name, cfg.seed) if several else ""
        run_id = store.create_run(cfg, name, folder=folder, group=group or (NEW_GROUP if several else None),
                                  owner=run_owner(args))
        group = group or (run_id if several else None)
        out = store.get(run_id).folder
        os.environ["TLSTUDIO_RUN_FOLDER"] = str(out)
        print(f"run {run_id} in {out} (stop it with: python -m tlcore runs stop {run_id})", file=sys.stderr)
        if args.resume:
            store.update(run_id, resume=1)
        result = run_recorded(store, run_id, extra_listeners=[RichProgress()])
        _print_summary(result.summary, out)
        statuses.append(result.status)
        if result.status == "stopped":  # asked to stop: the seeds after it are not wanted either
            break
    if group:
        print(format_group(seed_group(store, group)))
    return statuses


def _recorded_device(config_path: str) -> str | None:
    """The device the run of a config.json ran on, from the summary.json beside it."""
    from ..run_folder import RunFolder
    try:
        return (RunFolder(Path(config_path).parent).summary() or {}).get("device")
    except AttributeError:  # a summary that is not an object
        return None


def _print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"{summary['strategy']} on {summary['backbone']} ({summary['device']}, {summary['precision']})")
    for col in ("target test", "before transfer", "after (final)", f"best val epoch ({summary['best_epoch']})"):
        table.add_column(col)
    for name in ("accuracy", "macro_recall", "macro_f1"):
        cells = [summary.get(f"{p}target.test.{name}") for p in ("before.", "", "best.")]
        table.add_row(name, *("-" if v is None else f"{v:.3f}" for v in cells))
    console = Console()
    console.print(table)
    console.print(f"status {summary['status']}, {summary['epochs_run']} epochs, {summary['wall_time_s']} s, "
                  f"{summary['throughput_img_s']} img/s; files in {out}")


def add_parser(sub) -> None:
    from ..config import AUGMENTATIONS, BN_POLICIES, DEFAULT_BACKBONE
    from ..train.optim import list_optimizers, list_schedules
    p = sub.add_parser("train", help="train one run headlessly (writes config, checkpoints, metrics, summary)")
    g = p.add_argument_group("data")
    g.add_argument("--target", help="target data: built-in domain, folder or zip (default syndigits)")
    g.add_argument("--source", help="labelled source data for domain adaptation")
    g.add_argument("--target-domain", help="domain inside a multi-domain target root")
    g.add_argument("--source-domain", help="domain inside a multi-domain source root")
    g.add_argument("--per-class", type=int, help="load at most this many images per class")
    g.add_argument("--target-labels", type=int, help="labelled target images per class to train on (0: none)")
    g.add_argument("--img-size", type=int, help="input size in pixels (default: the backbone's)")
    g.add_argument("--shared-classes", action="store_true", default=None,
                   help="with a source whose classes only partly match the target's: use only the classes both have")
    from ..data.augment import PRESETS
    from ..data.pipeline import BALANCE_MODES
    g.add_argument("--augment", choices=AUGMENTATIONS,
                   help="per-image augmentation of training batches: "
                        + "; ".join(f"{n}: {PRESETS[n]}" for n in AUGMENTATIONS).replace("%", "%%"))
    g.add_argument("--balance", choices=BALANCE_MODES,
                   help="sampler: draw the labelled training classes evenly; auto (default): only when they are "
                        "imbalanced (largest > 3x smallest); off: as they come")
    g = p.add_argument_group("model")
    g.add_argument("--backbone", help=f"see `python -m tlcore backbones` (default {DEFAULT_BACKBONE})")
    g.add_argument("--weights", help="imagenet | none | file:PATH")
    g.add_argument("--freeze", help="all | none | last:K | pattern:REGEX | comma list of stages to freeze")
    g.add_argument("--bn-policy", choices=BN_POLICIES,
                   help="BatchNorm statistics: frozen stages keep them (freeze), all update, none update (fixed)")
    g.add_argument("--lr-decay", type=float, help="LR multiplier per stage going down (discriminative LRs)")
    g = p.add_argument_group("method and optimisation")
    g.add_argument("--strategy", help="see `python -m tlcore strategies` (default finetune)")
    g.add_argument("--param", action="append", metavar="KEY=VALUE", help="a strategy hyper-parameter")
    g.add_argument("--optimizer", choices=list_optimizers())
    g.add_argument("--lr", type=float)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--epochs", type=int)
    g.add_argument("--scheduler", choices=list_schedules())
    g.add_argument("--warmup-epochs", type=float)
    g.add_argument("--patience", type=int, help="early stopping: epochs without val improvement")
    g.add_argument("--eval-every", type=int, help="evaluate every K epochs and after the last (default 1)")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--seed", type=int)
    g.add_argument("--seeds", type=int, default=1,
                   help="run N times with seeds s, s+1, ... (one after another) and print the mean ± std: "
                        "whether a difference between two methods is larger than seed noise")
    g = p.add_argument_group("feature map")
    g.add_argument("--map-every", type=int, help="a snapshot of the feature map every K epochs (0: none; default 1)")
    g.add_argument("--map-points", type=int, help="probe images per domain on the map (default 1000)")
    _add_hardware_and_files(p.add_argument_group("hardware and files"))
    p.set_defaults(func=_cmd_train)


def _add_hardware_and_files(g) -> None:
    g.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    g.add_argument("--memory-format", choices=["auto", "channels_last", "contiguous"],
                   help="the layout of images and convolution weights; auto: channels_last on CUDA and on a CPU "
                        "with AVX-512 (measured faster there), contiguous otherwise")
    g.add_argument("--devices", type=int, help="data-parallel processes through Lightning Fabric (DDP)")
    g.add_argument("--threads", type=int, help="torch CPU threads (default: all cores here; a --config replay "
                                               "keeps the recorded count, which a CPU result depends on)")
    g.add_argument("--name")
    g.add_argument("--config", help="a config.json to replay (flags given as well override it)")
    g.add_argument("--out", help="run folder (default: RUNS_DIR/RUN_ID)")
    g.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    g.add_argument("--runs-dir", help="the run store (default $TLSTUDIO_RUNS_DIR or ./runs)")
    add_owner_argument(g)
