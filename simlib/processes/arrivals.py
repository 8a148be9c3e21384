"""Arrivals (``arrivals:`` block): the members already in the first group at day 0, joins by
channel over the horizon, and friends who join through members' shares and invitations (word
of mouth, which saturates as it uses up ``referral_audience``).
Where a newcomer sits (or waits, or is lost) is the community's policy
(:mod:`simlib.processes.community`), applied by :meth:`simlib.model.CommunityModel.admit`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simlib.agents import CHANNEL_CODES
from simlib.processes import community
from simlib.schema import CHANNELS

if TYPE_CHECKING:
    from simlib.model import GroupModel

ARRIVAL_CHANNELS = ("organic", "douyin", "xiaohongshu", "referral")  # those with a daily rate, in draw order
INITIAL_MESSAGES_MEAN = 20  # messages an established member has sent before day 0 (only "has spoken" matters)
REFERRAL_JOIN_DELAY_DAYS = 0.2  # mean delay between a share or invitation and the friend's join (timing only)


def seed_initial_members(model: GroupModel) -> None:
    """An established first group at day 0: members who joined ``initial_tenure_days`` ago."""
    params, rng = model.params, model.rng["initial"]
    n = params.simulation.initial_members
    if n == 0:
        return
    mix = params.arrivals.initial_channel_mix
    names = list(mix)
    weights = np.array([mix[name] for name in names], dtype=float)
    drawn = rng.choice(len(names), n, p=weights / weights.sum())
    codes = np.array([CHANNEL_CODES[name] for name in names], dtype=np.int8)[drawn]
    m = model.members
    rows = m.add(n, day=0, channel=codes, params=params, rng=model.rng["traits"])
    shortest, longest = params.arrivals.initial_tenure_days
    join_day = -rng.integers(shortest, longest, n)
    m.join_day[rows] = join_day
    m.novelty[rows] = params.members.novelty_boost * np.exp(join_day / params.members.novelty_days)
    floor = params.members.interest_floor
    m.interest[rows] = floor + (1 - floor) * rng.random(n)
    m.last_interaction_day[rows] = -rng.geometric(params.arrivals.initial_daily_interaction_prob, n)
    m.messages_total[rows] = 1 + rng.poisson(INITIAL_MESSAGES_MEAN, n)
    # Established members appear in the log as joins before the start date.
    model.log.add("join", join_day + rng.random(n), rows)


def arrivals(model: GroupModel):
    """Poisson arrivals of every channel, admitted one by one at their own times.

    Each channel draws its whole horizon (daily counts, then times within the days) from
    its own random stream up front, so changing one channel's rate (or the overflow policy)
    leaves the others' arrivals as they were (common random numbers across scenarios).
    """
    days = model.params.simulation.days
    times, channels = [], []
    for name in ARRIVAL_CHANNELS:
        spec, code = model.params.arrivals.channels[name], CHANNEL_CODES[name]
        if spec.cost_per_click > 0:
            for day in range(days):
                model.cost(day + 0.5, "acquisition", spec.daily_reach * spec.click_rate * spec.cost_per_click)
        if spec.joins_per_day > 0:
            rng = model.rng[f"arrivals_{name}"]
            counts = rng.poisson(spec.joins_per_day, days)
            times.append(np.repeat(np.arange(days), counts) + rng.random(int(counts.sum())))
            channels.append(np.full(int(counts.sum()), code))
    if not times:
        return
    times, channels = np.concatenate(times), np.concatenate(channels)
    order = np.argsort(times, kind="stable")
    env = model.env
    for ts, code in zip(times[order].tolist(), channels[order].tolist(), strict=True):
        yield env.timeout(ts - env.now)
        model.admit(1, CHANNELS[code], np.array([ts]))


def referral_joins(model: GroupModel, sharers: np.ndarray, share_ts: np.ndarray,
                   join_prob: float) -> np.ndarray:
    """Friends who join through members' shares or invitations; returns the rows admitted.

    Word of mouth saturates (``arrivals.referral_audience``, Bass's imitation term): each share
    or invitation converts with ``join_prob`` × the share of the audience not yet converted, and
    each conversion uses one person up, whether or not a seat is then found. The share left is
    taken once per call (a post's shares or a day's invitations), and conversions never exceed
    what is left. One uniform draw per sharer whatever the audience, so scenarios stay paired."""
    rng = model.rng["arrivals_referral"]
    draws = rng.random(sharers.size)
    audience = model.params.arrivals.referral_audience
    if audience is None:
        joined = draws < join_prob
    else:
        left = audience - model.counters["referral_converted"]
        joined = draws < join_prob * left / audience
        joined[np.flatnonzero(joined)[left:]] = False
    count = int(np.count_nonzero(joined))
    model.counters["referral_converted"] += count
    if count == 0 or not community.can_seat(model):  # nobody, or nowhere to go: no need for join times
        model.counters["overflow"] += count
        return np.empty(0, dtype=np.int64)
    ts = share_ts[joined] + rng.exponential(REFERRAL_JOIN_DELAY_DAYS, count)
    order = np.argsort(ts)
    ts = np.minimum(ts[order], model.day + 0.999)
    return model.admit(count, "referral", ts, inviter=sharers[joined][order])
