"""A batch file, validated, and the runs it asks for: nothing is written here.

:func:`plan_batch` reads the batch file (:func:`load_batch`), checks every name, finds every
scenario and notebook it names, validates each scenario file — alone and with the batch's
overrides applied — through :mod:`simlib.params`, checks that each notebook declares the
parameters it will be given, and computes each run's key and folders. All of this happens
before the first kernel starts; the first problem raises :class:`BatchFileError` naming the
file, the key, the bad value and what was expected.

A batch may name a **baseline** scenario (``baseline: mygroup``, typically a group calibrated
from its own export by ``simlib calibrate``). Every scenario of the batch is then a change applied
to it: defaults ⊕ baseline ⊕ scenario, the scenario's keys winning where both set one, and the
scenario named ``baseline`` (which sets nothing) is the baseline itself — the report's reference.
The two play different parts: a calibrated group is a set of *behaviours* (how its members chat,
stay and arrive: the ``members`` and ``arrivals`` blocks); a strategy is a set of *operational
levers* (tiering, content, activities, automation, admins, monetization). A strategy that changes a
behaviour the baseline sets is allowed but warned about (:attr:`BatchPlan.warnings`, also logged).
Each composed scenario is validated here, with the batch's overrides, and travels to the runs as
the content of the scenario file (its path stays the strategy's file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from simlib import yaml_io
from simlib.batch_folder import FAILED_DIR, LATEST, RUNS_DIR
from simlib.slug import contained, safe_folder_name, slug_body, slugify

MAX_NAME_CHARS = 100  # batch and scenario names: shown in tables, logs and folder names
MAX_FILE_NAME_BYTES = 255  # what file systems accept for one path component
RUN_PARAMETERS = ("scenario", "overrides", "replications", "seed", "output_dir", "lang", "data_source")
REPORT_PARAMETERS = ("batch_dir", "lang", "output_html")
BASELINE_SCENARIO = "baseline"  # with a batch baseline, the scenario that is the baseline itself
BEHAVIOUR_BLOCKS = ("members", "arrivals")  # what a calibrated group sets: how its members behave

log = logging.getLogger(__name__)


class BatchFileError(ValueError):
    """A batch file (or a batch option) is invalid; the message names file, key, value and expectation."""


def check_name(name: str, where: str, what: str) -> None:
    """Refuse a batch or scenario name that is too long or holds control characters."""
    if len(name) > MAX_NAME_CHARS:
        raise BatchFileError(
            f"{where}: got a name of {len(name)} characters ({name[:40]!r}…); expected a {what} of at most "
            f"{MAX_NAME_CHARS} characters"
        )
    if not name.strip() or not name.isprintable():
        raise BatchFileError(f"{where}: got {name!r}; expected a {what} of printable characters (no line "
                             "breaks, tabs or control characters)")


class BatchConfig(BaseModel):
    """The validated content of a batch file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1)
    baseline: str | None = None  # a scenario every other one is applied to (see the module docstring)
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
    check_name(config.name, f"{path}: key 'name'", "batch name")
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
    content: bytes = field(repr=False, default=b"")  # sent to workers that do not share this disk


@dataclass(frozen=True)
class NotebookRef:
    name: str
    path: Path
    sha256: str
    content: bytes = field(repr=False, default=b"")


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
    warnings: list[str] = field(default_factory=list)  # strategies that change the baseline's behaviours


def _read_entry_file(path: Path, batch_file: Path, key: str, entry: str, expected: str) -> bytes:
    """The bytes of a file a batch-file entry names; BatchFileError when it cannot be read."""
    if len(os.fsencode(path.name)) > MAX_FILE_NAME_BYTES:
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry[:60]!r}…; expected {expected} whose file name is at most "
            f"{MAX_FILE_NAME_BYTES} bytes (it has {len(os.fsencode(path.name))})"
        )
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry!r}; expected {expected} (not found)"
        ) from None
    except OSError as error:
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry!r}; expected {expected} (cannot be read: {error})"
        ) from None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def params_hash(parameters: Mapping[str, Any], scenario_content_sha256: str) -> str:
    """SHA-256 of the run parameters (minus ``output_dir``) and the scenario file's content."""
    stable = {k: v for k, v in parameters.items() if k != "output_dir"}
    return hashlib.sha256(
        canonical_json({"parameters": stable, "scenario_sha256": scenario_content_sha256}).encode("utf-8")
    ).hexdigest()


def _resolve_scenario(entry: str, key: str, scenarios_dir: Path, batch_file: Path) -> ScenarioRef:
    is_path = entry.endswith((".yaml", ".yml"))
    if not is_path and (Path(entry).name != entry or entry.startswith(".") or "\\" in entry):
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry!r}; expected the name of a file in {scenarios_dir} "
            "(no '/', '\\' or leading '.') or a path ending in .yaml"
        )
    path = Path(entry) if is_path else scenarios_dir / f"{entry}.yaml"
    name = path.stem if is_path else entry
    check_name(name, f"{batch_file}: key '{key}'", "scenario name")
    expected = "an existing .yaml file" if is_path else f"a scenario file {path}"
    content = _read_entry_file(path, batch_file, key, entry, expected)
    return ScenarioRef(name=name, entry=entry, path=path.resolve(), slug=slugify(name),
                       content_sha256=hashlib.sha256(content).hexdigest(), content=content)


