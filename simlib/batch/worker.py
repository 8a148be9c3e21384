"""One notebook run, executed where a worker is — a local run process or a Dask worker.

:func:`execute_run` runs the notebook in a fresh kernel inside a private work folder and
returns the outcome *with the output files as bytes*; the batch process writes them into the
batch folder (:mod:`simlib.batch.store`). A worker therefore needs no access to the batch
folder, and a run that is killed leaves nothing half-written there.

The kernel gets the work folder for its connection file and temporary files, writes its stderr
to the run's log, and is killed with the thread that started it (:mod:`simlib.batch.lifeline`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simlib.batch import lifeline
from simlib.batch_folder import RESULTS_FILE, STDERR_FILE
from simlib.results import atomic_write_text, read_results

KERNEL_NAME = "python3"
WORK_PREFIX = "simlib-run-"
OUTCOME_FILE = "outcome.pickle"
# Output data that cannot be shown in a static page and whose template block carries a script.
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# JupyterLab's page without the scripts its head loads from a CDN (require.js, MathJax, mermaid):
# the pages are static, must work offline, and MathJax would typeset "$…$" in user labels.
_OFFLINE_TEMPLATE_NAME = "simlib_offline.html.j2"
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


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


def run_kernel_manager(work_dir: Path, stderr_log: Path, env: Mapping[str, str]) -> type:
    """A kernel-manager class for one run: connection file in ``work_dir``, stderr to
    ``stderr_log``, ``env`` added to the kernel's environment, and (on Linux) SIGKILL when the
    thread that started the kernel ends. A class per run, so that runs in threads share nothing."""
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self.connection_file = str(work_dir / "kernel.json")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["env"] = {**kw.get("env", os.environ), **env}
            if lifeline.LINUX:
                kw["preexec_fn"] = lifeline.arm_parent_death_signal
            with open(stderr_log, "ab") as log:
                kw["stderr"] = log
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return RunKernelManager


def execute(
    notebook: str | os.PathLike,
    output_notebook: str | os.PathLike,
    parameters: Mapping[str, Any],
    *,
    timeout_s: float,
    start_timeout_s: float,
    kernel_manager_class: type | None = None,
) -> tuple[str, str | None]:
    """Execute one notebook in a fresh kernel; return (status, error text or None).

    status is "ok", "failed", "timeout" (whole-run budget exceeded) or "kernel_died".
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    extra = {} if kernel_manager_class is None else {"kernel_manager_class": kernel_manager_class}
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
            **extra,
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


