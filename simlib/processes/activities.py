"""Activities (``activities:`` block): the scheduler and the four activity types — check-in
challenge, referral lottery (fission), live flash sale and UGC — each a SimPy process that
runs over its days and records one row of the activities table. An activity runs in every
open group at once; its cost per head is booked on each participant's group."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simlib.eventlog import REF_ACTIVITY
from simlib.processes.arrivals import referral_joins
from simlib.processes.monetization import order_values, purchase_chance

if TYPE_CHECKING:
    from simlib.model import GroupModel

START_HOUR = 10  # activities open at 10:00
LIVE_SALE_HOUR = 19  # the live flash sale goes on air at 19:00, duration_days after it opened
# Timing only: how the events of an activity spread over its days (in days).
JOIN_DELAY_DAYS = 2 / 24  # mean delay between the start and a member's joining (exponential)
PURCHASE_SPREAD_DAYS = 0.4  # purchases after an activity fall within this span
LIVE_PURCHASE_SPREAD_DAYS = 0.08  # purchases at the live sale fall within about two hours
MESSAGE_SPREAD_DAYS = 0.4  # check-ins, works and shares of a day fall within this span
INVITE_SPREAD_DAYS = 0.5  # invitations of a day fall within this span
NEWCOMER_JOIN_SPREAD_DAYS = 0.3  # invited newcomers take part within this span
DEPOSIT_SPREAD_DAYS = 0.3  # deposits of a live flash sale are paid within this span of its opening


def activity_scheduler(model: GroupModel):
    """Start every activity of the schedule on its day, each as its own process."""
    plans = []
    for entry in model.params.activities.schedule:
        for start in range(entry.first_day, model.params.simulation.days, entry.every_days):
            plans.append((start, entry.type))
    env = model.env
    for start, kind in sorted(plans):
        yield env.timeout(max(0.0, start + START_HOUR / 24 - env.now))
        env.process(ACTIVITY_TYPES[kind](model, model.next_activity_id))
        model.next_activity_id += 1


def _start(model: GroupModel, activity_id: int, kind: str, participation: float) -> tuple[np.ndarray, dict]:
    """Who takes part (more likely the more interested), and the activity's record."""
    m, rng = model.members, model.rng["activities"]
    rows = m.present_rows()
    chance = np.minimum(1.0, participation * m.interest_multiplier(rows))
    participants = rows[rng.random(rows.size) < chance]
    now = model.env.now
    model.log.add("activity_join", now + rng.exponential(JOIN_DELAY_DAYS, participants.size), participants,
                  REF_ACTIVITY, activity_id)
    model.record_interactions(participants)
    record = {"activity_id": activity_id, "type": kind, "start_day": now, "reached": int(rows.size),
              "participants": int(participants.size), "completed": 0, "cost": 0.0, "revenue": 0.0,
              "invites": 0, "referral_joins": 0, "newcomer_participants": 0}
    model.activity_rows.append(record)
    return participants, record


def _buy(model: GroupModel, activity_id: int, members: np.ndarray, probability: float, order_value: float,
         spread_days: float, tiring: bool = True) -> tuple[np.ndarray, float]:
    """Purchases by those of ``members`` still present, within ``spread_days``: (buyers, revenue).

    An activity's offer tires recent buyers as a sales post does (``tiring``), unless the
    purchase was committed to beforehand (the live sale's balance, after a deposit)."""
    m, rng = model.members, model.rng["activities"]
    present = members[m.present[members]]
    buyers = present[rng.random(present.size) < purchase_chance(model, present, probability, tiring)]
    amounts = order_values(model.params, rng, order_value, buyers.size)
    model.purchase(model.env.now + rng.random(buyers.size) * spread_days, buyers, amounts, REF_ACTIVITY,
                   activity_id)
    return buyers, float(amounts.sum())


def _finish(model: GroupModel, record: dict, paid_for: np.ndarray, finishers: np.ndarray, spec,
            buyers_prob: float, order_value: float) -> None:
    """Book the activity's cost (per head of every participant ``paid_for``, on their groups),
    raise the interest of the ``finishers``, and their purchases."""
    record["cost"] = spec.cost_per_head * record["participants"]
    model.cost_by_group(model.env.now, "activity", paid_for, spec.cost_per_head)
    model.members.interest[finishers] += spec.interest_boost
    if buyers_prob > 0 and finishers.size:
        _, revenue = _buy(model, record["activity_id"], finishers, buyers_prob, order_value,
                          PURCHASE_SPREAD_DAYS)
        record["revenue"] += revenue


def checkin(model: GroupModel, activity_id: int):
    """Check-in challenge: a streak of daily check-in messages; each day some drop out."""
    spec = model.params.activities.types.checkin
    m, rng, env = model.members, model.rng["activities"], model.env
    participants, record = _start(model, activity_id, "checkin", spec.participation)
    streak = participants.copy()
    for _ in range(spec.streak_days):
        yield env.timeout(1.0)
        streak = streak[m.present[streak] & (rng.random(streak.size) < spec.continue_prob)]
        checked_in = env.now + rng.random(streak.size) * MESSAGE_SPREAD_DAYS
        model.log.add("message", checked_in, streak, REF_ACTIVITY, activity_id)
        model.record_interactions(streak, messages=True)
    model.log.add("activity_done", env.now + 0.5, streak, REF_ACTIVITY, activity_id)
    model.record_interactions(streak)
    record["completed"] = int(streak.size)
    _finish(model, record, participants, streak, spec, spec.purchase_prob, spec.order_value)


