"""Where a batch's runs execute: processes of this machine, or a Dask distributed cluster.

Both executors take ``(key, job)`` pairs, call ``on_outcome(key, outcome)`` in the calling
thread as each run ends (the outcome carries the run's files; see
:func:`simlib.batch.worker.execute_run`), and watch a ``stop`` event: once it is set, no run
starts any more and :meth:`run` returns the keys of the runs that did not finish.

* :class:`LocalRuns` — one fresh process per run, forked from a fork server that has the heavy
  imports loaded, at most ``slots`` at a time. A stop kills the running processes (their
  kernels die with them); a run that finished before is still reported.
* :class:`DaskRuns` — one Dask task per run. A stop cancels the tasks; a notebook already
  running on a worker runs to its end there and its result is dropped.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from simlib.batch import lifeline, worker

Job = tuple[Hashable, Mapping[str, Any]]
OnOutcome = Callable[[Hashable, dict[str, Any]], None]
BATCH_WORK_PREFIX = "simlib-batch-"
# Imported once by the fork server, so that each run process starts without paying for them again;
# simlib.batch.warm_start also warms the caches every run uses.
_PRELOAD = ["simlib.batch.worker", "papermill", "nbclient", "nbconvert.exporters.html",
            "jupyter_client.manager", "simlib.report_safety", "bleach.css_sanitizer",
            "simlib.batch.warm_start"]


def lost_outcome(error: str) -> dict[str, Any]:
    """The outcome of a run whose worker ended without one."""
    return {"status": "failed", "error": error, "started_at": None, "duration_s": 0.0, "compute_s": 0.0,
            "warnings": [], "files": {}}


def _process_context() -> multiprocessing.context.BaseContext:
    """A fork server with the heavy imports preloaded where available (POSIX), else spawn.

    Plain fork is avoided: the batch process may run threads (progress bar, a Dask client).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def start_fork_server() -> None:
    """Start the fork server with its imports now (the benchmark does, so as not to time it)."""
    if _process_context().get_start_method() == "forkserver":
        import multiprocessing.forkserver

        multiprocessing.forkserver.ensure_running()


class LocalRuns:
    """Runs in processes of this machine, each in its own work folder under one temporary
    folder of this batch process (removed by :meth:`close`, or by the next batch if this one
    is killed)."""

    def __init__(self, slots: int):
        self.slots = max(1, slots)
        lifeline.remove_orphaned_folders(BATCH_WORK_PREFIX)
        self.work = lifeline.owned_temporary_folder(BATCH_WORK_PREFIX)
        self.context = _process_context()
        # Run processes hold the read end: when this process ends, however, they end too.
        self._alive_reader, self._alive_writer = self.context.Pipe(duplex=False)
        self._started = 0
        self._started_keys: set[Hashable] = set()

    def started(self, key: Hashable) -> bool:
        """Whether the run ``key`` was started (for telling stopped runs from runs never started)."""
        return key in self._started_keys

    def _start(self, job: Mapping[str, Any], umask: int) -> tuple[multiprocessing.Process, Path]:
        self._started += 1
        run_dir = self.work / f"run-{self._started}"
        run_dir.mkdir()
        process = self.context.Process(target=worker.run_in_process,
                                       args=(job, str(run_dir), self._alive_reader, umask),
                                       name=f"simlib-run-{self._started}", daemon=True)
        process.start()
        if self._started == 1:  # the fork server's socket folder: removed with ours if we are killed
            lifeline.note_owned_path(self.work, multiprocessing.util.get_temp_dir())
        return process, run_dir

    @staticmethod
    def _finish(process: multiprocessing.Process, run_dir: Path) -> dict[str, Any] | None:
        process.join()
        outcome = worker.read_outcome(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        return outcome

    def run(self, jobs: Sequence[Job], on_outcome: OnOutcome, stop: threading.Event) -> list[Hashable]:
        queue = deque(jobs)
        running: dict[int, tuple[Hashable, multiprocessing.Process, Path]] = {}
        umask = lifeline.current_umask()

        def fill_slots() -> None:
            while queue and len(running) < self.slots and not stop.is_set():
                key, job = queue.popleft()
                self._started_keys.add(key)
                process, run_dir = self._start(job, umask)
                running[process.sentinel] = (key, process, run_dir)

        try:
            while (queue or running) and not stop.is_set():
                fill_slots()
                finished = []
                for sentinel in multiprocessing.connection.wait(list(running), timeout=0.2):
                    key, process, run_dir = running.pop(sentinel)
                    outcome = self._finish(process, run_dir) or lost_outcome(
                        f"the run process ended without a result (exit code {process.exitcode})")
                    finished.append((key, outcome))
                fill_slots()  # the next runs start while this process stores the finished ones
                for key, outcome in finished:
                    on_outcome(key, outcome)
        finally:
            # Stopped, or an error in on_outcome: kill what still runs; keep what had finished.
            for _, process, _ in running.values():
                if process.exitcode is None:
                    process.kill()
            unfinished = [key for key, _ in queue]
            for key, process, run_dir in running.values():
                outcome = self._finish(process, run_dir)
                if outcome is not None and stop.is_set():
                    on_outcome(key, outcome)
                else:
                    unfinished.append(key)
        return unfinished

    def close(self) -> None:
        self._alive_writer.close()
        self._alive_reader.close()
        shutil.rmtree(self.work, ignore_errors=True)


def execute_run_warm(job: Mapping[str, Any]) -> dict[str, Any]:
    """A run on a Dask worker: the worker's first run warms it as the fork server is warmed
    (:mod:`simlib.batch.warm_start`, imported once per process), then :func:`worker.execute_run`."""
    import simlib.batch.warm_start  # noqa: F401  (its import is the warm-up)

    return worker.execute_run(job)


class DaskRuns:
    """Runs as tasks of a Dask distributed cluster (``client`` from :func:`simlib.batch.cluster.connect`)."""

    def __init__(self, client: Any):
        self.client = client

    def started(self, key: Hashable) -> bool:
        """Every run was handed to the cluster; a stop cancels them all (see :meth:`run`)."""
        return True

    def run(self, jobs: Sequence[Job], on_outcome: OnOutcome, stop: threading.Event) -> list[Hashable]:
        batch = uuid.uuid4().hex[:8]
        futures = {
            self.client.submit(execute_run_warm, job, key=f"simlib-run-{batch}-{number}", pure=False): key
            for number, (key, job) in enumerate(jobs)
        }
        remaining = list(futures)
        try:
            while remaining and not stop.is_set():
                ready = [future for future in remaining if future.done()]
                if not ready:
                    time.sleep(0.2)
                    continue
                for future in ready:
                    remaining.remove(future)
                    on_outcome(futures[future], self._outcome(future))
        finally:
            if remaining:
                self.client.cancel(remaining)
        return [futures[future] for future in remaining]

    @staticmethod
    def _outcome(future: Any) -> dict[str, Any]:
        try:
            return future.result()
        except Exception as exc:  # the task's error, or KilledWorker after repeated worker deaths
            return lost_outcome(f"the run failed on the Dask cluster: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""
