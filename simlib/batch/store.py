"""Putting a run's outcome into the batch folder (batch-process side).

A worker returns its output files as bytes (:func:`simlib.batch.worker.execute_run`); here they
are written into a temporary folder beside the target, which is then renamed into place:
``runs/<notebook>/<slug>/`` for a success, ``failed/<notebook>/<slug>/`` (partial notebook,
``error.txt``, the kernel's stderr) otherwise. A write that fails (a full or read-only disk, a
folder that cannot be written) turns the run into a failure with a message naming the folder;
it never stops the batch. Folders and files get the permissions the user's umask gives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from simlib.batch_folder import (
    ERROR_FILE,
    FAILED_DIR,
    REPORT_NOTEBOOK_FILE,
    RUN_INFO,
    RUN_KEY_FIELDS,
    RUN_NOTEBOOK,
    RUNS_DIR,
    STDERR_FILE,
    read_run_info,
)
from simlib.slug import contained

# What a writer interrupted by a crash leaves: ".<name>.tmp-<hex>", ".<name>.old-<hex>" (folders
# being put in place or replaced) and ".<name>.<random>.tmp" (files written atomically).
_TEMPORARY = re.compile(r"^\..+\.(?:tmp|old)-[0-9a-z_]+$|^\..+\.tmp$")
_FAILURE_FILES = (RUN_NOTEBOOK, REPORT_NOTEBOOK_FILE, STDERR_FILE)


def _sibling(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{uuid.uuid4().hex[:8]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def replace_dir(source: Path, target: Path) -> None:
    """Move folder ``source`` to ``target``, replacing what was there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists() or target.is_symlink():
        old = _sibling(target, "old")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        _remove(old)


def remove_dir(folder: Path) -> None:
    """Remove a folder: renamed aside first, so that it disappears at once."""
    if folder.exists():
        trash = _sibling(folder, "old")
        os.replace(folder, trash)
        _remove(trash)


def _write_folder(target: Path, files: Mapping[str, bytes], extra: Mapping[str, str]) -> None:
    """Write ``files`` (relative POSIX paths) and ``extra`` text files into a new folder that then
    replaces ``target``. On any error the temporary folder is removed and the error raised."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _sibling(target, "tmp")
    temporary.mkdir()
    try:
        for relative, data in files.items():
            path = contained(temporary, *PurePosixPath(relative).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for name, text in extra.items():
            (temporary / name).write_text(text, encoding="utf-8")
        replace_dir(temporary, target)
    except BaseException:
        _remove(temporary)
        raise


def store_failure(
    failed_dir: Path, files: Mapping[str, bytes], status: str, error: str, final_dir: Path | None = None,
    key: Mapping[str, Any] | None = None,
) -> None:
    """Keep a failed run's partial notebook, the kernel's stderr and ``error.txt`` in ``failed_dir``.

    The run's final folder is removed if it holds output of a different key (stale results
    must not appear in the report as if they came from this batch).
    """
    kept = {name: data for name, data in files.items() if name in _FAILURE_FILES and data}
    note = f"\n(the kernel's own messages are in {STDERR_FILE})\n" if STDERR_FILE in kept else ""
    _write_folder(failed_dir, kept, {ERROR_FILE: f"status: {status}\n\n{error}\n{note}"})
    if final_dir is None or not final_dir.exists():
        return
    previous = read_run_info(final_dir)
    if previous is None or any(previous.get(k) != v for k, v in (key or {}).items()):
        remove_dir(final_dir)


def store_outcome(
    final_dir: Path, failed_dir: Path, outcome: Mapping[str, Any], info: Mapping[str, Any]
) -> tuple[str, str | None]:
    """Write a run's outcome into the batch folder; return its (status, error) as recorded.

    ``info`` is the run's key and settings, written as ``run.json`` beside its outputs.
    """
    status, error = outcome["status"], outcome.get("error")
    files = outcome.get("files", {})
    if status == "ok":
        try:
            _write_folder(final_dir, files, {RUN_INFO: json.dumps(dict(info), ensure_ascii=False, indent=1)})
            remove_dir(failed_dir)
            return "ok", None
        except OSError as exc:
            status, error = "failed", f"could not write the run's outputs to {final_dir}: {exc}"
    try:
        key = {field: info.get(field) for field in RUN_KEY_FIELDS}
        store_failure(failed_dir, files, status, error or "", final_dir, key)
    except OSError as exc:
        error = f"{error}; its notebook and {ERROR_FILE} could not be kept in {failed_dir} either: {exc}"
    return status, error


def remove_stale_temporaries(batch_dir: Path) -> list[Path]:
    """Remove what an earlier, crashed batch left half-written in ``batch_dir`` (the caller holds
    the batch folder's lock, so no other batch is writing there). Returns what was removed."""
    folders = [batch_dir, *batch_dir.glob(f"{RUNS_DIR}/*/"), *batch_dir.glob(f"{FAILED_DIR}/*/")]
    removed = []
    for folder in folders:
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if _TEMPORARY.match(child.name):
                _remove(child)
                removed.append(child)
    return removed
