"""The strategy lab (策略实验室): move a lever, see what it does against the baseline, paired.

``notebooks/00_strategy_lab.ipynb`` (and its Voilà app, ``make lab-app``) is glue around this
module:

* :func:`levers` — the levers a strategist moves (commercial posts per week, automation level,
  tiering on/off, how often each T3 activity type runs, the daily reach of each paid channel,
  admins per group), with their ranges and labels; :func:`lever_values` reads their values
  from a scenario; :func:`overrides_for` turns changed values into parameter overrides.
* :class:`StrategyLab` — runs the baseline's replications once and keeps them, keeps one
  process pool warm for the whole session, and :meth:`StrategyLab.evaluate` runs the changed
  scenario with the same seeds (common random numbers) and returns an :class:`Evaluation`:
  the tidy :func:`simlib.compare.table` of the lab's KPIs (baseline and changed, each with its
  95% interval, and the paired difference), the eligibility checks of the comparative report
  (:func:`simlib.report.ranking.rank_scenarios`: health thresholds and the retention floor)
  and the sentences that state the effects, chosen by their numbers (:mod:`simlib.findings`).

The lab always runs on a local process pool, also when ``SIMLIB_DASK_SCHEDULER`` is set: a
lever change must come back within a couple of seconds.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import pandas as pd

from simlib import compare, metrics
from simlib.analysis import monetization
from simlib.findings import Check, Finding, effect
from simlib.formatting import money, num, pp, share, signed, verdict
from simlib.labels import has_label, zh_en_catalog
from simlib.labels import label as catalog_label
from simlib.model import RunResult, run_replication
from simlib.params import Params, load_scenario
from simlib.results import metric
from simlib.runner import summarize, window

BASELINE, CHANGED = "baseline", "changed"

#: Cost categories shown on their own: each is what one lever spends (simlib.schema.COST_CATEGORIES).
COST_PARTS = ("activity", "acquisition", "admin_labour", "automation_tools", "tier_intervention")
#: The lab's KPIs, in the order shown: the ranking value and its parts, retention, the four
#: health-thresholded KPIs, revenue, cost (and what each lever spends), members and exits.
LAB_KPIS = (
    "ranking_value", "net_value", "residual_value", "retention_d30", "retention_d90",
    "messages_per_100_members_per_day", "revisit_7d", "activity_conversion", "share_rate",
    "revenue_per_member", "cost", *(f"cost_{part}" for part in COST_PARTS), "realised_share",
    "final_members", "exits",
)
_UNITS = {"realised_share": "share", "final_members": "members",
          **{f"cost_{part}": "CNY" for part in COST_PARTS}}
#: A newly switched-on activity type starts on this day (spread so that types do not all start
#: together; the lab's own choice, only used when the baseline does not run the type).
_FIRST_DAY = {"checkin": 5, "referral_lottery": 15, "live_flash_sale": 22, "ugc": 35}
#: Changed scenarios kept, so that moving a lever back and forth does not rerun them.
_CACHE_SIZE = 32

#: The lab's own words (zh, en): lever names, headers, sentence templates. KPI names come from
#: the label catalog (simlib.labels).
TEXTS_FILE = "data/lab_texts.yaml"  # in the simlib package


@functools.cache
def texts() -> dict[str, dict[str, str]]:
    """The lab's words, ``{key: {"zh": …, "en": …}}``, from :data:`TEXTS_FILE`."""
    return zh_en_catalog(TEXTS_FILE)


class LabError(ValueError):
    """A lever has an unknown name or a bad value."""


def label(key: str, lang: str = "zh", **values: Any) -> str:
    """The lab's label of ``key`` (a lever, a KPI or a column) in ``lang``."""
    if key in texts():
        return texts()[key][lang].format(**values)
    return catalog_label(key, lang) if has_label(key) else key


# --------------------------------------------------------------------------- levers


