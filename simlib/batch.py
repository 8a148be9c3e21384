"""Batch runner: every (notebook × scenario) through Papermill, then the comparative report.

A batch file (YAML) lists scenarios, notebooks and the shared run settings::

    name: default
    scenarios: [baseline, tiered]          # params/scenarios/<name>.yaml, or paths to .yaml files
    notebooks: [01_member_tiering]         # notebooks/<name>.ipynb, or paths to .ipynb files
    report_notebook: strategy_report       # optional; run last with batch_dir, lang, output_html
    replications: 10
    seed: 20261125
    workers: null                          # null = all cores
    timeout_s: 900                         # whole-run execution limit
    start_timeout_s: 180                   # kernel start limit
    lang: zh
    overrides: {}                          # passed to each run's `overrides` parameter

Each run executes in its own kernel inside a worker process and writes into a temporary
folder that is renamed to ``<reports>/<batch>/runs/<notebook>/<scenario-slug>/`` only when the
run both finished without error and left a valid ``results.json``. A failed run leaves its
partial notebook and ``error.txt`` under ``<reports>/<batch>/failed/<notebook>/<scenario-slug>/``.
Every attempt is appended to ``manifest.jsonl``; a re-run skips runs whose key
(notebook, scenario, parameters hash, notebook hash) is unchanged and last succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from tqdm import tqdm

from simlib.results import RESULTS_FILE, read_results
from simlib.slug import contained, safe_folder_name, slug_body, slugify

RUN_PARAMETERS = ("scenario", "overrides", "replications", "seed", "output_dir", "lang", "data_source")
REPORT_PARAMETERS = ("batch_dir", "lang", "output_html")
STATUSES = ("ok", "failed", "timeout", "kernel_died", "skipped")
FAILED_STATUSES = ("failed", "timeout", "kernel_died")

MANIFEST_FILE = "manifest.jsonl"
TIMING_FILE = "timing.json"
INDEX_FILE = "index.html"
REPORT_NOTEBOOK_FILE = "report.ipynb"
RUN_NOTEBOOK = "notebook.ipynb"
RUN_HTML = "notebook.html"
RUN_INFO = "run.json"
ERROR_FILE = "error.txt"
STDERR_FILE = "kernel-stderr.txt"
RUNS_DIR = "runs"
FAILED_DIR = "failed"
LATEST = "latest"
KERNEL_NAME = "python3"
VERSIONED_PACKAGES = ("simlib", "numpy", "numba", "pandas", "simpy", "papermill")

log = logging.getLogger(__name__)


class BatchFileError(ValueError):
    """A batch file (or a batch option) is invalid; the message names file, key, value and expectation."""


# --------------------------------------------------------------------------- batch file


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses YAML 1.1 traps instead of silently converting them."""


def _strict_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    digits = text.replace("_", "").lstrip("+-")
    if ":" in digits or (len(digits) > 1 and digits.startswith("0") and digits[1].isdigit()):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"ambiguous number {text!r} (YAML 1.1 reads it as base 8 or base 60); "
            "write a plain decimal number, or quote it if you mean text",
            node.start_mark,
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _strict_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node)
    if ":" in text:
        raise yaml.constructor.ConstructorError(
            None, None, f"ambiguous number {text!r} (YAML 1.1 reads it as base 60); quote it", node.start_mark
        )
    return yaml.SafeLoader.construct_yaml_float(loader, node)


def _strict_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    text = loader.construct_scalar(node)
    if text.lower() not in ("true", "false"):
        raise yaml.constructor.ConstructorError(
            None, None, f"ambiguous value {text!r} (YAML 1.1 reads it as a boolean); "
            "write true/false, or quote it if you mean text", node.start_mark
        )
    return text.lower() == "true"


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _strict_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _strict_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _strict_bool)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _unique_mapping)


