"""The calibrated group replayed over the observed window, seen as its export shows it, and the
refinement of the estimates by simulation (indirect inference).

Why a refinement: the estimators of :mod:`simlib.calibrate` read a chat export, where every
member message counts — replies to posts and check-ins included — and where silence stands for
inactivity. The engine, though, adds post replies on top of ``chat_rate_mean`` and keys exits to
interaction of any kind (reads included). Put into the engine as they are, the estimates give a
group that chats far more than the export shows (measured: twice as much with the defaults'
content calendar). :func:`refine` therefore treats each estimator as a measuring instrument and
applies it to the simulated group exactly as to the real one: it replays the window
(:func:`replay_params`), reduces each replication to what a chat export of it would show
(:func:`export_view`), runs :func:`simlib.calibrate.estimate` on that, and moves the
parameters until the estimators' means over the replications equal their values on the data.
Each parameter is paired with the estimator that measures it (:data:`TARGETS`), and one more
estimator (:data:`EXTRA_MEASURES`) pins the usual hour down; the search (:func:`refine`) is
Gauss–Newton on a log scale (on the clock for the usual hour) with common random numbers across
its steps.

A refined parameter's 95% interval is the data estimates' intervals carried through the
Jacobian of the estimators with respect to the parameters (delta method): where an estimator
moves little with its parameter (the silent-exit multiplier: silence in a chat is not the
engine's inactivity, which counts reads), the interval widens accordingly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from simlib import metrics
from simlib.calibrate.calibration import Calibration, estimate
from simlib.calibrate.estimates import CalibrationError
from simlib.calibrate.scenario import GROUP_LIMIT, exit_split_estimable, nested_set
from simlib.calibrate.window import HIDDEN_PREFIX
from simlib.params import SCENARIO_HEADER_KEYS, load_scenario
from simlib.schema import EVENT_COLUMNS, MEMBER_COLUMNS

#: The events a chat export shows (an orders file adds ``purchase``).
CHAT_EXPORT_EVENTS = ("message", "join", "leave", "removed")
REFINE_REPLICATIONS = 8
REFINE_SEED = 1  # the refinement's replications; the fit check uses the batch's seed, not these
MAX_ITERATIONS = 8
#: Stop when every estimator on the simulated export is within this share of its data interval's
#: half-width of the data value.
TOLERANCE = 0.5


@dataclass(frozen=True)
class Target:
    """A parameter (dotted key) and the estimator that measures it."""

    parameter: str
    estimate: str
    scale: Literal["log", "clock"]  # log for positive rates and spreads, clock for the usual hour


TARGETS = (
    Target("members.chat_rate_mean", "chat_rate_mean", "log"),
    Target("members.engagement_sigma", "engagement_sigma", "log"),
    Target("members.active_hour_mean", "active_hour_mean", "clock"),
    Target("members.active_hour_sd", "active_hour_sd", "log"),
    Target("members.base_exit_hazard", "exit_hazard_non_silent", "log"),
    Target("members.inactive_exit_multiplier", "inactive_exit_multiplier", "log"),
    Target("arrivals.channels.organic.daily_reach", "join_rate", "log"),
)
#: When too few exits separate silent from other members, the overall hazard measures the base hazard.
OVERALL_EXIT_TARGET = Target("members.base_exit_hazard", "exit_hazard", "log")
#: Estimators matched too, without a parameter of their own: the scatter of a member's message times
#: around their own mean tells how far the usual hour lies from the posting times (the circular mean
#: of all messages, dominated by replies to posts, barely moves with the usual hour near its peak).
EXTRA_MEASURES = (("message_hour_noise_sd", "log"),)


# --------------------------------------------------------------------------- the export's view


def export_view(members: pd.DataFrame, events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                members_at_end: int | None = None,
                kinds: Sequence[str] = CHAT_EXPORT_EVENTS) -> dict[str, pd.DataFrame]:
    """What a chat export of a group shows over [start, end), as schema tables.

    The same reduction serves a loaded export and a simulated group, so that every measure is
    taken on equal terms: events of the ``kinds`` an export carries inside the window (``ref_id``
    kept for joins only: the inviter); the members seen in them; those without a join line in the
    window counted as present from before it (a loader dates them by their first line); and,
    given the group size at the end (``members_at_end``, as the group's info page shows it), the
    members never seen added back as present throughout, as :func:`simlib.calibrate.estimate`
    does. A size below the members seen at the end is an error.
    """
    inside = (events["ts"] >= start) & (events["ts"] < end) & events["member_id"].notna()
    view = events.loc[inside & events["event"].isin(list(kinds)), EVENT_COLUMNS].copy()
    is_join = (view["event"] == "join").to_numpy()
    view["ref_id"] = view["ref_id"].astype(object).where(is_join, None)
    view["member_id"] = view["member_id"].astype(str)
    seen = set(view["member_id"])
    roster = members[MEMBER_COLUMNS].copy()
    roster["member_id"] = roster["member_id"].astype(str)
    roster = roster[roster["member_id"].isin(seen)].reset_index(drop=True)
    before = pd.Timestamp(start) - pd.Timedelta(seconds=1)
    from_before = ~roster["member_id"].isin(set(view.loc[is_join, "member_id"]))
    roster.loc[from_before, "join_ts"] = roster.loc[from_before, "join_ts"].where(
        roster.loc[from_before, "join_ts"] < start, before)
    if members_at_end is not None:
        seen_at_end = metrics.members_at_end(roster, end)
        if members_at_end < seen_at_end:
            raise CalibrationError(
                f"group size at the end = {members_at_end}, but {seen_at_end} members are seen in the group "
                f"at {(pd.Timestamp(end) - pd.Timedelta(days=1)).date()}; expected at least that many")
        count = members_at_end - seen_at_end
        hidden = pd.DataFrame({
            "member_id": [f"{HIDDEN_PREFIX}{i:05d}" for i in range(count)],
            "group_id": roster["group_id"].iloc[0] if len(roster) else None,
            "join_ts": before, "channel": "unknown",
            "left_ts": pd.Series(pd.NaT, index=range(count), dtype=roster["left_ts"].dtype),
        })
        roster = pd.concat([roster, hidden], ignore_index=True) if count else roster
    return {"members": roster, "events": view.reset_index(drop=True)}


def window_bounds(calibration: Calibration) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The calibration window as [first day, day after the last) in Asia/Shanghai."""
    return calibration.start, calibration.end + pd.Timedelta(days=1)


# --------------------------------------------------------------------------- the replay


def replay_params(scenario_data: Mapping[str, Any], calibration: Calibration,
                  values: Mapping[str, Any] | None = None, defaults: Any = None) -> Any:
    """The calibrated scenario (``scenario_data``, as :func:`simlib.calibrate.to_scenario` gives it,
    with ``values`` by dotted key on top) set to replay the observed window: as many days, from its
    first day, starting with the group's size then; one group whose newcomers are turned away when
    it is full (``community.overflow: lost``), as one group's export shows it. ``defaults``: the
    default parameters when the caller has them already (read from ``params/defaults.yaml`` if not)."""

    data = copy.deepcopy({k: v for k, v in scenario_data.items() if k not in SCENARIO_HEADER_KEYS})
    for key, value in (values or {}).items():
        nested_set(data, key, value)
    at_start = min(calibration.members_at_start, GROUP_LIMIT)
    for key, value in {
        "simulation.days": calibration.days,
        "simulation.start_date": str(calibration.start.date()),
        "simulation.initial_members": at_start,
        "simulation.group_cap": max(int(_get(data, "simulation.group_cap")), at_start),
        "community.overflow": "lost",
    }.items():
        nested_set(data, key, value)
    base = defaults if defaults is not None else load_scenario(None)
    return base.with_overrides(data, source="the calibrated scenario, replayed")


@dataclass
class ReplayedGroup:
    """One replication of the replayed window as its export shows it."""

    replication: int
    tables: dict[str, pd.DataFrame]  # export_view of the simulated group
    start: pd.Timestamp
    end: pd.Timestamp


def replay(params: Any, replications: int, seed: int, *, with_group_size: bool,
           kinds: Sequence[str] = CHAT_EXPORT_EVENTS) -> Iterator[ReplayedGroup]:
    """Replications 0 … ``replications`` − 1 of ``params`` (see :func:`replay_params`), each reduced
    by :func:`export_view`; ``with_group_size``: pass the simulated group's true size at the end,
    as the operator passed theirs (else its never-seen members stay invisible, as in the data)."""
    from simlib.model import run_replication
    from simlib.runner import window

    start, end = window(params)
    for replication in range(replications):
        run = run_replication(params, seed, replication)
        members, events = run.tables["members"], run.tables["events"]
        size = metrics.members_at_end(members, end) if with_group_size else None
        yield ReplayedGroup(replication, export_view(members, events, start, end, members_at_end=size,
                                                     kinds=kinds), start, end)


# --------------------------------------------------------------------------- indirect inference


def _unit(target: Target) -> float:
    """One step of the search on the target's scale: 25% for a positive parameter, 1.5 h on the clock."""
    return 1.5 if target.scale == "clock" else math.log(1.25)


def _to_x(value: float, target: Target) -> float:
    return (value if target.scale == "clock" else math.log(value)) / _unit(target)


def _from_x(x: float, target: Target) -> float:
    return (x * _unit(target)) % 24.0 if target.scale == "clock" else math.exp(x * _unit(target))


def _scale_gap(simulated: float, observed: float, scale: str) -> float:
    """simulated − observed on the target's scale (on the clock: the shorter way round)."""
    if scale == "clock":
        return (simulated - observed + 12.0) % 24.0 - 12.0
    return math.log(simulated) - math.log(observed)


def _half_width(value: float, low: float, high: float, scale: str) -> float:
    """Half the width of a data estimate's 95% interval on the target's scale."""
    if scale == "clock":
        half = (high - low) / 2
    elif low > 0:
        half = (math.log(high) - math.log(low)) / 2
    else:
        half = math.log(high / value)
    return half if half > 0 else 1e-9


@dataclass
class Refined:
    """A refined parameter: its value and 95% interval, and how its estimator compares."""

    target: Target
    value: float
    low: float
    high: float
    start: float  # the data estimate the search started from
    observed: float  # the estimator on the data …
    observed_low: float
    observed_high: float
    simulated: float  # … and its mean on the simulated exports at ``value``

    @property
    def closeness(self) -> float:
        """|simulated − observed| ÷ the data interval's half-width (on the target's scale)."""
        scale = self.target.scale
        half = _half_width(self.observed, self.observed_low, self.observed_high, scale)
        return abs(_scale_gap(self.simulated, self.observed, scale)) / half

    def comment(self, replications: int) -> str:
        """The YAML comment: the value's interval, the estimator on the data and on the simulation."""
        def fmt(x: float) -> str:
            return f"{x:.4g}"

        return (f"refined by simulation {fmt(self.value)} [95%: {fmt(self.low)}–{fmt(self.high)}] from the "
                f"estimate {fmt(self.start)}; {self.target.estimate} on the export {fmt(self.observed)} "
                f"[95%: {fmt(self.observed_low)}–{fmt(self.observed_high)}], on the simulated exports "
                f"{fmt(self.simulated)} (mean of {replications})")


@dataclass
class Refinement:
    """What :func:`refine` found: the refined parameters and how the search went."""

    parameters: list[Refined]
    evaluations: int  # simulated batches of ``replications`` run
    converged: bool
    replications: int
    seed: int
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, float]:
        return {item.target.parameter: item.value for item in self.parameters}

    def comments(self) -> dict[str, str]:
        return {item.target.parameter: item.comment(self.replications) for item in self.parameters}

    def summary(self) -> str:
        worst = max((item.closeness for item in self.parameters), default=0.0)
        state = "converged" if self.converged else "stopped before converging"
        return (f"Refined by simulation ({state}; {self.evaluations} batches of {self.replications} "
                f"replications): each estimator on the simulated exports lies within {worst:.2f} half-widths "
                "of its data interval from its value on the export.")


