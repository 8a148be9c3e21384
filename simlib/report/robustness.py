"""How robust the report's answer is: every scenario of the batch ranked again with the least
certain assumptions moved, each to a low and a high value.

The assumptions are the data of :data:`ASSUMPTIONS`, one line each. A variant sets, scales or
(for a Beta distribution) moves the mean of one parameter in every scenario; an assumption that
names no parameter of the defaults (one a later engine version adds, say) is skipped with a
note. Every variant re-simulates every scenario with the batch's seed and fewer replications
(:func:`simlib.runner.sweep`: common random numbers across scenarios and variants, on the Dask
cluster of ``SIMLIB_DASK_SCHEDULER`` when set) and ranks them by the report's own rule
(:func:`simlib.report.ranking.rank_scenarios`: same thresholds, retention floor and ranking value).

The answer is the batch's recommendation or, when none is eligible, the scenario closest to
eligible. It is **robust** when it stays first in the re-simulation as run and under every
variant, else **fragile**, with the variants that flip it and what comes first instead.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from simlib.params import Params
from simlib.report.collect import BatchResults
from simlib.report.drivers import resolve_param
from simlib.report.ranking import (
    RANKING_PARTS,
    RANKING_VALUE,
    Ranking,
    closeness,
    rank_scenarios,
)
from simlib.report.rebuild import BatchParameters

#: Replications per scenario and variant when the report notebook does not say.
DEFAULT_REPLICATIONS = 5


@dataclass(frozen=True)
class Assumption:
    """One uncertain assumption and its two alternative values.

    ``param`` is a key path of the defaults (``*`` stands for every key at that level). ``how``:
    ``set`` the value, ``scale`` it by a factor, or move a Beta distribution's ``beta_mean``
    (a + b kept). ``low`` and ``high`` are the two values (for a choice, two alternatives).
    """

    param: str
    how: Literal["set", "scale", "beta_mean"]
    low: float | str
    high: float | str


#: The least certain assumptions of the model, in the order the report shows them.
ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption("members.ad_exit_slope", "set", 4.0, 16.0),
    Assumption("members.ad_tolerance", "beta_mean", 0.12, 0.30),
    Assumption("arrivals.channels.*.daily_reach", "scale", 0.5, 2.0),
    Assumption("arrivals.referral_audience", "scale", 0.5, 2.0),
    Assumption("community.overflow", "set", "lost", "waitlist"),
    Assumption("metrics.residual_horizon_months", "set", 6, 24),
    Assumption("monetization.purchase_fatigue", "set", 0.0, 1.0),
)
SIDES = ("low", "high")


@dataclass(frozen=True)
class Variant:
    """One assumption at one of its values."""

    assumption: Assumption
    side: str  # "low" or "high"

    @property
    def value(self) -> float | str:
        return getattr(self.assumption, self.side)

    @property
    def key(self) -> str:
        return f"{self.assumption.param}={self.side}"


def _changed_value(assumption: Assumption, current: Any, value: float | str) -> Any:
    """The parameter's new value (a ValueError when the assumption does not fit the parameter)."""
    if assumption.how == "set":
        return value
    if assumption.how == "scale":
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            raise ValueError(f"{assumption.param} is {current!r}, not a number to scale")
        scaled = current * float(value)
        return round(scaled) if isinstance(current, int) else scaled
    if not (isinstance(current, Mapping) and set(current) == {"a", "b"}):
        raise ValueError(f"{assumption.param} is {current!r}, not a Beta distribution {{a, b}}")
    total = current["a"] + current["b"]
    return {"a": float(value) * total, "b": (1 - float(value)) * total}


def variant_params(params: Params, variant: Variant) -> Params:
    """``params`` with the variant's change. KeyError: no such parameter; ParamsError or
    ValueError: the value does not fit it."""
    current = resolve_param(params.model_dump(), variant.assumption.param)
    overrides = {path: _changed_value(variant.assumption, value, variant.value)
                 for path, value in current.items()}
    return params.with_overrides(overrides, source=f"robustness variant {variant.key}")


