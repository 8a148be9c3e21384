"""A batch file, validated, and the runs it asks for: nothing is written here.

:func:`plan_batch` reads the batch file (:func:`load_batch`), finds every scenario and notebook
it names, checks that each notebook declares the parameters it will be given, and computes each
run's key and folders. The first problem raises :class:`BatchFileError` naming the file, the key,
the bad value and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from simlib import yaml_io
from simlib.batch_folder import FAILED_DIR, LATEST, RUNS_DIR
from simlib.slug import contained, safe_folder_name, slug_body, slugify

RUN_PARAMETERS = ("scenario", "overrides", "replications", "seed", "output_dir", "lang", "data_source")
REPORT_PARAMETERS = ("batch_dir", "lang", "output_html")


class BatchFileError(ValueError):
    """A batch file (or a batch option) is invalid; the message names file, key, value and expectation."""


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


def load_batch(batch_file: str | os.PathLike) -> BatchConfig:
    """Read and validate a batch file (raises :class:`BatchFileError`)."""
    path = Path(batch_file)
    if not path.exists():
        raise BatchFileError(f"{path}: batch file not found")
    try:
        data = yaml_io.read_mapping(path)
    except yaml_io.YamlError as error:
        raise BatchFileError(str(error)) from None
    try:
        config = BatchConfig.model_validate(data)
    except ValidationError as error:
        raise BatchFileError(yaml_io.validation_message(error, path, BatchConfig)) from None
    if safe_folder_name(config.name) == LATEST:
        raise BatchFileError(
            f"{path}: key 'name': got {config.name!r}; expected a name other than '{LATEST}' "
            "(reserved for the link to the newest report)"
        )
    return config


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


@dataclass
class BatchPlan:
    config: BatchConfig
    batch_file: Path
    batch_dir: Path
    reports_root: Path
    runs: list[RunSpec]
    report: NotebookRef | None


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
        raise BatchFileError(
            f"{batch_file}: key 'scenarios[{index}]': got {entry!r}; expected {expected} (not found)"
        )
    name = path.stem if is_path else entry
    return ScenarioRef(
        name=name, entry=entry, path=path.resolve(), slug=slugify(name), content_sha256=_sha256_file(path)
    )


def _resolve_notebook(entry: str, key: str, notebooks_dir: Path, batch_file: Path) -> NotebookRef:
    path = Path(entry) if entry.endswith(".ipynb") else notebooks_dir / f"{entry}.ipynb"
    if not path.is_file():
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry!r}; expected an existing notebook {path}"
        )
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


def _first_repeated(names: Iterable[str]) -> str | None:
    return next((name for name, count in Counter(names).items() if count > 1), None)


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
    if (doubled := _first_repeated(s.name for s in scenarios)) is not None:
        raise BatchFileError(
            f"{batch_path}: key 'scenarios': got {doubled!r} twice; expected distinct scenarios"
        )

    notebooks = [
        _resolve_notebook(entry, f"notebooks[{index}]", notebooks_dir, batch_path)
        for index, entry in enumerate(config.notebooks)
    ]
    if (doubled := _first_repeated(nb.name for nb in notebooks)) is not None:
        raise BatchFileError(
            f"{batch_path}: key 'notebooks': got {doubled!r} twice; expected distinct notebooks"
        )
    if only_notebooks is not None:
        wanted = list(only_notebooks)
        known = {nb.name for nb in notebooks}
        if unknown := [w for w in wanted if w not in known]:
            raise BatchFileError(
                f"--only-notebooks: got {unknown[0]!r}; expected one of the batch's notebooks: "
                f"{', '.join(sorted(known))}"
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
    runs = [_run_spec(config, batch_dir, nb, scenario) for nb in notebooks for scenario in scenarios]
    return BatchPlan(config, batch_path, batch_dir, reports_root, runs, report)


def _run_spec(config: BatchConfig, batch_dir: Path, notebook: NotebookRef, scenario: ScenarioRef) -> RunSpec:
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
    return RunSpec(
        notebook=notebook,
        scenario=scenario,
        parameters=parameters,
        params_hash=params_hash(hashed, scenario.content_sha256),
        final_dir=contained(batch_dir, RUNS_DIR, notebook.name, scenario.slug),
        failed_dir=contained(batch_dir, FAILED_DIR, notebook.name, scenario.slug),
    )
