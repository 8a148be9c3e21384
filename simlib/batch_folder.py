"""The batch folder: what :mod:`simlib.batch` writes and :mod:`simlib.report` reads.

::

    <reports>/<batch>/manifest.jsonl        one JSON line per run attempt, appended
    <reports>/<batch>/timing.json           where the batch's time went
    <reports>/<batch>/index.html            the report without code (report.ipynb and headline.csv beside it)
    <reports>/<batch>/runs/<notebook>/<scenario-slug>/
        results.json, tables/*.csv          what the run left for the report (see simlib.results)
        notebook.ipynb, notebook.html       the executed notebook
        run.json                            the run's key (notebook, scenario, parameters and notebook hashes)
    <reports>/<batch>/failed/<notebook>/<scenario-slug>/
        notebook.ipynb, error.txt, kernel-stderr.txt
    <reports>/latest                        a link to the newest batch folder (or a copy of its index.html)

The names live here only; the manifest is read here only, tolerant of a torn last line (a batch
interrupted while appending) and of any other line that is not a JSON object.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simlib.results import RESULTS_FILE as RESULTS_FILE  # the run folder's files, named by results
from simlib.results import TABLES_DIR as TABLES_DIR

MANIFEST_FILE = "manifest.jsonl"
TIMING_FILE = "timing.json"
INDEX_FILE = "index.html"
REPORT_NOTEBOOK_FILE = "report.ipynb"
HEADLINE_CSV = "headline.csv"
RUNS_DIR = "runs"
FAILED_DIR = "failed"
LATEST = "latest"
RUN_NOTEBOOK = "notebook.ipynb"
RUN_HTML = "notebook.html"
RUN_INFO = "run.json"
ERROR_FILE = "error.txt"
STDERR_FILE = "kernel-stderr.txt"

#: Every status a manifest record can have, and those that mean the run failed.
STATUSES = ("ok", "failed", "timeout", "kernel_died", "skipped")
FAILED_STATUSES = ("failed", "timeout", "kernel_died")

log = logging.getLogger(__name__)


@dataclass
class Problem:
    """Something in the batch folder that could not be used (reported, never raised)."""

    where: str
    message: str


def read_manifest(
    batch_dir: str | os.PathLike, problems: list[Problem] | None = None
) -> list[dict[str, Any]]:
    """The records of ``manifest.jsonl``, in the order they were appended ([] without a manifest).

    A line that is not a JSON object (a torn last line, say) is skipped and told: appended to
    ``problems`` when given, else logged as a warning.
    """
    path = Path(batch_dir) / MANIFEST_FILE
    found = [] if problems is None else problems
    records: list[dict[str, Any]] = []
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    except OSError as error:
        found.append(Problem(MANIFEST_FILE, f"cannot read: {error}"))
        content = ""
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            found.append(Problem(f"{MANIFEST_FILE}:{number}", f"not JSON: {error.msg}"))
            continue
        if not isinstance(record, dict):
            found.append(Problem(f"{MANIFEST_FILE}:{number}", "not a JSON object"))
            continue
        records.append(record)
    if problems is None:
        for problem in found:
            log.warning("%s: %s; ignored", Path(batch_dir) / problem.where, problem.message)
    return records


def append_manifest(batch_dir: str | os.PathLike, record: Mapping[str, Any]) -> None:
    """Append one record as one line (flushed at once, so that an interruption loses no finished run)."""
    with open(Path(batch_dir) / MANIFEST_FILE, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        stream.flush()


def run_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """(notebook, scenario slug) of a manifest record: the run's folder ``runs/<notebook>/<slug>``."""
    return (str(record.get("notebook", "")), str(record.get("scenario_slug") or record.get("scenario", "")))


def last_attempts(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The attempt that decides each run's status: per :func:`run_key`, the latest that was not a skip.

    A ``skipped`` line means a re-run found the run already done, so the attempt that did the
    work decides; a run only ever skipped keeps its first ``skipped`` record.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = run_key(record)
        if record.get("status") == "skipped" and key in latest:
            continue
        latest[key] = dict(record)
    return latest


def read_run_info(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """A run folder's ``run.json`` (its key), or None when it is missing or unreadable."""
    try:
        info = json.loads((Path(run_dir) / RUN_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