def referral_lottery(model: GroupModel, activity_id: int):
    """Referral lottery: participants invite friends each day; those who joined through an
    invitation may take part in turn (fission, a branching process)."""
    spec = model.params.activities.types.referral_lottery
    rng, env, log = model.rng["activities"], model.env, model.log
    generation, record = _start(model, activity_id, "referral_lottery", spec.participation)
    everyone = [generation]
    for _day in range(spec.duration_days):
        invites = rng.poisson(spec.invites_mean, generation.size)
        inviters = np.repeat(generation, invites)
        invite_ts = env.now + rng.random(inviters.size) * INVITE_SPREAD_DAYS
        log.add("invite", invite_ts, inviters, REF_ACTIVITY, activity_id)
        model.record_interactions(inviters)  # each invite is an interaction, as in the log
        record["invites"] += int(inviters.size)
        completed = generation[invites >= spec.invites_required]
        log.add("activity_done", env.now + 0.5, completed, REF_ACTIVITY, activity_id)
        model.record_interactions(completed)
        record["completed"] += int(completed.size)
        joined = referral_joins(model, inviters, np.sort(invite_ts), spec.invite_accept_prob)
        record["referral_joins"] += int(joined.size)
        yield env.timeout(1.0)
        # Newcomers who joined through an invitation may take part in turn (fission).
        generation = joined[rng.random(joined.size) < spec.newcomer_participation]
        joined_ts = env.now + rng.random(generation.size) * NEWCOMER_JOIN_SPREAD_DAYS
        log.add("activity_join", joined_ts, generation, REF_ACTIVITY, activity_id)
        model.record_interactions(generation)
        record["participants"] += int(generation.size)
        record["newcomer_participants"] += int(generation.size)
        everyone.append(generation)
    everyone = np.concatenate(everyone)
    _finish(model, record, everyone, everyone, spec, spec.purchase_prob, spec.order_value)


def live_flash_sale(model: GroupModel, activity_id: int):
    """Live flash sale: participants pay a deposit, and at the live sale (19:00 on the last
    day) some of those still present buy."""
    spec = model.params.activities.types.live_flash_sale
    rng, env = model.rng["activities"], model.env
    participants, record = _start(model, activity_id, "live_flash_sale", spec.participation)
    deposits = np.full(participants.size, spec.deposit)
    paid = env.now + rng.random(participants.size) * DEPOSIT_SPREAD_DAYS
    model.purchase(paid, participants, deposits, REF_ACTIVITY, activity_id)
    record["revenue"] += float(deposits.sum())
    yield env.timeout(spec.duration_days + (LIVE_SALE_HOUR - START_HOUR) / 24)
    # Deposit holders pay the balance of a purchase already begun: no fatigue.
    buyers, revenue = _buy(model, activity_id, participants, spec.final_purchase_prob, spec.order_value,
                           LIVE_PURCHASE_SPREAD_DAYS, tiring=False)
    model.log.add("activity_done", env.now + 0.1, buyers, REF_ACTIVITY, activity_id)
    model.record_interactions(buyers)
    record["completed"] = int(buyers.size)
    record["revenue"] += revenue
    _finish(model, record, participants, participants, spec, 0.0, 0.0)


def ugc(model: GroupModel, activity_id: int):
    """User-generated content: authors hand in works on the closing day and share them, which
    may bring friends in."""
    spec = model.params.activities.types.ugc
    m, rng, env, log = model.members, model.rng["activities"], model.env, model.log
    participants, record = _start(model, activity_id, "ugc", spec.participation)
    yield env.timeout(spec.duration_days)
    authors = participants[m.present[participants]]
    # Works are handed in and shared on the closing day, before its 10:00 close (so each
    # interaction falls on the day the engine counts it, as the tier rules see the log).
    submitted = env.now - rng.random(authors.size) * MESSAGE_SPREAD_DAYS
    log.add("activity_done", submitted, authors, REF_ACTIVITY, activity_id)
    model.record_interactions(authors)
    record["completed"] = int(authors.size)
    shares = rng.poisson(spec.shares_per_work, authors.size)
    sharers = np.repeat(authors, shares)
    share_ts = np.sort(env.now - rng.random(sharers.size) * MESSAGE_SPREAD_DAYS)
    log.add("share", share_ts, sharers, REF_ACTIVITY, activity_id)
    model.record_interactions(sharers)
    joined = referral_joins(model, sharers, share_ts, model.params.arrivals.share_join_prob)
    record["referral_joins"] += int(joined.size)
    _finish(model, record, participants, authors, spec, spec.purchase_prob, spec.order_value)


ACTIVITY_TYPES = {"checkin": checkin, "referral_lottery": referral_lottery,
                  "live_flash_sale": live_flash_sale, "ugc": ugc}