def current_values(params: Params, assumption: Assumption) -> dict[str, Any]:
    """The parameter's values in ``params`` ({key path: value}); KeyError when it does not exist."""
    return resolve_param(params.model_dump(), assumption.param)


@dataclass
class Outcome:
    """One ranking of the re-simulated scenarios: each scenario's place, who comes first and the
    answer's margin.

    The places are those of the rule that picks the answer: the ranking (eligible first, then by
    ranking value) when a scenario is eligible, else the order of closeness to eligible. The
    margin: for a recommendation, its ranking value minus the runner-up's (paired mean, CNY); for
    the scenario closest to eligible, its sum of relative shortfalls (its distance to eligible).
    """

    ranking: Ranking
    places: dict[str, int]
    first_eligible: bool
    margin: float = math.nan

    @property
    def first(self) -> str | None:
        """The recommendation, else the scenario closest to eligible."""
        return next(iter(self.places), None)


def outcome_of(ranking: Ranking, subject: str | None, subject_kind: str, runner_up: str | None) -> Outcome:
    """The outcome of ``ranking`` for the answer ``subject`` (see :class:`Outcome`)."""
    order = list(ranking.table["scenario"]) if ranking.any_eligible else ranking.closeness_order()
    margin = math.nan
    if subject_kind == "closest" and subject in ranking.checks:
        margin = closeness(ranking.checks[subject])[2]
    elif runner_up is not None and subject in ranking.values and runner_up in ranking.values:
        margin = ranking.values[subject]["mean"] - ranking.values[runner_up]["mean"]
    return Outcome(ranking, {name: place for place, name in enumerate(order, start=1)}, ranking.any_eligible,
                   margin)


@dataclass
class Robustness:
    """The robustness step's result (see the module docstring).

    ``subject`` is the batch's answer (``subject_kind`` "recommended" or "closest"; a
    recommendation's ``runner_up`` is the next scenario of the re-simulation as run), ``base`` the
    re-simulation as the batch ran it, ``outcomes`` one per variant (by :attr:`Variant.key`).
    ``skipped`` holds the notes of assumptions or variants left out; ``not_assessed`` why the step
    could not run at all (empty when it ran; ``problems`` then names the scenarios not rebuilt).
    """

    subject: str | None = None
    subject_kind: str = "recommended"
    replications: int = DEFAULT_REPLICATIONS
    batch_replications: int | None = None
    seed: int | None = None
    variants: list[Variant] = field(default_factory=list)
    base: Outcome | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    runner_up: str | None = None
    skipped: list[str] = field(default_factory=list)
    not_assessed: str = ""
    problems: dict[str, str] = field(default_factory=dict)  # scenario → why it could not be rebuilt
    reproduces_batch: bool | None = None  # the re-simulation's first replications equal the batch's
    seconds: float = 0.0
    simulated: int = 0  # scenario-variant combinations simulated (reused ones not counted)
    baseline_values: dict[str, dict[str, Any]] = field(default_factory=dict)  # assumption → values as run

    def flips(self, outcome: Outcome) -> bool:
        """Whether ``outcome`` changes the answer: another scenario first, or a recommendation
        that is no longer eligible."""
        if outcome.first != self.subject:
            return True
        return self.subject_kind == "recommended" and not outcome.first_eligible

    @property
    def flipping(self) -> list[Variant]:
        """The variants that change the answer, in the order of :data:`ASSUMPTIONS`."""
        return [v for v in self.variants if self.flips(self.outcomes[v.key])]

    @property
    def robust(self) -> bool | None:
        """True when the answer stays first as re-simulated and under every variant; None when the
        step did not run."""
        if self.not_assessed or self.base is None:
            return None
        return not self.flips(self.base) and not self.flipping

    def influence(self) -> list[tuple[Assumption, int, float]]:
        """(assumption, variants that flip the answer, largest move of its margin), most
        influential first: flips first, then the larger move of the margin."""
        base = self.base.margin if self.base else math.nan
        rows = []
        for assumption in dict.fromkeys(v.assumption for v in self.variants):
            outcomes = [self.outcomes[v.key] for v in self.variants if v.assumption == assumption]
            flips = sum(self.flips(outcome) for outcome in outcomes)
            moves = [abs(o.margin - base) for o in outcomes
                     if math.isfinite(o.margin) and math.isfinite(base)]
            rows.append((assumption, flips, max(moves, default=0.0)))
        return sorted(rows, key=lambda row: (-row[1], -row[2]))

    def outcome(self, ranking: Ranking) -> Outcome:
        """:func:`outcome_of` for this answer."""
        return outcome_of(ranking, self.subject, self.subject_kind, self.runner_up)


