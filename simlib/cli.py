"""Command line: ``simlib batch params/batches/default.yaml [--force] [--workers N] [--scheduler ADDR] ...``.

Exit status: 0 when every run (and the report) succeeded; 1 when something failed (a run, the
report, or writing the manifest); 2 when the batch file or an option is invalid or the batch
cannot start (nothing was run); 130 when Ctrl-C or SIGTERM stopped it (every run that finished
is recorded; running the same command again executes the rest).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a whole number ≥ 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}; expected a whole number ≥ 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlib", description="WeChat group operations playbook tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    batch = commands.add_parser(
        "batch",
        help="run every (notebook × scenario) of a batch file, then the comparative report",
        description="Run every (notebook × scenario) of a batch file with Papermill, then the report.",
    )
    batch.add_argument("batch_file", help="YAML batch file, e.g. params/batches/default.yaml")
    batch.add_argument("--force", action="store_true", help="re-run runs that already succeeded")
    batch.add_argument("--workers", type=_positive_int, default=None,
                       help="parallel runs (default: batch file, else all cores)")
    batch.add_argument("--only-notebooks", nargs="+", metavar="NOTEBOOK", default=None,
                       help="run only these notebooks of the batch")
    batch.add_argument("--reports-dir", default="reports", help="where batch folders go (default: reports)")
    batch.add_argument("--notebooks-dir", default="notebooks", help="where notebook names are looked up")
    batch.add_argument("--scenarios-dir", default="params/scenarios",
                       help="where scenario names are looked up")
    batch.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run the notebooks on this Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(default: processes of this machine)")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "batch":
        from simlib.batch import BatchFileError, BatchInterrupted, BatchStartError, run_batch

        try:
            summary = run_batch(
                args.batch_file,
                force=args.force,
                workers=args.workers,
                reports_dir=args.reports_dir,
                notebooks_dir=args.notebooks_dir,
                scenarios_dir=args.scenarios_dir,
                only_notebooks=args.only_notebooks,
                progress=not args.no_progress,
                scheduler=args.scheduler,
            )
        except (BatchFileError, BatchStartError) as exc:
            print(f"simlib batch: error: {exc}", file=sys.stderr)
            return 2
        except BatchInterrupted as exc:
            print(exc.summary.format())
            print(f"simlib batch: {exc}", file=sys.stderr)
            return 130
        except KeyboardInterrupt:  # before the first run started: nothing to record
            print("simlib batch: interrupted before any run started; nothing was run", file=sys.stderr)
            return 130
        print(summary.format())
        if summary.manifest_error:
            print(f"simlib batch: error: the manifest could not be written ({summary.manifest_error})",
                  file=sys.stderr)
        return 0 if summary.ok else 1
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
