"""Real-data loaders: WeChat and WeCom exports and orders → the event-log schema.

Entry points:

* :func:`load` — one file; the format is detected from the CSV header / JSON shape or
  given by name (see :data:`FORMATS`).
* :func:`load_many` — several files combined into one :class:`LoadedLog` (events seen in
  two overlapping files are kept once and counted in ``skipped``).
* :func:`write_tables` — write a LoadedLog's tables as spreadsheet-safe CSV, atomically.

Every personal identifier (WeChat id, WeCom userid, nickname, order number, group id) is
replaced on load by a keyed pseudonym (see :mod:`simlib.io.pseudonym`); message text is
dropped unless ``keep_text=True``. Problems are reported as :class:`LoadError` naming the
file, the line (1-based, as in the file) or JSON key, the bad value and what was expected;
rows that can safely be left out (duplicates, unknown message types, system lines that are
not membership changes) are counted in ``LoadedLog.skipped`` instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from simlib import schema
from simlib.io.common import SKIPPED_COLUMNS, LoadedLog, LoadError
from simlib.io.detect import FORMATS, detect_format
from simlib.io.orders import load_orders
from simlib.io.pseudonym import KEY_ENV, KEY_FILE_ENV, Pseudonymizer, PseudonymKeyError
from simlib.io.wechat import load_pywxdump, load_wechatmsg_v1, load_wechatmsg_v2
from simlib.io.wecom import load_callbacks, load_groupchat_get, load_statistic

LOADERS = {
    "wechatmsg_v1": load_wechatmsg_v1,
    "wechatmsg_v2": load_wechatmsg_v2,
    "pywxdump": load_pywxdump,
    "wecom_groupchat_get": load_groupchat_get,
    "wecom_callback": load_callbacks,
    "wecom_statistic": load_statistic,
    "orders": load_orders,
}

__all__ = [
    "FORMATS",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "LoadError",
    "LoadedLog",
    "PseudonymKeyError",
    "Pseudonymizer",
    "detect_format",
    "load",
    "load_many",
    "write_tables",
]


def load(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    key: str | bytes | None = None,
    keep_text: bool = False,
    group_id: str | None = None,
) -> LoadedLog:
    """Load one export into schema tables.

    ``key`` is the pseudonymization key (default: ``SIMLIB_PSEUDONYM_KEY`` or the file named
    by ``SIMLIB_PSEUDONYM_KEY_FILE``; :class:`PseudonymKeyError` if none). ``group_id``, if
    given, is used as the group id of every row as is (pick a neutral label, not a real name).
    """
    pseudonyms = Pseudonymizer(key)  # before reading anything: no key, no data
    if format is None:
        format = detect_format(path)
    if format not in LOADERS:
        raise LoadError(f"unknown format {format!r}; expected one of {sorted(LOADERS)}", path=path)
    return LOADERS[format](path, pseudonyms, keep_text=keep_text, group_id=group_id)


def load_many(
    paths: Sequence[str | os.PathLike],
    formats: Sequence[str | None] | None = None,
    *,
    key: str | bytes | None = None,
    keep_text: bool = False,
    group_id: str | None = None,
) -> LoadedLog:
    """Load several files (e.g. a chat export, a WeCom member list and orders) as one log.

    Members are merged per (member, group): earliest join and the first known channel, and
    the latest exit if no join followed it. Orders without a group column get the group of
    the other files when there is exactly one.
    """
    if not paths:
        raise LoadError("no files given; expected at least one path")
    formats = list(formats) if formats is not None else [None] * len(paths)
    if len(formats) != len(paths):
        raise LoadError(f"{len(formats)} formats for {len(paths)} files; expected one per file (or None)")
    logs = [
        load(p, f, key=key, keep_text=keep_text, group_id=group_id)
        for p, f in zip(paths, formats, strict=True)
    ]
    if len(logs) == 1:
        return logs[0]
    return combine(logs)


def combine(logs: Sequence[LoadedLog]) -> LoadedLog:
    """Combine loaded logs (see :func:`load_many`)."""
    frames = []
    for index, log in enumerate(logs):
        frame = log.events.copy()
        frame["_file"] = index
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    groups = sorted({g for log in logs for g in log.group_ids})
    if len(groups) == 1:
        events["group_id"] = events["group_id"].fillna(groups[0])
    # The same event in two overlapping exports: keep the first file's copy.
    key = ["ts", "group_id", "member_id", "event", "ref_id", "amount"]
    filled = events[key].astype("string").fillna("<NA>")
    first = events.groupby([filled[c] for c in key], sort=False)["_file"].transform("min")
    dropped = events[events["_file"] != first]
    skipped = [log.skipped for log in logs]
    if len(dropped):
        skipped.append(pd.DataFrame({
            "file": [logs[i].files[0] for i in dropped["_file"]],
            "row": pd.array([None] * len(dropped), dtype="Int64"),
            "reason": [f"event also in {logs[i].files[0]}" for i in first[dropped.index]],
        }))
    events = events[events["_file"] == first].drop(columns="_file")
    events = events.sort_values("ts", kind="stable").reset_index(drop=True)
    members = _merge_members([log.members for log in logs])
    dailies = [log.daily for log in logs if log.daily is not None]
    formats = sorted({log.source_format for log in logs})
    return LoadedLog(
        members=members,
        events=schema.coerce("events", events),
        posts=schema.coerce("posts", pd.concat([log.posts for log in logs], ignore_index=True)),
        costs=schema.coerce("costs", pd.concat([log.costs for log in logs], ignore_index=True)),
        skipped=pd.concat(skipped, ignore_index=True)[SKIPPED_COLUMNS],
        source_format="+".join(formats),
        group_ids=sorted(set(groups) | set(members["group_id"].dropna().astype(str))),
        daily=pd.concat(dailies, ignore_index=True) if dailies else None,
        encoding=",".join(sorted({log.encoding for log in logs if log.encoding})) or None,
        files=[f for log in logs for f in log.files],
    )


def _merge_members(tables: list[pd.DataFrame]) -> pd.DataFrame:
    non_empty = [t for t in tables if len(t)]
    table = pd.concat(non_empty, ignore_index=True) if non_empty else None
    if table is None:
        return schema.empty_table("members")
    table = table.sort_values("join_ts", kind="stable")
    rows = []
    for (member, group), own in table.groupby(["member_id", "group_id"], sort=True, observed=True):
        channels = [c for c in own["channel"].astype(str) if c != "unknown"]
        left = own["left_ts"].dropna()
        left_ts = left.max() if len(left) and left.max() >= own["join_ts"].max() else pd.NaT
        rows.append((member, group, own["join_ts"].iloc[0], channels[0] if channels else "unknown", left_ts))
    frame = pd.DataFrame(rows, columns=schema.MEMBER_COLUMNS)
    frame["left_ts"] = pd.to_datetime(frame["left_ts"], utc=True).dt.tz_convert(schema.TZ)
    return schema.coerce("members", frame)


def write_tables(log: LoadedLog, folder: str | os.PathLike) -> list[Path]:
    """Write members/events/posts/costs (+ daily, skipped) as CSV under ``folder``.

    Cells are made spreadsheet-safe with :func:`simlib.report_safety.csv_safe`. Every file
    is first written to a temporary name and only renamed into place once all were written,
    so a failure never leaves a half-written set.
    """
    from simlib.report_safety import csv_safe

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    tables = {"members": log.members, "events": log.events, "posts": log.posts, "costs": log.costs,
              "skipped": log.skipped}
    if log.daily is not None:
        tables["daily"] = log.daily
    pending: list[tuple[str, Path]] = []
    try:
        for name, table in tables.items():
            handle, temporary = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".tmp")
            pending.append((temporary, target / f"{name}.csv"))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                csv_safe(table).to_csv(stream, index=False)
    except BaseException:
        for temporary, _ in pending:
            Path(temporary).unlink(missing_ok=True)
        raise
    for temporary, final in pending:
        os.replace(temporary, final)
    return [final for _, final in pending]
