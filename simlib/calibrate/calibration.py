"""What a calibration found (:class:`Calibration`) and :func:`estimate`, which reads the log's
window and runs the four estimators: chat, exits, purchases and arrivals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simlib.calibrate.arrivals import estimate_arrivals
from simlib.calibrate.chat import estimate_chat
from simlib.calibrate.estimates import CalibrationError, Estimate
from simlib.calibrate.exits import estimate_exits
from simlib.calibrate.purchases import estimate_purchases
from simlib.calibrate.window import check_count, observe, read_tables


@dataclass
class Calibration:
    """What :func:`estimate` found in a log. ``estimates`` maps names to :class:`Estimate`."""

    start: pd.Timestamp  # first day of the window (midnight, Asia/Shanghai)
    end: pd.Timestamp  # last day of the window (inclusive)
    days: int
    estimates: dict[str, Estimate]
    hourly_profile: pd.DataFrame  # hour, messages, per_member_day, share
    transitions: pd.DataFrame | None  # weekly tier transition shares (from × to)
    members_seen: int  # members with a spell in the window, hidden ones included
    hidden_members: int  # members added back from the group size (no event in the window)
    members_at_start: int  # group size on the first day (hidden members included)
    members_at_end: int  # group size on the last day (hidden members included)
    member_days: int
    source: str = ""
    notes: list[str] = field(default_factory=list)
    # Leaves and member-days whose tier could be judged, split silent / other (see simlib.calibrate.exits).
    exit_split: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Estimate:
        if name not in self.estimates:
            raise KeyError(f"no estimate {name!r}; available: {sorted(self.estimates)}")
        return self.estimates[name]

    def table(self) -> pd.DataFrame:
        """All estimates as a tidy table (name, value, low, high, n, unit, method)."""
        rows = [{"name": name, "value": e.value, "low": e.low, "high": e.high, "n": e.n, "unit": e.unit,
                 "method": e.method} for name, e in self.estimates.items()]
        return pd.DataFrame(rows)

    @property
    def window_text(self) -> str:
        return f"{self.start.date()} … {self.end.date()} ({self.days} days)"


def estimate(
    log_or_tables: Any,
    *,
    start: Any = None,
    end: Any = None,
    members_at_start: int | None = None,
    members_at_end: int | None = None,
    exclude_members: Iterable[str] = (),
    rules: Any = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> Calibration:
    """Estimate the simulation's behavioural parameters from a group's event log.

    ``log_or_tables``: a :class:`simlib.io.LoadedLog` (merge an orders CSV with
    ``simlib.io.load_many([chat, orders])`` to estimate purchases), a simulated
    :class:`simlib.model.RunResult`, or a mapping with ``members`` and ``events`` tables.
    ``start``/``end``: first and last day of the window (inclusive; default: the day of the
    first message and of the last event). ``members_at_start``/``members_at_end``: the group
    size on those days, if known (see :mod:`simlib.calibrate`: it recovers members who were
    invisible in the log). ``exclude_members``: member ids to leave out (e.g. the operator's
    own account). ``rules``: tier rules (default: those of ``params/defaults.yaml``).
    ``bootstrap``: replicates for the chat intervals; ``seed`` makes them reproducible.

    Raises :class:`CalibrationError` (a ValueError) when the log is empty, has no messages
    in the window, the window holds no members, or an argument is out of range.
    """
    members, events, source = read_tables(log_or_tables)
    members_at_start = check_count("members_at_start", members_at_start)
    members_at_end = check_count("members_at_end", members_at_end)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 100:
        raise CalibrationError(f"bootstrap = {bootstrap!r}: expected an integer ≥ 100 (replicates)")
    window = observe(members, events, source, start=start, end=end, members_at_start=members_at_start,
                     members_at_end=members_at_end, exclude_members=exclude_members)
    chat = estimate_chat(window, bootstrap, seed)
    exits = estimate_exits(window, rules)
    purchases, arrivals = estimate_purchases(window), estimate_arrivals(window)
    estimates = {**chat.estimates, **exits.estimates, **purchases, **arrivals}
    spells = window.spells
    return Calibration(
        start=window.first_day, end=window.last_day, days=window.n_days, estimates=estimates,
        hourly_profile=chat.hourly_profile, transitions=exits.transitions, members_seen=window.n_members,
        hidden_members=spells.hidden, members_at_start=int((~spells.joined).sum()),
        members_at_end=int((spells.exit_kind == "").sum()), member_days=window.member_days, source=source,
        notes=[*window.notes, *exits.notes, *chat.notes], exit_split=exits.split,
    )
