"""Compiled per-member loops of the engine (numba).

Each day the engine touches every present member several times: chat rates, the day's talkers,
rolling windows, tiers, exit hazards, renewals, the overnight decay of interest and novelty.
Written as NumPy expressions that is some forty array operations a day, each paying Python's
call overhead on arrays of only a few hundred members. Here each step is one compiled loop.

The model still draws every random number with its NumPy generators (the same streams, sizes
and order); these loops only do the arithmetic, in the same order as the NumPy expressions they
replaced, so a seed gives the same run. ``cache=True`` keeps the compiled code in
``__pycache__``: only the first process on a machine pays the compilation (a few seconds).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from simlib.tiering import POTENTIAL, tier_code


@numba.njit(cache=True)
def interest_multiplier(row, interest, novelty, boost_factor):
    """One member's interest × (1 + newcomer's novelty) × temporary boost today: the factor on
    their chat rate, open odds and activity participation."""
    return interest[row] * (1.0 + novelty[row]) * boost_factor[row]


@numba.njit(cache=True)
def interest_multipliers(rows, interest, novelty, boost_factor):
    """:func:`interest_multiplier` of each of ``rows``."""
    multipliers = np.empty(rows.size)
    for i in range(rows.size):
        multipliers[i] = interest_multiplier(rows[i], interest, novelty, boost_factor)
    return multipliers


@numba.njit(cache=True)
def at_usual_hour(day, active_hour, hour_noise):
    """A time on ``day`` (in days) at a member's usual hour plus noise, wrapped into the day."""
    return day + ((active_hour + hour_noise) % 24) / 24


@numba.njit(cache=True)
def cumulative_chat_rates(rows, chat_rate_mean, engagement, interest, novelty, boost_factor):
    """Running sum over ``rows`` of each member's expected spontaneous messages today:
    chat rate × engagement × (interest × (1 + novelty) × boost)."""
    cumulative = np.empty(rows.size)
    total = 0.0
    for i in range(rows.size):
        row = rows[i]
        total += chat_rate_mean * engagement[row] * interest_multiplier(row, interest, novelty, boost_factor)
        cumulative[i] = total
    return cumulative


@numba.njit(cache=True)
def spontaneous_messages(day, rows, cumulative_rate, scaled_draws, hour_noise, active_hour):
    """Authors and times of the day's spontaneous messages. Each message goes to the member of
    ``rows`` whose stretch of the running rate sum (:func:`cumulative_chat_rates`) holds its
    uniform draw scaled to the total, and is sent at the author's usual hour plus noise."""
    talkers = rows[np.searchsorted(cumulative_rate[:-1], scaled_draws, side="right")]
    times = np.empty(talkers.size)
    for i in range(talkers.size):
        times[i] = at_usual_hour(day, active_hour[talkers[i]], hour_noise[i])
    return talkers, times


@numba.njit(cache=True)
def record_interactions(rows, day, today_interactions, last_interaction_day, messages_total, count_messages,
                        interest, interest_gain):
    """One interaction today for each entry of ``rows`` (a member listed twice interacted
    twice), and one message too when ``count_messages``; each distinct member's interest rises
    once by ``interest_gain``."""
    raised = np.zeros(interest.size if interest_gain != 0.0 else 0, dtype=np.bool_)
    for row in rows:
        today_interactions[row] += 1
        last_interaction_day[row] = day
        if count_messages:
            messages_total[row] += 1
        if interest_gain != 0.0 and not raised[row]:
            raised[row] = True
            interest[row] += interest_gain


@numba.njit(cache=True)
def opened_mask(rows, uniform_draws, logit_shift, logit_sigma, open_z, interest_power, interest, novelty,
                boost_factor, reach):
    """Which of ``rows`` open a post: a uniform draw below reach × sigmoid(logit), where
    logit = shift + sigma × the member's open propensity + power × log(interest × (1 + novelty) × boost)."""
    opened = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        row = rows[i]
        multiplier = interest_multiplier(row, interest, novelty, boost_factor)
        logit = logit_shift + logit_sigma * open_z[row]
        logit += interest_power * math.log(max(multiplier, 1e-6))
        opened[i] = uniform_draws[i] < reach * (1.0 / (1.0 + math.exp(-logit)))
    return opened


