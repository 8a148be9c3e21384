"""The SimPy model of an operator's community of WeChat groups over a horizon of days.

The community starts with one group holding the members of day 0. Newcomers take a seat in
the lowest-numbered group with room; when every open group is at ``simulation.group_cap`` the
``community.overflow`` policy decides (满员开新群): ``new_group`` opens the next group (up to
``community.max_groups``, at ``community.group_opening_cost``), ``waitlist`` puts newcomers in
line for the seats leavers free (each gives up after a random patience), ``lost`` turns them
away. A leaver therefore costs what a leaver costs: nobody refills the seat for free.
Each group has its own posts (every post of the calendar and every commercial post goes to
every open group, with its own post id), its own admins and question queue, its own daily
costs and its own risk incidents; members belong to one group for good.

SimPy keeps the event calendar. Each dimension's processes live in a module of
:mod:`simlib.processes` named after its block in ``params/defaults.yaml`` (and after its
notebook and :mod:`simlib.analysis` module):

* ``arrivals:`` → :mod:`simlib.processes.arrivals` — the members at day 0, joins by channel,
  friends who join through shares and invitations, out of a finite referral audience
  (``seed_initial_members``, ``arrivals``, ``referral_joins``);
* ``content:`` → :mod:`simlib.processes.content` — the post schedule, publishing, opens,
  replies and shares (``post_schedule``, ``publisher``, ``publish``, ``opened_mask``);
* ``monetization:`` → :mod:`simlib.processes.monetization` — commercial posts' sales,
  membership renewals, the perceived commercial share, the chance that an offer (a sales
  post's or an activity's) makes a member buy, lower for recent buyers (``sell``,
  ``renew_memberships``, ``commercial_share``, ``purchase_propensity``, ``purchase_chance``);
* ``activities:`` → :mod:`simlib.processes.activities` — the scheduler and the four activity
  types (``activity_scheduler``, ``checkin``, ``referral_lottery``, ``live_flash_sale``, ``ugc``);
* ``monitoring:`` (with the bots of ``automation:``) → :mod:`simlib.processes.monitoring` —
  questions, bots, each group's admins, queue and shifts, complaints (``questions``, ``admin``,
  ``complain``, ``close_questions``, ``answered_within_patience``);
* ``tiering:`` → :mod:`simlib.processes.tiering` — tier interventions: the newcomers' welcome,
  active perks, loyal service, silent recalls (``welcome_newcomers``, ``tier_interventions``);
* ``risk:`` → :mod:`simlib.processes.risk` — each group's incidents, crises, removals
  (``risk_incidents``);
* ``community:`` → :mod:`simlib.processes.community` — groups, seats and the waitlist
  (``open_group``, ``seat``, ``can_seat``, ``join_waitlist``, ``admit_waitlisted``,
  ``close_waitlist``), applied to every arrival by :meth:`CommunityModel.admit`;
* ``members:`` → this module, :meth:`CommunityModel.daily_close` — spontaneous chat, rolling
  windows and tiers, exits, the night's decay of interest and novelty.

Two blocks act through the others: ``automation:`` (bots in monitoring, reach accuracy in
content's ``opened_mask``, labour saved in :meth:`CommunityModel.book_daily_costs`, members'
aversion in :mod:`simlib.agents`) and ``cross_platform:`` (channels in arrivals, the overlap
trait in :mod:`simlib.agents`, its purchase multiplier in monetization's ``purchase_propensity``).

This module keeps the state (members in :class:`simlib.agents.Members` columns, the records
every process appends to), the effects several dimensions share (:meth:`CommunityModel.admit`,
``remove``, ``purchase``, ``cost``, ``cost_by_group``, ``record_interactions``), the daily
close and ``run``. The event log and the result tables are built by :mod:`simlib.eventlog`;
the tier rules are :mod:`simlib.tiering`, shared with the analysis of real data.

Each event touches the members in one vectorized step: NumPy expressions, or for the loops
over every member that run daily (chat, windows and tiers, exits, opens, questions) one
compiled loop from :mod:`simlib.kernels`.

Time is measured in days from the start date (0.5 = noon of the first day).

One :class:`numpy.random.Generator` per purpose (``STREAMS``), all spawned from the
replication's ``SeedSequence``: changing, say, the content calendar does not shift the
random numbers that decide arrivals or questions, so scenario differences are paired
(common random numbers). Arrivals are drawn from their channels' streams whatever the
overflow policy; each group's risk incidents come from a stream of their own.
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
    NO_GROUP,
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
    group_column,
    log_tables,
    questions_table,
)
from simlib.params import WEEKDAYS, Params, time_to_minutes
from simlib.processes import activities, arrivals, community, content, monetization, monitoring
from simlib.processes import tiering as tier_interventions
from simlib.processes.content import logit_shift_for_mean
from simlib.schema import TIERS, TZ

# The log's names and logit_shift_for_mean moved to simlib.eventlog and simlib.processes.content;
# they stay importable from here.
__all__ = [
    "COST_CODE", "EVENT_CODE", "REF_ACTIVITY", "REF_INCIDENT", "REF_MEMBER", "REF_NONE", "REF_POST",
    "REF_PREFIX", "REF_TIER", "STREAMS", "CommunityModel", "EventLog", "GroupModel", "RunResult",
    "chronological_order", "events_frame", "logit_shift_for_mean", "replication_model", "run_replication",
]

# New streams go at the end: the children of a SeedSequence are numbered, so the existing
# streams keep their numbers.
STREAMS = (
    "traits", "arrivals_organic", "arrivals_douyin", "arrivals_xiaohongshu", "arrivals_referral",
    "chat", "posts", "commercial", "activities", "questions", "service", "interventions", "exits",
    "risk", "initial", "waitlist", "patience", "attention",
)
# A newcomer admitted from the waitlist at the daily close joins at the day's last second.
CLOSE_ADMISSION_CLOCK = 1 - 1 / 86400


class CommunityModel:
    """One replication of one community of groups. ``run()`` returns a :class:`RunResult`."""

    def __init__(self, params: Params, seed_sequence: np.random.SeedSequence, replication: int = 0):
        self.params = params
        self.replication = replication
        children = seed_sequence.spawn(len(STREAMS))
        self.stream_seeds = dict(zip(STREAMS, children, strict=True))
        self.rng = {name: np.random.default_rng(child) for name, child in self.stream_seeds.items()}
        sim, rules, overflow = params.simulation, params.tiering.rules, params.community.overflow
        expected_arrivals = sum(c.joins_per_day for c in params.arrivals.channels.values()) * sim.days
        capacity = int(sim.initial_members + 1.5 * expected_arrivals + 200)
        # Only new_group opens groups: under waitlist and lost the community is one group.
        self.max_groups = params.community.max_groups if overflow == "new_group" else 1
        self.members = Members(capacity, rules.active_window_days, rules.loyal_window_days, self.max_groups)
        self.log = EventLog()
        self.env = simpy.Environment()
        self.day = 0
        self.start_weekday = pd.Timestamp(sim.start_date).weekday()
        self.groups = 0  # groups open so far (numbered 0, 1, …; never closed)
        self.costs: list[tuple[float, int, float, int]] = []  # (ts, category code, amount, group)
        self.daily_rows: list[tuple] = []  # day, present, groups, messages, share, exits, members per tier
        # overflow: newcomers turned away (no seat, no new group); gave_up: left the waitlist
        # referral_converted: people of arrivals.referral_audience whom shares or invitations won over
        self.counters = {"overflow": 0, "gave_up": 0, "waiting_at_end": 0, "admin_busy_minutes": 0.0,
                         "referral_converted": 0}
        # community: newcomers waiting for a seat, in order: (arrived, gives up, channel code, inviter or -1)
        self.waitlist: deque[tuple[float, float, int, int]] = deque()
        # content: the posts (one row per group), and for the commercial share each scheduled
        # post's time and the running sum of their annoyance weights (monetization.commercial_share).
        # (post_id, ts, content code, commercial, group)
        self.posts: list[tuple[int, float, int, bool, int]] = []
        self.next_post_id = 0
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
        # monitoring, per group: the admins' queue, the event that wakes them, their busy minutes;
        # the questions' records, complaints by day
        self.queues: list[deque[tuple[float, int, float]]] = []  # (joined the queue, asker, asked)
        self.question_posted: list[simpy.Event] = []
        self.admin_busy_minutes: list[float] = []
        self.in_service: dict[tuple[int, int], tuple] = {}  # (group, admin) -> the question being answered
        self.question_rows: list[tuple] = []  # see eventlog.questions_table
        self.bot_questions: list[tuple[np.ndarray, np.ndarray]] = []  # (asked days, members) the bots settled
        self.admin_answers: list[tuple[float, int]] = []  # (answered, member): logged in one chunk at the end
        self.complaints_due: dict[int, list[int]] = {}  # day -> members whose complaint takes effect that day
        self.shift_start = time_to_minutes(params.monitoring.shift_start) / 1440
        self.shift_end = time_to_minutes(params.monitoring.shift_end) / 1440

    def group_rng(self, stream: str, group: int) -> np.random.Generator:
        """The generator of ``stream`` for ``group``: the stream itself for the first group, a
        stream of its own (spawned from the same seed) for each later one, so a group's random
        numbers do not depend on how many other groups there are."""
        if group == 0:
            return self.rng[stream]
        key = f"{stream}/{group}"
        if key not in self.rng:
            parent = self.stream_seeds[stream]
            seed = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, group))
            self.rng[key] = np.random.default_rng(seed)
        return self.rng[key]

    # ------------------------------------------------------------------ effects shared by the dimensions

    def cost(self, ts: float, category: str, amount: float, group: int = NO_GROUP) -> None:
        """Book ``amount`` on ``group`` (:data:`NO_GROUP`: the whole community)."""
        if amount > 0:
            self.costs.append((ts, COST_CODE[category], float(amount), group))

    def cost_by_group(self, ts: float, category: str, rows: np.ndarray, amount_each: float) -> None:
        """Book ``amount_each`` per member of ``rows`` on each member's group."""
        if rows.size == 0:
            return
        if self.groups == 1:
            self.cost(ts, category, amount_each * rows.size, 0)
            return
        counts = np.bincount(self.members.group[rows], minlength=self.groups)
        for group in np.flatnonzero(counts).tolist():
            self.cost(ts, category, amount_each * int(counts[group]), group)

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
        """Purchases by distinct members ``rows`` (each buys once in one campaign, sale or renewal).

        They count toward loyalty today, so a purchase whose delay would carry it past midnight
        is stamped before the day ends (as the tier rules read the log by day)."""
        if rows.size == 0:
            return
        m = self.members
        self.log.add("purchase", np.minimum(ts, self.day + 0.999), rows, ref_kind, ref, amounts)
        m.today_purchases[rows] += 1
        m.revenue[rows] += amounts
        m.purchases_total[rows] += 1

    # ------------------------------------------------------------------ newcomers and leavers

    def join(self, count: int, group: int | np.ndarray, codes: np.ndarray, ts: np.ndarray,
             inviter: np.ndarray | None) -> np.ndarray:
        """``count`` newcomers take their seats in ``group`` (from :func:`community.seat`) at ``ts``:
        their rows, their joins in the log (with their inviter, where ``inviter`` ≥ 0) and, with
        tiering, their welcome. Returns their rows."""
        rows = self.members.add(count, day=self.day, channel=codes, params=self.params,
                                rng=self.rng["traits"], group=group)
        if inviter is None:
            self.log.add("join", ts, rows, REF_NONE)
        else:
            invited = inviter >= 0
            self.log.add("join", ts[~invited], rows[~invited], REF_NONE)
            self.log.add("join", ts[invited], rows[invited], REF_MEMBER, inviter[invited])
        if self.params.tiering.enabled:
            tier_interventions.welcome_newcomers(self, rows, ts)
        return rows

    def admit(self, count: int, channel: str | np.ndarray, ts: np.ndarray,
              inviter: np.ndarray | None = None) -> np.ndarray:
        """Newcomers arriving at ``ts`` (ascending) through ``channel`` (a name, or codes), invited
        by ``inviter`` (rows) if given. People already in line take the free seats first; the
        newcomers then take seats (:func:`community.seat`); those left over join the line
        (``waitlist``) or are lost (counted as overflow). Returns the rows admitted."""
        if self.waitlist:
            community.admit_waitlisted(self, float(ts[0]))
        admitted, group = community.seat(self, count)
        codes = (np.full(count, CHANNEL_CODES[channel], dtype=np.int8) if isinstance(channel, str)
                 else channel[:count])
        if admitted < count:
            if self.params.community.overflow == "waitlist":
                community.join_waitlist(self, ts[admitted:count], codes[admitted:],
                                        None if inviter is None else inviter[admitted:count])
            else:
                self.counters["overflow"] += count - admitted
        if admitted == 0:
            return np.empty(0, dtype=np.int64)
        return self.join(admitted, group, codes[:admitted], ts[:admitted],
                         None if inviter is None else inviter[:admitted])

    def remove(self, rows: np.ndarray, ts, how: str) -> None:
        """Members ``rows`` leave (``how`` = "leave") or are removed ("removed") at ``ts``."""
        if rows.size == 0:
            return
        self.members.mark_left(rows, self.day)
        self.log.add(how, np.minimum(ts, self.params.simulation.days - 1e-6), rows)

    # ------------------------------------------------------------------ the daily close

    def daily_close(self):
        """At the end of each day: the day's spontaneous chat, the members' rolling windows and
        tiers, the commercial share, complaints taking effect, exits, newcomers from the
        waitlist, membership renewals, daily costs, the day's snapshot, and the night (interest
        relaxes, novelty fades, boosts end)."""
        p, m = self.params, self.members
        rng_chat, rng_exit = self.rng["chat"], self.rng["exits"]
        rules, traits = p.tiering.rules, p.members
        drift = math.exp(-1 / traits.interest_drift_days)
        novelty_decay = math.exp(-1 / traits.novelty_days)
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
            # Today's complaints hold for complaint_exit_days (today included).
            complained = monitoring.complainers(self, day)
            if complained.size:
                m.complaint_until[complained] = np.maximum(m.complaint_until[complained],
                                                           day + traits.complaint_exit_days - 1)
            # Exits: a member leaves today when an Exp(1) draw falls below their hazard.
            exponential_draws = rng_exit.standard_exponential(rows.size)
            leaving = kernels.leavers(day, rows, exponential_draws, m.static_exit_hazard,
                                      m.last_interaction_day, traits.inactive_after_days,
                                      traits.inactive_exit_multiplier, m.complaint_until,
                                      traits.complaint_exit_multiplier, traits.ad_exit_slope,
                                      self.commercial_share, m.ad_tolerance)
            self.remove(leaving, day + rng_exit.random(leaving.size), "leave")
            if self.waitlist:
                community.admit_waitlisted(self, day + CLOSE_ADMISSION_CLOCK)
            monetization.renew_memberships(self, day, thresholds)
            self.book_daily_costs(day)
            present_after = m.present_rows()
            tier_counts = np.bincount(m.tier[present_after], minlength=len(TIERS)).tolist()
            self.daily_rows.append((day, present_after.size, self.groups, talkers.size, self.commercial_share,
                                    leaving.size, *tier_counts))
            # The night: interest relaxes toward its floor, novelty fades, boosts end, counts reset.
            m.end_of_day(day, novelty_decay, traits.interest_floor, drift)

    def book_daily_costs(self, day: int) -> None:
        """A day's fixed costs of each open group: admin labour (fixed hours, partly automated),
        tools, risk control."""
        p, automation, r = self.params, self.params.automation, self.params.risk
        labour_hours = p.monitoring.admins * p.monitoring.admin_hours_per_day * (
            1 - automation.labour_cost_reduction * automation.level)
        risk_per_month = r.control_cost_per_month * r.controls + r.warning_cost_per_month * r.warning_system
        tools_per_month = automation.tool_cost_per_month * automation.level
        for group in range(self.groups):
            self.cost(day + 0.95, "admin_labour", labour_hours * p.monitoring.admin_hourly_wage, group)
            self.cost(day + 0.95, "automation_tools", tools_per_month / 30, group)
            self.cost(day + 0.95, "risk_control", risk_per_month / 30, group)

    # ------------------------------------------------------------------ run and result

    def run(self) -> RunResult:
        """Run the horizon: every dimension's processes, then the daily close, in this order
        (SimPy runs simultaneous events in the order they were scheduled)."""
        p, env = self.params, self.env
        arrivals.seed_initial_members(self)
        env.process(arrivals.arrivals(self))
        env.process(content.publisher(self))
        env.process(monitoring.questions(self))
        community.open_group(self, 0.0)  # the first group's admins and risk incidents
        env.process(activities.activity_scheduler(self))
        if p.tiering.enabled:
            env.process(tier_interventions.tier_interventions(self))
        env.process(self.daily_close())
        env.run(until=p.simulation.days)
        monitoring.close_questions(self)
        community.close_waitlist(self)
        return self.result()

    def result(self) -> RunResult:
        """The run's tables (see :mod:`simlib.eventlog`) and counters."""
        p = self.params
        start = pd.Timestamp(p.simulation.start_date, tz=TZ)
        incident_groups = np.array([row["group"] for row in self.incident_rows], dtype=np.int64)
        tables = log_tables(self.log, self.members, self.posts, self.costs, start, self.groups,
                            incident_groups)
        questions = questions_table(self.bot_questions, self.question_rows, p.automation.bot_answer_minutes,
                                    self.members, self.groups)
        incidents = pd.DataFrame(self.incident_rows, columns=["group", *INCIDENT_COLUMNS])
        incidents["group_id"] = group_column(incidents.pop("group").to_numpy(dtype=np.int64), self.groups)
        self.counters["days"] = p.simulation.days
        self.counters["start_weekday"] = WEEKDAYS[start.weekday()]
        self.counters["groups"] = self.groups
        self.counters["admin_busy_minutes"] = float(sum(self.admin_busy_minutes))
        return RunResult(p, self.replication, tables, pd.DataFrame(self.daily_rows, columns=DAILY_COLUMNS),
                         pd.DataFrame(self.activity_rows, columns=ACTIVITY_COLUMNS), questions,
                         incidents, dict(self.counters))


# The engine modelled one group before it modelled the community; the old name stays importable.
GroupModel = CommunityModel


def replication_model(params: Params, seed: int, replication: int) -> CommunityModel:
    """The model of replication ``replication`` of ``params`` with the master ``seed``, not yet run.

    The replication's seed sequence depends only on (seed, replication), never on the
    scenario, so scenarios run with the same seed share their random streams.
    """
    return CommunityModel(params, np.random.SeedSequence(seed, spawn_key=(replication,)), replication)


def run_replication(params: Params, seed: int, replication: int) -> RunResult:
    """Run replication ``replication`` of ``params`` with the master ``seed``
    (see :func:`replication_model`)."""
    return replication_model(params, seed, replication).run()
