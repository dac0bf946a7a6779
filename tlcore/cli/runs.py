"""``python -m tlcore runs ...``: list, show, stop, resume, delete, replay a run; a seed
group's mean ± std. These print and return the exit code."""
from __future__ import annotations

import json
import sys


def cmd_runs(args) -> int:
    from ..runs import RunStore, RunStoreError, scheduler
    from ..runs.read import list_overviews
    try:
        store = RunStore(args.runs_dir)
        scheduler.reconcile(store)
        if args.action == "list":
            rows = list_overviews(store)
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for r in rows:
                    acc = "-" if r["target.test.accuracy"] is None else f"{r['target.test.accuracy']:.3f}"
                    tags = (f"  seed {r['seed']} of group {r['group']}" if r["group"] else "") + \
                        (f"  replay of {r['replay_of']}" if r["replay_of"] else "") + \
                        (f"  owner {r['owner']}" if r["owner"] else "")
                    print(f"{r['id']}  {r['status']:<9} {r['strategy']:<18} {r['target']:<12} test acc {acc}{tags}")
            return 0
        if not args.run_id:
            print(f"error: runs {args.action} needs a run id (see: python -m tlcore runs list)", file=sys.stderr)
            return 2
        if args.action == "show":
            run = store.get(args.run_id)
            log = scheduler.log_tail(store, args.run_id)
            if args.json:
                print(json.dumps(dict(run.to_dict(), log_tail=log), indent=2))
            else:
                print(_format_run(run, log))
        elif args.action == "stop":
            print(scheduler.stop(store, args.run_id, grace_s=args.grace))
        elif args.action == "resume":
            status = scheduler.resume(store, args.run_id)
            if args.wait:
                status = scheduler.wait(store, args.run_id, timeout_s=24 * 3600)
            print(status)
        elif args.action == "delete":
            store.delete(args.run_id)
            print(f"deleted {args.run_id}")
        elif args.action == "replay":
            return _replay(store, args)
        elif args.action == "group":
            return _group(store, args)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (RunStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _replay(store, args) -> int:
    """A new run from the run's config.json; with --wait, its final metrics next to the
    original's (exit 1 when they differ). Without --wait only the new id goes to stdout."""
    from ..runs import scheduler
    from ..runs.replay import replay, replay_report, replay_warnings
    for warning in replay_warnings(store, args.run_id):
        print(f"warning: {warning}", file=sys.stderr)
    new_id = replay(store, args.run_id)
    print(f"replay {new_id} of {args.run_id}: {store.get(new_id).status}", file=sys.stderr)
    if not args.wait:
        print(new_id)
        return 0
    status = scheduler.wait(store, new_id, timeout_s=24 * 3600)
    report = dict(replay_report(store, new_id), status=status)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_format_replay(report))
    return 0 if status == "finished" and report["identical"] else 1


def _format_replay(report: dict) -> str:
    lines = [f"{'final metric':<28} {'original':>10} {'replay':>10} {'difference':>11}"]
    for r in report["rows"]:
        cells = ["-" if v is None else f"{v:.4f}" for v in (r["original"], r["replay"])]
        diff = "-" if r["difference"] is None else f"{r['difference']:+.4f}"
        lines.append(f"{r['metric']:<28} {cells[0]:>10} {cells[1]:>10} {diff:>11}")
    if report["status"] != "finished":
        lines.append(f"the replay {report['replay']} is {report['status']}: nothing to compare it on")
    else:
        lines.append("identical final metrics" if report["identical"] else "the final metrics differ")
    lines += [f"environment changed: {c}" for c in report["environment"]]
    return "\n".join(lines)


def _group(store, args) -> int:
    from dataclasses import asdict

    from ..runs.read import overview
    from ..runs.seeds import seed_group
    group = seed_group(store, args.run_id)
    if group is None:
        print(f"error: run {args.run_id} is not in a seed group (start one with: train --seeds N)", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"group": group.id, "runs": [overview(r) for r in group.runs],
                          "scores": {k: asdict(v) for k, v in group.scores.items()}}, indent=2))
    else:
        print(format_group(group))
    return 0


def format_group(group) -> str:
    """The group's runs, then mean ± std (sample std over the finished seeds) per score."""
    from ..runs.seeds import SCORES
    lines = [f"seed group {group.id} · {group.progress_text()}",
             f"{'seed':>5}  {'run':<22} {'status':<9} " + " ".join(f"{n:>14}" for n in SCORES)]
    for run in group.runs:
        summary = run.summary or {}
        seed = run.seed
        cells = ["-" if summary.get(f"target.test.{n}") is None else f"{summary[f'target.test.{n}']:.3f}"
                 for n in SCORES]
        lines.append(f"{seed:>5}  {run.id:<22} {run.status:<9} " + " ".join(f"{c:>14}" for c in cells))
    for prefix, label in (("target.test.", "target test"), ("before.target.test.", "before transfer")):
        spreads = [group.scores.get(prefix + n) for n in SCORES]
        if any(spreads):
            lines.append(f"{label + ', mean ± std:':<39} " + " ".join(
                f"{'-' if s is None else s.text(with_n=False):>14}" for s in spreads))
    done = group.count("finished")
    lines.append(f"± is the sample standard deviation over the {done} finished seed{'s' * (done != 1)}")
    return "\n".join(lines)


def _format_run(run, log: str) -> str:
    from ..runs.read import overview
    lines = [f"{k}: {v}" for k, v in overview(run).items() if v is not None]
    if log:
        lines += ["log (last lines):", log]
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list, show, stop, resume, replay or delete recorded runs; a seed group's "
                                    "mean ± std")
    p.add_argument("action", choices=["list", "show", "stop", "resume", "delete", "replay", "group"])
    p.add_argument("run_id", nargs="?", help="group: the id of any run in the group")
    p.add_argument("--runs-dir", help="the run store (default $TLSTUDIO_RUNS_DIR or ./runs)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--grace", type=float, default=10.0, help="stop: seconds before SIGTERM, then SIGKILL")
    p.add_argument("--wait", action="store_true", help="resume, replay: block until the run ends (replay: then "
                                                       "compare final metrics, exit 1 when they differ)")
    p.set_defaults(func=cmd_runs)