@numba.njit(cache=True)
def member_tier(row, day, join_day, messages_total, interactions_window, purchases_window,
                last_interaction_day, thresholds):
    """A member's tier on ``day`` from their columns, by :func:`simlib.tiering.tier_code`."""
    return tier_code(day - join_day[row], messages_total[row], interactions_window[row],
                     purchases_window[row], day - last_interaction_day[row], thresholds)


@numba.njit(cache=True)
def update_windows_and_tiers(day, count, today_interactions, today_purchases, interaction_ring_row,
                             purchase_ring_row, interactions_window, purchases_window, tier, join_day,
                             messages_total, last_interaction_day, thresholds):
    """Rolling window sums (add today, drop the day that falls out of the ring) and each
    member's tier (:func:`member_tier`), for the first ``count`` rows (absent members' values
    change too but are never read again)."""
    for row in range(count):
        interactions_window[row] += today_interactions[row] - interaction_ring_row[row]
        purchases_window[row] += today_purchases[row] - purchase_ring_row[row]
        interaction_ring_row[row] = today_interactions[row]
        purchase_ring_row[row] = today_purchases[row]
        tier[row] = member_tier(row, day, join_day, messages_total, interactions_window, purchases_window,
                                last_interaction_day, thresholds)


@numba.njit(cache=True)
def count_late_purchases(rows, day, purchase_ring_row, purchases_window, tier, join_day, messages_total,
                         interactions_window, last_interaction_day, thresholds):
    """Purchases by ``rows`` booked after today's windows were summed (membership renewals):
    each goes into today's ring row and the loyal window, and the buyer's tier is redone."""
    for row in rows:
        purchase_ring_row[row] += 1
        purchases_window[row] += 1
        tier[row] = member_tier(row, day, join_day, messages_total, interactions_window, purchases_window,
                                last_interaction_day, thresholds)


@numba.njit(cache=True)
def leavers(day, rows, exponential_draws, static_exit_hazard, last_interaction_day, inactive_after_days,
            inactive_multiplier, complaint_until, complaint_multiplier, ad_exit_slope, commercial_share,
            ad_tolerance):
    """Members of ``rows`` (ascending) who leave on ``day``: those whose Exp(1) draw falls below
    their hazard, so each leaves with probability 1 − exp(−hazard).

    hazard = static part × ``inactive_multiplier`` (when ``inactive_after_days`` or more have
    passed since the member's last interaction) × complaint multiplier (while a complaint is in
    force: ``complaint_until`` ≥ day) × exp(slope × how far the commercial share exceeds the
    member's tolerance). Behaviour only: the tier label plays no part.
    """
    leaving = np.empty(rows.size, dtype=np.int64)
    found = 0
    for i in range(rows.size):
        row = rows[i]
        hazard = static_exit_hazard[row]
        if day - last_interaction_day[row] >= inactive_after_days:
            hazard *= inactive_multiplier
        if complaint_until[row] >= day:
            hazard *= complaint_multiplier
        hazard *= math.exp(ad_exit_slope * max(0.0, commercial_share - ad_tolerance[row]))
        if exponential_draws[i] < hazard:
            leaving[found] = row
            found += 1
    return leaving[:found]


MEMBERSHIP_PERIOD_DAYS = 30  # the membership fee (monetization.modes.membership.order_value) is monthly


@numba.njit(cache=True)
def renewals_due(day, count, subscriber, member_since_day):
    """Subscribers (ascending rows) whose membership period ends today."""
    due = np.empty(count, dtype=np.int64)
    found = 0
    for row in range(count):
        period_ends = (day - member_since_day[row]) % MEMBERSHIP_PERIOD_DAYS == MEMBERSHIP_PERIOD_DAYS - 1
        if subscriber[row] and period_ends:
            due[found] = row
            found += 1
    return due[:found]


