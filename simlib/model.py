"""The SimPy model of one WeChat group over a horizon of days.

SimPy keeps the event calendar: arrivals by channel, content posts at their weekday and
time, commercial posts, activities with their durations, member questions answered by bots
or queued first come first served for the admins (one SimPy process per admin, working only
during the shift), risk incidents, weekly and periodic tier interventions, and a daily close
that classifies tiers and decides exits.
Members live in :class:`simlib.agents.Members` columns; each event touches them in one
vectorized step: NumPy expressions, or for the loops over every member that run daily (chat,
windows and tiers, exits, opens, questions) one compiled loop from :mod:`simlib.kernels`.

Time is measured in days from the start date (0.5 = noon of the first day).

One :class:`numpy.random.Generator` per purpose (``STREAMS``), all spawned from the
replication's ``SeedSequence``: changing, say, the content calendar does not shift the
random numbers that decide arrivals or questions, so scenario differences are paired
(common random numbers).
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy
from scipy import optimize, special

from simlib import kernels, tiering
from simlib.agents import CHANNEL_CODES, Members
from simlib.params import MODE_NAMES, WEEKDAYS, Params, time_to_minutes
from simlib.schema import CHANNELS, CONTENT_TYPES, COST_CATEGORIES, EVENT_TYPES, TIERS, TZ

STREAMS = (
    "traits", "arrivals_organic", "arrivals_douyin", "arrivals_xiaohongshu", "arrivals_referral",
    "chat", "posts", "commercial", "activities", "questions", "service", "interventions", "exits",
    "risk", "initial",
)
EVENT_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
COST_CODE = {name: code for code, name in enumerate(COST_CATEGORIES)}
# Reference kinds for ref_id strings: post "p12", activity "a3", member "m45", incident "r7".
REF_NONE, REF_POST, REF_ACTIVITY, REF_MEMBER, REF_INCIDENT, REF_TIER = range(6)
REF_PREFIX = {REF_POST: "p", REF_ACTIVITY: "a", REF_MEMBER: "m", REF_INCIDENT: "r", REF_TIER: "t"}
MINUTE = 1 / 1440
NOBODY = np.empty(0, dtype=np.int64)  # an empty set of member rows
_GAUSS_HERMITE = np.polynomial.hermite_e.hermegauss(40)


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


class EventLog:
    """Append-only columnar log; the chunks are concatenated once at the end.

    Each vectorized ``add`` appends one chunk (event, ts, member, ref kind, ref, amount,
    size), where ts, member, ref and amount are arrays or one value for the whole chunk.
    Single events (complaints, incidents) are chunks of size one.
    """

    _MISSING = (None, math.nan, -1, None, -1, math.nan)  # by chunk position, for values not given

    def __init__(self):
        self.chunks: list[tuple] = []

    def add(self, event: str, ts, member=None, ref_kind: int = REF_NONE, ref=None, amount=None) -> None:
        if type(member) is np.ndarray:
            n = member.size
        elif type(ts) is np.ndarray:
            n = ts.size
        else:
            n = 1
        if n:
            self.chunks.append((EVENT_CODE[event], ts, member, ref_kind, ref, amount, n))

    def arrays(self):
        """(event code, ts, member, ref kind, ref, amount) as equal-length arrays."""
        if not self.chunks:
            return tuple(np.empty(0, dtype=dtype) for dtype in (np.int8, float, np.int64, np.int8, np.int64, float))
        # One list per chunk position. (Not zip(*chunks): its thousands of tuple iterators are
        # objects the cyclic garbage collector tracks, enough to set off a full collection.)
        by_position = [[chunk[position] for chunk in self.chunks] for position in range(7)]
        codes, ref_kinds, sizes = by_position[0], by_position[3], np.array(by_position[6], dtype=np.int64)

        def column(position: int, dtype):
            # One value per chunk spread with np.repeat, then the arrays written over their chunks.
            values, missing = by_position[position], self._MISSING[position]
            is_array = [type(value) is np.ndarray for value in values]
            scalars = [missing if array or value is None else value for value, array in zip(values, is_array, strict=True)]
            out = np.repeat(np.array(scalars, dtype=dtype), sizes)
            if any(is_array):
                # An explicit dtype spares concatenate resolving the common type of thousands of parts.
                parts = [value for value, array in zip(values, is_array, strict=True) if array]
                out[np.repeat(np.array(is_array), sizes)] = np.concatenate(parts, dtype=dtype, casting="same_kind")
            return out

        return (np.repeat(np.array(codes, dtype=np.int8), sizes), column(1, float), column(2, np.int64),
                np.repeat(np.array(ref_kinds, dtype=np.int8), sizes), column(4, np.int64), column(5, float))


@dataclass
class RunResult:
    """Everything one replication produced."""

    params: Params
    replication: int
    tables: dict[str, pd.DataFrame]
    daily: pd.DataFrame  # per-day snapshot: present, tier counts, commercial share, …
    activities: pd.DataFrame  # one row per activity instance
    questions: pd.DataFrame  # one row per question: wait and response minutes, who answered
    incidents: pd.DataFrame  # one row per risk incident
    counters: dict[str, float] = field(default_factory=dict)


class GroupModel:
    """One replication of one group. ``run()`` returns a :class:`RunResult`."""

    def __init__(self, params: Params, seed_sequence: np.random.SeedSequence, replication: int = 0, group_id: str = "g1"):
        self.params = params
        self.replication = replication
        self.group_id = group_id
        children = seed_sequence.spawn(len(STREAMS))
        self.rng = {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}
        sim = params.simulation
        rules = params.tiering.rules
        expected_arrivals = sum(c.joins_per_day for c in params.arrivals.channels.values()) * sim.days
        self.members = Members(int(sim.initial_members + 1.5 * expected_arrivals + 200), rules.active_window_days, rules.loyal_window_days)
        self.log = EventLog()
        self.env = simpy.Environment()
        self.day = 0
        self.posts: list[tuple[int, float, int, bool]] = []  # (post_id, ts, content code, commercial)
        # For the commercial share: each post's time and the running sum of the posts' annoyance weights.
        self.post_days: list[float] = []
        self.post_weight_sums: list[float] = [0.0]
        self.window_first_post = 0  # index of the first post inside the commercial-share window
        self.costs: list[tuple[float, int, float]] = []
        self.daily_rows: list[tuple] = []  # day, present, messages, commercial share, exits, members per tier
        self.activity_rows: list[dict] = []
        self.question_rows: list[tuple] = []  # (asked day, member, answered by, response and wait minutes)
        self.bot_questions: list[tuple[np.ndarray, np.ndarray]] = []  # (asked days, members) the bots settled
        self.admin_answers: list[tuple[float, int]] = []  # (answered, member): logged in one chunk after the run
        self.incident_rows: list[dict] = []
        self.counters = {"overflow": 0, "admin_busy_minutes": 0.0}
        self.next_activity_id = 0
        self.next_incident_id = 0
        self.commercial_share = 0.0
        self.planned_commercial_share = 0.0
        modes = params.monetization.modes
        mean_rejection = np.mean([1 - m.acceptance for m in modes.values()])
        self.annoyance = {name: (1 - m.acceptance) / mean_rejection for name, m in modes.items()}
        self.mean_price_room = 1 - params.members.price_sensitivity.mean
        self.mean_acceptance = float(np.mean([m.acceptance for m in modes.values()]))
        self.queue: deque[tuple[float, int, float]] = deque()  # (joined the queue, asker, asked)
        self.in_service: dict[int, tuple[float, int, float]] = {}  # admin -> the question being answered
        self.question_posted = self.env.event()  # wakes idle admins when questions arrive
        self.complaints_due: dict[int, list[int]] = {}  # day -> members who complain that day
        self.shift_start = time_to_minutes(params.monitoring.shift_start) / 1440
        self.shift_end = time_to_minutes(params.monitoring.shift_end) / 1440
        self._open_shift: dict[tuple[str, bool], float] = {}
        self.start_weekday = pd.Timestamp(params.simulation.start_date).weekday()
        self._best_slot: dict[tuple[str, int, int], bool] = {}

    # ------------------------------------------------------------------ helpers

    def cost(self, ts: float, category: str, amount: float) -> None:
        if amount > 0:
            self.costs.append((ts, COST_CODE[category], float(amount)))

    def record_interactions(self, rows: np.ndarray, messages: bool = False, interest_gain: float = 0.0) -> None:
        """Count one interaction today for each entry of ``rows`` (a member listed twice counts
        twice), and one message in the members' totals when ``messages``; raise each distinct
        member's interest by ``interest_gain``."""
        m = self.members
        kernels.record_interactions(rows, self.day, m.today_interactions, m.last_interaction_day, m.messages_total, messages,
                                    m.interest, interest_gain)

    def purchase(self, ts: np.ndarray, rows: np.ndarray, amounts: np.ndarray, ref_kind: int, ref: int | np.ndarray) -> None:
        """Purchases by distinct members ``rows`` (each buys once in one campaign, sale or renewal)."""
        if rows.size == 0:
            return
        m = self.members
        self.log.add("purchase", ts, rows, ref_kind, ref, amounts)
        m.today_purchases[rows] += 1
        m.revenue[rows] += amounts
        m.purchases_total[rows] += 1

    def purchase_propensity(self, rows: np.ndarray) -> np.ndarray:
        """Relative purchase odds (mean ≈ 1): price room, loyal service, cross-platform touchpoints."""
        m, p = self.members, self.params
        factor = (1 - m.price_sensitivity[rows]) / self.mean_price_room
        if p.tiering.enabled:
            factor = np.where(m.tier[rows] == tiering.LOYAL, factor * p.tiering.interventions.loyal.purchase_multiplier, factor)
        return np.where(m.overlap[rows], factor * p.cross_platform.overlap_purchase_multiplier, factor)

    def room(self) -> int:
        """Seats left under the group cap."""
        return self.params.simulation.group_cap - self.members.present_count

    def admit(self, count: int, channel: str | np.ndarray, ts: np.ndarray, inviter: np.ndarray | None = None) -> np.ndarray:
        """Add arrivals up to the group cap; the rest are counted as overflow."""
        admitted = max(0, min(count, self.room()))
        self.counters["overflow"] += count - admitted
        if admitted == 0:
            return np.empty(0, dtype=np.int64)
        codes = np.full(admitted, CHANNEL_CODES[channel], dtype=np.int8) if isinstance(channel, str) else channel[:admitted]
        rows = self.members.add(admitted, day=self.day, channel=codes, params=self.params, rng=self.rng["traits"])
        self.log.add("join", ts[:admitted], rows, REF_MEMBER if inviter is not None else REF_NONE,
                     None if inviter is None else inviter[:admitted])
        if self.params.tiering.enabled:
            welcome = self.params.tiering.interventions.potential
            m = self.members
            m.set_boost(rows, welcome.interest_boost, self.day + welcome.boost_days)
            self.log.add("intervention", ts[:admitted], rows, REF_TIER, tiering.POTENTIAL)
            self.cost(float(ts[0]), "tier_intervention", welcome.cost_per_member * admitted)
        return rows

    # ------------------------------------------------------------------ set-up

    def seed_initial_members(self) -> None:
        """An established group at day 0: members joined over the past year."""
        sim, rng = self.params.simulation, self.rng["initial"]
        n = sim.initial_members
        if n == 0:
            return
        mix = self.params.arrivals.initial_channel_mix
        names = list(mix)
        weights = np.array([mix[name] for name in names], dtype=float)
        codes = np.array([CHANNEL_CODES[name] for name in names], dtype=np.int8)[rng.choice(len(names), n, p=weights / weights.sum())]
        rows = self.members.add(n, day=0, channel=codes, params=self.params, rng=self.rng["traits"])
        m = self.members
        join_day = -rng.integers(30, 365, n)
        m.join_day[rows] = join_day
        m.novelty[rows] = self.params.members.novelty_boost * np.exp(join_day / self.params.members.novelty_days)
        floor = self.params.members.interest_floor
        m.interest[rows] = floor + (1 - floor) * rng.random(n)
        m.last_interaction_day[rows] = -rng.geometric(0.15, n)
        m.messages_total[rows] = 1 + rng.poisson(20, n)
        # Established members appear in the log as joins before the start date.
        self.log.add("join", join_day + rng.random(n), rows)

    # ------------------------------------------------------------------ processes

    def arrivals(self):
        """Poisson arrivals of every channel, admitted one by one at their own times.

        Each channel draws its whole horizon (daily counts, then times within the days) from
        its own random stream up front, so changing one channel's rate leaves the others'
        arrivals as they were (common random numbers across scenarios).
        """
        days = self.params.simulation.days
        times, channels = [], []
        for name in ("organic", "douyin", "xiaohongshu", "referral"):
            spec, code = self.params.arrivals.channels[name], CHANNEL_CODES[name]
            if spec.cost_per_click > 0:
                for day in range(days):
                    self.cost(day + 0.5, "acquisition", spec.daily_reach * spec.click_rate * spec.cost_per_click)
            if spec.joins_per_day > 0:
                rng = self.rng[f"arrivals_{name}"]
                counts = rng.poisson(spec.joins_per_day, days)
                times.append(np.repeat(np.arange(days), counts) + rng.random(int(counts.sum())))
                channels.append(np.full(int(counts.sum()), code))
        if not times:
            return
        times, channels = np.concatenate(times), np.concatenate(channels)
        order = np.argsort(times, kind="stable")
        for ts, code in zip(times[order].tolist(), channels[order].tolist(), strict=True):
            yield self.env.timeout(ts - self.env.now)
            self.admit(1, CHANNELS[code], np.array([ts]))

    def post_schedule(self) -> list[tuple[float, str, str | None]]:
        """All posts of the horizon: (time, content type, monetization mode or None)."""
        p = self.params
        days = p.simulation.days
        start_weekday = pd.Timestamp(p.simulation.start_date).weekday()
        schedule = []
        for entry in p.content.calendar:
            first = (entry.weekday_index - start_weekday) % 7
            for day in range(first, days, 7):
                schedule.append((day + entry.minute / 1440, entry.type, None))
        minute = time_to_minutes(p.monetization.commercial_post_time) / 1440
        for offset, mode in enumerate(MODE_NAMES):
            per_week = p.monetization.commercial_posts_per_week.get(mode, 0.0)
            if per_week <= 0:
                continue
            spacing = 7 / per_week
            day = (offset + 0.5) * spacing / len(MODE_NAMES)
            while day < days:
                schedule.append((math.floor(day) + minute, "commercial", mode))
                day += spacing
        return sorted(schedule)

    def publisher(self):
        schedule = self.post_schedule()
        weights = [self.annoyance[mode] if mode else 0.0 for _, _, mode in schedule]
        self.planned_commercial_share = float(np.mean(weights)) if weights else 0.0
        for post_id, (ts, content_type, mode) in enumerate(schedule):
            yield self.env.timeout(max(0.0, ts - self.env.now))
            self.publish(post_id, ts, content_type, mode)

    def opened_mask(self, rows: np.ndarray, content_type: str, ts: float, uniform_draws: np.ndarray) -> np.ndarray:
        """Which of ``rows`` open the post of ``content_type`` published at ``ts``.

        Members differ in how readily they open (a logit-normal propensity, shifted so the
        population's mean is the article's open rate for the type, lower off its best slot);
        interest raises the odds, and automation's reach accuracy scales the probability."""
        p = self.params
        weekday = (self.start_weekday + int(ts)) % 7
        minute = int(round((ts % 1) * 1440))
        if content_type == "commercial":
            target = p.content.commercial_open_rate
        else:
            spec = p.content.types[content_type]
            slot = (content_type, weekday, minute)
            if slot not in self._best_slot:
                self._best_slot[slot] = spec.in_best_slot(weekday, minute)
            target = spec.open_rate * (1.0 if self._best_slot[slot] else p.content.off_slot_factor)
        key = (content_type, target)
        if key not in self._open_shift:
            self._open_shift[key] = logit_shift_for_mean(target, p.members.open_logit_sigma)
        level = p.automation.level
        reach = p.automation.reach_accuracy_manual + level * (p.automation.reach_accuracy_automated - p.automation.reach_accuracy_manual)
        m = self.members
        return kernels.opened_mask(rows, uniform_draws, self._open_shift[key], p.members.open_logit_sigma, m.open_z,
                                   p.content.interest_multiplier_power, m.interest, m.novelty, m.boost_factor, reach)

    def publish(self, post_id: int, ts: float, content_type: str, mode: str | None) -> None:
        p, m, rng = self.params, self.members, self.rng["posts"]
        commercial = mode is not None
        self.posts.append((post_id, ts, CONTENT_TYPES.index(content_type), commercial))
        self.post_days.append(ts)
        self.post_weight_sums.append(self.post_weight_sums[-1] + (self.annoyance[mode] if commercial else 0.0))
        rows = m.present_rows()
        if rows.size == 0:
            return
        opened = rows[self.opened_mask(rows, content_type, ts, rng.random(rows.size))]
        delays = rng.exponential(p.content.open_delay_minutes * MINUTE, opened.size)
        quality = p.content.quality
        dwell_mean = p.content.dwell_minutes.ordinary + quality * (p.content.dwell_minutes.quality - p.content.dwell_minutes.ordinary)
        self.log.add("open", ts + delays, opened, REF_POST, post_id, rng.gamma(2.0, dwell_mean / 2, opened.size))
        if content_type != "commercial":
            spec = p.content.types[content_type]
            interacted = rng.random(opened.size) < spec.interaction_rate / spec.open_rate
            responders = opened[interacted]
            self.log.add("message", ts + delays[interacted] + rng.exponential(10 * MINUTE, responders.size), responders, REF_POST, post_id)
            self.record_interactions(responders, messages=True, interest_gain=p.members.content_interest_gain)
        share_multiplier = 1 + (p.content.share_multiplier_quality - 1) * quality
        # A uniform draw in [0, 1) is below p exactly when it is below min(1, p): no clipping needed.
        shared = rng.random(opened.size) < m.share_propensity[opened] * share_multiplier
        sharers = opened[shared]
        share_ts = ts + delays[shared] + rng.exponential(30 * MINUTE, sharers.size)
        self.log.add("share", share_ts, sharers, REF_POST, post_id)
        self.record_interactions(sharers)
        self.referral_joins(sharers, share_ts, p.arrivals.share_join_prob)
        if commercial:
            self.sell(ts, opened, delays, mode, post_id)

    def referral_joins(self, sharers: np.ndarray, share_ts: np.ndarray, join_prob: float) -> np.ndarray:
        """Friends who join through members' shares or invitations."""
        rng = self.rng["arrivals_referral"]
        joined = rng.random(sharers.size) < join_prob
        count = int(np.count_nonzero(joined))
        if count == 0 or self.room() == 0:  # nobody, or a full group: no need for join times
            self.counters["overflow"] += count
            return np.empty(0, dtype=np.int64)
        ts = share_ts[joined] + rng.exponential(0.2, count)
        order = np.argsort(ts)
        ts = np.minimum(ts[order], self.day + 0.999)
        return self.admit(count, "referral", ts, inviter=sharers[joined][order])

    def sell(self, ts: float, opened: np.ndarray, delays: np.ndarray, mode: str, post_id: int) -> None:
        p, m, rng = self.params, self.members, self.rng["commercial"]
        spec = p.monetization.modes[mode]
        # Each campaign converts at a rate drawn from the article's range for the mode (T6).
        conversion = rng.uniform(*spec.conversion_range)
        conversion *= (spec.acceptance / self.mean_acceptance) ** p.monetization.acceptance_conversion_weight
        chance = np.minimum(1.0, conversion * self.purchase_propensity(opened))
        buyers_mask = rng.random(opened.size) < chance
        buyers = opened[buyers_mask]
        amounts = rng.gamma(4.0, spec.order_value / 4, buyers.size)
        self.purchase(ts + delays[buyers_mask] + rng.exponential(60 * MINUTE, buyers.size), buyers, amounts, REF_POST, post_id)
        if mode == "membership":
            m.subscriber[buyers] = True

    def questions(self):
        """Members' questions: bots take a share, the rest queue for the admins.

        Once a day the day's questions are drawn in one vectorized step; those the bots
        settle are answered at once, the others join the admins' first-come-first-served
        queue at the time they were asked (or when the bot's answer failed) and are served
        by the :meth:`admin` processes.
        """
        p, rng, service = self.params, self.rng["questions"], self.rng["service"]
        bot_minutes = p.automation.bot_answer_minutes
        patience = p.members.question_patience_minutes * MINUTE
        for day in range(p.simulation.days):
            rows = self.members.present_rows()
            count = rng.poisson(p.members.question_rate * rows.size)
            if count:
                # The draws, stream by stream in a fixed order; the rest is arithmetic.
                pick_draws, hour_noise = rng.random(count), rng.normal(0, 2.0, count)
                bot_draws, resolve_draws = service.random(count), service.random(count)
                askers, asked, settled, unsettled, entered = kernels.day_questions(
                    day, rows, pick_draws, hour_noise, self.members.active_hour, bot_draws, resolve_draws,
                    p.automation.level, p.automation.bot_resolution_prob, bot_minutes * MINUTE)
                self.log.add("question", asked, askers)
                self.record_interactions(askers)
                bot_asked, bot_askers = asked[settled], askers[settled]
                self.log.add("answer", bot_asked + bot_minutes * MINUTE, bot_askers, REF_MEMBER, -2)  # -2: a bot
                self.bot_questions.append((bot_asked, bot_askers))
                # The rest reach the admins directly, or after the bot's answer did not settle it.
                waiting = zip(entered.tolist(), askers[unsettled].tolist(), asked[unsettled].tolist(), strict=True)
                if p.monitoring.admins == 0:
                    # Nobody answers: each asker complains once their patience runs out.
                    for entry, asker, asked_at in waiting:
                        if entry + patience < p.simulation.days:
                            self.complain(asker, entry + patience)
                        self.question_rows.append((asked_at, asker, "nobody", math.nan, math.nan))
                else:
                    self.queue.extend(waiting)
                    if not self.question_posted.triggered:
                        self.question_posted.succeed()
            yield self.env.timeout(max(0.0, day + 1 - self.env.now))

    def admin(self, admin: int):
        """One admin: serves the queue first come first served, only during the shift.

        A question asked off shift waits for the next shift start; a service begun before the
        shift ends is finished. Members expect an answer within their patience, counted from
        asking (or from the next shift start when they ask off shift); a later start is a
        complaint, which raises the member's exit hazard that day.
        """
        p, rng = self.params, self.rng["service"]
        patience = p.members.question_patience_minutes * MINUTE
        mean_minutes = p.monitoring.answer_minutes_mean
        days = p.simulation.days
        answer_minutes: list[float] = []  # service times, drawn ahead in blocks
        while True:
            while not self.queue:
                if self.question_posted.triggered:
                    self.question_posted = self.env.event()
                yield self.question_posted
            entry, asker, asked = self.in_service[admin] = self.queue.popleft()
            start = self.next_on_shift(max(self.env.now, entry))
            if not answer_minutes:
                answer_minutes = rng.exponential(mean_minutes, 64).tolist()
            minutes = answer_minutes.pop()
            if start < days:
                if start > self.answer_deadline(entry, patience):
                    self.complain(asker, start)
                self.counters["admin_busy_minutes"] += minutes
            # Waiting for the question (or the shift) and answering it, as one event.
            yield self.env.timeout(start + minutes * MINUTE - self.env.now)
            del self.in_service[admin]
            self.admin_answers.append((self.env.now, asker))
            self.question_rows.append((asked, asker, "admin", (self.env.now - asked) * 1440, (start - entry) * 1440))

    def next_on_shift(self, ts: float) -> float:
        """``ts`` if the admins are on shift then, else the next shift start."""
        day, clock = math.floor(ts), ts % 1
        if clock < self.shift_start:
            return day + self.shift_start
        if clock >= self.shift_end:
            return day + 1 + self.shift_start
        return ts

    def answer_deadline(self, asked: float, patience: float) -> float:
        """Members expect an answer within their patience, counted from the next shift start
        when they ask outside the admins' hours."""
        return self.next_on_shift(asked) + patience

    def complain(self, member: int, ts: float) -> None:
        """A complaint at ``ts``: it raises the member's exit hazard at that day's close."""
        self.log.add("complaint", ts, member)
        self.complaints_due.setdefault(math.floor(ts), []).append(member)

    # ---- activities

    def activity_scheduler(self):
        plans = []
        for entry in self.params.activities.schedule:
            for start in range(entry.first_day, self.params.simulation.days, entry.every_days):
                plans.append((start, entry.type))
        for start, kind in sorted(plans):
            yield self.env.timeout(max(0.0, start + 10 / 24 - self.env.now))
            self.env.process(getattr(self, f"activity_{kind}")(self.next_activity_id))
            self.next_activity_id += 1

    def _start_activity(self, activity_id: int, kind: str, participation: float):
        m, rng = self.members, self.rng["activities"]
        rows = m.present_rows()
        chance = np.minimum(1.0, participation * m.interest_multiplier(rows))
        participants = rows[rng.random(rows.size) < chance]
        now = self.env.now
        self.log.add("activity_join", now + rng.exponential(2 / 24, participants.size), participants, REF_ACTIVITY, activity_id)
        self.record_interactions(participants)
        record = {"activity_id": activity_id, "type": kind, "start_day": now, "reached": int(rows.size),
                  "participants": int(participants.size), "completed": 0, "cost": 0.0, "revenue": 0.0,
                  "invites": 0, "referral_joins": 0, "newcomer_participants": 0}
        self.activity_rows.append(record)
        return participants, record

    def _finish_activity(self, record: dict, participants: np.ndarray, spec, buyers_prob: float, order_value: float) -> None:
        m, rng = self.members, self.rng["activities"]
        record["cost"] = spec.cost_per_head * record["participants"]
        self.cost(self.env.now, "activity", record["cost"])
        m.interest[participants] += spec.interest_boost
        if buyers_prob > 0 and participants.size:
            present = participants[m.present[participants]]
            chance = np.minimum(1.0, buyers_prob * self.purchase_propensity(present))
            buyers = present[rng.random(present.size) < chance]
            amounts = rng.gamma(4.0, order_value / 4, buyers.size)
            self.purchase(self.env.now + rng.random(buyers.size) * 0.4, buyers, amounts, REF_ACTIVITY, record["activity_id"])
            record["revenue"] += float(amounts.sum())

    def activity_checkin(self, activity_id: int):
        spec = self.params.activities.types.checkin
        rng, m = self.rng["activities"], self.members
        participants, record = self._start_activity(activity_id, "checkin", spec.participation)
        streak = participants.copy()
        for _ in range(spec.streak_days):
            yield self.env.timeout(1.0)
            streak = streak[m.present[streak] & (rng.random(streak.size) < spec.continue_prob)]
            self.log.add("message", self.env.now + rng.random(streak.size) * 0.4, streak, REF_ACTIVITY, activity_id)
            self.record_interactions(streak, messages=True)
        self.log.add("activity_done", self.env.now + 0.5, streak, REF_ACTIVITY, activity_id)
        self.record_interactions(streak)
        record["completed"] = int(streak.size)
        self._finish_activity(record, streak, spec, spec.purchase_prob, spec.order_value)

    def activity_referral_lottery(self, activity_id: int):
        spec = self.params.activities.types.referral_lottery
        rng = self.rng["activities"]
        generation, record = self._start_activity(activity_id, "referral_lottery", spec.participation)
        everyone = [generation]
        for _day in range(spec.duration_days):
            invites = rng.poisson(spec.invites_mean, generation.size)
            inviters = np.repeat(generation, invites)
            invite_ts = self.env.now + rng.random(inviters.size) * 0.5
            self.log.add("invite", invite_ts, inviters, REF_ACTIVITY, activity_id)
            self.record_interactions(inviters)  # each invite is an interaction, as in the log
            record["invites"] += int(inviters.size)
            completed = generation[invites >= spec.invites_required]
            self.log.add("activity_done", self.env.now + 0.5, completed, REF_ACTIVITY, activity_id)
            self.record_interactions(completed)
            record["completed"] += int(completed.size)
            joined = self.referral_joins(inviters, np.sort(invite_ts), spec.invite_accept_prob)
            record["referral_joins"] += int(joined.size)
            yield self.env.timeout(1.0)
            # Newcomers who joined through an invitation may take part in turn (fission).
            generation = joined[rng.random(joined.size) < spec.newcomer_participation]
            self.log.add("activity_join", self.env.now + rng.random(generation.size) * 0.3, generation, REF_ACTIVITY, activity_id)
            self.record_interactions(generation)
            record["participants"] += int(generation.size)
            record["newcomer_participants"] += int(generation.size)
            everyone.append(generation)
        self._finish_activity(record, np.concatenate(everyone), spec, spec.purchase_prob, spec.order_value)

    def activity_live_flash_sale(self, activity_id: int):
        spec = self.params.activities.types.live_flash_sale
        rng, m = self.rng["activities"], self.members
        participants, record = self._start_activity(activity_id, "live_flash_sale", spec.participation)
        deposits = np.full(participants.size, spec.deposit)
        self.purchase(self.env.now + rng.random(participants.size) * 0.3, participants, deposits, REF_ACTIVITY, activity_id)
        record["revenue"] += float(deposits.sum())
        yield self.env.timeout(spec.duration_days + 10 / 24 - 1 / 24)  # the live sale at 19:00
        present = participants[m.present[participants]]
        chance = np.minimum(1.0, spec.final_purchase_prob * self.purchase_propensity(present))
        buyers = present[rng.random(present.size) < chance]
        amounts = rng.gamma(4.0, spec.order_value / 4, buyers.size)
        self.purchase(self.env.now + rng.random(buyers.size) * 0.08, buyers, amounts, REF_ACTIVITY, activity_id)
        self.log.add("activity_done", self.env.now + 0.1, buyers, REF_ACTIVITY, activity_id)
        self.record_interactions(buyers)
        record["completed"] = int(buyers.size)
        record["revenue"] += float(amounts.sum())
        self._finish_activity(record, participants, spec, 0.0, 0.0)

    def activity_ugc(self, activity_id: int):
        spec = self.params.activities.types.ugc
        rng, m = self.rng["activities"], self.members
        participants, record = self._start_activity(activity_id, "ugc", spec.participation)
        yield self.env.timeout(spec.duration_days)
        authors = participants[m.present[participants]]
        # Works are handed in and shared on the closing day, before its 10:00 close (so each
        # interaction falls on the day the engine counts it, as the tier rules see the log).
        submitted = self.env.now - rng.random(authors.size) * 0.4
        self.log.add("activity_done", submitted, authors, REF_ACTIVITY, activity_id)
        self.record_interactions(authors)
        record["completed"] = int(authors.size)
        shares = rng.poisson(spec.shares_per_work, authors.size)
        sharers = np.repeat(authors, shares)
        share_ts = np.sort(self.env.now - rng.random(sharers.size) * 0.4)
        self.log.add("share", share_ts, sharers, REF_ACTIVITY, activity_id)
        self.record_interactions(sharers)
        joined = self.referral_joins(sharers, share_ts, self.params.arrivals.share_join_prob)
        record["referral_joins"] += int(joined.size)
        self._finish_activity(record, authors, spec, spec.purchase_prob, spec.order_value)

    # ---- tier interventions

    def tier_interventions(self):
        """Weekly (active), monthly (loyal) and periodic (silent) campaigns by tier."""
        p = self.params.tiering.interventions
        rng, m = self.rng["interventions"], self.members
        days = [day for day in range(1, self.params.simulation.days)
                if day % 7 == 0 or day % 30 == 0 or day % p.silent.every_days == 0]
        for day in days:  # wake only on campaign days
            yield self.env.timeout(max(0.0, day + 11 / 24 - self.env.now))
            rows = m.present_rows()
            if day % 7 == 0:
                active = rows[m.tier[rows] == tiering.ACTIVE]
                m.set_boost(active, p.active.interest_boost, day + 7)
                self.log.add("intervention", self.env.now, active, REF_TIER, tiering.ACTIVE)
                self.cost(self.env.now, "tier_intervention", p.active.cost_per_member_week * active.size)
            if day % 30 == 0:
                loyal = rows[m.tier[rows] == tiering.LOYAL]
                self.log.add("intervention", self.env.now, loyal, REF_TIER, tiering.LOYAL)
                self.cost(self.env.now, "tier_intervention", p.loyal.cost_per_member_month * loyal.size)
            if day % p.silent.every_days == 0:
                silent = rows[m.tier[rows] == tiering.SILENT]
                self.log.add("intervention", self.env.now, silent, REF_TIER, tiering.SILENT)
                self.cost(self.env.now, "tier_intervention", p.silent.cost_per_target * silent.size)
                recalled = silent[rng.random(silent.size) < p.silent.recall_prob]
                m.interest[recalled] = np.maximum(m.interest[recalled], p.silent.interest_reset)
                self.log.add("message", self.env.now + rng.random(recalled.size) * 0.4, recalled, REF_TIER, tiering.SILENT)
                self.record_interactions(recalled, messages=True)

    # ---- risk

    def risk_incidents(self, kind: str):
        p, rng, m = self.params.risk, self.rng["risk"], self.members
        spec = p.types[kind]
        rate = spec.incidents_per_year / 365
        if rate <= 0:
            return
        while True:
            yield self.env.timeout(rng.exponential(1 / rate))
            if self.env.now >= self.params.simulation.days:
                return
            incident_id = self.next_incident_id
            self.next_incident_id += 1
            escalation = p.major_crisis_prob * ((1 - p.warning_escalation_reduction) if p.warning_system else 1.0)
            major = rng.random() < escalation
            if p.controls:
                response_hours = spec.response_hours if spec.response_hours is not None else 0.0
                residual = 1 - spec.effect
            else:
                response_hours, residual = p.uncontrolled_response_hours, 1.0
            shock = spec.exit_shock * residual * (3.0 if major else 1.0)
            self.log.add("incident", self.env.now, None, REF_INCIDENT, incident_id)
            offender = -1
            rows = m.present_rows()
            if kind == "violation" and rows.size:
                offender = int(rng.choice(rows))
                self.log.add("violation", self.env.now, offender)
                if p.controls and rng.random() < spec.effect:
                    self.remove(np.array([offender]), self.env.now + response_hours / 24, "removed")
            leavers = rows[rng.random(rows.size) < shock]
            leavers = leavers[m.present[leavers]]
            self.remove(leavers, self.env.now + response_hours / 24 + rng.random(leavers.size) * 0.5, "leave")
            self.incident_rows.append({"incident_id": incident_id, "day": self.env.now, "type": kind, "major": major,
                                       "response_hours": response_hours, "exits": int(leavers.size), "offender": offender})

    def remove(self, rows: np.ndarray, ts, how: str) -> None:
        if rows.size == 0:
            return
        self.members.mark_left(rows, self.day)
        self.log.add(how, np.minimum(ts, self.params.simulation.days - 1e-6), rows)

    # ---- the daily close

    def daily_close(self):
        p, m = self.params, self.members
        rng_chat, rng_exit = self.rng["chat"], self.rng["exits"]
        rules = p.tiering.rules
        traits = p.members
        drift = math.exp(-1 / traits.interest_drift_days)
        novelty_decay = math.exp(-1 / traits.novelty_days)
        automation = p.automation
        window = p.monetization.share_window_days
        # Exit hazard multiplier looked up by tier code.
        silent_factor = np.ones(len(TIERS))
        silent_factor[tiering.SILENT] = traits.silent_exit_multiplier
        thresholds = tiering.rule_thresholds(rules)
        for day in range(p.simulation.days):
            self.day = day
            yield self.env.timeout(max(0.0, day + 1 - 1e-6 - self.env.now))
            rows = m.present_rows()
            # Spontaneous chat of the day, at each member's usual hours.
            # Independent Poisson counts per member are drawn as one Poisson total whose messages
            # go to members in proportion to their rates (the same joint distribution, and one
            # draw per message instead of one per member).
            cumulative_rate = kernels.cumulative_chat_rates(rows, traits.chat_rate_mean, m.engagement, m.interest, m.novelty, m.boost_factor)
            total_rate = float(cumulative_rate[-1]) if rows.size else 0.0
            messages = rng_chat.poisson(total_rate)
            scaled_draws = rng_chat.random(messages) * total_rate
            talkers, times = kernels.spontaneous_messages(day, rows, cumulative_rate, scaled_draws, rng_chat.normal(0, 2.0, messages),
                                                          m.active_hour)
            self.log.add("message", times, talkers, REF_NONE)
            self.record_interactions(talkers, messages=True, interest_gain=traits.content_interest_gain * 0.5)
            # Rolling windows and tiers of every member ever joined.
            kernels.update_windows_and_tiers(
                day, m.count, m.today_interactions, m.today_purchases, m.interaction_ring[day % rules.active_window_days],
                m.purchase_ring[day % rules.loyal_window_days], m.interactions_window, m.purchases_window, m.tier,
                m.join_day, m.messages_total, m.last_interaction_day, thresholds)
            # Commercial share over the recent window, weighted by how much each mode annoys.
            # Before a full window has passed, members judge by the plan's steady share (the
            # group ran the same calendar before the simulation started).
            if day + 1 >= window:
                post_days, weight_sums = self.post_days, self.post_weight_sums
                while self.window_first_post < len(post_days) and post_days[self.window_first_post] <= day + 1 - window:
                    self.window_first_post += 1
                recent = len(post_days) - self.window_first_post
                self.commercial_share = (weight_sums[-1] - weight_sums[self.window_first_post]) / recent if recent else 0.0
            else:
                self.commercial_share = self.planned_commercial_share
            # Exits: a member leaves today when an Exp(1) draw falls below their hazard.
            exponential_draws = rng_exit.standard_exponential(rows.size)
            complained = self.complaints_due.pop(day, None)
            if complained:  # members who complained today, however often, if still in the group
                complained = np.unique(complained)
                complained = complained[m.present[complained]]
            else:
                complained = NOBODY
            leaving = kernels.leavers(rows, exponential_draws, m.static_exit_hazard, m.tier, silent_factor, complained,
                                      traits.complaint_exit_multiplier, traits.ad_exit_slope, self.commercial_share, m.ad_tolerance)
            self.remove(leaving, day + rng_exit.random(leaving.size), "leave")
            # Membership renewals every 30 days of a subscription (leavers are no longer subscribers).
            subscribers = kernels.renewals_due(day, m.count, m.subscriber, m.member_since_day)
            if subscribers.size:
                renewed = rng_exit.random(subscribers.size) < 0.85
                renew = subscribers[renewed]
                fee = p.monetization.modes["membership"].order_value
                self.purchase(day + 0.9 * np.ones(renew.size), renew, np.full(renew.size, fee), REF_NONE, None)
                m.subscriber[subscribers[~renewed]] = False
                # Today's windows were summed before the renewals: count them in, so a renewal
                # counts toward loyalty today as it does when the tier rules are applied to the log.
                kernels.count_late_purchases(renew, day, m.purchase_ring[day % rules.loyal_window_days], m.purchases_window,
                                             m.tier, m.join_day, m.messages_total, m.interactions_window,
                                             m.last_interaction_day, thresholds)
            # Daily costs: admin labour (fixed hours, partly automated), tools, risk control.
            labour_hours = p.monitoring.admins * p.monitoring.admin_hours_per_day * (1 - automation.labour_cost_reduction * automation.level)
            self.cost(day + 0.95, "admin_labour", labour_hours * p.monitoring.admin_hourly_wage)
            self.cost(day + 0.95, "automation_tools", automation.tool_cost_per_month * automation.level / 30)
            self.cost(day + 0.95, "risk_control", (p.risk.control_cost_per_month * p.risk.controls + p.risk.warning_cost_per_month * p.risk.warning_system) / 30)
            present_after = m.present_rows()
            tier_counts = np.bincount(m.tier[present_after], minlength=len(TIERS)).tolist()
            self.daily_rows.append((day, present_after.size, talkers.size, self.commercial_share, leaving.size, *tier_counts))
            # The night: interest relaxes toward its floor, novelty fades, boosts end, counts reset.
            m.end_of_day(day, novelty_decay, traits.interest_floor, drift)

    # ------------------------------------------------------------------ run and tables

    def run(self) -> RunResult:
        p = self.params
        self.seed_initial_members()
        self.env.process(self.arrivals())
        self.env.process(self.publisher())
        self.env.process(self.questions())
        for admin in range(p.monitoring.admins):
            self.env.process(self.admin(admin))
        self.env.process(self.activity_scheduler())
        if p.tiering.enabled:
            self.env.process(self.tier_interventions())
        for kind in p.risk.types:
            self.env.process(self.risk_incidents(kind))
        self.env.process(self.daily_close())
        self.env.run(until=p.simulation.days)
        # Questions still waiting, or still being answered, when the horizon ends.
        unanswered = [*self.in_service.values(), *self.queue]
        self.question_rows.extend((asked, asker, "unanswered", math.nan, math.nan) for _, asker, asked in unanswered)
        # The admins' answers, one log chunk instead of thousands of single events.
        answers = np.array(self.admin_answers, dtype=float).reshape(-1, 2)
        self.log.add("answer", answers[:, 0], answers[:, 1].astype(np.int64), REF_MEMBER, -1)  # -1: answered by an admin
        # Labour of answering questions, on top of the fixed admin hours.
        self.cost(p.simulation.days - 0.01, "admin_labour", self.counters["admin_busy_minutes"] / 60 * p.monitoring.admin_hourly_wage)
        return self.result()

    def result(self) -> RunResult:
        p, m = self.params, self.members
        start = pd.Timestamp(p.simulation.start_date, tz=TZ)
        n = m.count

        def stamp(days: np.ndarray) -> pd.DatetimeIndex:
            return start + pd.to_timedelta(np.round(np.asarray(days) * 86400), unit="s")

        member_ids = np.char.add("m", np.arange(n).astype(str))
        codes, ts, member, ref_kind, ref, amount = self.log.arrays()
        # Each member's join and exit times from the log (NaN, then NaT, for members still in).
        join_ts, left_ts = np.zeros(n), np.full(n, np.nan)
        joins = (codes == EVENT_CODE["join"]) & (member >= 0)
        join_ts[member[joins]] = ts[joins]
        gone = ((codes == EVENT_CODE["leave"]) | (codes == EVENT_CODE["removed"])) & (member >= 0)
        left_ts[member[gone]] = ts[gone]
        members = pd.DataFrame({
            "member_id": member_ids,
            "group_id": self.group_id,
            "join_ts": stamp(join_ts),
            "channel": pd.Categorical.from_codes(m.channel[:n], categories=CHANNELS),
            "left_ts": stamp(left_ts),
            **{trait: getattr(m, trait)[:n] for trait in ("engagement", "price_sensitivity", "ad_tolerance", "bot_tolerance", "share_propensity")},
            "overlap": m.overlap[:n],
            "revenue": m.revenue[:n],
            "tier_final": pd.Categorical.from_codes(np.where(m.present[:n], m.tier[:n], -1), categories=TIERS),
        })

        # The log in time order, stamped to whole seconds.
        seconds = np.round(ts * 86400).astype(np.int64)
        order = chronological_order(seconds)
        ref_codes, ref_labels = self.ref_ids(ref_kind, ref)
        events = events_frame(start, self.group_id, seconds[order], member[order], member_ids, codes[order],
                              ref_codes[order], ref_labels, amount[order])
        posts_array = np.array(self.posts, dtype=float).reshape(-1, 4)
        posts = pd.DataFrame({
            "post_id": pd.array(np.char.add("p", posts_array[:, 0].astype(int).astype(str)), dtype="string"),
            "ts": stamp(posts_array[:, 1]),
            "group_id": self.group_id,
            "content_type": pd.Categorical.from_codes(posts_array[:, 2].astype(int), categories=CONTENT_TYPES),
            "commercial": posts_array[:, 3].astype(bool),
        })
        cost_array = np.array(self.costs, dtype=float).reshape(-1, 3)
        cost_array = cost_array[np.argsort(cost_array[:, 0], kind="stable")]  # acquisition costs are booked up front
        costs = pd.DataFrame({
            "ts": stamp(cost_array[:, 0]),
            "group_id": self.group_id,
            "category": pd.Categorical.from_codes(cost_array[:, 1].astype(int), categories=COST_CATEGORIES),
            "amount": cost_array[:, 2],
        })
        daily = pd.DataFrame(self.daily_rows, columns=["day", "present", "messages", "commercial_share", "exits", *TIERS])
        activities = pd.DataFrame(self.activity_rows, columns=[
            "activity_id", "type", "start_day", "reached", "participants", "completed", "cost", "revenue",
            "invites", "referral_joins", "newcomer_participants"])
        # Questions the bots settled (arrays per day) and the others (tuples), in order of asking.
        bot_asked = np.concatenate([asked for asked, _ in self.bot_questions]) if self.bot_questions else np.empty(0)
        bot_askers = np.concatenate([askers for _, askers in self.bot_questions]) if self.bot_questions else np.empty(0, dtype=np.int64)
        rows = self.question_rows
        asked_day = np.concatenate([bot_asked, np.array([row[0] for row in rows], dtype=float)])
        order = np.argsort(asked_day, kind="stable")
        questions = pd.DataFrame({
            "asked_day": asked_day[order],
            "member": np.concatenate([bot_askers, np.array([row[1] for row in rows], dtype=np.int64)])[order],
            "answered_by": np.concatenate([np.full(bot_asked.size, "bot", dtype=object), np.array([row[2] for row in rows], dtype=object)])[order],
            "response_minutes": np.concatenate([np.full(bot_asked.size, float(p.automation.bot_answer_minutes)),
                                                np.array([row[3] for row in rows], dtype=float)])[order],
            "wait_minutes": np.concatenate([np.zeros(bot_asked.size), np.array([row[4] for row in rows], dtype=float)])[order],
        })
        incidents = pd.DataFrame(self.incident_rows, columns=["incident_id", "day", "type", "major", "response_hours", "exits", "offender"])
        self.counters["days"] = p.simulation.days
        self.counters["start_weekday"] = WEEKDAYS[start.weekday()]
        return RunResult(p, self.replication, {"members": members, "events": events, "posts": posts, "costs": costs},
                         daily, activities, questions, incidents, dict(self.counters))


    @staticmethod
    def ref_ids(ref_kind: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """ref_id strings ("p12", "a3", "m45", "admin", "bot", tier names) as categorical codes
        (-1 for none) and their sorted labels."""
        # Dense keys: each kind gets a block of integers (refs start at -2: bot, -1: admin/none),
        # so the distinct keys are found with a bincount instead of sorting the whole log.
        kinds = len(REF_PREFIX) + 1
        spans = np.zeros(kinds, dtype=np.int64)
        for kind in range(kinds):  # (np.maximum.at would do it in one call, but slowly)
            refs = ref[ref_kind == kind]
            if refs.size:
                spans[kind] = refs.max() + 3
        offsets = np.concatenate([[0], np.cumsum(spans)[:-1]])
        key = offsets[ref_kind] + ref + 2
        used = np.flatnonzero(np.bincount(key, minlength=int(spans.sum())))
        kind_of_key = np.searchsorted(offsets, used, side="right") - 1
        labels = []
        for kind, value in zip(kind_of_key.tolist(), used.tolist(), strict=True):
            number = value - int(offsets[kind]) - 2
            if kind == REF_NONE:
                labels.append(None)
            elif kind == REF_TIER:
                labels.append(TIERS[number])
            elif kind == REF_MEMBER and number < 0:
                labels.append("admin" if number == -1 else "bot")
            else:
                labels.append(f"{REF_PREFIX[kind]}{number}")
        categories = sorted({label for label in labels if label is not None})
        position = {label: i for i, label in enumerate(categories)}
        lookup = np.full(int(spans.sum()), -1, dtype=np.int64)
        lookup[used] = [position[label] if label is not None else -1 for label in labels]
        return lookup[key], categories


def chronological_order(seconds: np.ndarray) -> np.ndarray:
    """Positions that sort the log by its time stamps (integer seconds), ties in log order.

    The same order as a stable argsort, done by sorting the values of one integer key
    (second, then position, packed into the bits of an int64) and reading the positions back
    from its low bits: sorting values is several times faster than an argsort.
    """
    n = seconds.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    position_bits = n.bit_length()
    span = int(seconds.max() - seconds.min()) + 1
    if span.bit_length() + position_bits > 62:  # the key would overflow: fall back to the stable sort
        return np.argsort(seconds, kind="stable")
    key = ((seconds - seconds.min()) << position_bits) | np.arange(n)
    key.sort()
    return key & ((1 << position_bits) - 1)


def events_frame(start: pd.Timestamp, group_id: str, seconds: np.ndarray, member: np.ndarray, member_ids: np.ndarray,
                 codes: np.ndarray, ref_codes: np.ndarray, ref_labels: list[str], amount: np.ndarray) -> pd.DataFrame:
    """The events table from its columns, already in time order: ``seconds`` after ``start``,
    member, event and ref_id as categorical codes (-1 for none) into ``member_ids``,
    :data:`EVENT_TYPES` and ``ref_labels``."""
    return pd.DataFrame({
        "ts": start + pd.to_timedelta(seconds, unit="s"),
        "group_id": group_id,
        # Categorical ids: the same strings as members.member_id, without building 100k strings.
        # (validate=False: the codes are in range by construction; checking 200k of them three times costs.)
        "member_id": pd.Categorical.from_codes(member, categories=member_ids, validate=False),
        "event": pd.Categorical.from_codes(codes, categories=EVENT_TYPES, validate=False),
        "ref_id": pd.Categorical.from_codes(ref_codes, categories=ref_labels, validate=False),
        "amount": amount,
    })


def replication_model(params: Params, seed: int, replication: int) -> GroupModel:
    """The model of replication ``replication`` of ``params`` with the master ``seed``, not yet run.

    The replication's seed sequence depends only on (seed, replication), never on the
    scenario, so scenarios run with the same seed share their random streams.
    """
    return GroupModel(params, np.random.SeedSequence(seed, spawn_key=(replication,)), replication)


def run_replication(params: Params, seed: int, replication: int) -> RunResult:
    """Run replication ``replication`` of ``params`` with the master ``seed`` (see :func:`replication_model`)."""
    return replication_model(params, seed, replication).run()
