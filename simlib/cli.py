"""Command line.

* ``simlib batch params/batches/default.yaml [--force] [--workers N] [--scheduler ADDR] ...`` — a
  batch of notebook runs, then the comparative report (:mod:`simlib.batch`).
* ``simlib calibrate EXPORT [EXPORT ...] [--name mygroup] [--members N]`` — a scenario of your own
  group from its exports: ``params/scenarios/<name>.yaml`` (:func:`simlib.pipeline.calibrate_exports`).
* ``simlib report --data EXPORT [EXPORT ...] [--name mygroup] [--members N]`` — the whole path:
  calibrate, apply every strategy to the calibrated group, the report opening with a fit check, in
  ``reports/<name>/`` (:func:`simlib.pipeline.report_from_exports`).

Exit status: 0 when everything succeeded; 1 when something failed (a run, the report, or writing
the manifest); 2 when an input or option is invalid or the work cannot start (nothing was run or
written; for ``calibrate`` and ``report``: no pseudonymization key, an unreadable export, a scenario
that exists without ``--force``); 130 when Ctrl-C or SIGTERM stopped it (every run that finished
is recorded; running the same command again executes the rest).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any


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
    batch.add_argument("--only-notebooks", nargs="+", metavar="NOTEBOOK", default=None,
                       help="run only these notebooks of the batch")
    batch.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run the notebooks on this Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(default: processes of this machine)")
    _add_run_options(batch)

    calibrate = commands.add_parser(
        "calibrate",
        help="a scenario of your own group from its exports: params/scenarios/<name>.yaml",
        description="Load exports of one group (pseudonymized on load: set SIMLIB_PSEUDONYM_KEY or "
                    "SIMLIB_PSEUDONYM_KEY_FILE), estimate its behavioural parameters, refine them by "
                    "simulation, check the fit and write a validated scenario with intervals in comments.",
    )
    calibrate.add_argument("exports", nargs="+", metavar="EXPORT",
                           help="a chat export (WeChatMsg v1/v2, PyWxDump), optionally with a WeCom member "
                                "list and an orders CSV of the same group")
    _add_group_options(calibrate)
    calibrate.add_argument("--scenarios-dir", default="params/scenarios",
                           help="where the scenario is written (default: params/scenarios)")
    calibrate.add_argument("--force", action="store_true", help="overwrite an existing scenario of that name")

    report = commands.add_parser(
        "report",
        help="your group's report from its exports: calibrate, every strategy on it, the report",
        description="Load → pseudonymize → calibrate → every strategy of the template batch applied to "
                    "the calibrated group → the comparative report, opening with a fit check, in "
                    "<reports>/<name>/.",
    )
    report.add_argument("--data", nargs="+", required=True, metavar="EXPORT",
                        help="the group's exports (as for `simlib calibrate`)")
    _add_group_options(report)
    report.add_argument("--batch-file", default=None,
                        help="template batch file with 'baseline:' (default: params/batches/mygroup.yaml)")
    _add_run_options(report)
    return parser


def _add_run_options(command: argparse.ArgumentParser) -> None:
    """The options of a command that runs a batch: re-runs, parallel runs, folders, progress bar."""
    command.add_argument("--force", action="store_true", help="re-run runs that already succeeded")
    command.add_argument("--workers", type=_positive_int, default=None,
                         help="parallel runs (default: batch file, else all cores)")
    command.add_argument("--reports-dir", default="reports", help="where batch folders go (default: reports)")
    command.add_argument("--notebooks-dir", default="notebooks", help="where notebook names are looked up")
    command.add_argument("--scenarios-dir", default="params/scenarios",
                         help="where scenario names are looked up")
    command.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_group_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--name", default="mygroup",
                         help="the calibrated group's name: letters, digits, '_' and '-' (default: mygroup); "
                              "never the chat's name")
    command.add_argument("--members", type=_positive_int, default=None, metavar="N",
                         help="the group's size on the export's last day, as its info page shows it: it "
                              "counts the members who never spoke (strongly advised; without it rates come "
                              "out too high)")


def _warnings_to_stderr() -> logging.Handler:
    """Show simlib's warnings (e.g. a strategy that changes the baseline's behaviours) on stderr
    while the command runs; the caller removes the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("simlib: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    logging.getLogger("simlib").addHandler(handler)
    return handler


def _input_errors() -> tuple[type[Exception], ...]:
    """The errors that mean bad input (exit 2): each names the file, key or option and what was expected."""
    from simlib.batch import BatchFileError, BatchStartError
    from simlib.calibrate import CalibrationError
    from simlib.io import LoadError, PseudonymKeyError
    from simlib.params import ParamsError
    from simlib.pipeline import PipelineError

    return (PipelineError, PseudonymKeyError, LoadError, CalibrationError, ParamsError, BatchFileError,
            BatchStartError)


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simlib.pipeline import calibrate_exports, check_group_name

    try:
        target = Path(args.scenarios_dir) / f"{check_group_name(args.name)}.yaml"
        done = calibrate_exports(args.exports, args.name, target=target, members_at_end=args.members,
                                 force=args.force)
    except _input_errors() as exc:
        print(f"simlib calibrate: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(done.summary_lines()))
    return 0


def _report(args: argparse.Namespace) -> int:
    from simlib.pipeline import TEMPLATE_BATCH, report_from_exports

    def work() -> tuple[list[str], Any]:
        done = report_from_exports(
            args.data, args.name, members_at_end=args.members, template=args.batch_file or TEMPLATE_BATCH,
            reports_dir=args.reports_dir, scenarios_dir=args.scenarios_dir, notebooks_dir=args.notebooks_dir,
            workers=args.workers, force=args.force, progress=not args.no_progress,
        )
        return done.group.summary_lines(), done.summary

    return _batch_outcome("report", work)


def _batch(args: argparse.Namespace) -> int:
    from simlib.batch import run_batch

    def work() -> tuple[list[str], Any]:
        return [], run_batch(
            args.batch_file, force=args.force, workers=args.workers, reports_dir=args.reports_dir,
            notebooks_dir=args.notebooks_dir, scenarios_dir=args.scenarios_dir,
            only_notebooks=args.only_notebooks, progress=not args.no_progress, scheduler=args.scheduler,
        )

    return _batch_outcome("batch", work)


def _batch_outcome(command: str, work: Callable[[], tuple[list[str], Any]]) -> int:
    """Run a command that ends in a batch (``work`` returns lines to print first and the batch's
    summary) and turn what happened into the exit status of the module docstring."""
    from simlib.batch import BatchInterrupted

    try:
        lines, summary = work()
    except _input_errors() as exc:
        print(f"simlib {command}: error: {exc}", file=sys.stderr)
        return 2
    except BatchInterrupted as exc:
        print(exc.summary.format())
        print(f"simlib {command}: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before the first run started: nothing to record
        print(f"simlib {command}: interrupted before any run started; nothing was run", file=sys.stderr)
        return 130
    print("\n".join([*lines, summary.format()]))
    if summary.manifest_error:
        print(f"simlib {command}: error: the manifest could not be written ({summary.manifest_error})",
              file=sys.stderr)
    return 0 if summary.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _warnings_to_stderr()
    try:
        if args.command == "calibrate":
            return _calibrate(args)
        if args.command == "report":
            return _report(args)
        return _batch(args)
    finally:
        logging.getLogger("simlib").removeHandler(handler)

if __name__ == "__main__":
    sys.exit(main())