def _entries(result: Any, seed: int) -> dict[str, dict[str, Any]]:
    """A SimulationResult's KPIs as the report's KPI entries (with the seed, for pairing)."""
    return {name: {**entry, "seed": seed} for name, entry in result.kpi_entries().items()}


def _ranking(batch: BatchResults, kpis: dict[str, dict[str, dict[str, Any]]], answer: Ranking) -> Ranking:
    """The rule that ranked ``answer`` (its thresholds, baseline and retention floor: the floor it
    was given, or the same tolerance below the baseline's re-simulated retention) on re-simulated
    KPIs (scenario names and labels from ``batch``)."""
    simulated = BatchResults(batch_dir=batch.batch_dir, scenarios=batch.scenarios, kpis=kpis)
    if answer.retention_tolerance is None:  # the floor was given
        return rank_scenarios(simulated, answer.thresholds, answer.baseline, answer.retention_floor)
    return rank_scenarios(simulated, answer.thresholds, answer.baseline, None, answer.retention_tolerance)


def _plan(rebuilt: BatchParameters, assumptions: Sequence[Assumption], baseline: str, result: Robustness
          ) -> dict[str, dict[str, Params]]:
    """{variant key or "": {scenario: params}}; assumptions or variants that cannot apply are noted
    in ``result.skipped`` and left out."""
    plans: dict[str, dict[str, Params]] = {"": dict(rebuilt.params)}
    reference = rebuilt.params.get(baseline) or next(iter(rebuilt.params.values()))
    for assumption in assumptions:
        try:
            values = current_values(reference, assumption)
        except KeyError as error:
            result.skipped.append(f"{assumption.param}: not a parameter of these defaults ({error.args[0]})")
            continue
        result.baseline_values[assumption.param] = values
        for side in SIDES:
            variant = Variant(assumption, side)
            try:
                plans[variant.key] = {name: variant_params(params, variant)
                                      for name, params in rebuilt.params.items()}
            except (ValueError, KeyError) as error:  # ParamsError is a ValueError
                result.skipped.append(f"{assumption.param} = {variant.value}: {error}")
                continue
            result.variants.append(variant)
    return plans


def community_values(run: Any, horizons: tuple[int, ...]) -> dict[str, float]:
    """The ranking value and its parts of one replication for each residual horizon in months
    (``ranking_value@6`` …): an ``extra`` of :func:`simlib.runner.sweep`, so that a variant of
    ``metrics.residual_horizon_months`` needs no simulation of its own."""
    from simlib.metrics import community_value
    from simlib.runner import window

    start, end = window(run.params)
    return {f"{name}@{months}": value for months in horizons
            for name, value in community_value(run.tables, start, end, months).items()}


def _horizon_only(base: Params, params: Params) -> int | None:
    """The residual horizon of ``params`` when that is all that differs from ``base``, else None."""
    months = params.metrics.residual_horizon_months
    same_otherwise = params.model_copy(update={"metrics": base.metrics}) == base
    return months if same_otherwise and months != base.metrics.residual_horizon_months else None


