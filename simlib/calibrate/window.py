"""The observation window of a log: the tables read and checked, the window's days, and each
member's spell in the group during it (hidden silent members added back from the group size).
Every estimator reads the :class:`Window` that :func:`observe` returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlib.calibrate.estimates import CalibrationError
from simlib.schema import TZ

#: Stand-in ids of members the group size adds back (present all window, never seen in it).
HIDDEN_PREFIX = "~hidden"


@dataclass
class Spells:
    """One spell per member: from joining (or the window start) to the first exit."""

    ids: np.ndarray  # member ids (str)
    entry: np.ndarray  # day index of entry (0 = window start)
    last: np.ndarray  # last day at risk (exit day or the window's last day)
    exit_kind: np.ndarray  # "", "leave" or "removed"
    joined: np.ndarray  # bool: joined inside the window (else present at its start)
    hidden: int


@dataclass
class Window:
    """What the estimators read: the log's tables limited to the window's members."""

    members: pd.DataFrame  # the members table, excluded members left out
    events: pd.DataFrame  # events of known members (excluded ones left out), ts in Asia/Shanghai
    messages: pd.DataFrame  # member messages inside the window (a simulated log's spontaneous chat only)
    first_day: pd.Timestamp  # midnight, Asia/Shanghai
    last_day: pd.Timestamp  # inclusive
    n_days: int
    spells: Spells
    exposure: np.ndarray  # member-days of each spell
    member_days: int
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def n_members(self) -> int:
        return len(self.spells.ids)


# --------------------------------------------------------------------------- input


def read_tables(log_or_tables: Any) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(members, events, source label) from a LoadedLog, a RunResult or a mapping of tables."""
    if hasattr(log_or_tables, "members") and hasattr(log_or_tables, "events"):
        members, events = log_or_tables.members, log_or_tables.events
        files = len(getattr(log_or_tables, "files", None) or [])
        source_format = getattr(log_or_tables, "source_format", "log")
        # Formats and a count, never file names: chat exports are named after the chat, and the
        # source reaches the calibrated scenario's description.
        source = f"{source_format} export ({files} file{'s' if files != 1 else ''})" if files else "log"
    elif hasattr(log_or_tables, "tables") and isinstance(log_or_tables.tables, Mapping):
        members, events = log_or_tables.tables.get("members"), log_or_tables.tables.get("events")
        source = "simulated run"
    elif isinstance(log_or_tables, Mapping):
        missing = [k for k in ("members", "events") if k not in log_or_tables]
        if missing:
            raise CalibrationError(
                f"tables lack {missing}; expected a mapping with 'members' and 'events' DataFrames")
        members, events = log_or_tables["members"], log_or_tables["events"]
        source = "tables"
    else:
        raise CalibrationError(
            f"cannot calibrate a {type(log_or_tables).__name__}; expected a LoadedLog (simlib.io.load), "
            "a RunResult or a mapping with 'members' and 'events' DataFrames")
    for name, frame, needed in (("events", events, ("ts", "member_id", "event")),
                                ("members", members, ("member_id", "join_ts"))):
        if not isinstance(frame, pd.DataFrame):
            raise CalibrationError(f"table {name!r} is a {type(frame).__name__}; expected a pandas DataFrame")
        lacking = [c for c in needed if c not in frame.columns]
        if lacking:
            raise CalibrationError(f"table {name!r} lacks columns {lacking}; has {list(frame.columns)}")
    return members, events, source


