"""The glue every playbook notebook uses: validate its parameters cell, set up plots, write results.

A notebook's ``parameters`` cell holds literals only; the next cell calls::

    ctx = simlib.notebook.start("01_member_tiering", scenario=scenario, overrides=overrides,
                                replications=replications, seed=seed, output_dir=output_dir,
                                lang=lang, data_source=data_source)

which validates every value (a :class:`NotebookParameterError` names the parameter, the bad
value and what was expected), loads the scenario, chooses the plot language (Chinese only
where a CJK font is installed) and returns a :class:`Context`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simlib.findings import Finding
from simlib.params import Params, ParamsError, load_scenario, resolve_scenario_path

LANGS = ("zh", "en")


class NotebookParameterError(ValueError):
    """A notebook parameter has a bad value."""


@dataclass
class Context:
    notebook: str
    params: Params
    scenario: str
    overrides: dict[str, Any]
    replications: int
    seed: int
    output_dir: Path | None
    lang: str  # requested language of narrative
    plot_lang: str  # language of plot labels actually used (English without a CJK font)
    data_source: str | None
    workers: int = 1
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        return self.data_source is None

    def label(self, key: str) -> str:
        from simlib.labels import label

        return label(key, self.plot_lang)

    def record(self, name: str, entry: dict[str, Any]) -> None:
        """Keep a named metric (a results.metric / results.observed entry) for the results JSON."""
        self.metrics[name] = entry

    def table(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Keep a tidy table for the results folder; returns it for display."""
        self.tables[name] = frame
        return frame

    def note(self, text: str) -> None:
        self.notes.append(text)

    def state(self, *findings: Finding) -> None:
        """Show findings (sentences chosen by their numbers, :mod:`simlib.findings`) as Markdown
        and keep them for results.json, where the report and the checks read them. Their text is
        code-built: user-supplied strings in it must already be escaped."""
        from IPython.display import Markdown, display

        for finding in findings:
            self.findings.append(finding)
            display(Markdown(finding.text))

    def save(self) -> Path | None:
        """Write results.json and tables/ to output_dir (nothing when output_dir is None)."""
        from simlib.results import write_results

        return write_results(
            self.output_dir, notebook=self.notebook, scenario=self.scenario, seed=self.seed,
            replications=self.replications, metrics=self.metrics, kpis=self.kpis, tables=self.tables,
            lang=self.lang, notes=self.notes, data_source=self.data_source,
            extra={"scenario_label": self.params.label or self.params.name,
                   "description": self.params.description,
                   "findings": [finding.to_json() for finding in self.findings]},
        )


def _whole(value: Any) -> bool:
    """An int that is not a bool (True is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check(condition: bool, name: str, value: Any, expected: str) -> None:
    if not condition:
        raise NotebookParameterError(f"parameter {name} = {value!r}: expected {expected}")


def start(
    notebook: str,
    *,
    scenario: str | None,
    overrides: dict[str, Any] | None,
    replications: int | None,
    seed: int | None,
    output_dir: str | None,
    lang: str,
    data_source: str | None = None,
) -> Context:
    """Validate a notebook's parameters and return its :class:`Context`."""
    _check(scenario is None or isinstance(scenario, str), "scenario", scenario,
           "a scenario name or a path to a YAML file under params/")
    if scenario is not None:
        path = resolve_scenario_path(scenario)
        _check(path.is_file(), "scenario", scenario, f"an existing scenario file (looked for {path})")
    _check(overrides is None or isinstance(overrides, dict), "overrides", overrides,
           "a dict of parameter overrides, e.g. {'tiering.enabled': True}")
    _check(replications is None or (_whole(replications) and 1 <= replications <= 1000), "replications",
           replications, "an integer from 1 to 1000 (or None for the scenario's own)")
    _check(seed is None or (_whole(seed) and seed >= 0), "seed", seed, "a non-negative integer (or None)")
    _check(output_dir is None or (isinstance(output_dir, str) and output_dir.strip() != ""), "output_dir",
           output_dir, "None or a folder path")
    _check(lang in LANGS, "lang", lang, f"one of {LANGS}")
    _check(data_source is None or isinstance(data_source, str), "data_source", data_source,
           "None (simulate) or a path to an export / 'sample:<name>'")
    try:
        params = load_scenario(scenario, overrides or {})
    except ParamsError as error:
        raise NotebookParameterError(f"scenario/overrides: {error}") from None
    from simlib.plots import setup

    plot_lang = setup(lang)
    return Context(
        notebook=notebook, params=params, scenario=params.name, overrides=dict(overrides or {}),
        replications=params.simulation.replications if replications is None else replications,
        seed=params.simulation.seed if seed is None else seed,
        output_dir=None if output_dir is None else Path(output_dir), lang=lang, plot_lang=plot_lang,
        data_source=data_source, workers=default_workers(),
    )


def default_workers() -> int:
    """Worker processes for replications: SIMLIB_WORKERS (the batch runner sets it), else all cores."""
    value = os.environ.get("SIMLIB_WORKERS", "")
    if value.strip():
        try:
            return max(1, int(value))
        except ValueError:
            raise NotebookParameterError(f"environment SIMLIB_WORKERS = {value!r}: expected a positive "
                                         "integer") from None
    return max(1, os.cpu_count() or 1)


def load_observed(data_source: str, *, keep_text: bool = False) -> Any:
    """Load real data for a notebook: ``sample:<name>`` for a shipped sample, else a file path.

    Personal identifiers are pseudonymized on load (see :mod:`simlib.io`); the key comes from
    the environment for real data and is never written to any output. ``keep_text=True`` keeps
    message text (for the sensitive-word filter; never print it for real data).
    """
    if data_source.startswith("sample:"):
        from simlib import datasets

        return datasets.load_sample(data_source.split(":", 1)[1], keep_text=keep_text)
    from simlib import io

    if not os.path.exists(data_source):
        raise NotebookParameterError(f"parameter data_source = {data_source!r}: file not found")
    return io.load(data_source, keep_text=keep_text)
