"""``python -m tlcore feasibility --target PATH|DEMO [--json]``: the Feasibility page, headless."""
from __future__ import annotations

import json
import sys
from pathlib import Path

DEMO = ("syndigits", "mnist")  # the dashboard's built-in demo: printed digits, handwritten as the source


def _cmd_feasibility(args) -> int:
    from ..backbones import WeightsError
    from ..data import IngestError
    from ..data.label_edits import LabelEdits
    from ..feasibility.report import format_report, run_feasibility
    from ..registry import UnknownNameError
    target, source = args.target, args.source
    if target.lower() == "demo":
        target, source = DEMO[0], source or DEMO[1]
    try:
        edits = LabelEdits.from_json(Path(args.edits).read_text()).to_dict() if args.edits else None
        backbones = [b.strip() for b in args.backbones.split(",") if b.strip()] if args.backbones else None

        def progress(fraction: float, message: str) -> None:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

        result = run_feasibility(target, source, backbones=backbones, weights=args.weights,
                                 per_class=args.per_class or None, image_size=args.img_size, seed=args.seed,
                                 target_domain=args.target_domain, source_domain=args.source_domain,
                                 label_edits=edits, probe=not args.no_probe, progress=progress)
    except (IngestError, WeightsError, UnknownNameError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.report, indent=2) if args.json else format_report(result.report))
    return 0


def add_feasibility_parser(sub) -> None:
    p = sub.add_parser("feasibility", help="is this image set learnable? rank backbones, learning curve, "
                                           "suspect labels, domain gap and a verdict")
    p.add_argument("--target", required=True,
                   help="a folder, a .zip, a built-in domain, or DEMO (syndigits with mnist as the source)")
    p.add_argument("--source", help="a labelled source set, for the domain-gap numbers")
    p.add_argument("--target-domain", help="domain inside a multi-domain target root")
    p.add_argument("--source-domain", help="domain inside a multi-domain source root")
    p.add_argument("--backbones", help="comma list to rank (default: every backbone with ImageNet weights here)")
    p.add_argument("--weights", default="imagenet", help="imagenet | none | file:PATH (for every candidate)")
    p.add_argument("--per-class", type=int, default=100, help="load at most this many images a class (0: all)")
    p.add_argument("--img-size", type=int, default=64, help="input size in pixels (default 64: seconds on a CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--edits", help="a label-edits JSON file ({\"drops\": [ids], \"relabels\": {id: class}})")
    p.add_argument("--no-probe", action="store_true", help="skip the k-fold probe column of the ranking (faster)")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.set_defaults(func=_cmd_feasibility)
