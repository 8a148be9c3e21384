"""My group: from a real export to a calibrated scenario, and to a report about that group.

Two entry points, behind ``simlib calibrate`` and ``simlib report --data`` (:mod:`simlib.cli`):

* :func:`calibrate_exports` — load the exports (pseudonymized on load), estimate the behavioural
  parameters (:func:`simlib.calibrate.estimate`), refine them by simulation so that the
  estimators give on the simulated group's export what they give on the real one
  (:func:`simlib.calibrate.replay.refine`), check the fit (:func:`check_fit`) and write the
  scenario YAML atomically, each value with its interval and the fit check in comments.
* :func:`report_from_exports` — the whole path in a batch folder of its own,
  ``<reports>/<name>/``: the calibrated scenario and the batch file that was run
  (``calibration/``), the fit check (``fit_check.json``, which the report shows first), then every
  strategy of the template batch file (``params/batches/mygroup.yaml``) applied to the calibrated
  group (``baseline:``, see :mod:`simlib.batch.plan`) and the comparative report.

Nothing about the chat reaches an output but pseudonyms and counts: the scenario and the report
name the data by its format and number of files (never a file name: chat exports are named
after the chat), and the scenario's name is the one given (``--name``, default ``mygroup``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simlib import yaml_io
from simlib.batch.plan import BASELINE_SCENARIO, batch_folder_for
from simlib.batch_folder import MANIFEST_FILE
from simlib.calibrate import Calibration, estimate, to_scenario, write_scenario
from simlib.calibrate.replay import (
    CHAT_EXPORT_EVENTS,
    Refinement,
    export_view,
    refine,
    replay,
    replay_params,
    window_bounds,
)
from simlib.io import LoadedLog, Pseudonymizer, load_many
from simlib.params import ROOT
from simlib.report.fitcheck import (
    FitCheck,
    fit_kpis_for,
    fit_row,
    measure,
    observed_intervals,
    write_fit_check,
)
from simlib.results import atomic_write_text
from simlib.slug import slug_body

DEFAULT_NAME = "mygroup"
TEMPLATE_BATCH = ROOT / "params" / "batches" / "mygroup.yaml"
CALIBRATION_DIR = "calibration"  # inside the report's batch folder: the scenario and the batch file run
BATCH_FILE = "batch.yaml"
BASE_SCENARIO = "baseline"  # what a chat log cannot identify comes from here
FIT_REPLICATIONS = 10
FIT_SEED = 20261125


class PipelineError(ValueError):
    """The exports or an option cannot go through the pipeline; the message says what and why."""


def check_group_name(name: str) -> str:
    """A calibrated group's name: it names the scenario file and the report's folder."""
    if not isinstance(name, str) or not name or slug_body(name) != name:
        raise PipelineError(
            f"--name: got {name!r}; expected a name made of letters, digits, '_' and '-' (at most 48 "
            "characters), e.g. mygroup — it names the scenario file, so it must not be the chat's name")
    if name == BASE_SCENARIO:
        raise PipelineError(f"--name: got {name!r}; expected another name ('{BASE_SCENARIO}' is the "
                            "article's baseline scenario, and in a batch the name of the calibrated group's "
                            "own runs)")
    return name


def check_exports(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The export files, after checking the pseudonymization key (no key, no data) and that each file
    exists."""
    Pseudonymizer(None)  # raises PseudonymKeyError naming SIMLIB_PSEUDONYM_KEY and SIMLIB_PSEUDONYM_KEY_FILE
    if not paths:
        raise PipelineError("no export given; expected one or more export files (a chat export, and "
                            "optionally a WeCom member list and an orders CSV of the same group)")
    files = [Path(p) for p in paths]
    for number, path in enumerate(files, start=1):
        if not path.is_file():
            raise PipelineError(f"export {number} ({path}): file not found; expected a WeChatMsg, PyWxDump, "
                                "WeCom or orders export")
    return files


