"""The batch loop: plan, skip what is done, run the rest in parallel, record, then the report.

Every attempt is appended to ``manifest.jsonl`` as soon as it ends; a re-run skips runs whose
key (notebook, scenario, parameters hash, notebook hash) is unchanged and last succeeded.
"""

from __future__ import annotations

import importlib.metadata
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simlib.batch.plan import BatchFileError, BatchPlan, RunSpec, plan_batch
from simlib.batch.worker import (
    check_results_file,
    execute,
    export_html,
    now_utc,
    printable,
    quiet_logs,
    run_one,
    stderr_to,
    store_failure,
)
from simlib.batch_folder import (
    ERROR_FILE,
    FAILED_DIR,
    FAILED_STATUSES,
    INDEX_FILE,
    LATEST,
    REPORT_NOTEBOOK_FILE,
    RESULTS_FILE,
    RUN_HTML,
    RUN_NOTEBOOK,
    STATUSES,
    STDERR_FILE,
    TIMING_FILE,
    append_manifest,
    last_attempts,
    read_manifest,
)
from simlib.results import atomic_write_text
from simlib.slug import contained

VERSIONED_PACKAGES = ("simlib", "numpy", "numba", "pandas", "simpy", "papermill")


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


# Imported once by the fork server, so that each worker starts without paying for them again.
_PRELOAD = ["simlib.batch", "papermill", "nbclient", "nbconvert.exporters.html"]