def check_count(name: str, value: Any) -> int | None:
    """A member count given by the user (or None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise CalibrationError(f"{name} = {value!r}: expected a member count (an integer ≥ 0) or None")
    return int(value)


def _day(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise CalibrationError(f"{name} = {value!r}: expected a date such as '2026-03-01'") from None
    if stamp is pd.NaT:
        raise CalibrationError(f"{name} = {value!r}: expected a date such as '2026-03-01'")
    stamp = stamp.tz_localize(TZ) if stamp.tzinfo is None else stamp.tz_convert(TZ)
    return stamp.normalize()


def _local(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts)
    return ts.dt.tz_localize(TZ) if ts.dt.tz is None else ts.dt.tz_convert(TZ)


def day_index(ts: pd.Series, first_day: pd.Timestamp) -> np.ndarray:
    """Days after ``first_day`` (0 = the window's first day) of local time stamps."""
    return ((ts.dt.normalize() - first_day).dt.days).to_numpy()


# --------------------------------------------------------------------------- the window


def observe(members: pd.DataFrame, events: pd.DataFrame, source: str, *, start: Any, end: Any,
            members_at_start: int | None, members_at_end: int | None,
            exclude_members: Iterable[str]) -> Window:
    """The window (``start``/``end``: its first and last day, by default the day of the first
    message and of the last event) and the members' spells in it."""
    if events.empty:
        raise CalibrationError(f"{source}: the log has no events; expected a chat export with messages")
    excluded = {str(m) for m in exclude_members}
    events = events[events["member_id"].notna()]
    if excluded:
        events = events[~events["member_id"].astype(str).isin(excluded)]
        members = members[~members["member_id"].astype(str).isin(excluded)]
    events = events.assign(ts=_local(events["ts"]))
    is_message = events["event"].astype(str) == "message"
    if "ref_id" in events.columns:
        # Simulated logs mark post replies, check-ins and recall messages; chat exports do not.
        is_message &= events["ref_id"].isna()
    messages = events[is_message]
    if messages.empty:
        raise CalibrationError(
            f"{source}: the log has no member messages; expected at least one 'message' event")
    first_day = _day(start, "start") if start is not None else messages["ts"].min().normalize()
    last_day = _day(end, "end") if end is not None else events["ts"].max().normalize()
    if last_day < first_day:
        raise CalibrationError(
            f"window start {first_day.date()} is after its end {last_day.date()}; expected start ≤ end")
    n_days = int((last_day - first_day).days) + 1
    spells = _spells(members, events, first_day, n_days, members_at_start, members_at_end)
    if len(spells.ids) == 0:
        raise CalibrationError(
            f"{source}: no member is in the group between {first_day.date()} and {last_day.date()}; "
            "expected a window that overlaps the log")
    msg_day = day_index(messages["ts"], first_day)
    messages = messages[(msg_day >= 0) & (msg_day < n_days)]
    if messages.empty:
        raise CalibrationError(
            f"{source}: no member message between {first_day.date()} and {last_day.date()}; "
            "expected messages inside the window")
    exposure = (spells.last - spells.entry + 1).astype(float)
    notes = []
    if members_at_start is None and members_at_end is None:
        notes.append("group size not given: members who neither spoke, joined nor left in the window are "
                     "counted only if the members table lists them (a WeCom member list or a simulated log "
                     "does, a chat export does not); otherwise rates and hazards are too high — pass "
                     "members_at_end=")
    return Window(members, events, messages, first_day, last_day, n_days, spells, exposure,
                  int(exposure.sum()), source, notes)


def _hidden(name: str, given: int, visible: int, day: pd.Timestamp) -> int:
    """Members the group size ``given`` on ``day`` adds to the ``visible`` ones."""
    if given < visible:
        raise CalibrationError(
            f"{name} = {given}, but {visible} members are seen in the group at {day.date()}; "
            "expected at least that many")
    return given - visible


def _spells(members: pd.DataFrame, events: pd.DataFrame, start: pd.Timestamp, n_days: int,
            hidden_at_start: int | None, hidden_at_end: int | None) -> Spells:
    known = events[events["member_id"].notna()]
    day = ((_local(known["ts"]).dt.normalize() - start).dt.days).to_numpy()
    inside = (day >= 0) & (day < n_days)
    kinds = known["event"].astype(str).to_numpy()
    ids_all = known["member_id"].astype(str).to_numpy()
    frame = pd.DataFrame({"id": ids_all[inside], "day": day[inside], "kind": kinds[inside]})
    joins = frame[frame["kind"] == "join"].groupby("id")["day"].min()
    # Members of the roster present at the start (joined before it, not gone before it).
    roster = members.copy()
    roster_join = _local(roster["join_ts"])
    roster_left = _local(roster["left_ts"]) if "left_ts" in roster else pd.Series(pd.NaT, index=roster.index)
    at_start = (roster_join < start) & ~(roster_left < start)
    ids = set(frame["id"]) | set(roster.loc[at_start, "member_id"].astype(str))
    ids = np.array(sorted(ids), dtype=object)
    index = pd.Index(ids)
    entry = np.zeros(len(ids), dtype=np.int64)
    joined = np.zeros(len(ids), dtype=bool)
    position = index.get_indexer(joins.index)
    entry[position] = joins.to_numpy()
    joined[position] = True
    # A member's exit: the first leave/removal on or after their entry day.
    exits = frame[frame["kind"].isin(["leave", "removed"])].sort_values("day", kind="stable")
    exit_pos = index.get_indexer(exits["id"])
    after = exits["day"].to_numpy() >= entry[exit_pos]
    exits = exits[after]
    first_exit = exits.drop_duplicates("id")
    last = np.full(len(ids), n_days - 1, dtype=np.int64)
    exit_kind = np.full(len(ids), "", dtype=object)
    pos = index.get_indexer(first_exit["id"])
    last[pos] = first_exit["day"].to_numpy()
    exit_kind[pos] = first_exit["kind"].to_numpy()
    # Members without any event in the window whom the roster does not list are invisible in
    # a chat log; the group size brings them back (present throughout, no messages).
    hidden = 0
    if hidden_at_start is not None:
        hidden = _hidden("members_at_start", hidden_at_start, int((~joined).sum()), start)
    if hidden_at_end is not None:
        last_day = start + pd.Timedelta(days=n_days) - pd.Timedelta(days=1)
        hidden_end = _hidden("members_at_end", hidden_at_end, int((exit_kind == "").sum()), last_day)
        if hidden_at_start is not None and hidden_end != hidden:
            raise CalibrationError(
                f"members_at_start = {hidden_at_start} and members_at_end = {hidden_at_end} disagree with "
                f"the log: they imply {hidden} and {hidden_end} silent members; expected the same number "
                "(give one of them)")
        hidden = hidden_end
    if hidden:
        stand_ins = np.array([f"{HIDDEN_PREFIX}{i:05d}" for i in range(hidden)], dtype=object)
        ids = np.concatenate([ids, stand_ins])
        entry = np.concatenate([entry, np.zeros(hidden, dtype=np.int64)])
        last = np.concatenate([last, np.full(hidden, n_days - 1, dtype=np.int64)])
        exit_kind = np.concatenate([exit_kind, np.full(hidden, "", dtype=object)])
        joined = np.concatenate([joined, np.zeros(hidden, dtype=bool)])
    return Spells(ids, entry, last, exit_kind, joined, hidden)