class BatchConfig(BaseModel):
    """The validated content of a batch file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1)
    scenarios: list[str] = Field(min_length=1)
    notebooks: list[str] = Field(min_length=1)
    report_notebook: str | None = None
    replications: int = Field(default=10, ge=1)
    seed: int = Field(default=20261125, ge=0)
    workers: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=900, gt=0)
    start_timeout_s: float = Field(default=180, gt=0)
    lang: Literal["zh", "en"] = "zh"
    overrides: dict[str, JsonValue] = Field(default_factory=dict)


def _key_path(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _validation_message(path: Path, error: ValidationError) -> str:
    allowed = ", ".join(BatchConfig.model_fields)
    lines = []
    for item in error.errors():
        key = _key_path(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{path}: key '{key}': unknown key (value {item['input']!r}); expected one of: {allowed}")
        elif item["type"] == "missing":
            lines.append(f"{path}: key '{key}': required key is missing")
        else:
            lines.append(f"{path}: key '{key}': got {item['input']!r}; expected: {item['msg'].lower()}")
    return "\n".join(lines)


def load_batch(batch_file: str | os.PathLike) -> BatchConfig:
    """Read and validate a batch file (raises :class:`BatchFileError`)."""
    path = Path(batch_file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchFileError(f"{path}: batch file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"{path}: cannot read the batch file ({exc})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise BatchFileError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise BatchFileError(f"{path}: expected a mapping of keys (name, scenarios, notebooks, ...), got {data!r}")
    try:
        config = BatchConfig.model_validate(data)
    except ValidationError as exc:
        raise BatchFileError(_validation_message(path, exc)) from None
    if safe_folder_name(config.name) == LATEST:
        raise BatchFileError(
            f"{path}: key 'name': got {config.name!r}; expected a name other than '{LATEST}' "
            "(reserved for the link to the newest report)"
        )
    return config


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class ScenarioRef:
    name: str  # as listed in the batch file (the file stem when a path was given)
    entry: str  # the batch-file entry itself
    path: Path
    slug: str
    content_sha256: str


@dataclass(frozen=True)
class NotebookRef:
    name: str
    path: Path
    sha256: str


@dataclass
class RunSpec:
    notebook: NotebookRef
    scenario: ScenarioRef
    parameters: dict[str, Any]  # without output_dir (set per attempt)
    params_hash: str
    final_dir: Path
    failed_dir: Path

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.notebook.name, self.scenario.name, self.params_hash, self.notebook.sha256)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def params_hash(parameters: Mapping[str, Any], scenario_content_sha256: str) -> str:
    """SHA-256 of the run parameters (minus ``output_dir``) and the scenario file's content."""
    stable = {k: v for k, v in parameters.items() if k != "output_dir"}
    return hashlib.sha256(
        canonical_json({"parameters": stable, "scenario_sha256": scenario_content_sha256}).encode("utf-8")
    ).hexdigest()


def _resolve_scenario(entry: str, index: int, scenarios_dir: Path, batch_file: Path) -> ScenarioRef:
    is_path = entry.endswith((".yaml", ".yml"))
    path = Path(entry) if is_path else scenarios_dir / f"{entry}.yaml"
    if not path.is_file():
        expected = "an existing .yaml file" if is_path else f"a scenario file {path}"
        raise BatchFileError(f"{batch_file}: key 'scenarios[{index}]': got {entry!r}; expected {expected} (not found)")
    name = path.stem if is_path else entry
    return ScenarioRef(
        name=name, entry=entry, path=path.resolve(), slug=slugify(name), content_sha256=_sha256_file(path)
    )


def _resolve_notebook(entry: str, key: str, notebooks_dir: Path, batch_file: Path) -> NotebookRef:
    path = Path(entry) if entry.endswith(".ipynb") else notebooks_dir / f"{entry}.ipynb"
    if not path.is_file():
        raise BatchFileError(f"{batch_file}: key '{key}': got {entry!r}; expected an existing notebook {path}")
    if slug_body(path.stem) != path.stem:
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry!r}; expected a notebook file name made of letters, "
            "digits, '_' and '-'"
        )
    return NotebookRef(name=path.stem, path=path.resolve(), sha256=_sha256_file(path))


def _check_parameters(notebook: NotebookRef, required: Iterable[str]) -> None:
    import papermill

    try:
        declared = papermill.inspect_notebook(str(notebook.path))
    except Exception as exc:  # papermill/nbformat raise many kinds for a broken file
        raise BatchFileError(f"{notebook.path}: cannot read the notebook's parameters ({exc})") from None
    missing = [name for name in required if name not in declared]
    if missing:
        raise BatchFileError(
            f"{notebook.path}: the 'parameters' cell lacks {', '.join(missing)}; expected a cell tagged "
            f"'parameters' defining: {', '.join(required)} (found: {', '.join(declared) or 'none'})"
        )


@dataclass
class BatchPlan:
    config: BatchConfig
    batch_file: Path
    batch_dir: Path
    reports_root: Path
    runs: list[RunSpec]
    report: NotebookRef | None