def _simulate(plans: dict[str, dict[str, Params]], replications: int, seed: int, workers: int
              ) -> tuple[dict[str, dict[str, dict[str, dict[str, Any]]]], int]:
    """Every (variant, scenario) in one sweep, with two shortcuts: a variant identical to the base
    for a scenario reuses the base's replications, and one that only changes the residual horizon
    reuses them with the ranking value computed again. ({variant: {scenario: KPI entries}}, runs)."""
    from simlib.runner import sweep

    base = plans[""]
    jobs: dict[tuple[str, str], Params] = {}  # (variant key, scenario) → parameters to simulate
    # (variant key, scenario) → (the job whose replications it uses, residual horizon to recompute)
    sources: dict[tuple[str, str], tuple[tuple[str, str], int | None]] = {}
    for key, scenarios in plans.items():
        for name, params in scenarios.items():
            months = _horizon_only(base[name], params) if key else None
            if key and (params == base[name] or months is not None):
                sources[key, name] = (("", name), months)
            else:
                jobs[key, name] = params
                sources[key, name] = ((key, name), None)
    horizons = tuple(sorted({months for _, months in sources.values() if months is not None}))
    extra = functools.partial(community_values, horizons=horizons) if horizons else None
    results = sweep(jobs, base=next(iter(base.values())), replications=replications, seed=seed,
                    workers=workers, extra=extra)
    kpis: dict[str, dict[str, dict[str, dict[str, Any]]]] = {key: {} for key in plans}
    for (key, name), (job, months) in sources.items():
        kpis[key][name] = _entries(results[job], seed)
        if months is not None:
            kpis[key][name].update({part: {**results[job].metric(f"{part}@{months}", "CNY"), "seed": seed}
                                    for part in (RANKING_VALUE, *RANKING_PARTS)})
    return kpis, len(jobs)


#: KPIs on which the re-simulation is compared with the batch, the first the batch has.
_REPRODUCTION_KPIS = (RANKING_VALUE, "revenue_per_member", "retention_d30")


def _reproduces(batch: BatchResults, base: Mapping[str, Mapping[str, Any]]) -> bool | None:
    """Whether the re-simulation's replications equal the batch's first ones (None: nothing to compare)."""
    compared = False
    for scenario, kpis in base.items():
        recorded = batch.kpis.get(scenario, {})
        kpi = next((name for name in _REPRODUCTION_KPIS if recorded.get(name, {}).get("values")), None)
        if kpi is None:
            continue
        before, again = recorded[kpi]["values"], kpis[kpi]["values"]
        count = min(len(before), len(again))
        if not all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                   for a, b in zip(before[:count], again[:count], strict=True)):
            return False
        compared = True
    return True if compared else None


def assess(batch: BatchResults, answer: Ranking, rebuilt: BatchParameters, *,
           replications: int = DEFAULT_REPLICATIONS, workers: int = 1,
           assumptions: Sequence[Assumption] = ASSUMPTIONS) -> Robustness:
    """Rank the batch's scenarios again under every variant of ``assumptions`` (see the module
    docstring), by the rule that ranked ``answer`` (the report's ranking of the batch); ``rebuilt``
    is its scenarios' parameters (:func:`simlib.report.rebuild.batch_parameters`)."""
    result = Robustness(subject=answer.recommended or answer.closest, replications=replications,
                        batch_replications=rebuilt.replications, seed=rebuilt.seed)
    result.subject_kind = "recommended" if answer.recommended else "closest"
    if result.subject is None:
        result.not_assessed = "no_ranking"
    elif not rebuilt.complete or rebuilt.seed is None:
        result.not_assessed = "not_rebuilt"
        result.problems = dict(rebuilt.problems)
    elif replications < 2:
        result.not_assessed = "off"
    if result.not_assessed:
        return result
    started = time.perf_counter()
    plans = _plan(rebuilt, assumptions, answer.baseline, result)
    kpis, result.simulated = _simulate(plans, replications, rebuilt.seed, workers)
    base_ranking = _ranking(batch, kpis[""], answer)
    if result.subject_kind == "recommended":
        others = [name for name in base_ranking.table["scenario"] if name != result.subject]
        result.runner_up = others[0] if others else None
    result.base = result.outcome(base_ranking)
    for variant in result.variants:
        ranking = _ranking(batch, kpis[variant.key], answer)
        result.outcomes[variant.key] = result.outcome(ranking)
    result.reproduces_batch = _reproduces(batch, kpis[""])
    result.seconds = time.perf_counter() - started
    return result
