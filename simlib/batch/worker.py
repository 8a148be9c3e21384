"""Executing one notebook run in its own kernel (worker side) and putting its outputs in place.

A run writes into a temporary folder that becomes ``runs/<notebook>/<slug>/`` only when the
notebook finished without error and left a valid ``results.json``; otherwise its partial
notebook and ``error.txt`` go to ``failed/<notebook>/<slug>/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simlib.batch_folder import (
    ERROR_FILE,
    REPORT_NOTEBOOK_FILE,
    RESULTS_FILE,
    RUN_HTML,
    RUN_INFO,
    RUN_NOTEBOOK,
    STDERR_FILE,
    read_run_info,
)
from simlib.results import atomic_write_text, read_results

KERNEL_NAME = "python3"


class _Deadline:
    """nbclient ``timeout_func``: the time left of a whole-run budget, counted from the first cell."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end: float | None = None

    def __call__(self, cell: Any) -> float:
        now = time.monotonic()
        if self.end is None:
            self.end = now + self.seconds
        return max(self.end - now, 0.01)


def quiet_logs() -> None:
    """Silence the chatty loggers of Papermill and Jupyter in a worker process."""
    for name in ("papermill", "nbclient", "traitlets", "asyncio"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def printable(text: str, limit: int = 200) -> str:
    """One line without control characters (safe for a terminal)."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text).replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _read_notebook(notebook: str | os.PathLike | dict) -> dict:
    """An executed notebook as JSON (a dict passes through; {} if unreadable)."""
    if isinstance(notebook, dict):
        return notebook
    try:
        with open(notebook, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return {}


def compute_seconds(notebook: str | os.PathLike | dict) -> float:
    """Sum of the per-cell durations Papermill recorded in an executed notebook (0 if unreadable)."""
    total = 0.0
    for cell in _read_notebook(notebook).get("cells", []):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if isinstance(duration, (int, float)):
            total += float(duration)
    return total


def _stream_text(output: Mapping[str, Any]) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def output_warnings(notebook: str | os.PathLike | dict, limit: int = 5) -> list[str]:
    """Warnings and errors shown in an executed notebook's outputs (stderr streams, error
    outputs), as short one-line texts; at most ``limit``. Empty when the outputs are clean."""
    found = []
    for number, cell in enumerate(_read_notebook(notebook).get("cells", []), start=1):
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                first = next((line.strip() for line in _stream_text(output).splitlines() if line.strip()), "")
                found.append(f"cell {number}: {first}")
            elif output.get("output_type") == "error":
                found.append(f"cell {number}: {output.get('ename', 'Error')}: {output.get('evalue', '')}")
    more = [f"… {len(found) - limit} more"] if len(found) > limit else []
    return [printable(text, 160) for text in found[:limit]] + more


@contextlib.contextmanager
def stderr_to(path: Path):
    """Send this process's file descriptor 2 (and so the kernel's stderr) to ``path`` for a while.

    Kernel processes inherit the descriptor: their start-up warnings and crash messages land
    in the run's log instead of interleaving with the progress bar.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log_file:
            os.dup2(log_file.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def execute(
    notebook: str | os.PathLike,
    output_notebook: str | os.PathLike,
    parameters: Mapping[str, Any],
    *,
    timeout_s: float,
    start_timeout_s: float,
) -> tuple[str, str | None]:
    """Execute one notebook in a fresh kernel; return (status, error text or None).

    status is "ok", "failed", "timeout" (whole-run budget exceeded) or "kernel_died".
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(notebook),
            str(output_notebook),
            parameters=dict(parameters),
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            start_timeout=start_timeout_s,
            execution_timeout=timeout_s,
            timeout_func=_Deadline(timeout_s),
            shutdown_kernel="immediate",
            cwd=str(Path(notebook).parent),
        )
    except CellTimeoutError:
        return "timeout", f"execution exceeded timeout_s={timeout_s:g} s"
    except DeadKernelError as exc:
        return "kernel_died", f"the kernel died during execution ({exc})"
    except PapermillExecutionError as exc:
        return "failed", f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})\n{exc}"
    except Exception as exc:  # kernel start failures, unreadable notebooks, ...
        return "failed", f"{type(exc).__name__}: {exc}"
    return "ok", None


def export_html(notebook_path: str | os.PathLike, html_path: str | os.PathLike, *, with_code: bool) -> None:
    """Export an executed notebook to HTML (optionally without code cells), atomically."""
    from nbconvert import HTMLExporter

    options = {} if with_code else {"exclude_input": True, "exclude_input_prompt": True,
                                    "exclude_output_prompt": True}
    body, _ = HTMLExporter(**options).from_filename(str(notebook_path))
    atomic_write_text(Path(html_path), body)


def _replace_dir(source: Path, target: Path) -> None:
    """Move folder ``source`` to ``target``, replacing what was there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_dir(folder: Path) -> None:
    if folder.exists():
        trash = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)


