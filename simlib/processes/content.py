"""Content (``content:`` block): the post schedule (the weekly calendar and the commercial
posts of each monetization mode), publishing, who opens a post, replies and shares.

Every post goes to every open group: each group's copy is a post of its own (one row of the
posts table, its own post id), and opens, replies, shares and sales refer to the copy in the
member's group."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, special

from simlib import kernels
from simlib.eventlog import REF_POST
from simlib.params import MODE_NAMES, Params, time_to_minutes
from simlib.processes import MINUTE
from simlib.processes.arrivals import referral_joins
from simlib.processes.monetization import sell
from simlib.schema import CONTENT_TYPES

if TYPE_CHECKING:
    from simlib.model import GroupModel

_GAUSS_HERMITE = np.polynomial.hermite_e.hermegauss(40)
REPLY_DELAY_MINUTES = 10  # mean delay between opening a post and replying to it (timing only)
SHARE_DELAY_MINUTES = 30  # mean delay between opening a post and sharing it (timing only)


@functools.lru_cache(maxsize=256)
def logit_shift_for_mean(target: float, sigma: float) -> float:
    """The shift c such that E[sigmoid(c + sigma·Z)] = target for Z ~ N(0, 1).

    Members differ in how readily they open posts (sigma on the logit scale); the shift keeps
    the population's mean open rate at the article's figure. The mean is increasing in c, so
    Brent's method finds the root; cached because every replication asks for the same few.
    """
    target = min(max(target, 1e-6), 1 - 1e-6)
    nodes, weights = _GAUSS_HERMITE
    weights = weights / weights.sum()

    def excess(shift: float) -> float:
        return float(np.sum(weights * special.expit(shift + sigma * nodes))) - target

    return float(optimize.brentq(excess, -30.0, 30.0, xtol=1e-12))


def post_schedule(params: Params, start_weekday: int) -> list[tuple[float, str, str | None]]:
    """All posts of the horizon, in time order: (time, content type, monetization mode or None).

    The calendar's posts fall on their weekday and time every week; each mode's commercial
    posts are spread evenly at ``commercial_posts_per_week``, the modes staggered.
    """
    days = params.simulation.days
    schedule = []
    for entry in params.content.calendar:
        first = (entry.weekday_index - start_weekday) % 7
        for day in range(first, days, 7):
            schedule.append((day + entry.minute / 1440, entry.type, None))
    minute = time_to_minutes(params.monetization.commercial_post_time) / 1440
    for offset, mode in enumerate(MODE_NAMES):
        per_week = params.monetization.commercial_posts_per_week.get(mode, 0.0)
        if per_week <= 0:
            continue
        spacing = 7 / per_week
        day = (offset + 0.5) * spacing / len(MODE_NAMES)
        while day < days:
            schedule.append((math.floor(day) + minute, "commercial", mode))
            day += spacing
    return sorted(schedule)


def publisher(model: GroupModel):
    """Publish every post of :func:`post_schedule` at its time."""
    schedule = post_schedule(model.params, model.start_weekday)
    weights = [model.annoyance[mode] if mode else 0.0 for _, _, mode in schedule]
    model.planned_commercial_share = float(np.mean(weights)) if weights else 0.0
    env = model.env
    for ts, content_type, mode in schedule:
        yield env.timeout(max(0.0, ts - env.now))
        publish(model, ts, content_type, mode)


def opened_mask(model: GroupModel, rows: np.ndarray, content_type: str, ts: float,
                uniform_draws: np.ndarray) -> np.ndarray:
    """Which of ``rows`` open the post of ``content_type`` published at ``ts``.

    Members differ in how readily they open (a logit-normal propensity, shifted so the
    population's mean is the article's open rate for the type, lower off its best slot);
    interest raises the odds, and automation's reach accuracy scales the probability."""
    p = model.params
    weekday = (model.start_weekday + int(ts)) % 7
    minute = int(round((ts % 1) * 1440))
    if content_type == "commercial":
        target = p.content.commercial_open_rate
    else:
        spec = p.content.types[content_type]
        slot = (content_type, weekday, minute)
        if slot not in model.best_slots:
            model.best_slots[slot] = spec.in_best_slot(weekday, minute)
        target = spec.open_rate * (1.0 if model.best_slots[slot] else p.content.off_slot_factor)
    key = (content_type, target)
    if key not in model.open_shifts:
        model.open_shifts[key] = logit_shift_for_mean(target, p.members.open_logit_sigma)
    automation = p.automation
    reach = automation.reach_accuracy_manual + automation.level * (
        automation.reach_accuracy_automated - automation.reach_accuracy_manual)
    m = model.members
    return kernels.opened_mask(rows, uniform_draws, model.open_shifts[key], p.members.open_logit_sigma,
                               m.open_z, p.content.interest_multiplier_power, m.interest, m.novelty,
                               m.boost_factor, reach)


def publish(model: GroupModel, ts: float, content_type: str, mode: str | None) -> None:
    """One post, in every open group: who opens it (and how long they read), replies, shares
    (which may bring friends in) and, for a commercial post, who buys."""
    p, m, log, rng = model.params, model.members, model.log, model.rng["posts"]
    commercial = mode is not None
    first_id, code = model.next_post_id, CONTENT_TYPES.index(content_type)
    model.next_post_id += model.groups
    model.posts.extend((first_id + group, ts, code, commercial, group) for group in range(model.groups))

    def post_of(rows: np.ndarray) -> int | np.ndarray:
        """The post id of the copy each member of ``rows`` received (one id for one group)."""
        return first_id if model.groups == 1 else first_id + m.group[rows]

    model.post_days.append(ts)
    model.post_weight_sums.append(model.post_weight_sums[-1] + (model.annoyance[mode] if commercial else 0.0))
    rows = m.present_rows()
    if rows.size == 0:
        return
    opened = rows[opened_mask(model, rows, content_type, ts, rng.random(rows.size))]
    delays = rng.exponential(p.content.open_delay_minutes * MINUTE, opened.size)
    quality = p.content.quality
    dwell = p.content.dwell_minutes
    dwell_mean = dwell.ordinary + quality * (dwell.quality - dwell.ordinary)
    shape = p.content.dwell_shape
    dwell = rng.gamma(shape, dwell_mean / shape, opened.size)
    log.add("open", ts + delays, opened, REF_POST, post_of(opened), dwell)
    if content_type != "commercial":
        spec = p.content.types[content_type]
        interacted = rng.random(opened.size) < spec.interaction_rate / spec.open_rate
        responders = opened[interacted]
        reply_ts = ts + delays[interacted] + rng.exponential(REPLY_DELAY_MINUTES * MINUTE, responders.size)
        log.add("message", reply_ts, responders, REF_POST, post_of(responders))
        model.record_interactions(responders, messages=True, interest_gain=p.members.content_interest_gain)
    share_multiplier = 1 + (p.content.share_multiplier_quality - 1) * quality
    # A uniform draw in [0, 1) is below p exactly when it is below min(1, p): no clipping needed.
    shared = rng.random(opened.size) < m.share_propensity[opened] * share_multiplier
    sharers = opened[shared]
    share_ts = ts + delays[shared] + rng.exponential(SHARE_DELAY_MINUTES * MINUTE, sharers.size)
    log.add("share", share_ts, sharers, REF_POST, post_of(sharers))
    model.record_interactions(sharers)
    referral_joins(model, sharers, share_ts, p.arrivals.share_join_prob)
    if commercial:
        sell(model, ts, opened, delays, mode, post_of(opened))
