"""The batch loop: plan, skip what is done, run the rest in parallel, record, then the report.

Every attempt is appended to ``manifest.jsonl`` as soon as it ends; a re-run skips runs whose
key (notebook, scenario, parameters hash, notebook hash) is unchanged and last succeeded.

Runs execute in processes of this machine or on a Dask cluster (:mod:`simlib.batch.executors`);
either way they return their files and this process writes them (:mod:`simlib.batch.store`).
Ctrl-C (SIGINT) or SIGTERM stops the batch at once: no run starts any more, running runs are
stopped, every run that finished is recorded, and :class:`BatchInterrupted` tells what remains.
One batch at a time writes a batch folder (a lock); what a crashed batch left half-written is
removed when the next one starts.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simlib.batch.cluster import ClusterError, connect, total_threads
from simlib.batch.executors import DaskRuns, LocalRuns
from simlib.batch.lifeline import FolderLock
from simlib.batch.plan import BatchFileError, BatchPlan, NotebookRef, RunSpec, plan_batch
from simlib.batch.store import remove_stale_temporaries, store_failure, store_outcome
from simlib.batch.worker import check_results_file, now_utc, printable
from simlib.batch_folder import (
    ERROR_FILE,
    FAILED_DIR,
    FAILED_STATUSES,
    INDEX_FILE,
    LATEST,
    LOCK_FILE,
    MANIFEST_FILE,
    REPORT_NOTEBOOK_FILE,
    RESULTS_FILE,
    RUN_HTML,
    RUN_NOTEBOOK,
    STATUSES,
    TIMING_FILE,
    append_manifest,
    last_attempts,
    read_manifest,
)
from simlib.labels import report_text
from simlib.results import atomic_write_text
from simlib.slug import contained

VERSIONED_PACKAGES = ("simlib", "numpy", "numba", "pandas", "simpy", "papermill")


class BatchStartError(RuntimeError):
    """The batch cannot start — its folder cannot be written or is in use, or the cluster cannot
    be reached. Nothing ran; the message says what and where."""


def _already_done(run: RunSpec, last: Mapping[str, Any] | None) -> bool:
    if not last or last.get("status") != "ok":
        return False
    same = (last.get("params_hash"), last.get("notebook_hash")) == (run.params_hash, run.notebook.sha256)
    return same and check_results_file(run.final_dir) is None


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(folder: str | os.PathLike = ".") -> str | None:
    """The checked-out commit of the repository holding ``folder``, or None."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


@dataclass
class BatchSummary:
    """What :func:`run_batch` did: this invocation's manifest records, report and timing."""

    name: str
    batch_dir: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    report_status: str | None = None  # None when the batch has no report notebook
    report_error: str | None = None
    index_html: Path | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None  # the Dask scheduler the runs went to, None for this machine
    manifest_error: str | None = None  # set when a record could not be appended to the manifest
    unrecorded: int = 0  # records missing from the manifest because of it

    @property
    def counts(self) -> Counter:
        return Counter(record["status"] for record in self.records)

    @property
    def executed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] != "skipped"]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] in FAILED_STATUSES]

    @property
    def ok(self) -> bool:
        return not self.failures and self.report_status in (None, "ok") and self.manifest_error is None

    def format(self) -> str:
        """A plain-text summary: status counts per notebook, failures, report and timing."""
        notebooks = sorted({r["notebook"] for r in self.records})
        header = ["notebook", *STATUSES]
        per_notebook = Counter((r["notebook"], r["status"]) for r in self.records)
        rows = [[nb, *(str(per_notebook[nb, s]) for s in STATUSES)] for nb in notebooks]
        rows.append(["total", *(str(self.counts.get(s, 0)) for s in STATUSES)])
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        where = f" (runs on the Dask cluster {self.scheduler})" if self.scheduler else ""
        lines = [f"batch {printable(self.name)} → {self.batch_dir}{where}"]
        for row in [header, *rows]:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if self.failures:
            lines.append("")
            lines.append(f"{len(self.failures)} run(s) failed:")
            for record in self.failures:
                where = record.get("outputs", {}).get("error_file", "")
                lines.append(
                    f"  [{record['status']}] {record['notebook']} × {printable(record['scenario'])}: "
                    f"{printable(record.get('error') or '')}  ({where})"
                )
        noisy = [r for r in self.records if r.get("warnings")]
        if noisy:
            lines.append("")
            lines.append(f"{len(noisy)} run(s) show warnings in their outputs:")
            for record in noisy:
                warnings = "; ".join(record["warnings"])
                lines.append(f"  {record['notebook']} × {printable(record['scenario'])}: {warnings}")
        if self.report_status is not None:
            lines.append("")
            if self.report_status == "ok":
                lines.append(f"report: {self.index_html}")
            else:
                lines.append(f"report FAILED: {printable(self.report_error or '')}")
        if self.manifest_error:
            lines.append("")
            lines.append(
                f"MANIFEST NOT WRITTEN: {printable(self.manifest_error, 300)}. {self.unrecorded} run(s) of "
                "this batch are missing from it: the report may not show them and a re-run will execute "
                "them again."
            )
        if self.timing:
            timing = self.timing
            lines.append(
                f"wall time {timing['wall_s']:.1f} s; notebooks' own computation "
                f"{timing['notebook_compute_sum_s']:.1f} s of {timing['run_time_sum_s']:.1f} s run time"
            )
        return "\n".join(lines)


