"""``python -m tlcore inspect | domains | backbones | strategies``: what there is to choose
from, and the report of a data set. Light: none of them trains."""
from __future__ import annotations

import json
import sys


def _cmd_inspect(args) -> int:
    from ..data import IngestError, IngestOptions, domain_info, ingest_domains, is_domain, load_image_set
    options = IngestOptions(seed=args.seed)
    try:
        if is_domain(args.source):
            info = domain_info(args.source)
            sets = {args.source: load_image_set(args.source, options=options)}
            extra = {"licence": info.licence, "provider": info.provider, "description": info.description}
        else:
            try:
                sets = {args.source: load_image_set(args.source, domain=args.domain, options=options)}
            except IngestError as exc:
                if args.domain is None and "holds several domains" in str(exc):
                    sets = ingest_domains(args.source, options)
                else:
                    raise
            extra = {}
    except IngestError as exc:
        if args.json:
            report = exc.report.to_dict() if exc.report is not None else {"source": args.source, "usable": False}
            report["error"] = str(exc)
            print(json.dumps(report, indent=2))
        else:
            if exc.report is not None:
                print(exc.report.format_text())
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        reports = [dict(s.report.to_dict(), **extra) for s in sets.values()]
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        for s in sets.values():
            print(s.report.format_text())
            for k, v in extra.items():
                print(f"{k.capitalize()}: {v}")
    return 0


def _cmd_backbones(args) -> int:
    from ..backbones import DEFAULT_BACKBONE, backbone_info, list_backbones
    infos = [backbone_info(n) for n in list_backbones(args.pattern)]
    if args.json:
        print(json.dumps([dict(i.to_dict(), default=i.name == DEFAULT_BACKBONE) for i in infos], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table
    table = Table(title="Backbones (any timm model also works as timm:<name>)")
    for col in ("name", "params", "input", "stages", "ImageNet weights", "family"):
        table.add_column(col)
    for i in infos:
        weights = ("[green]available[/green]: " if i.imagenet_available else "[yellow]not here[/yellow]: ") \
            + i.imagenet_hint if "imagenet" in i.weight_sources else "none (random init)"
        name = i.name + (" [bold](default)[/bold]" if i.name == DEFAULT_BACKBONE else "")
        table.add_row(name, f"{i.params / 1e6:.1f}M", str(i.input_size), str(len(i.stage_names) - 1),
                      weights, i.family)
    Console(width=160).print(table)
    return 0


def _cmd_domains(args) -> int:
    from ..data import domain_info, list_domains
    rows = []
    for name in list_domains():
        info = domain_info(name)
        rows.append({"name": name, "images": info.num_images, "size": info.image_size,
                     "classes": len(info.class_names), "licence": info.licence, "provider": info.provider,
                     "available": info.availability() is None, "how_to_get": info.availability() or "",
                     "description": info.description})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            state = "ready" if r["available"] else f"missing: {r['how_to_get']}"
            print(f"{r['name']:<11} {r['images']:>5} images, {r['classes']} classes, {r['size']} px, "
                  f"{r['licence']}  [{state}]\n            {r['description']}")
    return 0


def _cmd_strategies(args) -> int:
    from ..strategies import list_strategies, strategy_info
    from ..strategies.recommend import recommended_adaptation
    rows, rec = [strategy_info(n) for n in list_strategies()], recommended_adaptation()
    if args.json:
        print(json.dumps([{"name": i.name, "family": i.family, "description": i.description,
                           "needs_source": i.needs_source, "needs_target_labels": i.needs_target_labels,
                           "defaults": dict(i.defaults),
                           "recommended_for": rec.situation if i.name == rec.strategy else None} for i in rows],
                         indent=2))
    else:
        for i in rows:
            needs = ", ".join(n for n, on in (("source", i.needs_source), ("target labels", i.needs_target_labels))
                              if on) or "-"
            print(f"{i.name:<19} {i.family:<18} needs: {needs:<22} {i.description}")
        print(f"\nRecommended for {rec.situation}: {rec.strategy} ({rec.settings()}). {rec.why()}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("inspect", help="check an image folder, zip or built-in domain and print its report")
    p.add_argument("source", help="a folder, a .zip, or a built-in domain name (see `domains`)")
    p.add_argument("--domain", help="which domain of a multi-domain root (domain/class/images)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("backbones", help="list the registered backbones and their weight sources")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'resnet*'")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_backbones)
    p = sub.add_parser("strategies", help="list the transfer strategies")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_strategies)
    p = sub.add_parser("domains", help="list the built-in image domains")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_domains)
