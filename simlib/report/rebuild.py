"""Each scenario's parameters exactly as the batch ran them, for the report's re-simulations.

A run's ``run.json`` holds its key: the scenario's name and file, the seed, the replications and
``params_hash`` (:func:`simlib.batch.plan.params_hash` of the run's parameters and of the scenario
file's content). Batches since the robustness step also keep the scenario file's text
(``scenario_yaml``) and the batch's ``overrides`` there. Older run folders have neither: the
overrides are then read from the executed notebook's Papermill parameters and the scenario file
from where the batch found it, today.

Either way the run's ``params_hash`` is computed again from what was found. Only when it matches
are the parameters the batch's own; otherwise (the scenario file changed since, say) the
scenario cannot be rebuilt and the reason is returned instead — never today's file in its place.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simlib.batch_folder import RUN_NOTEBOOK, read_run_info
from simlib.params import Params, ParamsError, load_scenario
from simlib.report.collect import BatchResults, Run
from simlib.report.ranking import RANKING_VALUE


@dataclass
class BatchParameters:
    """The scenarios of a batch as it ran them: ``params`` by scenario name, the batch's seed and
    replications, and ``problems`` (scenario → why it cannot be rebuilt)."""

    params: dict[str, Params] = field(default_factory=dict)
    seed: int | None = None
    replications: int | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.problems and bool(self.params)


def _papermill_parameters(run_dir: Path) -> dict[str, Any]:
    """The parameters Papermill gave the executed notebook of a run folder ({} if unreadable)."""
    try:
        notebook = json.loads((run_dir / RUN_NOTEBOOK).read_text(encoding="utf-8"))
        parameters = notebook["metadata"]["papermill"]["parameters"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return parameters if isinstance(parameters, dict) else {}


def _scenario_source(info: Mapping[str, Any], run_dir: Path) -> tuple[bytes, dict[str, Any]] | str:
    """(scenario file content, overrides) the run used, or why they cannot be found."""
    overrides = info.get("overrides")
    if not isinstance(overrides, dict):
        overrides = _papermill_parameters(run_dir).get("overrides")
    if not isinstance(overrides, dict):
        return "neither run.json nor the executed notebook records the batch's overrides"
    if isinstance(info.get("scenario_yaml"), str):
        return info["scenario_yaml"].encode("utf-8"), overrides
    path = info.get("scenario_file")
    if not isinstance(path, str):
        return "run.json names no scenario file"
    try:
        return Path(path).read_bytes(), overrides
    except OSError as error:
        return f"the scenario file {path} cannot be read ({error.strerror or error})"


def _params_hash(info: Mapping[str, Any], content: bytes, overrides: Mapping[str, Any]) -> str:
    """The run's ``params_hash`` recomputed from what was found (as simlib.batch.plan computes it)."""
    from simlib.batch.plan import params_hash, run_parameters

    hashed = run_parameters(info.get("scenario"), overrides, info.get("replications"), info.get("seed"),
                            info.get("lang"))
    return params_hash(hashed, hashlib.sha256(content).hexdigest())


def _load(content: bytes, overrides: Mapping[str, Any], name: str) -> Params:
    """The validated parameters of a scenario file's ``content`` with ``overrides``, named ``name``."""
    with tempfile.TemporaryDirectory(prefix="simlib-scenario-") as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_bytes(content)
        params = load_scenario(path, dict(overrides))
    return params if params.name != path.stem else params.model_copy(update={"name": name})


def run_parameters(run_dir: Path, scenario: str) -> tuple[Params, dict[str, Any]] | str:
    """(parameters, run.json) of one run folder as the batch ran it, or why that is impossible."""
    info = read_run_info(run_dir)
    if info is None:
        return "the run folder has no readable run.json"
    found = _scenario_source(info, run_dir)
    if isinstance(found, str):
        return found
    content, overrides = found
    if info.get("params_hash") != _params_hash(info, content, overrides):
        where = ("the recorded scenario" if "scenario_yaml" in info
                 else f"the scenario file {info['scenario_file']}")
        return f"{where} with the recorded overrides does not give the run's params_hash: it changed since"
    try:
        return _load(content, overrides, scenario), info
    except ParamsError as error:
        return f"the parameters the batch ran with are no longer valid here: {error}"


def _source_runs(batch: BatchResults, scenario: str) -> list[Run]:
    """The scenario's runs, the one that gave its ranking value first."""
    entry = batch.kpis.get(scenario, {}).get(RANKING_VALUE, {})
    first = entry.get("run")
    others = [run for run in batch.runs if run.scenario == scenario and run is not first]
    return ([first] if first is not None else []) + others


def batch_parameters(batch: BatchResults) -> BatchParameters:
    """Every scenario with KPIs, rebuilt from the first of its runs that allows it."""
    out = BatchParameters()
    for scenario in batch.kpis:
        reasons = []
        for run in _source_runs(batch, scenario):
            found = run_parameters(run.folder, scenario)
            if isinstance(found, str):
                reasons.append(found)
                continue
            out.params[scenario], info = found
            seed, replications = info.get("seed"), info.get("replications")
            if out.seed is None:
                out.seed, out.replications = seed, replications
            elif (seed, replications) != (out.seed, out.replications):
                out.problems[scenario] = (f"run with seed {seed} and {replications} replications, the others "
                                          f"with seed {out.seed} and {out.replications}")
            break
        else:
            out.problems[scenario] = reasons[0] if reasons else "no run folder"
    return out