def plan_batch(
    batch_file: str | os.PathLike,
    *,
    reports_dir: str | os.PathLike = "reports",
    notebooks_dir: str | os.PathLike = "notebooks",
    scenarios_dir: str | os.PathLike = "params/scenarios",
    only_notebooks: Iterable[str] | None = None,
) -> BatchPlan:
    """Validate a batch file and everything it refers to; compute runs and their folders.

    Nothing is written. Raises :class:`BatchFileError` on the first problem found.
    """
    batch_path = Path(batch_file)
    config = load_batch(batch_path)
    notebooks_dir, scenarios_dir = Path(notebooks_dir), Path(scenarios_dir)

    scenarios = [_resolve_scenario(e, i, scenarios_dir, batch_path) for i, e in enumerate(config.scenarios)]
    names = Counter(s.name for s in scenarios)
    if doubled := [n for n, c in names.items() if c > 1]:
        raise BatchFileError(f"{batch_path}: key 'scenarios': got {doubled[0]!r} twice; expected distinct scenarios")

    notebooks = [
        _resolve_notebook(e, f"notebooks[{i}]", notebooks_dir, batch_path) for i, e in enumerate(config.notebooks)
    ]
    if doubled := [n for n, c in Counter(nb.name for nb in notebooks).items() if c > 1]:
        raise BatchFileError(f"{batch_path}: key 'notebooks': got {doubled[0]!r} twice; expected distinct notebooks")
    if only_notebooks is not None:
        wanted = list(only_notebooks)
        known = {nb.name for nb in notebooks}
        if unknown := [w for w in wanted if w not in known]:
            raise BatchFileError(
                f"--only-notebooks: got {unknown[0]!r}; expected one of the batch's notebooks: {', '.join(sorted(known))}"
            )
        notebooks = [nb for nb in notebooks if nb.name in wanted]

    report = None
    if config.report_notebook is not None:
        report = _resolve_notebook(config.report_notebook, "report_notebook", notebooks_dir, batch_path)

    for notebook in notebooks:
        _check_parameters(notebook, RUN_PARAMETERS)
    if report is not None:
        _check_parameters(report, REPORT_PARAMETERS)

    reports_root = Path(reports_dir).resolve()
    batch_dir = contained(reports_root, safe_folder_name(config.name))
    runs = []
    for notebook in notebooks:
        for scenario in scenarios:
            parameters = {
                "scenario": str(scenario.path),
                "overrides": dict(config.overrides),
                "replications": config.replications,
                "seed": config.seed,
                "output_dir": None,
                "lang": config.lang,
                "data_source": None,
            }
            hashed = dict(parameters, scenario=scenario.name)  # location-independent
            runs.append(
                RunSpec(
                    notebook=notebook,
                    scenario=scenario,
                    parameters=parameters,
                    params_hash=params_hash(hashed, scenario.content_sha256),
                    final_dir=contained(batch_dir, RUNS_DIR, notebook.name, scenario.slug),
                    failed_dir=contained(batch_dir, FAILED_DIR, notebook.name, scenario.slug),
                )
            )
    return BatchPlan(config, batch_path, batch_dir, reports_root, runs, report)


# --------------------------------------------------------------------------- manifest