@dataclass(frozen=True)
class Lever:
    """One lever: its name, kind (``float``, ``int`` or ``bool``), range and step, and the
    parameter it sets."""

    name: str
    kind: type
    parameter: str
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 1.0

    def label(self, lang: str = "zh") -> str:
        """The lever's name in ``lang``, e.g. 自动化程度, 打卡挑战：每隔几天一次（0=不办）."""
        family, _, member = self.name.partition(".")
        if family == "every_days":
            return label(family, lang, activity=catalog_label(member, lang))
        if family == "daily_reach":
            return label(family, lang, channel=catalog_label(member, lang))
        return label(self.name, lang)

    def check(self, value: Any) -> Any:
        """``value`` as this lever's kind; :class:`LabError` naming the lever when it does not fit."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise LabError(f"lever {self.name} = {value!r}: expected True or False")
            return value
        expected = "an integer" if self.kind is int else "a number"
        fits = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if fits and self.kind is int:
            fits = float(value).is_integer()
            value = int(value) if fits else value
        if not fits or not self.minimum <= value <= self.maximum:
            raise LabError(f"lever {self.name} = {value!r}: expected {expected} from {self.minimum:g} "
                           f"to {self.maximum:g}")
        return float(value) if self.kind is float else value


def paid_channels(params: Params) -> list[str]:
    """The arrival channels whose clicks cost money (the channel mix the lab lets one buy)."""
    return [name for name, channel in params.arrivals.channels.items() if channel.cost_per_click > 0]


def activity_types(params: Params) -> list[str]:
    return list(type(params.activities.types).model_fields)


def levers(params: Params) -> list[Lever]:
    """The levers of a scenario, in the order the lab shows them (paid channels from ``params``)."""
    commercial = "monetization.commercial_posts_per_week (Σ)"
    found = [Lever("commercial_posts_per_week", float, commercial, 0, 10, 0.1),
             Lever("automation_level", float, "automation.level", 0, 1, 0.05),
             Lever("tiering", bool, "tiering.enabled"),
             Lever("admins", int, "monitoring.admins", 0, 10, 1)]
    found += [Lever(f"every_days.{kind}", int, f"activities.schedule[{kind}].every_days", 0, 180, 1)
              for kind in activity_types(params)]
    for channel in paid_channels(params):
        reach = params.arrivals.channels[channel].daily_reach
        found.append(Lever(f"daily_reach.{channel}", float, f"arrivals.channels.{channel}.daily_reach", 0,
                           max(10_000.0, 2 * reach), 50))
    return found


def lever_values(params: Params) -> dict[str, Any]:
    """The value of every lever in ``params`` (an activity type the schedule lacks is 0: off)."""
    values: dict[str, Any] = {
        "commercial_posts_per_week": float(sum(params.monetization.commercial_posts_per_week.values())),
        "automation_level": params.automation.level,
        "tiering": params.tiering.enabled,
        "admins": params.monitoring.admins,
    }
    for kind in activity_types(params):
        entries = [entry for entry in params.activities.schedule if entry.type == kind]
        values[f"every_days.{kind}"] = entries[0].every_days if entries else 0
    for channel in paid_channels(params):
        values[f"daily_reach.{channel}"] = params.arrivals.channels[channel].daily_reach
    return values


def check_levers(params: Params, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Every lever's value: the baseline's, with ``changes`` validated and applied."""
    specs = {lever.name: lever for lever in levers(params)}
    values = lever_values(params)
    for name, value in changes.items():
        if name not in specs:
            raise LabError(f"lever {name!r}: unknown; expected one of {list(specs)}")
        values[name] = specs[name].check(value)
    return values


def planned_commercial_share(params: Params, posts_per_week: float) -> float:
    """Commercial posts ÷ all operator posts a week, with the scenario's weekly content calendar
    (the share the members judge, before weeks with activity notices); NaN with no posts at all."""
    calendar = monetization.calendar_posts_per_week(params)
    if calendar + posts_per_week == 0:
        return math.nan
    return monetization.share_from_posts_per_week(posts_per_week, calendar)