def _without_widgets(notebook: Any) -> Any:
    """Drop widget views and widget state: a static page cannot show them, and their template
    blocks carry scripts. The text fallback of each output stays."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if _WIDGET_MIME in data and len(data) > 1:
                del data[_WIDGET_MIME]
    return notebook


def export_html(
    notebook_path: str | os.PathLike, html_path: str | os.PathLike, *, with_code: bool,
    sanitize: bool = False, title: str | None = None,
) -> None:
    """Export an executed notebook to HTML (optionally without code cells), atomically.

    The page loads nothing from the network (no require.js, MathJax or mermaid) and is titled
    ``title`` (escaped by the template; default: the notebook's file name).
    ``sanitize`` passes every HTML output and Markdown through
    :func:`simlib.report_safety.clean_html_fragment` and then checks the page: if anything in
    it could still run script, nothing is written and ValueError says what was found.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    from simlib.report_safety import active_content, clean_html_fragment

    options: dict[str, Any] = {"extra_loaders": [DictLoader({_OFFLINE_TEMPLATE_NAME: _OFFLINE_TEMPLATE})],
                               "template_file": _OFFLINE_TEMPLATE_NAME}
    if not with_code:
        options.update(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    if sanitize:
        options.update(sanitize_html=True, filters={"clean_html": clean_html_fragment})
    notebook = nbformat.read(str(notebook_path), as_version=4)
    if title:
        notebook.metadata["title"] = title
    body, _ = HTMLExporter(**options).from_notebook_node(_without_widgets(notebook) if sanitize else notebook)
    if sanitize and (found := active_content(body)):
        raise ValueError(f"the exported page would run script ({'; '.join(found[:3])}); not written")
    atomic_write_text(Path(html_path), body)


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


def _materialize(source: Mapping[str, Any], folder: Path) -> Path:
    """The file a job describes (path, sha256, content): the original path when it holds the same
    content here, else a copy under ``folder`` (a worker on another machine)."""
    original = Path(source["path"])
    try:
        if original.is_file() and hashlib.sha256(original.read_bytes()).hexdigest() == source["sha256"]:
            return original
    except OSError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / original.name
    copy.write_bytes(source["content"])
    return copy


def _collect(folder: Path, names: set[str] | None) -> dict[str, bytes]:
    """The files under ``folder`` as {relative POSIX path: bytes}; only ``names`` when given.
    Hidden files (a killed writer's temporaries) are left out."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or path.is_symlink() or any(p.startswith(".") for p in relative.parts):
            continue
        if names is None or relative.as_posix() in names:
            files[relative.as_posix()] = path.read_bytes()
    return files


def _kernel_workers(job: Mapping[str, Any]) -> str:
    """SIMLIB_WORKERS for the kernel: the job's share of the cores, else the worker's own
    setting, else 1 (a Dask worker's threads each run a kernel)."""
    if job.get("kernel_workers"):
        return str(job["kernel_workers"])
    return os.environ.get("SIMLIB_WORKERS", "").strip() or "1"


def execute_run(job: Mapping[str, Any]) -> dict[str, Any]:
    """Execute the notebook run ``job`` describes, here, and return its outcome with its files.

    The job (built by :mod:`simlib.batch.loop`) holds the notebook and scenario files (path,
    sha256 and content), the parameters, the timeouts, which parameter receives the output
    folder, the executed notebook's file name and how to export it to HTML. The outcome holds
    status, error, timings, warnings, the host, and ``files``: everything the run produced when
    it succeeded, else its partial notebook and the kernel's stderr.
    """
    started, started_at = time.perf_counter(), now_utc()
    lifeline.remove_orphaned_folders(WORK_PREFIX)
    work = lifeline.owned_temporary_folder(WORK_PREFIX)
    try:
        outcome = _execute_in(work, job)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome.update(started_at=started_at, duration_s=round(time.perf_counter() - started, 3),
                   host=socket.gethostname())
    return outcome


def _execute_in(work: Path, job: Mapping[str, Any]) -> dict[str, Any]:
    out = work / "out"
    (work / "tmp").mkdir()
    out.mkdir()
    notebook = _materialize(job["notebook"], work / "notebook")
    parameters = dict(job["parameters"])
    if job.get("scenario"):
        parameters["scenario"] = str(_materialize(job["scenario"], work / "scenario"))
    if job.get("output_parameter"):
        parameters[job["output_parameter"]] = str(out)
    executed = out / job["executed_name"]
    stderr_log = out / STDERR_FILE
    env = {"TMPDIR": str(work / "tmp"), "SIMLIB_WORKERS": _kernel_workers(job)}
    status, error = execute(
        notebook, executed, parameters, timeout_s=job["timeout_s"], start_timeout_s=job["start_timeout_s"],
        kernel_manager_class=run_kernel_manager(work, stderr_log, env),
    )
    executed_json = _read_notebook(executed)  # read once for both figures
    compute = compute_seconds(executed_json)
    warnings = output_warnings(executed_json) if status == "ok" else []
    if status == "ok" and job.get("check_results"):
        error = check_results_file(out)
        status = "ok" if error is None else "failed"
    html = job.get("html")
    if status == "ok" and html:
        try:
            export_html(executed, out / html["name"], with_code=html["with_code"], sanitize=html["sanitize"],
                        title=html.get("title"))
        except Exception as exc:  # nbconvert raises many kinds; the run cannot be shown
            status, error = "failed", f"could not export {html['name']}: {type(exc).__name__}: {exc}"
    if status == "ok":
        stderr_log.unlink(missing_ok=True)
        files = _collect(out, None)
    else:
        logged = stderr_log.exists() and stderr_log.stat().st_size > 0
        files = _collect(out, {job["executed_name"], STDERR_FILE} if logged else {job["executed_name"]})
    return {"status": status, "error": error, "compute_s": round(compute, 3), "warnings": warnings,
            "files": files}


def run_in_process(job: Mapping[str, Any], run_dir: str, batch_alive: Any, umask: int) -> None:
    """Body of a local run process: execute ``job`` and leave the outcome in ``run_dir``.

    The process ignores Ctrl-C (the batch decides what stops), ends as soon as the batch's end
    of the pipe ``batch_alive`` closes, applies the batch's umask and keeps every temporary file
    in ``run_dir``, which the batch removes.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifeline.exit_when_closed(batch_alive)
    os.umask(umask)
    os.environ["TMPDIR"] = tempfile.tempdir = run_dir
    quiet_logs()
    outcome = execute_run(job)
    partial = Path(run_dir) / f".{OUTCOME_FILE}"
    partial.write_bytes(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(partial, Path(run_dir) / OUTCOME_FILE)


def read_outcome(run_dir: Path) -> dict[str, Any] | None:
    """The outcome a local run process left, or None if it ended without one."""
    try:
        return pickle.loads((run_dir / OUTCOME_FILE).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError):
        return None