def read_manifest(batch_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of ``manifest.jsonl`` (unreadable lines are skipped with a warning)."""
    path = Path(batch_dir) / MANIFEST_FILE
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s line %d is not valid JSON; ignored", path, number)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _append_manifest(batch_dir: Path, record: Mapping[str, Any]) -> None:
    with open(batch_dir / MANIFEST_FILE, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        stream.flush()


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


def _already_done(run: RunSpec, last: Mapping[str, Any] | None) -> bool:
    if not last or last.get("status") != "ok":
        return False
    same = (last.get("params_hash"), last.get("notebook_hash")) == (run.params_hash, run.notebook.sha256)
    return same and check_results_file(run.final_dir) is None


def _last_attempts(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The last non-skipped record per (notebook, scenario slug)."""
    last: dict[tuple[str, str], Mapping[str, Any]] = {}
    for record in records:
        if record.get("status") != "skipped":
            last[(record.get("notebook"), record.get("scenario_slug"))] = record
    return last


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


# --------------------------------------------------------------------------- one run (worker side)


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


def _quiet_logs() -> None:
    for name in ("papermill", "nbclient", "traitlets", "asyncio"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


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


def output_warnings(notebook: str | os.PathLike | dict, limit: int = 5) -> list[str]:
    """Warnings and errors shown in an executed notebook's outputs (stderr streams, error
    outputs), as short one-line texts; at most ``limit``. Empty when the outputs are clean."""
    found = []
    for number, cell in enumerate(_read_notebook(notebook).get("cells", []), start=1):
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "".join(output.get("text", "")) if isinstance(output.get("text"), list) else str(output.get("text", ""))
                first = next((line.strip() for line in text.splitlines() if line.strip()), "")
                found.append(f"cell {number}: {first}")
            elif output.get("output_type") == "error":
                found.append(f"cell {number}: {output.get('ename', 'Error')}: {output.get('evalue', '')}")
    return [_printable(text, 160) for text in found[:limit]] + ([f"… {len(found) - limit} more"] if len(found) > limit else [])


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

    options = {} if with_code else {"exclude_input": True, "exclude_input_prompt": True, "exclude_output_prompt": True}
    body, _ = HTMLExporter(**options).from_filename(str(notebook_path))
    _atomic_write(Path(html_path), body)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
    tmp_dir: Path, failed_dir: Path, status: str, error: str, final_dir: Path | None = None, key: Mapping | None = None
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
    try:
        previous = json.loads((final_dir / RUN_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if not isinstance(previous, dict) or any(previous.get(k) != v for k, v in (key or {}).items()):
        _remove_dir(final_dir)


def run_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Execute one run described by ``job`` (worker side) and put its outputs in place."""
    started = time.perf_counter()
    started_at = _now()
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
            _atomic_write(tmp_dir / RUN_INFO, json.dumps(job["info"], ensure_ascii=False, indent=1))
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


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _worker_init() -> None:
    _quiet_logs()


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


# --------------------------------------------------------------------------- batch


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
        rows = [[nb, *(str(sum(1 for r in self.records if r["notebook"] == nb and r["status"] == s)) for s in STATUSES)]
                for nb in notebooks]
        rows.append(["total", *(str(self.counts.get(s, 0)) for s in STATUSES)])
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [f"batch {_printable(self.name)} → {self.batch_dir}"]
        for row in [header, *rows]:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if self.failures:
            lines.append("")
            lines.append(f"{len(self.failures)} run(s) failed:")
            for record in self.failures:
                where = record.get("outputs", {}).get("error_file", "")
                lines.append(
                    f"  [{record['status']}] {record['notebook']} × {_printable(record['scenario'])}: "
                    f"{_printable(record.get('error') or '')}  ({where})"
                )
        noisy = [r for r in self.records if r.get("warnings")]
        if noisy:
            lines.append("")
            lines.append(f"{len(noisy)} run(s) show warnings in their outputs:")
            for record in noisy:
                lines.append(f"  {record['notebook']} × {_printable(record['scenario'])}: {'; '.join(record['warnings'])}")
        if self.report_status is not None:
            lines.append("")
            if self.report_status == "ok":
                lines.append(f"report: {self.index_html}")
            else:
                lines.append(f"report FAILED: {_printable(self.report_error or '')}")
        if self.timing:
            lines.append(
                f"wall time {self.timing['wall_s']:.1f} s; notebooks' own computation "
                f"{self.timing['notebook_compute_sum_s']:.1f} s of {self.timing['run_time_sum_s']:.1f} s run time"
            )
        return "\n".join(lines)


def _printable(text: str, limit: int = 200) -> str:
    """One line without control characters (safe for a terminal)."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text).replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        _atomic_write(link / INDEX_FILE, index.read_text(encoding="utf-8"))


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
    started_at = _now()
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

    last = _last_attempts(read_manifest(plan.batch_dir))
    pending: list[RunSpec] = []
    for run in plan.runs:
        if not force and _already_done(run, last.get((run.notebook.name, run.scenario.slug))):
            record = _base_record(plan, run, versions, commit)
            record.update(status="skipped", started_at=started_at, duration_s=0.0, compute_s=0.0,
                          outputs=_run_outputs(plan, run, "skipped"), error=None)
            _append_manifest(plan.batch_dir, record)
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
    _atomic_write(plan.batch_dir / TIMING_FILE, json.dumps(summary.timing, indent=1))
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
    bar = tqdm(total=len(pending), desc=_printable(config.name, 40), unit="run", disable=not progress)
    pool = ProcessPoolExecutor(max_workers=pool_size, mp_context=context, initializer=_worker_init)
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
                    store_failure(tmp_dir, run.failed_dir, "failed", outcome["error"], run.final_dir, job["key"])
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
            _append_manifest(plan.batch_dir, record)
            summary.records.append(record)
            bar.update(1)
            if outcome["status"] != "ok":
                bar.write(f"{outcome['status']}: {run.notebook.name} × {_printable(run.scenario.name, 60)}")
    finally:
        # On an interruption, runs not yet started are cancelled; their folders are removed.
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        for job in jobs.values():
            shutil.rmtree(job["tmp_dir"], ignore_errors=True)
