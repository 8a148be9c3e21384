"""Dask distributed clusters: connecting to one, and starting a small one on this machine.

A batch runs on a cluster with ``simlib batch FILE --scheduler tcp://HOST:8786``; ``simulate``
and ``sweep`` (:mod:`simlib.runner`) send their replications to the cluster named by the
environment variable ``SIMLIB_DASK_SCHEDULER``. Without either, everything runs in processes of
this machine and nothing needs to be started.

:func:`local_cluster` starts a real scheduler and workers as separate processes on 127.0.0.1
(ports chosen by the system) — for the tests and the benchmark — and tears them down on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simlib.batch import lifeline

ENV_SCHEDULER = "SIMLIB_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 20


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached or has no workers; the message says which address."""


def scheduler_from_env() -> str | None:
    """The scheduler address in ``SIMLIB_DASK_SCHEDULER``, or None when unset or empty."""
    return os.environ.get(ENV_SCHEDULER, "").strip() or None


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` connected to ``address`` with at least one worker.

    Raises :class:`ClusterError` naming the address when the scheduler cannot be reached or no
    worker joins within ``timeout_s``.
    """
    from distributed import Client

    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address!r} ({type(exc).__name__}: {exc}); expected the "
            "address a running `dask scheduler` prints, e.g. tcp://10.0.0.5:8786"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise ClusterError(
            f"the Dask scheduler at {address!r} has no workers ({type(exc).__name__}: {exc}); start some "
            f"with `dask worker {address}`"
        ) from None
    return client


def total_threads(client: Any) -> int:
    """How many tasks the cluster runs at once (the workers' threads)."""
    return max(1, sum(client.nthreads().values()))


@dataclass
class ClusterProcesses:
    """A scheduler and its workers running as processes of this machine."""

    address: str
    scheduler: subprocess.Popen
    folder: Path  # logs, worker folders and the processes' temporary files
    workers: list[subprocess.Popen] = field(default_factory=list)

    def processes(self) -> list[subprocess.Popen]:
        return [self.scheduler, *self.workers]


def _dask_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "dask", *arguments]


def _start(command: list[str], folder: Path, log_name: str) -> subprocess.Popen:
    env = dict(os.environ, TMPDIR=str(folder / "tmp"))
    with open(folder / log_name, "ab") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=folder,
            start_new_session=True, preexec_fn=lifeline.arm_parent_death_signal if lifeline.LINUX else None,
        )


def _wait_for_file(path: Path, process: subprocess.Popen, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterError(f"the Dask scheduler ended at start (exit code {process.returncode}); "
                               f"see {path.parent}")
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text(encoding="utf-8"))
        time.sleep(0.1)
    raise ClusterError(f"the Dask scheduler wrote no {path.name} within {timeout_s:g} s")


def stop_processes(processes: list[subprocess.Popen], grace_s: float = 2.0) -> None:
    """End processes (and their process groups): SIGTERM, then SIGKILL after ``grace_s``."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def local_cluster(folder: str | os.PathLike, workers: int = 2, threads: int = 1,
                  timeout_s: float = 60) -> Iterator[ClusterProcesses]:
    """Start ``dask scheduler`` and ``workers`` × ``dask worker`` (no nanny, ``threads`` each) on
    127.0.0.1, with logs and temporary files under ``folder``; stop them all on exit."""
    folder = Path(folder)
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    scheduler = _start(_dask_command("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(scheduler_file)), folder, "scheduler.log")
    cluster = ClusterProcesses(address="", scheduler=scheduler, folder=folder)
    try:
        cluster.address = _wait_for_file(scheduler_file, scheduler, timeout_s)["address"]
        for number in range(workers):
            cluster.workers.append(_start(_dask_command(
                "worker", cluster.address, "--host", "127.0.0.1", "--nthreads", str(threads), "--no-nanny",
                "--no-dashboard", "--name", f"worker-{number}",
                "--local-directory", str(folder / f"worker-{number}"),
            ), folder, f"worker-{number}.log"))
        client = connect(cluster.address, timeout_s=timeout_s)
        try:
            client.wait_for_workers(workers, timeout=timeout_s)
        finally:
            client.close()
        yield cluster
    finally:
        stop_processes(cluster.processes())