def _validate_scenario(
    scenario: ScenarioRef, key: str, overrides: Mapping[str, Any], batch_file: Path
) -> Any:
    """The scenario file over the defaults, then with the batch's overrides, through simlib.params;
    returns the scenario's parameters (without the overrides)."""
    from simlib.params import ParamsError, load_scenario

    try:
        params = load_scenario(scenario.path)
    except ParamsError as error:
        raise BatchFileError(
            f"{batch_file}: key '{key}' = {scenario.entry!r}: {error}"
        ) from None
    if overrides:
        try:
            load_scenario(scenario.path, dict(overrides))
        except ParamsError as error:
            raise BatchFileError(
                f"{batch_file}: key 'overrides' (applied to scenario {scenario.name!r}): {error}"
            ) from None
    return params


def _leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the non-mapping values of ``data``."""
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths += _leaf_paths(value, f"{path}.") if isinstance(value, Mapping) and value else [path]
    return paths


def _value_at(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return "(not set)"
        node = node[part]
    return node


def _changed_behaviours(baseline: ScenarioRef, group_file: Mapping[str, Any], group: dict[str, Any],
                        composed: dict[str, Any], strategy: ScenarioRef, batch_file: Path) -> list[str]:
    """A warning for each behaviour the baseline file sets that the strategy changes."""
    warnings = []
    for path in _leaf_paths({k: v for k, v in group_file.items() if k in BEHAVIOUR_BLOCKS}):
        before, after = _value_at(group, path), _value_at(composed, path)
        if before != after:
            warnings.append(
                f"{batch_file}: scenario {strategy.name!r} ({strategy.path}) changes {path} from "
                f"{before!r} to {after!r}, a behaviour the baseline {baseline.name!r} sets; the scenario's "
                "value wins. A strategy should change operational levers, not how the members behave"
            )
    return warnings


@dataclass(frozen=True)
class _Baseline:
    """A batch's baseline, read once for every strategy composed over it."""

    ref: ScenarioRef
    params: Any  # its validated Params
    file: Mapping[str, Any]  # the keys its file gives
    layers: Mapping[str, Any]  # defaults ⊕ the file's parameters
    dump: dict[str, Any]  # ``params`` as JSON-ready values, to compare behaviours


def _read_baseline(ref: ScenarioRef, params: Any) -> _Baseline:
    from simlib.params import SCENARIO_HEADER_KEYS, deep_merge, load_defaults, read_yaml

    file = read_yaml(ref.path)
    behaviours = {k: v for k, v in file.items() if k not in SCENARIO_HEADER_KEYS}
    layers = deep_merge(load_defaults(), behaviours, source=str(ref.path))
    return _Baseline(ref, params, file, layers, params.model_dump(mode="json"))


def _compose(base: _Baseline, strategy: ScenarioRef, key: str, overrides: Mapping[str, Any],
             batch_file: Path) -> tuple[ScenarioRef, list[str]]:
    """The strategy applied to the baseline (defaults ⊕ baseline ⊕ strategy), validated with the
    batch's overrides, as a scenario file's content; and the behaviours it changes (warnings)."""
    from simlib.params import SCENARIO_HEADER_KEYS, ParamsError, deep_merge, read_yaml

    baseline, group = base.ref, base.params
    own = read_yaml(strategy.path)
    levers = {k: v for k, v in own.items() if k not in SCENARIO_HEADER_KEYS}
    where = f"{batch_file}: key '{key}' = {strategy.entry!r} applied to the baseline {baseline.name!r}"
    try:
        composed = group.with_overrides(levers, source=str(strategy.path))
    except ParamsError as error:
        raise BatchFileError(f"{where}: {error}") from None
    if overrides:
        try:
            composed.with_overrides(dict(overrides))
        except ParamsError as error:
            raise BatchFileError(f"{batch_file}: key 'overrides' (applied to scenario {strategy.name!r} on "
                                 f"the baseline {baseline.name!r}): {error}") from None
    own = {key: own[key] for key in ("label", "description") if isinstance(own.get(key), str)}
    is_baseline = strategy.name == BASELINE_SCENARIO
    header = {
        "name": strategy.name,
        "label": group.label if is_baseline else own.get("label", strategy.name),
        "description": group.description if is_baseline else
        f"{own.get('description', '')} — applied to {baseline.name}: {group.description}".lstrip(" —"),
    }
    # The content is the three files merged (the keys they give, as a scenario file holds them);
    # ``composed`` above is the same merge, validated.
    data = {**header, **deep_merge(base.layers, levers, source=str(strategy.path))}
    # Names only, no paths: the content is hashed into the run's key, which must not depend on where
    # the checkout lives.
    text = f"# Composed by simlib batch: defaults ⊕ baseline {baseline.name} ⊕ {strategy.name}.\n"
    text += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    content = text.encode("utf-8")
    warnings = _changed_behaviours(baseline, base.file, base.dump, composed.model_dump(mode="json"),
                                   strategy, batch_file)
    ref = ScenarioRef(name=strategy.name, entry=strategy.entry, path=strategy.path, slug=strategy.slug,
                      content_sha256=hashlib.sha256(content).hexdigest(), content=content)
    return ref, warnings