@dataclass
class GroupCalibration:
    """What :func:`calibrate_exports` did."""

    name: str
    scenario_path: Path
    calibration: Calibration
    refinement: Refinement
    fit: FitCheck
    loaded: dict[str, int] = field(default_factory=dict)  # events by kind

    def summary_lines(self) -> list[str]:
        """A short plain-text summary for the terminal."""
        cal = self.calibration
        size = (f"group size {cal.members_at_end} at the end ({cal.hidden_members} never seen in the export)"
                if self.fit.group_size_given else
                "group size not given (--members): members who never spoke are missing, rates come out too "
                "high")
        loaded = ", ".join(f"{count} {kind}" for kind, count in sorted(self.loaded.items()))
        lines = [
            f"loaded {cal.source}: {loaded}",
            f"calibrated '{self.name}': {cal.window_text}, {cal.members_seen} members; {size}",
            f"scenario written: {self.scenario_path}",
            self.refinement.summary(),
        ]
        for item in self.refinement.parameters:
            lines.append(f"  {item.target.parameter} = {item.value:.4g} "
                         f"[95%: {item.low:.4g}–{item.high:.4g}] (plain estimate {item.start:.4g})")
        lines += self.fit.lines()
        if self.fit.disagreements:
            names = ", ".join(row.kpi for row in self.fit.disagreements)
            lines.append(f"WARNING: the calibrated group does not reproduce the export on {names}; "
                         "comparisons that rest on these KPIs are less trustworthy")
        return lines


def check_fit(calibration: Calibration, log: LoadedLog, scenario_data: dict[str, Any], refinement: Refinement,
              *, name: str, members_at_end: int | None, replications: int = FIT_REPLICATIONS,
              seed: int = FIT_SEED) -> FitCheck:
    """The fit check (:mod:`simlib.report.fitcheck`): the export's KPIs beside those of
    ``replications`` replays of its window by the refined scenario, both measured on what an export
    shows. ``seed`` should be the batch's (the refinement's own replications are not reused)."""
    start, end = window_bounds(calibration)
    with_purchases = bool((log.events["event"].astype(str) == "purchase").any())
    kinds = CHAT_EXPORT_EVENTS + (("purchase",) if with_purchases else ())
    kpis = fit_kpis_for(with_purchases)
    observed_view = export_view(log.members, log.events, start, end, members_at_end=members_at_end,
                                kinds=kinds)
    observed = measure(observed_view, start, end, kpis)
    intervals = observed_intervals(observed_view, start, end, kpis, seed=seed)
    params = replay_params(scenario_data, calibration, refinement.values())
    simulated = [measure(group.tables, group.start, group.end, kpis)
                 for group in replay(params, replications, seed, with_group_size=members_at_end is not None,
                                     kinds=kinds)]
    rows = [fit_row(kpi, observed[kpi.name], intervals[kpi.name], [values[kpi.name] for values in simulated])
            for kpi in kpis]
    notes = [refinement.summary(), *refinement.notes]
    if with_purchases:
        notes.append("Purchases are not calibrated (conversion rates need orders linked to posts): the "
                     "revenue row checks the base scenario's monetization against the orders file.")
    return FitCheck(
        group=name, baseline=BASELINE_SCENARIO, window_start=str(calibration.start.date()),
        window_end=str(calibration.end.date()), days=calibration.days, source=calibration.source,
        members_seen=calibration.members_seen, members_at_start=calibration.members_at_start,
        members_at_end=calibration.members_at_end, hidden_members=calibration.hidden_members,
        group_size_given=members_at_end is not None, replications=replications, seed=seed, rows=rows,
        notes=notes,
    )