def targets(calibration: Calibration) -> list[Target]:
    """The pairings that apply to this calibration: the silent/other exit split only when it could
    be estimated; a target whose data estimate is zero or not finite is left out (its parameter
    keeps the plain estimate)."""
    chosen = []
    for target in TARGETS:
        if target.parameter == "members.inactive_exit_multiplier" and not exit_split_estimable(calibration):
            continue
        if target.estimate == "exit_hazard_non_silent" and not exit_split_estimable(calibration):
            target = OVERALL_EXIT_TARGET
        if _usable(calibration.estimates.get(target.estimate)):
            chosen.append(target)
    return chosen


def _mean(values: list[float], name: str) -> float:
    if not values:
        raise CalibrationError(f"the simulated exports give no value of {name}; the calibrated group cannot "
                               "be refined (too few members or messages in the window?)")
    if name == "active_hour_mean":  # a mean on the clock
        angle = np.asarray(values) / 24 * 2 * np.pi
        return float(np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi) * 24 % 24)
    return float(np.mean(values))


class _Search:
    """The estimators' gaps (simulated − data, in half-widths of the data interval) as a function of
    the parameters in search units; every evaluation simulates the same replications (common
    random numbers)."""

    def __init__(self, calibration: Calibration, scenario_data: Mapping[str, Any], chosen: Sequence[Target],
                 replications: int, seed: int, with_group_size: bool):
        self.calibration, self.scenario_data, self.chosen = calibration, scenario_data, list(chosen)
        self.replications, self.seed, self.with_group_size = replications, seed, with_group_size
        # What is matched: each target's estimator, and the extra measures the data can give.
        self.measures = [(t.estimate, t.scale) for t in chosen] + [
            (name, scale) for name, scale in EXTRA_MEASURES
            if _usable(calibration.estimates.get(name)) and any(t.scale == "clock" for t in chosen)]
        self.observed = {name: calibration.estimates[name] for name, _ in self.measures}
        self.evaluations = 0
        # Read once: every evaluation replays on the defaults and estimates with their tier rules
        # (as calibrate.estimate does by default), and the search makes dozens of evaluations.
        self.defaults = load_scenario(None)

    def parameters(self, x: np.ndarray) -> dict[str, float]:
        return {t.parameter: _from_x(float(value), t) for t, value in zip(self.chosen, x, strict=True)}

    def simulate(self, x: np.ndarray) -> dict[str, float]:
        """Each target's estimator, averaged over the replications' simulated exports."""
        self.evaluations += 1
        params = replay_params(self.scenario_data, self.calibration, self.parameters(x), self.defaults)
        found: dict[str, list[float]] = {name: [] for name, _ in self.measures}
        for group in replay(params, self.replications, self.seed, with_group_size=self.with_group_size):
            try:
                result = estimate(group.tables, start=group.start, end=group.end - pd.Timedelta(days=1),
                                  rules=self.defaults.tiering.rules, bootstrap=100, seed=group.replication)
            except CalibrationError:  # a replication without messages or members: nothing to measure
                continue
            for name, values in found.items():
                value = result.estimates.get(name)
                if value is not None and math.isfinite(value.value) and value.value > 0:
                    values.append(value.value)
        return {name: _mean(values, name) for name, values in found.items()}

    def gaps(self, simulated: Mapping[str, float]) -> np.ndarray:
        gaps = []
        for name, scale in self.measures:
            found = self.observed[name]
            half = _half_width(found.value, found.low, found.high, scale)
            gaps.append(_scale_gap(simulated[name], found.value, scale) / half)
        return np.array(gaps)