def _resolve_notebook(entry: str, key: str, notebooks_dir: Path, batch_file: Path) -> NotebookRef:
    path = Path(entry) if entry.endswith(".ipynb") else notebooks_dir / f"{entry}.ipynb"
    if slug_body(path.stem) != path.stem:
        raise BatchFileError(
            f"{batch_file}: key '{key}': got {entry!r}; expected a notebook file name made of letters, "
            "digits, '_' and '-' (at most 48)"
        )
    content = _read_entry_file(path, batch_file, key, entry, f"an existing notebook {path}")
    return NotebookRef(name=path.stem, path=path.resolve(), sha256=hashlib.sha256(content).hexdigest(),
                       content=content)


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


def batch_folder_for(name: str, reports_dir: str | os.PathLike) -> Path:
    """A batch's folder, ``<reports>/<name>`` (the name made safe, kept inside ``reports``)."""
    return contained(Path(reports_dir).resolve(), safe_folder_name(name))


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

    scenarios = [_resolve_scenario(e, f"scenarios[{i}]", scenarios_dir, batch_path)
                 for i, e in enumerate(config.scenarios)]
    if (doubled := _first_repeated(s.name for s in scenarios)) is not None:
        raise BatchFileError(
            f"{batch_path}: key 'scenarios': got {doubled!r} twice; expected distinct scenarios"
        )
    warnings: list[str] = []
    if config.baseline is None:
        for index, scenario in enumerate(scenarios):
            _validate_scenario(scenario, f"scenarios[{index}]", config.overrides, batch_path)
    else:
        scenarios, warnings = _apply_to_baseline(config, scenarios, scenarios_dir, batch_path)

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
    batch_dir = batch_folder_for(config.name, reports_root)
    runs = [_run_spec(config, batch_dir, nb, scenario) for nb in notebooks for scenario in scenarios]
    for warning in warnings:
        log.warning("%s", warning)
    return BatchPlan(config, batch_path, batch_dir, reports_root, runs, report, warnings)


def _apply_to_baseline(config: BatchConfig, strategies: list[ScenarioRef], scenarios_dir: Path,
                       batch_file: Path) -> tuple[list[ScenarioRef], list[str]]:
    """Every scenario of the batch composed over its baseline (module docstring), validated."""
    assert config.baseline is not None
    baseline = _resolve_scenario(config.baseline, "baseline", scenarios_dir, batch_file)
    base = _read_baseline(baseline, _validate_scenario(baseline, "baseline", {}, batch_file))
    if BASELINE_SCENARIO not in {s.name for s in strategies}:
        raise BatchFileError(
            f"{batch_file}: key 'scenarios': got {config.scenarios!r}; with 'baseline: {config.baseline}' "
            f"expected '{BASELINE_SCENARIO}' among them (the baseline itself, which the report compares "
            "every other scenario to)"
        )
    composed, warnings = [], []
    for index, strategy in enumerate(strategies):
        key = f"scenarios[{index}]"
        _validate_scenario(strategy, key, {}, batch_file)  # alone first: errors name its file
        ref, changed = _compose(base, strategy, key, config.overrides, batch_file)
        composed.append(ref)
        warnings += changed
    return composed, warnings


def run_parameters(scenario: Any, overrides: Mapping[str, Any], replications: Any, seed: Any, lang: Any
                   ) -> dict[str, Any]:
    """The parameters a batch gives a run's notebook (``scenario``: the file's path to run it, its
    name to hash it); :func:`params_hash` of them with the scenario's name keys the run."""
    return {"scenario": scenario, "overrides": dict(overrides), "replications": replications, "seed": seed,
            "output_dir": None, "lang": lang, "data_source": None}


def _run_spec(config: BatchConfig, batch_dir: Path, notebook: NotebookRef, scenario: ScenarioRef) -> RunSpec:
    parameters = run_parameters(str(scenario.path), config.overrides, config.replications, config.seed,
                                config.lang)
    hashed = dict(parameters, scenario=scenario.name)  # location-independent
    return RunSpec(
        notebook=notebook,
        scenario=scenario,
        parameters=parameters,
        params_hash=params_hash(hashed, scenario.content_sha256),
        final_dir=contained(batch_dir, RUNS_DIR, notebook.name, scenario.slug),
        failed_dir=contained(batch_dir, FAILED_DIR, notebook.name, scenario.slug),
    )