def store_failure(
    tmp_dir: Path, failed_dir: Path, status: str, error: str, final_dir: Path | None = None,
    key: Mapping | None = None,
) -> None:
    """Keep a failed run's partial notebook and error.txt under ``failed_dir``.

    The run's final folder is removed if it holds output of a different key (stale results
    must not appear in the report as if they came from this batch).
    """
    for child in tmp_dir.iterdir():
        keep = child.name in (RUN_NOTEBOOK, REPORT_NOTEBOOK_FILE) or (
            child.name == STDERR_FILE and child.stat().st_size > 0
        )
        if keep:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    note = f"\n(the kernel's own messages are in {STDERR_FILE})\n" if (tmp_dir / STDERR_FILE).exists() else ""
    (tmp_dir / ERROR_FILE).write_text(f"status: {status}\n\n{error}\n{note}", encoding="utf-8")
    _replace_dir(tmp_dir, failed_dir)
    if final_dir is None or not final_dir.exists():
        return
    previous = read_run_info(final_dir)
    if previous is None or any(previous.get(k) != v for k, v in (key or {}).items()):
        _remove_dir(final_dir)


def check_results_file(folder: str | os.PathLike) -> str | None:
    """None if ``folder/results.json`` is a valid results file, else what is wrong with it."""
    try:
        data = read_results(folder)
    except FileNotFoundError:
        return f"the notebook finished but wrote no {RESULTS_FILE}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{RESULTS_FILE} is unreadable: {exc}"
    if not isinstance(data, dict):
        return f"{RESULTS_FILE} is not a JSON object"
    missing = [k for k in ("notebook", "scenario", "seed", "replications", "metrics") if k not in data]
    if missing:
        return f"{RESULTS_FILE} lacks the keys {', '.join(missing)}"
    if not isinstance(data["metrics"], dict):
        return f"{RESULTS_FILE}: 'metrics' is not an object"
    return None


def run_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Execute one run described by ``job`` (worker side) and put its outputs in place."""
    started = time.perf_counter()
    started_at = now_utc()
    tmp_dir, final_dir, failed_dir = Path(job["tmp_dir"]), Path(job["final_dir"]), Path(job["failed_dir"])
    output_notebook = tmp_dir / RUN_NOTEBOOK
    parameters = dict(job["parameters"], output_dir=str(tmp_dir))
    stderr_log = tmp_dir / STDERR_FILE
    # The kernel inherits this: its replications use their share of the cores, so parallel
    # runs do not oversubscribe the machine (read by simlib.notebook.default_workers).
    os.environ["SIMLIB_WORKERS"] = str(job.get("kernel_workers", 1))
    with stderr_to(stderr_log):
        status, error = execute(
            job["notebook_path"],
            output_notebook,
            parameters,
            timeout_s=job["timeout_s"],
            start_timeout_s=job["start_timeout_s"],
        )
    executed = _read_notebook(output_notebook)  # read once for both figures
    compute = compute_seconds(executed)
    warnings = output_warnings(executed) if status == "ok" else []
    if status == "ok":
        error = check_results_file(tmp_dir)
        status = "ok" if error is None else "failed"
    if status == "ok":
        try:
            stderr_log.unlink(missing_ok=True)
            export_html(output_notebook, tmp_dir / RUN_HTML, with_code=True)
            atomic_write_text(tmp_dir / RUN_INFO, json.dumps(job["info"], ensure_ascii=False, indent=1))
            _replace_dir(tmp_dir, final_dir)
            _remove_dir(failed_dir)
        except Exception as exc:
            status, error = "failed", f"could not store the outputs: {type(exc).__name__}: {exc}"
    if status != "ok":
        if tmp_dir.exists():
            store_failure(tmp_dir, failed_dir, status, error or "", final_dir, job["key"])
    return {
        "status": status,
        "error": error,
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 3),
        "compute_s": round(compute, 3),
        "warnings": warnings,
    }
