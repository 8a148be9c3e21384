"""Monetization (``monetization:`` block): who buys from a commercial post, membership
renewals, the commercial share members perceive (which raises their exit hazard), and the
chance that any offer makes a member buy (:func:`purchase_chance`, which activities use too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simlib import kernels
from simlib.eventlog import REF_NONE, REF_POST
from simlib.params import Params
from simlib.processes import MINUTE
from simlib.tiering import LOYAL

if TYPE_CHECKING:
    from simlib.model import GroupModel


def annoyance_weights(params: Params) -> dict[str, float]:
    """How much one post of each mode counts in the commercial share members perceive: its
    rejection (1 − acceptance) relative to the modes' mean rejection."""
    modes = params.monetization.modes
    mean_rejection = np.mean([1 - m.acceptance for m in modes.values()])
    return {name: (1 - m.acceptance) / mean_rejection for name, m in modes.items()}


def purchase_propensity(model: GroupModel, rows: np.ndarray) -> np.ndarray:
    """Relative purchase odds (mean ≈ 1): price room, loyal service, cross-platform touchpoints."""
    m, p = model.members, model.params
    factor = (1 - m.price_sensitivity[rows]) / model.mean_price_room
    if p.tiering.enabled:
        loyal_factor = factor * p.tiering.interventions.loyal.purchase_multiplier
        factor = np.where(m.tier[rows] == LOYAL, loyal_factor, factor)
    return np.where(m.overlap[rows], factor * p.cross_platform.overlap_purchase_multiplier, factor)


def purchase_chance(model: GroupModel, rows: np.ndarray, rate: float, tiring: bool = True) -> np.ndarray:
    """The chance that each of ``rows`` buys when offered at ``rate``: the rate times their
    :func:`purchase_propensity` (at most 1), divided, for an offer that is ``tiring``, by
    1 + ``purchase_fatigue`` × their purchases in the loyal window (repeated offers to a recent
    buyer return less)."""
    chance = np.minimum(1.0, rate * purchase_propensity(model, rows))
    fatigue = model.params.monetization.purchase_fatigue
    if tiring and fatigue > 0:
        chance = chance / (1 + fatigue * model.members.purchases_window[rows])
    return chance


PURCHASE_DELAY_MINUTES = 60  # mean delay between opening a sales post and buying (timing only)


def order_values(params: Params, rng: np.random.Generator, order_value: float, size: int) -> np.ndarray:
    """``size`` order values around the mean ``order_value``: gamma with shape
    ``monetization.order_value_shape`` (sales posts and activities alike)."""
    shape = params.monetization.order_value_shape
    return rng.gamma(shape, order_value / shape, size)


def sell(model: GroupModel, ts: float, opened: np.ndarray, delays: np.ndarray, mode: str,
         post_ids: int | np.ndarray) -> None:
    """Purchases from a commercial post of ``mode`` among the members who opened it;
    ``post_ids``: the post (one id) or, per opener, the copy of their group. Recent buyers
    convert less (:func:`purchase_chance`)."""
    p, m, rng = model.params, model.members, model.rng["commercial"]
    spec = p.monetization.modes[mode]
    # Each campaign converts at a rate drawn from the article's range for the mode (T6).
    conversion = rng.uniform(*spec.conversion_range)
    conversion *= (spec.acceptance / model.mean_acceptance) ** p.monetization.acceptance_conversion_weight
    buyers_mask = rng.random(opened.size) < purchase_chance(model, opened, conversion)
    buyers = opened[buyers_mask]
    amounts = order_values(p, rng, spec.order_value, buyers.size)
    bought = ts + delays[buyers_mask] + rng.exponential(PURCHASE_DELAY_MINUTES * MINUTE, buyers.size)
    refs = post_ids if isinstance(post_ids, int) else post_ids[buyers_mask]
    model.purchase(bought, buyers, amounts, REF_POST, refs)
    if mode == "membership":
        m.subscriber[buyers] = True


def commercial_share(model: GroupModel, day: int) -> float:
    """The commercial share at the close of ``day``: the posts of the last
    ``share_window_days``, each weighted by how much its mode annoys.

    Before a full window has passed, members judge by the plan's steady share (the group ran
    the same calendar before the simulation started).
    """
    window = model.params.monetization.share_window_days
    if day + 1 < window:
        return model.planned_commercial_share
    post_days, weight_sums = model.post_days, model.post_weight_sums
    while model.window_first_post < len(post_days) and post_days[model.window_first_post] <= day + 1 - window:
        model.window_first_post += 1
    recent = len(post_days) - model.window_first_post
    return (weight_sums[-1] - weight_sums[model.window_first_post]) / recent if recent else 0.0


def renew_memberships(model: GroupModel, day: int, thresholds) -> None:
    """Renewals of the memberships due on ``day`` (every month of a subscription, with
    probability ``monetization.membership_renewal_prob``); members who do not renew stop being
    subscribers. Drawn from the exits stream, after the day's exits (leavers are no longer
    subscribers)."""
    m, rng = model.members, model.rng["exits"]
    subscribers = kernels.renewals_due(day, m.count, m.subscriber, m.member_since_day)
    if subscribers.size == 0:
        return
    renewed = rng.random(subscribers.size) < model.params.monetization.membership_renewal_prob
    renew = subscribers[renewed]
    fee = model.params.monetization.modes["membership"].order_value
    model.purchase(day + 0.9 * np.ones(renew.size), renew, np.full(renew.size, fee), REF_NONE, None)
    m.subscriber[subscribers[~renewed]] = False
    # Today's windows were summed before the renewals: count them in, so a renewal counts
    # toward loyalty today as it does when the tier rules are applied to the log.
    rules = model.params.tiering.rules
    kernels.count_late_purchases(renew, day, m.purchase_ring[day % rules.loyal_window_days],
                                 m.purchases_window, m.tier, m.join_day, m.messages_total,
                                 m.interactions_window, m.last_interaction_day, thresholds)