@numba.njit(cache=True)
def overnight(day, count, interest, interest_floor, interest_drift, novelty, novelty_decay, boost_factor,
              boost_until, today_interactions, today_purchases):
    """The night between two days: interest relaxes toward its floor, newcomers' novelty fades,
    boosts that ran until ``day`` end, and the day's counters start again from zero."""
    for row in range(count):
        interest[row] = (interest[row] - interest_floor) * interest_drift + interest_floor
        novelty[row] *= novelty_decay
        if boost_until[row] <= day:
            boost_factor[row] = 1.0
        today_interactions[row] = 0
        today_purchases[row] = 0


@numba.njit(cache=True)
def init_members(start, channel, day, novelty_boost, engagement_by_channel, price_shift_by_channel,
                 exit_multiplier_by_channel, engagement, price_sensitivity, channel_exit_multiplier,
                 static_exit_hazard, channel_column, join_day, member_since_day, left_day, present, interest,
                 novelty, boost_factor, boost_until, last_interaction_day, tier):
    """Rows ``start, start + 1, …`` become members who join on ``day`` through ``channel``
    (codes): their drawn traits take the channel's factors, and their state starts fresh."""
    for i in range(channel.size):
        row, code = start + i, channel[i]
        engagement[row] *= engagement_by_channel[code]
        price_sensitivity[row] = min(max(price_sensitivity[row] + price_shift_by_channel[code], 0.0), 1.0)
        channel_exit_multiplier[row] = exit_multiplier_by_channel[code]
        static_exit_hazard[row] *= exit_multiplier_by_channel[code]
        channel_column[row] = code
        join_day[row] = day
        member_since_day[row] = day
        left_day[row] = -1
        present[row] = True
        interest[row] = 1.0
        novelty[row] = novelty_boost  # extra interest of a newcomer, decays daily
        boost_factor[row] = 1.0
        boost_until[row] = -1
        last_interaction_day[row] = day
        tier[row] = POTENTIAL  # until the first daily classification


@numba.njit(cache=True)
def day_questions(day, rows, pick_draws, time_draws, at_usual_hours, active_hour, bot_draws, resolve_draws,
                  automation_level, bot_resolution_prob, bot_delay):
    """The day's questions from their random draws (one per question in each array).

    Askers are picked uniformly from ``rows``. With ``at_usual_hours`` they ask around their usual
    hour (``time_draws``: hour noise); else at ``time_draws`` (uniform fractions of the day: a
    Poisson process over the day, given the Poisson count). A question goes to
    the bot with probability ``automation_level`` and the bot settles it with
    ``bot_resolution_prob``; the others enter the admins' queue when asked, or ``bot_delay``
    later when the bot failed. Returns (askers, asked times, settled by the bot, the unsettled
    questions' indices in the order they enter the queue, their entry times).
    """
    count = pick_draws.size
    askers = np.empty(count, dtype=np.int64)
    asked = np.empty(count)
    settled = np.empty(count, dtype=np.bool_)
    entered = np.empty(count)
    waiting = 0
    for i in range(count):
        asker = rows[np.int64(pick_draws[i] * rows.size)]
        askers[i] = asker
        if at_usual_hours:
            asked[i] = at_usual_hour(day, active_hour[asker], time_draws[i])
        else:
            asked[i] = day + time_draws[i]
        to_bot = bot_draws[i] < automation_level
        settled[i] = to_bot and resolve_draws[i] < bot_resolution_prob
        if not settled[i]:
            entered[waiting] = asked[i] + (bot_delay if to_bot else 0.0)
            waiting += 1
    unsettled = np.flatnonzero(~settled)
    order = np.argsort(entered[:waiting], kind="mergesort")  # stable: ties keep the order of asking
    return askers, asked, settled, unsettled[order], entered[:waiting][order]