def overrides_for(params: Params, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter overrides (dotted keys) that turn ``params`` into the scenario of ``changes``;
    only levers that differ from ``params`` appear, so the baseline's own values give ``{}``."""
    values = check_levers(params, changes)
    specs = {lever.name: lever for lever in levers(params)}
    base = lever_values(params)
    changed = {name for name in values if values[name] != base[name]}
    overrides: dict[str, Any] = {}
    if "commercial_posts_per_week" in changed:
        overrides["monetization.commercial_posts_per_week"] = _commercial_mix(
            params, values["commercial_posts_per_week"])
    reach = [name for name in specs if name.startswith("daily_reach.")]
    for name in ["automation_level", "tiering", "admins", *reach]:  # each sets one parameter as it is
        if name in changed:
            overrides[specs[name].parameter] = values[name]
    moved = {name.split(".", 1)[1]: values[name] for name in changed if name.startswith("every_days.")}
    if moved:
        overrides["activities.schedule"] = _schedule(params, moved)
    return overrides


def _commercial_mix(params: Params, total: float) -> dict[str, float]:
    """``total`` posts a week split over the modes as the scenario splits them (all e-commerce
    when the scenario has none)."""
    return {mode: total * weight for mode, weight in monetization.scenario_mix(params).items()}


def _schedule(params: Params, moved: Mapping[str, int]) -> list[dict[str, Any]]:
    """The scenario's activity schedule with the moved types rescheduled (0 = removed): a moved
    type keeps its first day, a newly switched-on type starts on its :data:`_FIRST_DAY`."""
    schedule: list[dict[str, Any]] = []
    for entry in params.activities.schedule:
        if entry.type not in moved:
            schedule.append(entry.model_dump())
        elif moved[entry.type] and all(item["type"] != entry.type for item in schedule):
            schedule.append({"type": entry.type, "every_days": moved[entry.type],
                             "first_day": entry.first_day})
    present = {item["type"] for item in schedule}
    for kind, every in moved.items():
        if every and kind not in present:
            schedule.append({"type": kind, "every_days": every, "first_day": _FIRST_DAY.get(kind, 0)})
    return schedule


# --------------------------------------------------------------------------- replications


def lab_extra(run: RunResult) -> dict[str, float]:
    """What the lab adds to each replication's KPIs (runs in the worker): the realised commercial
    share of posts and the cost of each lever's category."""
    start, end = window(run.params)
    costs = run.tables["costs"]
    inside = costs[(costs["ts"] >= start) & (costs["ts"] < end)]
    spent = inside.groupby("category", observed=True)["amount"].sum()
    values = {f"cost_{part}": float(spent.get(part, 0.0)) for part in COST_PARTS}
    values["realised_share"] = metrics.commercial_share(run.tables["posts"])
    return values


def replicate(params: Params, seed: int, replication: int) -> dict[str, float]:
    """One replication's KPIs, as :func:`simlib.runner.simulate` computes them, plus :func:`lab_extra`."""
    return summarize(run_replication(params, seed, replication), lab_extra)["kpis"]


# --------------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    """The changed scenario against the baseline.

    ``table`` is tidy (:data:`simlib.compare.TABLE_COLUMNS`, one row per arm × KPI of
    :data:`LAB_KPIS`; the baseline's rows have a difference of 0); ``checks`` holds the report's
    eligibility checks of each arm; ``findings`` the sentences, chosen by the numbers.
    """

    levers: dict[str, Any]
    overrides: dict[str, Any]
    table: pd.DataFrame
    checks: dict[str, list[Any]]
    findings: list[Finding]
    seconds: float
    simulated: bool = True
    lang: str = "zh"
    replications: dict[str, list[dict[str, float]]] = field(default_factory=dict, repr=False)

    @property
    def eligible(self) -> dict[str, bool]:
        return {arm: all(check.passed for check in checks) for arm, checks in self.checks.items()}

    def entry(self, kpi: str, prefix: str = "diff", arm: str = CHANGED) -> dict[str, float]:
        """``{"mean", "low", "high"}`` of an arm's ``kpi``: its difference from the baseline ("diff")
        or its level ("")."""
        row = self.table[(self.table["arm"] == arm) & (self.table["metric"] == kpi)].iloc[0]
        return compare.entry(row, prefix)

    def kpi_frame(self) -> pd.DataFrame:
        """The KPIs for reading: baseline and changed with their 95% intervals, the paired
        difference and whether its interval excludes 0, labels in the evaluation's language."""
        lang, rows = self.lang, []
        wide = self.table.set_index(["arm", "metric"])
        for kpi in LAB_KPIS:
            base, arm = wide.loc[(BASELINE, kpi)], wide.loc[(CHANGED, kpi)]
            difference = compare.entry(arm, "diff")
            rows.append({label("kpi", lang): label(kpi, lang),
                         label(BASELINE, lang): _level_text(compare.entry(base, ""), kpi),
                         label(CHANGED, lang): _level_text(compare.entry(arm, ""), kpi),
                         label("difference", lang): _difference_text(difference, kpi, lang),
                         label("reading", lang): verdict(difference, lang).strip(" ()（）")})
        return pd.DataFrame(rows)

    def eligibility_frame(self) -> pd.DataFrame:
        """One row per eligibility condition: the bound and each arm's mean [95%] with pass/fail."""
        lang, rows = self.lang, []
        for index, check in enumerate(self.checks[BASELINE]):
            row = {label("condition", lang): f"{label(check.kpi, lang)} · {label(check.kind, lang)}",
                   label("bound", lang): _level_text(check.bound, check.kpi)}
            for arm in (BASELINE, CHANGED):
                arm_check = self.checks[arm][index]
                state = "missing" if arm_check.missing else ("pass" if arm_check.passed else "fail")
                measured = {"mean": arm_check.mean, "low": arm_check.low, "high": arm_check.high}
                row[label(arm, lang)] = f"{_level_text(measured, check.kpi)} · {label(state, lang)}"
            rows.append(row)
        return pd.DataFrame(rows)


def _unit(kpi: str) -> str:
    return _UNITS.get(kpi) or metrics.KPI_UNITS.get(kpi, "")


def _level_text(value: Any, kpi: str) -> str:
    unit = _unit(kpi)
    if unit == "share":
        return share(value)  # clipped to [0, 100%]: a t interval of a share can overshoot
    return money(value) if unit == "CNY" else num(value, 1)


def _difference_text(value: Any, kpi: str, lang: str) -> str:
    unit = _unit(kpi)
    if unit == "share":
        return pp(value, lang=lang)
    if unit == "CNY":
        return signed(value, 0) + (" 元" if lang == "zh" else " CNY")
    return signed(value, 1)


class StrategyLab:
    """A scenario's baseline, run once, and a warm process pool for evaluating lever changes.

    ``params`` is a :class:`Params` or a scenario name/path. Replication ``r`` of every
    evaluation uses the seed sequence (seed, r), as :func:`simlib.runner.simulate` does, so the
    changed scenario is paired with the baseline replication by replication.
    """

    def __init__(self, params: Params | str | Path | None = "baseline", *, replications: int = 10,
                 seed: int | None = None, workers: int | None = None, lang: str = "zh"):
        if not isinstance(params, Params):
            params = load_scenario(params)
        if isinstance(replications, bool) or not isinstance(replications, int) or replications < 2:
            raise LabError(f"replications = {replications!r}: expected an integer ≥ 2 "
                           "(an interval needs two)")
        if lang not in ("zh", "en"):
            raise LabError(f"lang = {lang!r}: expected 'zh' or 'en'")
        self.params = params
        self.replications = replications
        self.seed = params.simulation.seed if seed is None else seed
        self.lang = lang
        self.levers = levers(params)
        self.baseline_levers = lever_values(params)
        self.thresholds = params.monitoring.health_thresholds.model_dump()
        count = workers or os.cpu_count() or 1
        self.workers = max(1, min(count, replications))
        self._pool: ProcessPoolExecutor | None = None
        self._cache: OrderedDict[tuple, list[dict[str, float]]] = OrderedDict()
        started = time.perf_counter()
        self.baseline = self._run(params)
        self.baseline_seconds = time.perf_counter() - started

    def _run(self, params: Params) -> list[dict[str, float]]:
        """Per-replication KPIs of ``params``, replications in order."""
        indices = range(self.replications)
        if self.workers == 1:
            return [replicate(params, self.seed, r) for r in indices]
        if self._pool is None:
            from simlib.batch.lifeline import die_with_parent

            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=die_with_parent)
        return list(self._pool.map(replicate, repeat(params), repeat(self.seed), indices))

    def lever_frame(self) -> pd.DataFrame:
        """The levers with the baseline's value, their range and the parameter each sets."""
        lang, rows = self.lang, []
        for lever in self.levers:
            value = self.baseline_levers[lever.name]
            if lever.kind is bool:
                shown = label("on" if value else "off", lang)
                span = f"{label('on', lang)} / {label('off', lang)}"
            else:
                shown, span = f"{value:g}", f"{lever.minimum:g} – {lever.maximum:g}"
            rows.append({label("lever", lang): lever.label(lang), label("baseline_value", lang): shown,
                         label("range", lang): span, label("parameter", lang): lever.parameter})
        return pd.DataFrame(rows)

    def evaluate(self, changes: Mapping[str, Any] | None = None) -> Evaluation:
        """The scenario with ``changes`` (lever name → value; levers not named keep the baseline's
        value) against the cached baseline, paired by replication."""
        started = time.perf_counter()
        values = check_levers(self.params, changes or {})
        overrides = overrides_for(self.params, values)
        key = tuple(sorted((name, repr(value)) for name, value in values.items()))
        simulated = False
        if not overrides:
            changed = self.baseline
        elif key in self._cache:
            changed = self._cache[key]
            self._cache.move_to_end(key)
        else:
            changed = self._run(self.params.with_overrides(overrides, source="strategy lab"))
            self._cache[key] = changed
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            simulated = True
        arms = {BASELINE: self.baseline, CHANGED: changed}
        columns = {arm: {kpi: [rep[kpi] for rep in reps] for kpi in LAB_KPIS} for arm, reps in arms.items()}
        table = compare.table(columns, BASELINE, LAB_KPIS, include_base=True)
        evaluation = Evaluation(values, overrides, table, self._eligibility(columns), [], math.nan, simulated,
                                self.lang, arms)
        evaluation.findings = self._findings(evaluation)
        evaluation.seconds = time.perf_counter() - started
        return evaluation

    def _eligibility(self, columns: Mapping[str, Mapping[str, list[float]]]) -> dict[str, list[Any]]:
        """Each arm's checks by the comparative report's own rule (its thresholds, and the
        retention floor set from the baseline)."""
        from simlib.report.ranking import default_retention_floor, eligibility_checks

        kpis = {arm: {kpi: metric(values, _unit(kpi)) for kpi, values in arm_kpis.items()}
                for arm, arm_kpis in columns.items()}
        floor = default_retention_floor(kpis[BASELINE])
        return {arm: eligibility_checks(arm_kpis, self.thresholds, floor) for arm, arm_kpis in kpis.items()}

    def _findings(self, evaluation: Evaluation) -> list[Finding]:
        """The ranking value's paired difference and the changed scenario's eligibility, in words."""
        if not evaluation.overrides:
            return [Finding(label("unchanged", self.lang), key="lab_unchanged")]
        value = effect("ranking_value: changed − baseline", evaluation.entry("ranking_value"),
                       subject=label("ranking_subject", self.lang), lang=self.lang, key="lab_ranking_value",
                       fmt=lambda entry: _difference_text(entry, "ranking_value", self.lang), headline=True)
        return [value, self._eligibility_finding(evaluation.checks[CHANGED])]

    def _eligibility_finding(self, checks: list[Any]) -> Finding:
        from simlib.report.eligibility import misses_text

        stated = tuple(Check(check.kpi, ">=" if check.passed else "<", check.mean, check.low, check.high,
                             check.bound) for check in checks if not check.missing)
        failed = [check for check in checks if not check.passed]
        if not failed:
            return Finding(label("eligible", self.lang, total=len(checks)), stated, key="lab_eligibility")
        sentence = label("ineligible", self.lang, failed=len(failed), total=len(checks),
                         misses=misses_text(checks, self.lang))
        return Finding(sentence, stated, key="lab_eligibility")

    def close(self) -> None:
        """Stop the worker processes (they also end with this process)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> StrategyLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