def calibrate_exports(paths: Sequence[str | os.PathLike], name: str = DEFAULT_NAME, *,
                      target: str | os.PathLike, members_at_end: int | None = None,
                      base: str | Path = BASE_SCENARIO, force: bool = False,
                      fit_replications: int = FIT_REPLICATIONS, fit_seed: int = FIT_SEED) -> GroupCalibration:
    """Load → estimate → refine → fit check → write the scenario ``target`` (atomically).

    ``members_at_end``: the group's size on the export's last day, as its info page shows it (it
    counts the members who never spoke; without it rates come out too high). Refuses to overwrite
    an existing ``target`` unless ``force``. Raises :class:`PipelineError`,
    :class:`~simlib.io.PseudonymKeyError`, :class:`~simlib.io.LoadError` or
    :class:`~simlib.calibrate.CalibrationError`, each naming what is wrong; nothing is written then.
    """
    check_group_name(name)
    target = Path(target)
    files = check_exports(paths)
    if target.exists() and not force:
        raise PipelineError(f"{target}: the scenario exists; pass --force to overwrite it, or choose another "
                            "--name")
    if members_at_end is not None and (isinstance(members_at_end, bool) or members_at_end < 1):
        raise PipelineError(f"--members: got {members_at_end!r}; expected the group's size, a whole number "
                            "≥ 1")
    log = load_many(files)
    calibration = estimate(log, members_at_end=members_at_end)
    data = to_scenario(calibration, name, base)
    refinement = refine(calibration, data, with_group_size=members_at_end is not None)
    fit = check_fit(calibration, log, data, refinement, name=name, members_at_end=members_at_end,
                    replications=fit_replications, seed=fit_seed)
    comments = refinement.comments()
    adjusted = {key: (value, comments[key]) for key, value in refinement.values().items()}
    path = write_scenario(calibration, target, name, base, adjusted=adjusted,
                          notes=[refinement.summary(), *refinement.notes, *fit.lines()])
    return GroupCalibration(name, path, calibration, refinement, fit, log.counts())


# --------------------------------------------------------------------------- the report


@dataclass
class GroupReport:
    """What :func:`report_from_exports` did: the calibration and the batch's summary."""

    group: GroupCalibration
    batch_file: Path
    summary: Any  # simlib.batch.BatchSummary


def report_batch_dir(name: str, reports_dir: str | os.PathLike) -> Path:
    """The report's own batch folder, ``<reports>/<name>``, as the batch names it."""
    return batch_folder_for(name, reports_dir)


def report_from_exports(paths: Sequence[str | os.PathLike], name: str = DEFAULT_NAME, *,
                        members_at_end: int | None = None, template: str | os.PathLike = TEMPLATE_BATCH,
                        reports_dir: str | os.PathLike = "reports",
                        scenarios_dir: str | os.PathLike = "params/scenarios",
                        notebooks_dir: str | os.PathLike = "notebooks", workers: int | None = None,
                        force: bool = False, progress: bool = True,
                        scheduler: str | None = None) -> GroupReport:
    """Exports → calibrated group → every strategy of ``template`` on it → the report, in
    ``<reports>/<name>/`` (see the module docstring). ``force`` re-runs runs that already succeeded.

    The calibrated scenario in that folder is this report's own and is rewritten on every call;
    ``simlib calibrate`` writes one into ``params/scenarios`` for notebooks and other batches.
    """
    from simlib.batch import load_batch, run_batch
    from simlib.batch.plan import BatchFileError

    check_group_name(name)
    check_exports(paths)
    config = load_batch(template)
    if config.baseline is None or config.report_notebook is None:
        raise BatchFileError(f"{template}: expected a template with 'baseline:' and 'report_notebook:' (the "
                             "strategies are applied to the calibrated group, then compared in the report)")
    batch_dir = report_batch_dir(name, reports_dir)
    own = batch_dir / CALIBRATION_DIR
    if (batch_dir / MANIFEST_FILE).exists() and not (own / BATCH_FILE).exists():
        raise PipelineError(f"{batch_dir}: the folder holds another batch's results; choose another --name")
    group = calibrate_exports(paths, name, target=own / f"{name}.yaml", members_at_end=members_at_end,
                              force=True, fit_replications=config.replications, fit_seed=config.seed)
    write_fit_check(batch_dir, group.fit)
    batch_file = own / BATCH_FILE
    batch = yaml_io.read_mapping(template)
    batch.update(name=name, baseline=str(group.scenario_path))
    atomic_write_text(batch_file, f"# Written by `simlib report --data` from {Path(template).name}: every "
                      f"strategy applied to the calibrated group {name}.\n"
                      + yaml.safe_dump(batch, sort_keys=False, allow_unicode=True, width=1000))
    summary = run_batch(batch_file, force=force, workers=workers, reports_dir=reports_dir,
                        notebooks_dir=notebooks_dir, scenarios_dir=scenarios_dir, progress=progress,
                        scheduler=scheduler)
    return GroupReport(group, batch_file, summary)
