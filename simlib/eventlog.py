"""The event log of one replication and the tables built from it.

While the model runs, every process appends chunks to an :class:`EventLog` (one chunk per
vectorized step) and rows to plain lists (posts, costs, daily snapshots, activities,
questions, incidents). When the run ends, the functions below turn them into the tidy tables
of :mod:`simlib.schema` and the extra tables of a :class:`RunResult`.

Times are in days from the start date (0.5 = noon of the first day); the tables stamp them
in Asia/Shanghai, rounded to whole seconds.

Groups are numbered from 0 inside the engine and named ``g1``, ``g2``, … in the tables
(:func:`group_ids`). An event belongs to its member's group (members never change group), an
incident to the group it struck; a cost to the group it was spent on, or to none (a missing
``group_id``) when it serves the whole community, as acquisition does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simlib.agents import Members
from simlib.params import Params
from simlib.schema import CHANNELS, CONTENT_TYPES, COST_CATEGORIES, EVENT_TYPES, TIERS

EVENT_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
COST_CODE = {name: code for code, name in enumerate(COST_CATEGORIES)}
# Reference kinds for ref_id strings: post "p12", activity "a3", member "m45", incident "r7", tier name.
REF_NONE, REF_POST, REF_ACTIVITY, REF_MEMBER, REF_INCIDENT, REF_TIER = range(6)
REF_PREFIX = {REF_POST: "p", REF_ACTIVITY: "a", REF_MEMBER: "m", REF_INCIDENT: "r", REF_TIER: "t"}
# Member refs below zero: who answered a question.
REF_ADMIN, REF_BOT = -1, -2

ACTIVITY_COLUMNS = ["activity_id", "type", "start_day", "reached", "participants", "completed", "cost",
                    "revenue", "invites", "referral_joins", "newcomer_participants"]
INCIDENT_COLUMNS = ["incident_id", "day", "group_id", "type", "major", "response_hours", "exits", "offender"]
DAILY_COLUMNS = ["day", "present", "groups", "messages", "commercial_share", "exits", *TIERS]
NO_GROUP = -1  # a cost that serves the whole community (acquisition)
MEMBER_TRAITS = ("engagement", "price_sensitivity", "ad_tolerance", "bot_tolerance", "share_propensity")


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
            dtypes = (np.int8, float, np.int64, np.int8, np.int64, float)
            return tuple(np.empty(0, dtype=dtype) for dtype in dtypes)
        # One list per chunk position. (Not zip(*chunks): its thousands of tuple iterators are
        # objects the cyclic garbage collector tracks, enough to set off a full collection.)
        by_position = [[chunk[position] for chunk in self.chunks] for position in range(7)]
        codes, ref_kinds, sizes = by_position[0], by_position[3], np.array(by_position[6], dtype=np.int64)

        def column(position: int, dtype):
            # One value per chunk spread with np.repeat, then the arrays written over their chunks.
            values, missing = by_position[position], self._MISSING[position]
            is_array = [type(value) is np.ndarray for value in values]
            scalars = [missing if array or value is None else value
                       for value, array in zip(values, is_array, strict=True)]
            out = np.repeat(np.array(scalars, dtype=dtype), sizes)
            if any(is_array):
                # An explicit dtype spares concatenate resolving the common type of thousands of parts.
                parts = [value for value, array in zip(values, is_array, strict=True) if array]
                in_arrays = np.repeat(np.array(is_array), sizes)
                out[in_arrays] = np.concatenate(parts, dtype=dtype, casting="same_kind")
            return out

        return (np.repeat(np.array(codes, dtype=np.int8), sizes), column(1, float), column(2, np.int64),
                np.repeat(np.array(ref_kinds, dtype=np.int8), sizes), column(4, np.int64), column(5, float))


# --------------------------------------------------------------------------- the events table


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
            labels.append("admin" if number == REF_ADMIN else "bot")
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


def group_ids(count: int) -> list[str]:
    """The names of groups 0 … count − 1 in the tables: g1, g2, …"""
    return [f"g{group + 1}" for group in range(count)]


def group_column(codes: np.ndarray, count: int) -> pd.Categorical:
    """A group_id column from group numbers (-1 for none)."""
    return pd.Categorical.from_codes(codes, categories=group_ids(count), validate=False)


def events_frame(start: pd.Timestamp, group: pd.Categorical, seconds: np.ndarray, member: np.ndarray,
                 member_ids: np.ndarray, codes: np.ndarray, ref_codes: np.ndarray, ref_labels: list[str],
                 amount: np.ndarray) -> pd.DataFrame:
    """The events table from its columns, already in time order: ``seconds`` after ``start``,
    the group (a categorical), member, event and ref_id as categorical codes (-1 for none) into
    ``member_ids``, :data:`EVENT_TYPES` and ``ref_labels``."""
    return pd.DataFrame({
        "ts": start + pd.to_timedelta(seconds, unit="s"),
        "group_id": group,
        # Categorical ids: the same strings as members.member_id, without building 100k strings.
        # (validate=False: the codes are in range by construction; checking 200k of them three times costs.)
        "member_id": pd.Categorical.from_codes(member, categories=member_ids, validate=False),
        "event": pd.Categorical.from_codes(codes, categories=EVENT_TYPES, validate=False),
        "ref_id": pd.Categorical.from_codes(ref_codes, categories=ref_labels, validate=False),
        "amount": amount,
    })


# --------------------------------------------------------------------------- the schema tables


def _stamps(start: pd.Timestamp, days: np.ndarray) -> pd.DatetimeIndex:
    """Times in days after ``start`` as time stamps, rounded to whole seconds (NaN → NaT)."""
    return start + pd.to_timedelta(np.round(np.asarray(days) * 86400), unit="s")


def log_tables(log: EventLog, members: Members, posts: list[tuple], costs: list[tuple], start: pd.Timestamp,
               groups: int, incident_groups: np.ndarray) -> dict[str, pd.DataFrame]:
    """The four schema tables (members, events, posts, costs) of a run of ``groups`` groups.

    ``posts`` holds (post id, ts, content type code, commercial, group) and ``costs`` (ts,
    category code, amount, group or :data:`NO_GROUP`) tuples in the order they were booked;
    ``incident_groups[i]`` is the group incident ``i`` struck.
    """
    n = members.count
    member_ids = np.char.add("m", np.arange(n).astype(str))
    codes, ts, member, ref_kind, ref, amount = log.arrays()
    # Each member's join and exit times from the log (NaN, then NaT, for members still in).
    join_ts, left_ts = np.zeros(n), np.full(n, np.nan)
    joins = (codes == EVENT_CODE["join"]) & (member >= 0)
    join_ts[member[joins]] = ts[joins]
    gone = ((codes == EVENT_CODE["leave"]) | (codes == EVENT_CODE["removed"])) & (member >= 0)
    left_ts[member[gone]] = ts[gone]
    final_tier = np.where(members.present[:n], members.tier[:n], -1)
    member_group = members.group[:n]
    members_table = pd.DataFrame({
        "member_id": member_ids,
        "group_id": group_column(member_group, groups),
        "join_ts": _stamps(start, join_ts),
        "channel": pd.Categorical.from_codes(members.channel[:n], categories=CHANNELS),
        "left_ts": _stamps(start, left_ts),
        **{trait: getattr(members, trait)[:n] for trait in MEMBER_TRAITS},
        "overlap": members.overlap[:n],
        "revenue": members.revenue[:n],
        "tier_final": pd.Categorical.from_codes(final_tier, categories=TIERS),
    })

    # The log in time order, stamped to whole seconds.
    seconds = np.round(ts * 86400).astype(np.int64)
    order = chronological_order(seconds)
    ref_codes, ref_labels = ref_ids(ref_kind, ref)
    # Each event's group: its member's, or for an incident (no member) the group it struck.
    event_group = np.full(member.size, -1, dtype=np.int64)
    with_member = member >= 0
    event_group[with_member] = member_group[member[with_member]]
    incidents = (member < 0) & (ref_kind == REF_INCIDENT)
    event_group[incidents] = incident_groups[ref[incidents]]
    events = events_frame(start, group_column(event_group[order], groups), seconds[order], member[order],
                          member_ids, codes[order], ref_codes[order], ref_labels, amount[order])
    posts_array = np.array(posts, dtype=float).reshape(-1, 5)
    posts_table = pd.DataFrame({
        "post_id": pd.array(np.char.add("p", posts_array[:, 0].astype(int).astype(str)), dtype="string"),
        "ts": _stamps(start, posts_array[:, 1]),
        "group_id": group_column(posts_array[:, 4].astype(np.int64), groups),
        "content_type": pd.Categorical.from_codes(posts_array[:, 2].astype(int), categories=CONTENT_TYPES),
        "commercial": posts_array[:, 3].astype(bool),
    })
    cost_array = np.array(costs, dtype=float).reshape(-1, 4)
    # In time order: acquisition costs are booked up front.
    cost_array = cost_array[np.argsort(cost_array[:, 0], kind="stable")]
    costs_table = pd.DataFrame({
        "ts": _stamps(start, cost_array[:, 0]),
        "group_id": group_column(cost_array[:, 3].astype(np.int64), groups),
        "category": pd.Categorical.from_codes(cost_array[:, 1].astype(int), categories=COST_CATEGORIES),
        "amount": cost_array[:, 2],
    })
    return {"members": members_table, "events": events, "posts": posts_table, "costs": costs_table}


def questions_table(bot_questions: list[tuple[np.ndarray, np.ndarray]], question_rows: list[tuple],
                    bot_answer_minutes: float, members: Members, groups: int) -> pd.DataFrame:
    """One row per question, in order of asking: the bots' (``bot_questions``: arrays of asked
    days and askers, one pair a day) and the others' (``question_rows``: asked day, asker,
    answered by, response minutes, wait minutes, the asker's patience in minutes, complained:
    1.0, 0.0 or NaN when unknown at the horizon). The asker's group, and whether the question
    ended in a complaint (a bot's answer settles it in time; see
    :func:`simlib.processes.monitoring.answered_within_patience`)."""
    if bot_questions:
        bot_asked = np.concatenate([asked for asked, _ in bot_questions])
        bot_askers = np.concatenate([askers for _, askers in bot_questions])
    else:
        bot_asked, bot_askers = np.empty(0), np.empty(0, dtype=np.int64)
    rows = question_rows
    asked_day = np.concatenate([bot_asked, np.array([row[0] for row in rows], dtype=float)])
    order = np.argsort(asked_day, kind="stable")
    askers = np.concatenate([bot_askers, np.array([row[1] for row in rows], dtype=np.int64)])
    answered_by = np.concatenate([np.full(bot_asked.size, "bot", dtype=object),
                                  np.array([row[2] for row in rows], dtype=object)])
    response = np.concatenate([np.full(bot_asked.size, float(bot_answer_minutes)),
                               np.array([row[3] for row in rows], dtype=float)])
    wait = np.concatenate([np.zeros(bot_asked.size), np.array([row[4] for row in rows], dtype=float)])
    patience = np.concatenate([np.full(bot_asked.size, np.nan),
                               np.array([row[5] for row in rows], dtype=float)])
    complained = np.concatenate([np.zeros(bot_asked.size), np.array([row[6] for row in rows], dtype=float)])
    complained = pd.array(np.where(np.isnan(complained), None, complained == 1.0)[order], dtype="boolean")
    return pd.DataFrame({"asked_day": asked_day[order], "member": askers[order],
                         "group_id": group_column(members.group[askers[order]], groups),
                         "answered_by": answered_by[order], "response_minutes": response[order],
                         "wait_minutes": wait[order], "patience_minutes": patience[order],
                         "complained": complained})
