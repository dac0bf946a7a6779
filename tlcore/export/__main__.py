"""``python -m tlcore.export RUN_ID [--format ...]``: the export command on its own, the same
as ``python -m tlcore export``. The dashboard builds bundles through it, in a process of
its own, so torch.export's work (seconds of CPU, global tracing state) stays out of the server."""
import argparse
import sys

from .cli import add_export_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore.export", description="export a run's best model")
    add_export_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
