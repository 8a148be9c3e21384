"""The SimPy model of one WeChat group over a horizon of days.

SimPy keeps the event calendar. Each dimension's processes live in a module of
:mod:`simlib.processes` named after its block in ``params/defaults.yaml`` (and after its
notebook and :mod:`simlib.analysis` module):

* ``arrivals:`` → :mod:`simlib.processes.arrivals` — the members at day 0, joins by channel,
  friends who join through shares and invitations (``seed_initial_members``, ``arrivals``,
  ``referral_joins``);
* ``content:`` → :mod:`simlib.processes.content` — the post schedule, publishing, opens,
  replies and shares (``post_schedule``, ``publisher``, ``publish``, ``opened_mask``);
* ``monetization:`` → :mod:`simlib.processes.monetization` — commercial posts' sales,
  membership renewals, the perceived commercial share (``sell``, ``renew_memberships``,
  ``commercial_share``, ``purchase_propensity``);
* ``activities:`` → :mod:`simlib.processes.activities` — the scheduler and the four activity
  types (``activity_scheduler``, ``checkin``, ``referral_lottery``, ``live_flash_sale``, ``ugc``);
* ``monitoring:`` (with the bots of ``automation:``) → :mod:`simlib.processes.monitoring` —
  questions, bots, the admins' queue and shifts, complaints (``questions``, ``admin``,
  ``complain``, ``close_questions``);
* ``tiering:`` → :mod:`simlib.processes.tiering` — tier interventions: the newcomers' welcome,
  active perks, loyal service, silent recalls (``welcome_newcomers``, ``tier_interventions``);
* ``risk:`` → :mod:`simlib.processes.risk` — incidents, crises, removals (``risk_incidents``);
* ``members:`` → this module, :meth:`GroupModel.daily_close` — spontaneous chat, rolling windows
  and tiers, exits, the night's decay of interest and novelty.

Two blocks act through the others: ``automation:`` (bots in monitoring, reach accuracy in
content's ``opened_mask``, labour saved in :meth:`GroupModel.book_daily_costs`, members'
aversion in :mod:`simlib.agents`) and ``cross_platform:`` (channels in arrivals, the overlap
trait in :mod:`simlib.agents`, its purchase multiplier in monetization's ``purchase_propensity``).

This module keeps the state (members in :class:`simlib.agents.Members` columns, the records
every process appends to), the effects several dimensions share (:meth:`GroupModel.admit`,
``remove``, ``purchase``, ``cost``, ``record_interactions``), the daily close and ``run``.
The event log and the result tables are built by :mod:`simlib.eventlog`; the tier rules are
:mod:`simlib.tiering`, shared with the analysis of real data.

Each event touches the members in one vectorized step: NumPy expressions, or for the loops
over every member that run daily (chat, windows and tiers, exits, opens, questions) one
compiled loop from :mod:`simlib.kernels`.

Time is measured in days from the start date (0.5 = noon of the first day).

One :class:`numpy.random.Generator` per purpose (``STREAMS``), all spawned from the
replication's ``SeedSequence``: changing, say, the content calendar does not shift the
random numbers that decide arrivals or questions, so scenario differences are paired
(common random numbers).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pandas as pd
import simpy

from simlib import kernels, tiering
from simlib.agents import CHANNEL_CODES, Members
from simlib.eventlog import (
    ACTIVITY_COLUMNS,
    COST_CODE,
    DAILY_COLUMNS,
    EVENT_CODE,
    INCIDENT_COLUMNS,
    REF_ACTIVITY,
    REF_INCIDENT,
    REF_MEMBER,
    REF_NONE,
    REF_POST,
    REF_PREFIX,
    REF_TIER,
    EventLog,
    RunResult,
    chronological_order,
    events_frame,
    log_tables,
    questions_table,
)
from simlib.params import WEEKDAYS, Params, time_to_minutes
from simlib.processes import activities, arrivals, content, monetization, monitoring, risk
from simlib.processes import tiering as tier_interventions
from simlib.processes.content import logit_shift_for_mean
from simlib.schema import TIERS, TZ

# The log's names and logit_shift_for_mean moved to simlib.eventlog and simlib.processes.content;
# they stay importable from here.
__all__ = [
    "COST_CODE", "EVENT_CODE", "REF_ACTIVITY", "REF_INCIDENT", "REF_MEMBER", "REF_NONE", "REF_POST",
    "REF_PREFIX", "REF_TIER", "STREAMS", "EventLog", "GroupModel", "RunResult", "chronological_order",
    "events_frame", "logit_shift_for_mean", "replication_model", "run_replication",
]

STREAMS = (
    "traits", "arrivals_organic", "arrivals_douyin", "arrivals_xiaohongshu", "arrivals_referral",
    "chat", "posts", "commercial", "activities", "questions", "service", "interventions", "exits",
    "risk", "initial",
)


class GroupModel:
    """One replication of one group. ``run()`` returns a :class:`RunResult`."""

    def __init__(self, params: Params, seed_sequence: np.random.SeedSequence, replication: int = 0,
                 group_id: str = "g1"):
        self.params = params
        self.replication = replication
        self.group_id = group_id
        children = seed_sequence.spawn(len(STREAMS))
        self.rng = {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}
        sim, rules = params.simulation, params.tiering.rules
        expected_arrivals = sum(c.joins_per_day for c in params.arrivals.channels.values()) * sim.days
        capacity = int(sim.initial_members + 1.5 * expected_arrivals + 200)
        self.members = Members(capacity, rules.active_window_days, rules.loyal_window_days)
        self.log = EventLog()
        self.env = simpy.Environment()
        self.day = 0
        self.start_weekday = pd.Timestamp(sim.start_date).weekday()
        self.costs: list[tuple[float, int, float]] = []  # (ts, category code, amount)
        self.daily_rows: list[tuple] = []  # day, present, messages, commercial share, exits, members per tier
        self.counters = {"overflow": 0, "admin_busy_minutes": 0.0}
        # content: the posts, and for the commercial share each post's time and the running
        # sum of the posts' annoyance weights (monetization.commercial_share reads them).
        self.posts: list[tuple[int, float, int, bool]] = []  # (post_id, ts, content code, commercial)
        self.post_days: list[float] = []
        self.post_weight_sums: list[float] = [0.0]
        self.open_shifts: dict[tuple[str, float], float] = {}  # (content type, open rate) -> logit shift
        self.best_slots: dict[tuple[str, int, int], bool] = {}  # (content type, weekday, minute) -> best?
        # monetization
        self.window_first_post = 0  # index of the first post inside the commercial-share window
        self.commercial_share = 0.0
        self.planned_commercial_share = 0.0
        modes = params.monetization.modes
        self.annoyance = monetization.annoyance_weights(params)
        self.mean_price_room = 1 - params.members.price_sensitivity.mean
        self.mean_acceptance = float(np.mean([m.acceptance for m in modes.values()]))
        # activities and risk: one record per activity and per incident
        self.activity_rows: list[dict] = []
        self.next_activity_id = 0
        self.incident_rows: list[dict] = []
        self.next_incident_id = 0
        # monitoring: the admins' queue and shift, the questions' records, complaints by day
        self.queue: deque[tuple[float, int, float]] = deque()  # (joined the queue, asker, asked)
        self.in_service: dict[int, tuple[float, int, float]] = {}  # admin -> the question being answered
        self.question_posted = self.env.event()  # wakes idle admins when questions arrive
        self.question_rows: list[tuple] = []  # (asked day, member, answered by, response and wait minutes)
        self.bot_questions: list[tuple[np.ndarray, np.ndarray]] = []  # (asked days, members) the bots settled
        self.admin_answers: list[tuple[float, int]] = []  # (answered, member): logged in one chunk at the end
        self.complaints_due: dict[int, list[int]] = {}  # day -> members who complain that day
        self.shift_start = time_to_minutes(params.monitoring.shift_start) / 1440
        self.shift_end = time_to_minutes(params.monitoring.shift_end) / 1440

    # ------------------------------------------------------------------ effects shared by the dimensions

    def cost(self, ts: float, category: str, amount: float) -> None:
        if amount > 0:
            self.costs.append((ts, COST_CODE[category], float(amount)))

    def record_interactions(self, rows: np.ndarray, messages: bool = False,
                            interest_gain: float = 0.0) -> None:
        """Count one interaction today for each entry of ``rows`` (a member listed twice counts
        twice), and one message in the members' totals when ``messages``; raise each distinct
        member's interest by ``interest_gain``."""
        m = self.members
        kernels.record_interactions(rows, self.day, m.today_interactions, m.last_interaction_day,
                                    m.messages_total, messages, m.interest, interest_gain)

    def purchase(self, ts: np.ndarray, rows: np.ndarray, amounts: np.ndarray, ref_kind: int,
                 ref: int | np.ndarray) -> None:
        """Purchases by distinct members ``rows`` (each buys once in one campaign, sale or renewal)."""
        if rows.size == 0:
            return
        m = self.members
        self.log.add("purchase", ts, rows, ref_kind, ref, amounts)
        m.today_purchases[rows] += 1
        m.revenue[rows] += amounts
        m.purchases_total[rows] += 1

    def room(self) -> int:
        """Seats left under the group cap."""
        return self.params.simulation.group_cap - self.members.present_count

    def admit(self, count: int, channel: str | np.ndarray, ts: np.ndarray,
              inviter: np.ndarray | None = None) -> np.ndarray:
        """Add arrivals up to the group cap; the rest are counted as overflow."""
        admitted = max(0, min(count, self.room()))
        self.counters["overflow"] += count - admitted
        if admitted == 0:
            return np.empty(0, dtype=np.int64)
        if isinstance(channel, str):
            codes = np.full(admitted, CHANNEL_CODES[channel], dtype=np.int8)
        else:
            codes = channel[:admitted]
        rows = self.members.add(admitted, day=self.day, channel=codes, params=self.params,
                                rng=self.rng["traits"])
        self.log.add("join", ts[:admitted], rows, REF_MEMBER if inviter is not None else REF_NONE,
                     None if inviter is None else inviter[:admitted])
        if self.params.tiering.enabled:
            tier_interventions.welcome_newcomers(self, rows, ts[:admitted])
        return rows

    def remove(self, rows: np.ndarray, ts, how: str) -> None:
        """Members ``rows`` leave (``how`` = "leave") or are removed ("removed") at ``ts``."""
        if rows.size == 0:
            return
        self.members.mark_left(rows, self.day)
        self.log.add(how, np.minimum(ts, self.params.simulation.days - 1e-6), rows)

    # ------------------------------------------------------------------ the daily close

    def daily_close(self):
        """At the end of each day: the day's spontaneous chat, the members' rolling windows and
        tiers, the commercial share, exits, membership renewals, daily costs, the day's
        snapshot, and the night (interest relaxes, novelty fades, boosts end)."""
        p, m = self.params, self.members
        rng_chat, rng_exit = self.rng["chat"], self.rng["exits"]
        rules, traits = p.tiering.rules, p.members
        drift = math.exp(-1 / traits.interest_drift_days)
        novelty_decay = math.exp(-1 / traits.novelty_days)
        # Exit hazard multiplier looked up by tier code.
        silent_factor = np.ones(len(TIERS))
        silent_factor[tiering.SILENT] = traits.silent_exit_multiplier
        thresholds = tiering.rule_thresholds(rules)
        for day in range(p.simulation.days):
            self.day = day
            yield self.env.timeout(max(0.0, day + 1 - 1e-6 - self.env.now))  # the very end of the day
            rows = m.present_rows()
            # Spontaneous chat of the day, at each member's usual hours.
            # Independent Poisson counts per member are drawn as one Poisson total whose messages
            # go to members in proportion to their rates (the same joint distribution, and one
            # draw per message instead of one per member).
            cumulative_rate = kernels.cumulative_chat_rates(rows, traits.chat_rate_mean, m.engagement,
                                                            m.interest, m.novelty, m.boost_factor)
            total_rate = float(cumulative_rate[-1]) if rows.size else 0.0
            messages = rng_chat.poisson(total_rate)
            scaled_draws = rng_chat.random(messages) * total_rate
            talkers, times = kernels.spontaneous_messages(
                day, rows, cumulative_rate, scaled_draws,
                rng_chat.normal(0, traits.hour_spread_hours, messages), m.active_hour)
            self.log.add("message", times, talkers, REF_NONE)
            self.record_interactions(talkers, messages=True, interest_gain=traits.chat_interest_gain)
            # Rolling windows and tiers of every member ever joined.
            kernels.update_windows_and_tiers(
                day, m.count, m.today_interactions, m.today_purchases,
                m.interaction_ring[day % rules.active_window_days],
                m.purchase_ring[day % rules.loyal_window_days], m.interactions_window, m.purchases_window,
                m.tier, m.join_day, m.messages_total, m.last_interaction_day, thresholds)
            self.commercial_share = monetization.commercial_share(self, day)
            # Exits: a member leaves today when an Exp(1) draw falls below their hazard.
            exponential_draws = rng_exit.standard_exponential(rows.size)
            leaving = kernels.leavers(rows, exponential_draws, m.static_exit_hazard, m.tier, silent_factor,
                                      monitoring.complainers(self, day), traits.complaint_exit_multiplier,
                                      traits.ad_exit_slope, self.commercial_share, m.ad_tolerance)
            self.remove(leaving, day + rng_exit.random(leaving.size), "leave")
            monetization.renew_memberships(self, day, thresholds)
            self.book_daily_costs(day)
            present_after = m.present_rows()
            tier_counts = np.bincount(m.tier[present_after], minlength=len(TIERS)).tolist()
            self.daily_rows.append((day, present_after.size, talkers.size, self.commercial_share,
                                    leaving.size, *tier_counts))
            # The night: interest relaxes toward its floor, novelty fades, boosts end, counts reset.
            m.end_of_day(day, novelty_decay, traits.interest_floor, drift)

    def book_daily_costs(self, day: int) -> None:
        """A day's fixed costs: admin labour (fixed hours, partly automated), tools, risk control."""
        p, automation = self.params, self.params.automation
        labour_hours = p.monitoring.admins * p.monitoring.admin_hours_per_day * (
            1 - automation.labour_cost_reduction * automation.level)
        self.cost(day + 0.95, "admin_labour", labour_hours * p.monitoring.admin_hourly_wage)
        self.cost(day + 0.95, "automation_tools", automation.tool_cost_per_month * automation.level / 30)
        r = p.risk
        risk_per_month = r.control_cost_per_month * r.controls + r.warning_cost_per_month * r.warning_system
        self.cost(day + 0.95, "risk_control", risk_per_month / 30)

    # ------------------------------------------------------------------ run and result

    def run(self) -> RunResult:
        """Run the horizon: every dimension's processes, then the daily close, in this order
        (SimPy runs simultaneous events in the order they were scheduled)."""
        p, env = self.params, self.env
        arrivals.seed_initial_members(self)
        env.process(arrivals.arrivals(self))
        env.process(content.publisher(self))
        env.process(monitoring.questions(self))
        for admin in range(p.monitoring.admins):
            env.process(monitoring.admin(self, admin))
        env.process(activities.activity_scheduler(self))
        if p.tiering.enabled:
            env.process(tier_interventions.tier_interventions(self))
        for kind in p.risk.types:
            env.process(risk.risk_incidents(self, kind))
        env.process(self.daily_close())
        env.run(until=p.simulation.days)
        monitoring.close_questions(self)
        return self.result()

    def result(self) -> RunResult:
        """The run's tables (see :mod:`simlib.eventlog`) and counters."""
        p = self.params
        start = pd.Timestamp(p.simulation.start_date, tz=TZ)
        tables = log_tables(self.log, self.members, self.posts, self.costs, start, self.group_id)
        questions = questions_table(self.bot_questions, self.question_rows, p.automation.bot_answer_minutes)
        self.counters["days"] = p.simulation.days
        self.counters["start_weekday"] = WEEKDAYS[start.weekday()]
        return RunResult(p, self.replication, tables, pd.DataFrame(self.daily_rows, columns=DAILY_COLUMNS),
                         pd.DataFrame(self.activity_rows, columns=ACTIVITY_COLUMNS), questions,
                         pd.DataFrame(self.incident_rows, columns=INCIDENT_COLUMNS), dict(self.counters))


def replication_model(params: Params, seed: int, replication: int) -> GroupModel:
    """The model of replication ``replication`` of ``params`` with the master ``seed``, not yet run.

    The replication's seed sequence depends only on (seed, replication), never on the
    scenario, so scenarios run with the same seed share their random streams.
    """
    return GroupModel(params, np.random.SeedSequence(seed, spawn_key=(replication,)), replication)


def run_replication(params: Params, seed: int, replication: int) -> RunResult:
    """Run replication ``replication`` of ``params`` with the master ``seed``
    (see :func:`replication_model`)."""
    return replication_model(params, seed, replication).run()