def _summary_line(error: str | None) -> str | None:
    if not error:
        return None
    first = next((line for line in error.splitlines() if line.strip()), error)
    return first[:300]


class BatchInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped the batch; :attr:`summary` holds what finished (and was recorded)."""

    def __init__(self, summary: BatchSummary, stopped: int, not_started: int, report_stopped: bool = False):
        self.summary, self.stopped, self.not_started = summary, stopped, not_started
        finished = len(summary.executed)
        if summary.manifest_error is None:
            recorded = f"{finished} run(s) finished and are recorded in {MANIFEST_FILE}"
        else:
            recorded = (f"{finished} run(s) finished but {summary.unrecorded} record(s) could not be "
                        f"written to {MANIFEST_FILE} ({summary.manifest_error})")
        remaining = stopped + not_started
        if summary.scheduler:  # a task already running on a worker cannot be stopped from here
            parts = [f"interrupted: {recorded}", f"{remaining} run(s) were cancelled on the cluster (a "
                     "notebook already running there runs to its end and its result is dropped)"]
        else:
            parts = [f"interrupted: {recorded}", f"{stopped} running run(s) were stopped",
                     f"{not_started} had not started"]
        tail = ("the report was stopped" if report_stopped else "no report was made") + (
            f"; run the same command again to execute the {remaining} run(s) that remain" if remaining else
            "; run the same command again to make the report")
        super().__init__("; ".join(parts) + "; " + tail)


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _base_record(plan: BatchPlan, run: RunSpec, versions: Mapping, commit: str | None) -> dict[str, Any]:
    return {
        "batch": plan.config.name,
        "notebook": run.notebook.name,
        "scenario": run.scenario.name,
        "scenario_slug": run.scenario.slug,
        "scenario_file": str(run.scenario.path),
        "params_hash": run.params_hash,
        "notebook_hash": run.notebook.sha256,
        "seed": plan.config.seed,
        "replications": plan.config.replications,
        "versions": dict(versions),
        "git_commit": commit,
    }


def _run_outputs(plan: BatchPlan, run: RunSpec, status: str) -> dict[str, str]:
    root = plan.batch_dir
    if status in ("ok", "skipped"):
        folder = run.final_dir
        return {
            "dir": _relative(folder, root),
            "results": _relative(folder / RESULTS_FILE, root),
            "notebook": _relative(folder / RUN_NOTEBOOK, root),
            "html": _relative(folder / RUN_HTML, root),
        }
    folder = run.failed_dir
    return {
        "dir": _relative(folder, root),
        "notebook": _relative(folder / RUN_NOTEBOOK, root),
        "error_file": _relative(folder / ERROR_FILE, root),
    }


def _file_spec(ref: NotebookRef | Any) -> dict[str, Any]:
    sha256 = ref.sha256 if isinstance(ref, NotebookRef) else ref.content_sha256
    return {"path": str(ref.path), "sha256": sha256, "content": ref.content}


def _run_info(plan: BatchPlan, run: RunSpec) -> dict[str, Any]:
    """The run's key and settings (its folder's run.json)."""
    config = plan.config
    return {"notebook": run.notebook.name, "scenario": run.scenario.name, "params_hash": run.params_hash,
            "notebook_hash": run.notebook.sha256, "scenario_slug": run.scenario.slug,
            "scenario_file": str(run.scenario.path), "seed": config.seed, "replications": config.replications,
            "lang": config.lang,
            # What the run simulated, kept so that the report can rebuild it (its robustness step)
            # even after the scenario file changes.
            "overrides": dict(config.overrides), "scenario_yaml": run.scenario.content.decode("utf-8")}


def _run_job(plan: BatchPlan, run: RunSpec, kernel_workers: int | None) -> dict[str, Any]:
    """What a worker needs to execute a run (see :func:`simlib.batch.worker.execute_run`)."""
    return {
        "notebook": _file_spec(run.notebook),
        "scenario": _file_spec(run.scenario),
        "parameters": run.parameters,
        "output_parameter": "output_dir",
        "executed_name": RUN_NOTEBOOK,
        "check_results": True,
        # A run's page is sanitized: its outputs show user-supplied text (scenario labels, names).
        "html": {"name": RUN_HTML, "with_code": True, "sanitize": True,
                 "title": f"{run.notebook.name} · {run.scenario.name}"},
        "timeout_s": plan.config.timeout_s,
        "start_timeout_s": plan.config.start_timeout_s,
        "kernel_workers": kernel_workers,
    }


def _report_job(plan: BatchPlan, index: Path) -> dict[str, Any]:
    assert plan.report is not None
    return {
        "notebook": _file_spec(plan.report),
        "scenario": None,
        "parameters": {"batch_dir": str(plan.batch_dir), "lang": plan.config.lang, "output_html": str(index)},
        "output_parameter": None,
        "executed_name": REPORT_NOTEBOOK_FILE,
        "check_results": False,
        # The report escapes every user string itself (simlib.report); its page keeps its styling.
        "html": {"name": INDEX_FILE, "with_code": False, "sanitize": False,
                 "title": f"{report_text('title', plan.config.lang)} · {plan.config.name}"},
        "timeout_s": plan.config.timeout_s,
        "start_timeout_s": plan.config.start_timeout_s,
        "kernel_workers": _default_workers(),
    }


def _record(summary: BatchSummary, batch_dir: Path, record: dict[str, Any]) -> None:
    """Keep a record in the summary and append it to the manifest; a manifest that cannot be
    written is noted (the batch goes on, and the summary says so)."""
    summary.records.append(record)
    try:
        append_manifest(batch_dir, record)
    except OSError as exc:
        summary.unrecorded += 1
        if summary.manifest_error is None:
            summary.manifest_error = f"cannot append to {batch_dir / MANIFEST_FILE}: {exc}"


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While the batch runs, Ctrl-C (SIGINT) and SIGTERM only set ``stop``: the batch loop then
    stops its runs and records what finished, instead of being torn apart mid-write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)


def _run_report(plan: BatchPlan, stop: threading.Event) -> tuple[str, str | None, Path | None] | None:
    """Execute the report notebook (on this machine: it reads the batch folder) and write
    ``index.html`` without code; (status, error, path), or None when stopped."""
    assert plan.report is not None
    index = contained(plan.batch_dir, INDEX_FILE)
    outcomes: list[dict[str, Any]] = []
    executor = LocalRuns(1)
    try:
        executor.run([("report", _report_job(plan, index))],
                     lambda key, outcome: outcomes.append(outcome), stop)
    finally:
        executor.close()
    if not outcomes:
        return None
    outcome = outcomes[0]
    status, error, files = outcome["status"], outcome.get("error"), outcome.get("files", {})
    if status == "ok":
        try:
            atomic_write_text(index, files[INDEX_FILE].decode("utf-8"))
            atomic_write_text(contained(plan.batch_dir, REPORT_NOTEBOOK_FILE),
                              files[REPORT_NOTEBOOK_FILE].decode("utf-8"))
            _point_latest(plan.reports_root, plan.batch_dir, index)
            return status, None, index
        except (OSError, KeyError, UnicodeDecodeError) as exc:
            status, error = "failed", f"could not write the report: {type(exc).__name__}: {exc}"
    try:
        store_failure(contained(plan.batch_dir, FAILED_DIR, plan.report.name), files, status, error or "")
    except OSError as exc:
        error = f"{error}; its notebook could not be kept either: {exc}"
    return status, error, None


def _point_latest(reports_root: Path, batch_dir: Path, index: Path) -> None:
    """Make ``reports/latest`` a symlink to the batch folder (or, failing that, a copy of index.html)."""
    link = reports_root / LATEST
    temporary = reports_root / f".{LATEST}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(batch_dir.name, temporary, target_is_directory=True)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        os.replace(temporary, link)
    except OSError:
        if temporary.is_symlink():
            temporary.unlink()
        if link.is_symlink() or link.is_file():
            link.unlink()
        link.mkdir(exist_ok=True)
        atomic_write_text(link / INDEX_FILE, index.read_text(encoding="utf-8"))


def run_batch(
    batch_file: str | os.PathLike,
    *,
    force: bool = False,
    workers: int | None = None,
    reports_dir: str | os.PathLike = "reports",
    notebooks_dir: str | os.PathLike = "notebooks",
    scenarios_dir: str | os.PathLike = "params/scenarios",
    only_notebooks: Iterable[str] | None = None,
    progress: bool = True,
    scheduler: str | None = None,
) -> BatchSummary:
    """Run a batch file: all (notebook × scenario) runs in parallel, then the report.

    ``scheduler`` (a Dask scheduler address) runs the notebooks on that cluster; the report
    always runs here. Invalid input raises :class:`BatchFileError` and a batch that cannot start
    :class:`BatchStartError`, both before any kernel starts. Failing runs never stop the others:
    they are recorded and listed in the returned :class:`BatchSummary`. Ctrl-C or SIGTERM raises
    :class:`BatchInterrupted` once the runs that finished are recorded.
    """
    started_wall = time.perf_counter()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise BatchFileError(f"--workers: got {workers!r}; expected a whole number ≥ 1")
    plan = plan_batch(
        batch_file,
        reports_dir=reports_dir,
        notebooks_dir=notebooks_dir,
        scenarios_dir=scenarios_dir,
        only_notebooks=only_notebooks,
    )
    client = None
    if scheduler is not None:
        try:
            client = connect(scheduler)
        except ClusterError as exc:
            raise BatchStartError(f"--scheduler: {exc}") from None
    try:
        lock = _lock_batch_folder(plan.batch_dir)
        try:
            return _run_locked(plan, client, scheduler, force=force, workers=workers, progress=progress,
                               notebooks_dir=Path(notebooks_dir), started_wall=started_wall)
        finally:
            lock.release()
    finally:
        if client is not None:
            client.close()


def _lock_batch_folder(batch_dir: Path) -> FolderLock:
    try:
        batch_dir.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(batch_dir / LOCK_FILE)
        acquired = lock.acquire()
    except OSError as exc:
        raise BatchStartError(f"{batch_dir}: cannot write the batch folder ({exc})") from None
    if not acquired:
        raise BatchStartError(
            f"{batch_dir}: another `simlib batch` (process {lock.holder()}) is writing this batch folder; "
            "wait for it to end, or stop it"
        )
    return lock


def _run_locked(
    plan: BatchPlan, client: Any, scheduler: str | None, *, force: bool, workers: int | None, progress: bool,
    notebooks_dir: Path, started_wall: float,
) -> BatchSummary:
    config = plan.config
    started_at = now_utc()
    remove_stale_temporaries(plan.batch_dir)
    versions = package_versions()
    commit = git_commit(notebooks_dir.resolve() if notebooks_dir.exists() else Path.cwd())
    summary = BatchSummary(name=config.name, batch_dir=plan.batch_dir, scheduler=scheduler)

    last = last_attempts(read_manifest(plan.batch_dir))
    pending: list[RunSpec] = []
    for run in plan.runs:
        if not force and _already_done(run, last.get((run.notebook.name, run.scenario.slug))):
            record = _base_record(plan, run, versions, commit)
            record.update(status="skipped", started_at=started_at, duration_s=0.0, compute_s=0.0,
                          outputs=_run_outputs(plan, run, "skipped"), error=None)
            _record(summary, plan.batch_dir, record)
        else:
            pending.append(run)

    if client is not None:
        pool_size, kernel_workers = total_threads(client), None
        executor: LocalRuns | DaskRuns = DaskRuns(client)
    else:
        pool_size = min(workers or config.workers or _default_workers(), max(len(pending), 1))
        kernel_workers = max(1, (os.cpu_count() or 1) // pool_size)
        executor = LocalRuns(pool_size)
    stop = threading.Event()
    with _stop_on_signals(stop):
        runs_started = time.perf_counter()
        try:
            stopped, not_started = _execute_runs(plan, pending, executor, stop, kernel_workers, versions,
                                                 commit, summary, progress)
        finally:
            executor.close()
        runs_wall = time.perf_counter() - runs_started
        if stop.is_set():
            raise BatchInterrupted(summary, len(stopped), len(not_started))
        report_started = time.perf_counter()
        if plan.report is not None:
            report = _run_report(plan, stop)
            if report is None:
                raise BatchInterrupted(summary, 0, 0, report_stopped=True)
            summary.report_status, summary.report_error, summary.index_html = report
        report_s = time.perf_counter() - report_started

    summary.timing = _timing(summary, config.name, started_at, pool_size, started_wall, runs_wall, report_s)
    try:
        atomic_write_text(plan.batch_dir / TIMING_FILE, json.dumps(summary.timing, indent=1))
    except OSError:
        pass  # the figures are also in the summary; a full disk is already told by the runs
    return summary


def _timing(summary: BatchSummary, name: str, started_at: str, pool_size: int, started_wall: float,
            runs_wall: float, report_s: float) -> dict[str, Any]:
    executed = summary.executed
    run_time = sum(r["duration_s"] for r in executed)
    compute = sum(r["compute_s"] for r in executed)
    wall = time.perf_counter() - started_wall
    return {
        "batch": name,
        "started_at": started_at,
        "workers": pool_size,
        "runs_executed": len(executed),
        "runs_skipped": len(summary.records) - len(executed),
        "wall_s": round(wall, 3),
        "runs_phase_wall_s": round(runs_wall, 3),
        "report_s": round(report_s, 3),
        "run_time_sum_s": round(run_time, 3),
        "notebook_compute_sum_s": round(compute, 3),
        # Of the time the runs took (kernel start, Papermill, HTML export included), the part
        # not spent executing the notebooks' cells.
        "share_outside_compute_of_run_time": round(1 - compute / run_time, 4) if run_time else None,
        # Of the worker capacity over the whole batch (wall time × workers), the same share.
        "share_outside_compute_of_capacity": round(1 - compute / (wall * pool_size), 4) if wall else None,
    }


def _execute_runs(
    plan: BatchPlan,
    pending: list[RunSpec],
    executor: LocalRuns | DaskRuns,
    stop: threading.Event,
    kernel_workers: int | None,
    versions: Mapping,
    commit: str | None,
    summary: BatchSummary,
    progress: bool,
) -> tuple[list[RunSpec], list[RunSpec]]:
    """Execute the pending runs, store and record each as it ends; (stopped, not started) runs."""
    bar = tqdm(total=len(pending), desc=printable(plan.config.name, 40), unit="run", disable=not progress)

    def on_outcome(index: Hashable, outcome: dict[str, Any]) -> None:
        run = pending[int(index)]  # type: ignore[call-overload]
        status, error = store_outcome(run.final_dir, run.failed_dir, outcome, _run_info(plan, run))
        record = _base_record(plan, run, versions, commit)
        record.update(
            status=status,
            started_at=outcome.get("started_at"),
            duration_s=outcome.get("duration_s", 0.0),
            compute_s=outcome.get("compute_s", 0.0),
            warnings=outcome.get("warnings", []),
            host=outcome.get("host"),
            outputs=_run_outputs(plan, run, status),
            error=_summary_line(error),
        )
        _record(summary, plan.batch_dir, record)
        bar.update(1)
        if status != "ok":
            bar.write(f"{status}: {run.notebook.name} × {printable(run.scenario.name, 60)}")

    jobs = [(index, _run_job(plan, run, kernel_workers)) for index, run in enumerate(pending)]
    try:
        unfinished = executor.run(jobs, on_outcome, stop) if jobs else []
    finally:
        bar.close()
    started = {int(index) for index in unfinished if executor.started(index)}  # type: ignore[call-overload]
    return ([pending[i] for i in sorted(started)],
            [pending[int(i)] for i in unfinished if int(i) not in started])  # type: ignore[call-overload]