def _process_context() -> multiprocessing.context.BaseContext:
    """A fork server with the heavy imports preloaded where available (POSIX), else spawn.

    Plain fork is avoided: the parent runs threads (progress bar, pool management).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


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
        return not self.failures and self.report_status in (None, "ok")

    def format(self) -> str:
        """A plain-text summary: status counts per notebook, failures, report and timing."""
        notebooks = sorted({r["notebook"] for r in self.records})
        header = ["notebook", *STATUSES]
        per_notebook = Counter((r["notebook"], r["status"]) for r in self.records)
        rows = [[nb, *(str(per_notebook[nb, s]) for s in STATUSES)] for nb in notebooks]
        rows.append(["total", *(str(self.counts.get(s, 0)) for s in STATUSES)])
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [f"batch {printable(self.name)} → {self.batch_dir}"]
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


def _run_report(plan: BatchPlan) -> tuple[str, str | None, Path | None]:
    """Execute the report notebook and export ``index.html`` without code; (status, error, path)."""
    assert plan.report is not None
    batch_dir = plan.batch_dir
    index = contained(batch_dir, INDEX_FILE)
    tmp_dir = Path(tempfile.mkdtemp(dir=batch_dir, prefix=".report.tmp-"))
    try:
        executed = tmp_dir / REPORT_NOTEBOOK_FILE
        with stderr_to(tmp_dir / STDERR_FILE):
            status, error = execute(
                plan.report.path,
                executed,
                {"batch_dir": str(batch_dir), "lang": plan.config.lang, "output_html": str(index)},
                timeout_s=plan.config.timeout_s,
                start_timeout_s=plan.config.start_timeout_s,
            )
        if status == "ok":
            try:
                export_html(executed, index, with_code=False)
                os.replace(executed, contained(batch_dir, REPORT_NOTEBOOK_FILE))
                _point_latest(plan.reports_root, batch_dir, index)
            except Exception as exc:
                status, error = "failed", f"could not export the report: {type(exc).__name__}: {exc}"
        if status != "ok":
            failed_dir = contained(batch_dir, FAILED_DIR, plan.report.name)
            store_failure(tmp_dir, failed_dir, status, error or "")
            return status, error, None
        return status, None, index
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


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
) -> BatchSummary:
    """Run a batch file: all (notebook × scenario) runs in parallel, then the report.

    Invalid input raises :class:`BatchFileError` before anything runs. Failing runs never stop
    the others: they are recorded and listed in the returned :class:`BatchSummary`.
    """
    started_wall = time.perf_counter()
    started_at = now_utc()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise BatchFileError(f"--workers: got {workers!r}; expected a whole number ≥ 1")
    plan = plan_batch(
        batch_file,
        reports_dir=reports_dir,
        notebooks_dir=notebooks_dir,
        scenarios_dir=scenarios_dir,
        only_notebooks=only_notebooks,
    )
    config = plan.config
    plan.batch_dir.mkdir(parents=True, exist_ok=True)
    versions = package_versions()
    commit = git_commit(Path(notebooks_dir).resolve() if Path(notebooks_dir).exists() else Path.cwd())
    summary = BatchSummary(name=config.name, batch_dir=plan.batch_dir)

    last = last_attempts(read_manifest(plan.batch_dir))
    pending: list[RunSpec] = []
    for run in plan.runs:
        if not force and _already_done(run, last.get((run.notebook.name, run.scenario.slug))):
            record = _base_record(plan, run, versions, commit)
            record.update(status="skipped", started_at=started_at, duration_s=0.0, compute_s=0.0,
                          outputs=_run_outputs(plan, run, "skipped"), error=None)
            append_manifest(plan.batch_dir, record)
            summary.records.append(record)
        else:
            pending.append(run)

    pool_size = min(workers or config.workers or _default_workers(), max(len(pending), 1))
    runs_started = time.perf_counter()
    if pending:
        _execute_all(plan, pending, pool_size, versions, commit, summary, progress)
    runs_wall = time.perf_counter() - runs_started

    report_started = time.perf_counter()
    if plan.report is not None:
        status, error, index = _run_report(plan)
        summary.report_status, summary.report_error, summary.index_html = status, error, index
    report_s = time.perf_counter() - report_started

    executed = summary.executed
    run_time = sum(r["duration_s"] for r in executed)
    compute = sum(r["compute_s"] for r in executed)
    wall = time.perf_counter() - started_wall
    summary.timing = {
        "batch": config.name,
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
    atomic_write_text(plan.batch_dir / TIMING_FILE, json.dumps(summary.timing, indent=1))
    return summary


def _execute_all(
    plan: BatchPlan,
    pending: list[RunSpec],
    pool_size: int,
    versions: Mapping,
    commit: str | None,
    summary: BatchSummary,
    progress: bool,
) -> None:
    config = plan.config
    jobs = {}
    for run in pending:
        run.final_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(dir=run.final_dir.parent, prefix=f".{run.scenario.slug}.tmp-"))
        key = {"notebook": run.notebook.name, "scenario": run.scenario.name,
               "params_hash": run.params_hash, "notebook_hash": run.notebook.sha256}
        jobs[id(run)] = {
            "notebook_path": str(run.notebook.path),
            "parameters": run.parameters,
            "tmp_dir": str(tmp_dir),
            "final_dir": str(run.final_dir),
            "failed_dir": str(run.failed_dir),
            "timeout_s": config.timeout_s,
            "start_timeout_s": config.start_timeout_s,
            "kernel_workers": max(1, (os.cpu_count() or 1) // max(1, min(pool_size, len(pending)))),
            "key": key,
            "info": {**key, "scenario_slug": run.scenario.slug, "scenario_file": str(run.scenario.path),
                     "seed": config.seed, "replications": config.replications, "lang": config.lang},
        }
    context = _process_context()
    bar = tqdm(total=len(pending), desc=printable(config.name, 40), unit="run", disable=not progress)
    pool = ProcessPoolExecutor(max_workers=pool_size, mp_context=context, initializer=quiet_logs)
    try:
        futures = {pool.submit(run_one, jobs[id(run)]): run for run in pending}
        for future in as_completed(futures):
            run = futures[future]
            job = jobs[id(run)]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process itself crashed
                outcome = {"status": "failed", "error": f"worker process failed: {type(exc).__name__}: {exc}",
                           "started_at": None, "duration_s": 0.0, "compute_s": 0.0}
                tmp_dir = Path(job["tmp_dir"])
                if tmp_dir.exists():
                    store_failure(tmp_dir, run.failed_dir, "failed", outcome["error"], run.final_dir,
                                  job["key"])
            record = _base_record(plan, run, versions, commit)
            record.update(
                status=outcome["status"],
                started_at=outcome["started_at"],
                duration_s=outcome["duration_s"],
                compute_s=outcome["compute_s"],
                warnings=outcome.get("warnings", []),
                outputs=_run_outputs(plan, run, outcome["status"]),
                error=_summary_line(outcome["error"]),
            )
            append_manifest(plan.batch_dir, record)
            summary.records.append(record)
            bar.update(1)
            if outcome["status"] != "ok":
                bar.write(f"{outcome['status']}: {run.notebook.name} × {printable(run.scenario.name, 60)}")
    finally:
        # On an interruption, runs not yet started are cancelled; their folders are removed.
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        for job in jobs.values():
            shutil.rmtree(job["tmp_dir"], ignore_errors=True)
