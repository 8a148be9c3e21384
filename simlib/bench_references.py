"""The references the engine is measured against in :mod:`simlib.bench`, and the recording
behind its floor figure.

* :func:`naive_reference` — the design the engine rejects: one SimPy process per member that
  wakes every day (the engine's daily close, one member at a time).
* :func:`numpy_limit` — the practical limit: a vectorized NumPy Markov step over the tiers.
* :func:`recorded_replication` and :func:`events_columns` — one engine replication with every
  random call recorded and SimPy's steps counted, and the columns of its events table: what
  the floor replays alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import simpy

from simlib import tiering
from simlib.model import replication_model
from simlib.params import Params
from simlib.schema import TIERS

# --------------------------------------------------------------------------- reference (a): naive


NAIVE_PURCHASE_RATE = 0.01  # purchases per member per day, for the 90-day window


def naive_reference(params: Params, members: int, days: int, seed: int) -> dict[str, Any]:
    """One SimPy process per member waking daily — the engine's daily close, per member.

    Each member draws the day's interactions (Poisson at its own rate), updates its running
    7-day and 90-day windows, is classified with :func:`simlib.tiering.classify` on 1-element
    arrays (the same rules), drifts its interest and draws its exit (raised while inactive);
    a leaver's seat is taken by a newcomer at once, as arrivals keep the engine's full group
    full (the benchmark's community turns away whom a full group cannot seat).
    """
    rules, traits, arrivals = params.tiering.rules, params.members, params.arrivals
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    present = np.zeros(days, dtype=np.int64)
    tiers = np.zeros((days, len(TIERS)), dtype=np.int64)
    drift = math.exp(-1 / traits.interest_drift_days)
    sigma = traits.engagement_sigma
    active_window, loyal_window = rules.active_window_days, rules.loyal_window_days

    def member():
        engagement = rng.lognormal(-sigma**2 / 2, sigma)
        join_day = -int(rng.integers(*arrivals.initial_tenure_days))
        interest = traits.interest_floor + (1 - traits.interest_floor) * rng.random()
        last_interaction = -int(rng.geometric(arrivals.initial_daily_interaction_prob))
        messages_total = 1 + int(rng.poisson(20))
        ring_a, ring_l = [0] * active_window, [0] * loyal_window
        window_a = window_l = 0
        yield env.timeout(1 - 1e-6)  # the close of day 0
        for day in range(days):
            count = int(rng.poisson(traits.chat_rate_mean * engagement * interest))
            bought = int(rng.poisson(NAIVE_PURCHASE_RATE))
            if count:
                messages_total += count
                last_interaction = day
                interest += traits.chat_interest_gain
            slot_a, slot_l = day % active_window, day % loyal_window
            window_a += count - ring_a[slot_a]
            window_l += bought - ring_l[slot_l]
            ring_a[slot_a], ring_l[slot_l] = count, bought
            tier = int(tiering.classify(
                np.array([day - join_day]), np.array([messages_total]), np.array([window_a]),
                np.array([window_l]), np.array([day - last_interaction]), rules,
            )[0])
            present[day] += 1
            tiers[day, tier] += 1
            inactive = day - last_interaction >= traits.inactive_after_days
            hazard = traits.base_exit_hazard * (traits.inactive_exit_multiplier if inactive else 1.0)
            if rng.random() < -math.expm1(-hazard):  # leaves; a newcomer takes the seat
                engagement = rng.lognormal(-sigma**2 / 2, sigma)
                join_day, last_interaction, messages_total, interest = day + 1, day + 1, 0, 1.0
                ring_a, ring_l = [0] * active_window, [0] * loyal_window
                window_a = window_l = 0
            interest = traits.interest_floor + (interest - traits.interest_floor) * drift
            yield env.timeout(1.0)

    for _ in range(members):
        env.process(member())
    env.run(until=days)
    return {"member_days": int(present.sum()), "tier_days": tiers.sum(axis=0).tolist()}


# --------------------------------------------------------------------------- reference (b): NumPy limit

# Daily transitions between potential, active, loyal, silent, regular and left (rows sum to 1).
# Fixed, plausible figures; a left member's seat goes to a newcomer (potential) the next day.
MARKOV_STATES = (*TIERS, "left")
MARKOV_MATRIX = np.array([
    # potential active loyal  silent regular left
    [0.850, 0.040, 0.000, 0.000, 0.108, 0.002],  # potential
    [0.000, 0.900, 0.010, 0.000, 0.089, 0.001],  # active
    [0.000, 0.020, 0.970, 0.000, 0.009, 0.001],  # loyal
    [0.000, 0.010, 0.000, 0.960, 0.027, 0.003],  # silent
    [0.000, 0.030, 0.002, 0.030, 0.937, 0.001],  # regular
    [1.000, 0.000, 0.000, 0.000, 0.000, 0.000],  # left → a newcomer
])


def numpy_limit(members: int, days: int, seed: int) -> dict[str, Any]:
    """Vectorized Markov step over all members per day: uniform draws against cumulative rows."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(MARKOV_MATRIX, axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding
    start = np.cumsum([0.05, 0.15, 0.05, 0.25, 0.50, 0.0])
    state = np.searchsorted(start, rng.random(members) * start[-1], side="right").astype(np.int64)
    left = len(MARKOV_STATES) - 1
    present = np.zeros(days, dtype=np.int64)
    counts = np.zeros((days, len(MARKOV_STATES)), dtype=np.int64)
    for day in range(days):
        draws = rng.random(members)
        state = (draws[:, None] >= cumulative[state]).sum(axis=1)
        counts[day] = np.bincount(state, minlength=len(MARKOV_STATES))
        present[day] = members - counts[day, left]
    return {"member_days": int(present.sum()), "state_days": counts.sum(axis=0).tolist()}


# --------------------------------------------------------------------------- the design's floor


class _RecordingGenerator:
    """Passes every call on to a NumPy ``Generator``, records it (method, args, kwargs) and
    counts the values drawn."""

    def __init__(self, generator: np.random.Generator, calls: list[tuple]):
        self._generator, self._calls = generator, calls
        self.values = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._generator, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, args, kwargs))
            drawn = method(*args, **kwargs)
            self.values += int(np.size(drawn))
            return drawn

        return recorded


def recorded_replication(params: Params, seed: int) -> tuple[Any, list[tuple], int, int]:
    """Replication 0 of ``params`` as :func:`run_replication` runs it, with every random call
    recorded and SimPy's steps counted: (result, calls, steps, values drawn)."""
    model = replication_model(params, seed, 0)
    calls: list[tuple] = []
    model.rng = {name: _RecordingGenerator(generator, calls) for name, generator in model.rng.items()}
    steps = 0
    step = model.env.step

    def counted_step() -> None:
        nonlocal steps
        steps += 1
        step()

    model.env.step = counted_step  # Environment.run calls self.step()
    result = model.run()
    return result, calls, steps, sum(generator.values for generator in model.rng.values())


def events_columns(events: pd.DataFrame, start: pd.Timestamp) -> tuple:
    """The arguments the model hands to :func:`simlib.model.events_frame`, read back from the
    events table it built (already in time order)."""
    return (start, events["group_id"].array, ((events["ts"] - start) // pd.Timedelta(seconds=1)).to_numpy(),
            events["member_id"].cat.codes.to_numpy(), events["member_id"].cat.categories.to_numpy(),
            events["event"].cat.codes.to_numpy(), events["ref_id"].cat.codes.to_numpy(),
            list(events["ref_id"].cat.categories), events["amount"].to_numpy())
