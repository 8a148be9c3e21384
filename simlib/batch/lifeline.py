"""Processes that end with their parent, temporary folders that end with their owner, and locks.

A batch starts processes in three layers — a run process per notebook run, the run's kernel,
and the kernel's replication pool. If the batch is killed (``kill -9``), none of them may go on
running, starting queued runs or writing. A run process ends when a pipe from the batch closes
(:func:`exit_when_closed`); kernels and pool workers ask Linux to send them SIGKILL when their
parent ends (``prctl(PR_SET_PDEATHSIG)``; elsewhere a watchdog thread polls the parent, and
kernels poll their parent themselves through ipykernel's ``JPY_PARENT_PID``).

Temporary folders are named ``<prefix><pid>-…`` after the process that owns them, so that the
next batch can remove those whose owner is gone (:func:`remove_orphaned_folders`).
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: folder locks are not available
    fcntl = None  # type: ignore[assignment]

LINUX = sys.platform.startswith("linux")
_PR_SET_PDEATHSIG = 1
# Resolved once at import: the kernel's preexec hook must not load libraries between fork and exec.
_LIBC = ctypes.CDLL(None, use_errno=True) if LINUX else None
OWNER_FILE = "owner.json"


def arm_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent thread ends; False where unsupported.

    Safe as a ``subprocess`` ``preexec_fn``: one system call, nothing imported or allocated.
    """
    if _LIBC is None:
        return False
    return _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (possibly another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def die_with_parent() -> None:
    """End this process as soon as its parent ends (a pool initializer: the replication pool of a
    kernel ends with the kernel)."""
    if not arm_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


def _exit_on_eof(connection: Any) -> None:
    multiprocessing.connection.wait([connection])  # the other end never writes: readable means closed
    os._exit(1)


def exit_when_closed(connection: Any) -> None:
    """End this process as soon as the other end of ``connection`` (a pipe) is closed.

    A batch process keeps the write end of one pipe and gives each run process the read end: if
    the batch dies, even by SIGKILL, every run process ends at once (and its kernel with it).
    Parent-death signals alone do not do this for run processes, whose parent is the fork
    server: it lives on while any process it forked does.
    """
    threading.Thread(target=_exit_on_eof, args=(connection,), daemon=True).start()


def current_umask() -> int:
    """This process's umask (read from /proc where possible: setting it to read it is racy)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def owned_temporary_folder(prefix: str, parent: str | os.PathLike | None = None) -> Path:
    """A new folder ``<prefix><pid>-<random>`` under ``parent`` (default: the system temp folder)."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def note_owned_path(folder: Path, path: str | os.PathLike) -> None:
    """Record in ``folder`` another temporary path of its owner, to be removed with the folder."""
    owner = folder / OWNER_FILE
    try:
        paths = json.loads(owner.read_text(encoding="utf-8"))["paths"]
    except (OSError, ValueError, KeyError, TypeError):
        paths = []
    paths.append(str(path))
    owner.write_text(json.dumps({"pid": os.getpid(), "paths": paths}), encoding="utf-8")


def _owner_pid(folder: Path, prefix: str) -> int | None:
    try:
        return int(folder.name[len(prefix):].split("-", 1)[0])
    except ValueError:
        return None


def remove_orphaned_folders(prefix: str, parent: str | os.PathLike | None = None) -> list[Path]:
    """Remove this user's ``<prefix><pid>-…`` folders whose owning process has ended.

    Paths noted with :func:`note_owned_path` go too, if they lie in the system temp folder.
    Returns the folders removed.
    """
    root = Path(parent if parent is not None else tempfile.gettempdir())
    temp_root = Path(tempfile.gettempdir()).resolve()
    removed = []
    for folder in root.glob(f"{prefix}*"):
        pid = _owner_pid(folder, prefix)
        try:
            mine = folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if pid is None or not mine or pid_alive(pid):
            continue
        try:
            noted = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))["paths"]
        except (OSError, ValueError, KeyError, TypeError):
            noted = []
        for path in map(Path, noted):
            if path.resolve().parent == temp_root:
                shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


class FolderLock:
    """An exclusive lock on a folder, held by this process until :meth:`release` or its end.

    ``acquire`` returns False when another process holds it. Without ``fcntl`` (not POSIX)
    every acquire succeeds.
    """

    def __init__(self, lock_file: Path):
        self.lock_file = lock_file
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid written by the process holding the lock (for messages)."""
        try:
            return self.lock_file.read_text(encoding="ascii").strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
