"""Monitoring (``monitoring:`` block, with the bots of ``automation:``): members' questions,
the bots that settle some of them, each group's admins who serve the rest first come first
served during their shift, and the complaints of members kept waiting beyond their patience.

The queue of a group is M/M/c when questions come as a Poisson process over the day
(``members.question_timing: poisson``), shifts cover the whole day (``"00:00"``–``"24:00"``)
and admins watch the group all the time (``monitoring.admin_attention_minutes: 0``): its mean
wait and P(wait > 0) are Erlang C's (see ``tests/test_queue.py``). By default members ask
around their usual hour, shifts leave the night uncovered and admins look at the group from
time to time, which is what makes staffing change complaints at ordinary loads.

"Answered within patience" has one definition, :func:`answered_within_patience`: a question
is answered in time when a bot settles it, or an admin starts answering it before the asker's
patience runs out (counted from when it reached the admins, or from the next shift start
when that was off shift, :func:`answer_deadline`). Every other question ends in a complaint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simlib import kernels
from simlib.eventlog import REF_ADMIN, REF_BOT, REF_MEMBER
from simlib.processes import MINUTE

if TYPE_CHECKING:
    from simlib.model import GroupModel

NOBODY = np.empty(0, dtype=np.int64)  # an empty set of member rows
DRAW_BLOCK = 64  # per-question draws are taken from their stream this many at a time


def questions(model: GroupModel):
    """Members' questions: bots take a share, the rest queue for the admins of the asker's group.

    Once a day the day's questions are drawn in one vectorized step; those the bots
    settle are answered at once, the others join their group's first-come-first-served
    queue at the time they were asked (or when the bot's answer failed) and are served
    by that group's :func:`admin` processes.
    """
    p, rng, service = model.params, model.rng["questions"], model.rng["service"]
    bot_minutes = p.automation.bot_answer_minutes
    at_usual_hours = p.members.question_timing == "usual_hour"
    patience_draw = patience_draws(model)
    for day in range(p.simulation.days):
        rows = model.members.present_rows()
        count = rng.poisson(p.members.question_rate * rows.size)
        if count:
            # The draws, stream by stream in a fixed order; the rest is arithmetic.
            pick_draws = rng.random(count)
            # Around the usual hour (hour noise), or uniform over the day (a Poisson process).
            if at_usual_hours:
                time_draws = rng.normal(0, p.members.hour_spread_hours, count)
            else:
                time_draws = rng.random(count)
            bot_draws, resolve_draws = service.random(count), service.random(count)
            askers, asked, settled, unsettled, entered = kernels.day_questions(
                day, rows, pick_draws, time_draws, at_usual_hours, model.members.active_hour, bot_draws,
                resolve_draws, p.automation.level, p.automation.bot_resolution_prob, bot_minutes * MINUTE)
            model.log.add("question", asked, askers)
            model.record_interactions(askers)
            bot_asked, bot_askers = asked[settled], askers[settled]
            model.log.add("answer", bot_asked + bot_minutes * MINUTE, bot_askers, REF_MEMBER, REF_BOT)
            model.bot_questions.append((bot_asked, bot_askers))
            # The rest reach the admins directly, or after the bot's answer did not settle it.
            waiting_askers = askers[unsettled]
            waiting = zip(entered.tolist(), waiting_askers.tolist(), asked[unsettled].tolist(), strict=True)
            if p.monitoring.admins == 0:
                # Nobody answers: each asker complains once their patience runs out.
                for entry, asker, asked_at in waiting:
                    patience = patience_draw()
                    runs_out = entry + patience * MINUTE
                    if runs_out < p.simulation.days:
                        complain(model, asker, runs_out)
                    complained = 1.0 if runs_out < p.simulation.days else math.nan
                    model.question_rows.append(
                        (asked_at, asker, "nobody", math.nan, math.nan, patience, complained))
            else:
                groups = model.members.group[waiting_askers].tolist()
                for question, group in zip(waiting, groups, strict=True):
                    model.queues[group].append(question)
                for group in set(groups):
                    if not model.question_posted[group].triggered:
                        model.question_posted[group].succeed()
        yield model.env.timeout(max(0.0, day + 1 - model.env.now))


def admin(model: GroupModel, group: int, admin: int):
    """One admin of ``group``: serves its queue first come first served, only during the shift.

    A question asked off shift waits for the next shift start; a service begun before the
    shift ends is finished. An admin who is idle when a question comes in is not watching the
    group: the question waits to be noticed (:func:`notice_delays`). Members expect an answer
    within their patience (:func:`answer_deadline`); a later start is a complaint, which raises
    the member's exit hazard (:func:`complain`).
    """
    p, env = model.params, model.env
    mean_minutes = p.monitoring.answer_minutes_mean
    days = p.simulation.days
    queue = model.queues[group]
    answer_minutes = DrawnAhead(model.rng["service"], lambda rng: rng.exponential(mean_minutes, DRAW_BLOCK))
    patience_draw, notice_delay = patience_draws(model), notice_delays(model)
    while True:
        while not queue:
            if model.question_posted[group].triggered:
                model.question_posted[group] = env.event()
            yield model.question_posted[group]
        entry, asker, asked = queue.popleft()
        seen = next_on_shift(model, entry)  # when the admins could first see it
        if env.now <= entry and seen == entry:  # idle, on shift: it waits to be noticed
            delay = notice_delay()
            start = next_on_shift(model, entry + delay) if delay else entry
        else:  # busy when it came in, or it came off shift: the admin takes it up at once
            start = seen if env.now <= entry else next_on_shift(model, env.now)
        minutes = answer_minutes()
        patience = patience_draw()
        deadline = answer_deadline(model, entry, patience * MINUTE)
        late = start > deadline
        if late and deadline < days:
            complain(model, asker, deadline)
        model.in_service[(group, admin)] = (entry, asker, asked, patience, float(late))
        if start < days:
            model.admin_busy_minutes[group] += minutes
        # Waiting for the question (or the shift, or to notice it) and answering it, as one event.
        yield env.timeout(start + minutes * MINUTE - env.now)
        del model.in_service[(group, admin)]
        model.admin_answers.append((env.now, asker))
        model.question_rows.append((asked, asker, "admin", (env.now - asked) * 1440, (start - entry) * 1440,
                                    patience, float(late)))


class DrawnAhead:
    """Per-question draws of one distribution, taken from a stream ``DRAW_BLOCK`` at a time (a
    NumPy call per block instead of one per question); call it for the next value."""

    def __init__(self, rng: np.random.Generator, draw: Callable[[np.random.Generator], np.ndarray]):
        self.rng, self.draw, self.pending = rng, draw, []

    def __call__(self) -> float:
        if not self.pending:
            self.pending = self.draw(self.rng).tolist()
        return self.pending.pop()


def patience_draws(model: GroupModel) -> Callable[[], float]:
    """Each question's patience in minutes: ``members.question_patience_minutes``, fixed or the
    mean of an exponential (Erlang-A's random patience), from the patience stream."""
    members = model.params.members
    mean = members.question_patience_minutes
    if members.question_patience_distribution == "fixed":
        return lambda: mean
    return DrawnAhead(model.rng["patience"], lambda rng: rng.exponential(mean, DRAW_BLOCK))


def notice_delays(model: GroupModel) -> Callable[[], float]:
    """How long (in days) a question that comes in while the group's admins are idle waits to
    be noticed: each of the c admins looks at the group at the moments of a Poisson process of
    mean interval ``admin_attention_minutes``, so the first look comes after an exponential
    time of mean ``admin_attention_minutes / c`` (0 when they watch all the time)."""
    monitoring = model.params.monitoring
    if monitoring.admin_attention_minutes == 0:
        return lambda: 0.0
    mean = monitoring.admin_attention_minutes / monitoring.admins * MINUTE
    return DrawnAhead(model.rng["attention"], lambda rng: rng.exponential(mean, DRAW_BLOCK))


def next_on_shift(model: GroupModel, ts: float) -> float:
    """``ts`` if the admins are on shift then, else the next shift start."""
    day, clock = math.floor(ts), ts % 1
    if clock < model.shift_start:
        return day + model.shift_start
    if clock >= model.shift_end:
        return day + 1 + model.shift_start
    return ts


def answer_deadline(model: GroupModel, entry: float, patience: float) -> float:
    """When the asker's ``patience`` (in days) runs out for a question that reached the admins
    at ``entry``: counted from then, or from the next shift start when it came off shift."""
    return next_on_shift(model, entry) + patience


def answered_within_patience(questions: pd.DataFrame) -> float:
    """The share of questions answered within the asker's patience, from a questions table
    (:attr:`simlib.eventlog.RunResult.questions`): settled by a bot, or taken up by an admin
    before :func:`answer_deadline` — the questions that did not end in a complaint. Questions
    whose outcome is unknown at the horizon (still in the queue, or unanswered with patience
    left) are left out. NaN when no question's outcome is known."""
    known = questions["complained"].dropna()
    return float(1 - known.astype(bool).mean()) if len(known) else math.nan


def complain(model: GroupModel, member: int, ts: float) -> None:
    """A complaint at ``ts`` (when the member's patience ran out): it raises the member's exit
    hazard for ``members.complaint_exit_days`` from that day's close (or from today's, when an
    admin only now finds the question that waited in the queue past its deadline)."""
    model.log.add("complaint", ts, member)
    model.complaints_due.setdefault(max(math.floor(ts), model.day), []).append(member)


def complainers(model: GroupModel, day: int) -> np.ndarray:
    """The members still in the community whose complaints take effect on ``day`` (once each)."""
    complained = model.complaints_due.pop(day, None)
    if not complained:
        return NOBODY
    complained = np.unique(complained)
    return complained[model.members.present[complained]]


def close_questions(model: GroupModel) -> None:
    """At the horizon: questions still waiting or being answered count as unanswered (those in
    the queue with an unknown outcome); the admins' answers go to the log in one chunk; each
    group's answering time is booked as its labour."""
    p = model.params
    being_answered = [(asked, asker, "unanswered", math.nan, math.nan, patience, late)
                      for _, asker, asked, patience, late in model.in_service.values()]
    queued = [(asked, asker, "unanswered", math.nan, math.nan, math.nan, math.nan)
              for queue in model.queues for _, asker, asked in queue]
    model.question_rows.extend([*being_answered, *queued])
    # One log chunk instead of thousands of single events.
    answers = np.array(model.admin_answers, dtype=float).reshape(-1, 2)
    model.log.add("answer", answers[:, 0], answers[:, 1].astype(np.int64), REF_MEMBER, REF_ADMIN)
    for group, busy_minutes in enumerate(model.admin_busy_minutes):
        labour = busy_minutes / 60 * p.monitoring.admin_hourly_wage
        model.cost(p.simulation.days - 0.01, "admin_labour", labour, group)