def _usable(found: Any) -> bool:
    return found is not None and math.isfinite(found.value) and found.value > 0


def refine(calibration: Calibration, scenario_data: Mapping[str, Any], *, with_group_size: bool,
           replications: int = REFINE_REPLICATIONS, seed: int = REFINE_SEED,
           max_iterations: int = MAX_ITERATIONS, tolerance: float = TOLERANCE) -> Refinement:
    """Move the calibrated parameters until the estimators give, on the simulated group's export,
    what they give on the data (see the module docstring).

    ``scenario_data``: :func:`simlib.calibrate.to_scenario` of ``calibration`` (its values are the
    starting point). ``with_group_size``: whether the data's calibration was given the group size
    (the simulated exports are then measured with theirs). The search is Gauss–Newton on the gaps
    (least squares: there may be more estimators than parameters), with a Jacobian taken by finite
    differences at the start and updated by Broyden's rule after each step, within a trust region
    that shrinks when a step makes things worse. It stops when every gap is within ``tolerance``
    half-widths, or after ``max_iterations`` steps keeping the best point;
    :attr:`Refinement.converged` says which.
    """
    chosen = targets(calibration)
    search = _Search(calibration, scenario_data, chosen, replications, seed, with_group_size)
    x = np.array([_to_x(float(_get(scenario_data, t.parameter)), t) for t in chosen])
    start = search.parameters(x)
    simulated = search.simulate(x)
    gaps = search.gaps(simulated)
    jacobian = np.empty((len(gaps), len(chosen)))
    for column in range(len(chosen)):  # one unit up each parameter in turn
        moved = x.copy()
        moved[column] += 1.0
        jacobian[:, column] = search.gaps(search.simulate(moved)) - gaps
    best = (x, gaps, simulated)
    trust = 4.0
    for _ in range(max_iterations):
        if float(np.max(np.abs(best[1]), initial=0.0)) <= tolerance:
            break
        step = np.linalg.lstsq(jacobian, -gaps, rcond=None)[0]
        step *= min(1.0, trust / max(float(np.max(np.abs(step))), 1e-12))
        new_simulated = search.simulate(x + step)
        new_gaps = search.gaps(new_simulated)
        # Broyden: the secant condition J step = change of the gaps, with the least change of J.
        jacobian += np.outer(new_gaps - gaps - jacobian @ step, step) / float(step @ step)
        if float(new_gaps @ new_gaps) < float(gaps @ gaps):
            x, gaps, simulated = x + step, new_gaps, new_simulated
            trust = min(trust * 1.5, 8.0)
            if float(gaps @ gaps) < float(best[1] @ best[1]):
                best = (x, gaps, simulated)
        else:
            trust /= 2
    x, gaps, simulated = best
    worst = float(np.max(np.abs(gaps), initial=0.0))
    converged = worst <= tolerance
    intervals = _intervals(x, jacobian, chosen)
    refined = [
        Refined(target, _from_x(float(x[i]), target), *intervals[i], start[target.parameter],
                search.observed[target.estimate].value, search.observed[target.estimate].low,
                search.observed[target.estimate].high, simulated[target.estimate])
        for i, target in enumerate(chosen)
    ]
    notes = [] if converged else [
        f"The refinement stopped after {max_iterations} steps with an estimator {worst:.2f} half-widths of "
        f"its data interval away from its value on the export (target: {tolerance}); the closest point is "
        "kept."]
    return Refinement(refined, search.evaluations, converged, replications, seed, notes)


def _intervals(x: np.ndarray, jacobian: np.ndarray,
               chosen: Sequence[Target]) -> list[tuple[float, float]]:
    """95% intervals of the parameters: a data estimate one half-width off moves the solution by the
    inverse Jacobian (delta method, the estimators' errors taken as independent)."""
    half = np.sqrt((np.linalg.pinv(jacobian) ** 2).sum(axis=1))
    out = []
    for i, target in enumerate(chosen):
        if target.scale == "clock" and half[i] * _unit(target) >= 12:
            out.append((0.0, 24.0))  # not identified on the clock: any hour
            continue
        out.append((_from_x(float(x[i] - half[i]), target), _from_x(float(x[i] + half[i]), target)))
    return out


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node
