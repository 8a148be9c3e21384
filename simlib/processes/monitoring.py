"""Monitoring (``monitoring:`` block, with the bots of ``automation:``): members' questions,
the bots that settle some of them, the admins who serve the rest first come first served
during their shift, and the complaints of members kept waiting beyond their patience."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from simlib import kernels
from simlib.eventlog import REF_ADMIN, REF_BOT, REF_MEMBER
from simlib.processes import MINUTE

if TYPE_CHECKING:
    from simlib.model import GroupModel

NOBODY = np.empty(0, dtype=np.int64)  # an empty set of member rows


def questions(model: GroupModel):
    """Members' questions: bots take a share, the rest queue for the admins.

    Once a day the day's questions are drawn in one vectorized step; those the bots
    settle are answered at once, the others join the admins' first-come-first-served
    queue at the time they were asked (or when the bot's answer failed) and are served
    by the :func:`admin` processes.
    """
    p, rng, service = model.params, model.rng["questions"], model.rng["service"]
    bot_minutes = p.automation.bot_answer_minutes
    patience = p.members.question_patience_minutes * MINUTE
    for day in range(p.simulation.days):
        rows = model.members.present_rows()
        count = rng.poisson(p.members.question_rate * rows.size)
        if count:
            # The draws, stream by stream in a fixed order; the rest is arithmetic.
            pick_draws, hour_noise = rng.random(count), rng.normal(0, p.members.hour_spread_hours, count)
            bot_draws, resolve_draws = service.random(count), service.random(count)
            askers, asked, settled, unsettled, entered = kernels.day_questions(
                day, rows, pick_draws, hour_noise, model.members.active_hour, bot_draws, resolve_draws,
                p.automation.level, p.automation.bot_resolution_prob, bot_minutes * MINUTE)
            model.log.add("question", asked, askers)
            model.record_interactions(askers)
            bot_asked, bot_askers = asked[settled], askers[settled]
            model.log.add("answer", bot_asked + bot_minutes * MINUTE, bot_askers, REF_MEMBER, REF_BOT)
            model.bot_questions.append((bot_asked, bot_askers))
            # The rest reach the admins directly, or after the bot's answer did not settle it.
            waiting = zip(entered.tolist(), askers[unsettled].tolist(), asked[unsettled].tolist(),
                          strict=True)
            if p.monitoring.admins == 0:
                # Nobody answers: each asker complains once their patience runs out.
                for entry, asker, asked_at in waiting:
                    if entry + patience < p.simulation.days:
                        complain(model, asker, entry + patience)
                    model.question_rows.append((asked_at, asker, "nobody", math.nan, math.nan))
            else:
                model.queue.extend(waiting)
                if not model.question_posted.triggered:
                    model.question_posted.succeed()
        yield model.env.timeout(max(0.0, day + 1 - model.env.now))


def admin(model: GroupModel, admin: int):
    """One admin: serves the queue first come first served, only during the shift.

    A question asked off shift waits for the next shift start; a service begun before the
    shift ends is finished. Members expect an answer within their patience, counted from
    asking (or from the next shift start when they ask off shift); a later start is a
    complaint, which raises the member's exit hazard that day.
    """
    p, rng, env = model.params, model.rng["service"], model.env
    patience = p.members.question_patience_minutes * MINUTE
    mean_minutes = p.monitoring.answer_minutes_mean
    days = p.simulation.days
    answer_minutes: list[float] = []  # service times, drawn ahead in blocks
    while True:
        while not model.queue:
            if model.question_posted.triggered:
                model.question_posted = env.event()
            yield model.question_posted
        entry, asker, asked = model.in_service[admin] = model.queue.popleft()
        start = next_on_shift(model, max(env.now, entry))
        if not answer_minutes:
            answer_minutes = rng.exponential(mean_minutes, 64).tolist()
        minutes = answer_minutes.pop()
        if start < days:
            if start > answer_deadline(model, entry, patience):
                complain(model, asker, start)
            model.counters["admin_busy_minutes"] += minutes
        # Waiting for the question (or the shift) and answering it, as one event.
        yield env.timeout(start + minutes * MINUTE - env.now)
        del model.in_service[admin]
        model.admin_answers.append((env.now, asker))
        model.question_rows.append((asked, asker, "admin", (env.now - asked) * 1440, (start - entry) * 1440))


def next_on_shift(model: GroupModel, ts: float) -> float:
    """``ts`` if the admins are on shift then, else the next shift start."""
    day, clock = math.floor(ts), ts % 1
    if clock < model.shift_start:
        return day + model.shift_start
    if clock >= model.shift_end:
        return day + 1 + model.shift_start
    return ts


def answer_deadline(model: GroupModel, asked: float, patience: float) -> float:
    """Members expect an answer within their patience, counted from the next shift start
    when they ask outside the admins' hours."""
    return next_on_shift(model, asked) + patience


def complain(model: GroupModel, member: int, ts: float) -> None:
    """A complaint at ``ts``: it raises the member's exit hazard at that day's close."""
    model.log.add("complaint", ts, member)
    model.complaints_due.setdefault(math.floor(ts), []).append(member)


def complainers(model: GroupModel, day: int) -> np.ndarray:
    """The members still in the group who complained on ``day`` (once each, however often)."""
    complained = model.complaints_due.pop(day, None)
    if not complained:
        return NOBODY
    complained = np.unique(complained)
    return complained[model.members.present[complained]]


def close_questions(model: GroupModel) -> None:
    """At the horizon: questions still waiting or being answered count as unanswered; the
    admins' answers go to the log in one chunk; their answering time is booked as labour."""
    p = model.params
    unanswered = [*model.in_service.values(), *model.queue]
    model.question_rows.extend((asked, asker, "unanswered", math.nan, math.nan)
                               for _, asker, asked in unanswered)
    # One log chunk instead of thousands of single events.
    answers = np.array(model.admin_answers, dtype=float).reshape(-1, 2)
    model.log.add("answer", answers[:, 0], answers[:, 1].astype(np.int64), REF_MEMBER, REF_ADMIN)
    busy_hours = model.counters["admin_busy_minutes"] / 60
    model.cost(p.simulation.days - 0.01, "admin_labour", busy_hours * p.monitoring.admin_hourly_wage)
