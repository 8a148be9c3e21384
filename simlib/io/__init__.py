"""Real-data loaders: WeChat and WeCom exports and orders → the event-log schema.

Entry points:

* :func:`load` — one file; the format is detected from the CSV header / JSON shape or
  given by name (see :data:`FORMATS`).
* :func:`load_many` — several files combined into one :class:`LoadedLog` (events seen in
  two overlapping files are kept once and counted in ``skipped``).
* :func:`write_tables` — write a LoadedLog's tables as spreadsheet-safe CSV, atomically.

Every personal identifier (WeChat id, WeCom userid, nickname, order number, group id) is
replaced on load by a keyed pseudonym (see :mod:`simlib.io.pseudonym`); message text is
dropped unless ``keep_text=True``. The file's name never reaches a table either (chat exports
are named after the chat): ``LoadedLog.skipped`` names a file by its number in the load, and
``LoadedLog.files`` (kept in memory, never written) holds the paths. Problems are reported as
:class:`LoadError` naming the file, the line (1-based, as in the file) or JSON key, the bad
value and what was expected; rows that can safely be left out (duplicates, unknown message
types, system lines that are not membership changes) are counted in ``LoadedLog.skipped``.

Group ids follow one rule in every format (:class:`simlib.io.common.GroupIds`): ``group_id=``
as given, else the keyed pseudonym of the room's id — ``room=`` if given, else the id the
file carries (chat room id, WeCom chat id, an orders file's group column). Loading the same
room from several formats therefore gives one group id; pass ``room=`` for files that carry
no usable room id (WeChatMsg v2; v1 when its TalkerId is a local number).
Who counts as a member of a chat export, and how names in system lines are linked to ids,
is described in :mod:`simlib.io.wechat`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from simlib import schema
from simlib.io.common import LoadedLog, LoadError, skipped_frame
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
    room: str | None = None,
) -> LoadedLog:
    """Load one export into schema tables.

    ``key`` is the pseudonymization key (default: ``SIMLIB_PSEUDONYM_KEY`` or the file named
    by ``SIMLIB_PSEUDONYM_KEY_FILE``; :class:`PseudonymKeyError` if none). ``group_id``, if
    given, is used as the group id of every row as is (pick a neutral label, not a real name).
    ``room``, if given, is the room's id (e.g. ``'123@chatroom'`` or a WeCom chat id) for every
    row, pseudonymized like the room ids files carry: give it for a file without one (WeChatMsg
    v2) to link it to other exports of the same room.
    """
    pseudonyms = Pseudonymizer(key)  # before reading anything: no key, no data
    for name, value in (("group_id", group_id), ("room", room)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise LoadError(f"{name} = {value!r}; expected a non-empty string or None", path=path)
    if format is None:
        format = detect_format(path)
    if format not in LOADERS:
        raise LoadError(f"unknown format {format!r}; expected one of {sorted(LOADERS)}", path=path)
    return LOADERS[format](path, pseudonyms, keep_text=keep_text, group_id=group_id, room=room)


def load_many(
    paths: Sequence[str | os.PathLike],
    formats: Sequence[str | None] | None = None,
    *,
    key: str | bytes | None = None,
    keep_text: bool = False,
    group_id: str | None = None,
    room: str | None = None,
) -> LoadedLog:
    """Load several files (e.g. a chat export, a WeCom member list and orders) as one log.

    Members are merged per (member, group): earliest join and the first known channel, and
    the latest exit if no join followed it. Orders without a group column get the group of
    the other files when there is exactly one. ``group_id`` and ``room`` apply to every file
    (see :func:`load`); in ``skipped``, ``file`` is the file's position in ``paths`` (from 1).
    """
    if not paths:
        raise LoadError("no files given; expected at least one path")
    formats = list(formats) if formats is not None else [None] * len(paths)
    if len(formats) != len(paths):
        raise LoadError(f"{len(formats)} formats for {len(paths)} files; expected one per file (or None)")
    logs = [
        load(p, f, key=key, keep_text=keep_text, group_id=group_id, room=room)
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
    # Files are numbered across the logs (a log's own skips count its files from 1).
    offsets = np.cumsum([0] + [max(len(log.files), 1) for log in logs])
    skipped = [log.skipped.assign(file=log.skipped["file"] + offset)
               for log, offset in zip(logs, offsets[:-1], strict=True)]
    if len(dropped):
        skipped.append(skipped_frame(
            (offsets[index] + 1, None, f"event also in file {offsets[earlier] + 1}")
            for index, earlier in zip(dropped["_file"], first[dropped.index], strict=True)
        ))
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
        skipped=pd.concat(skipped, ignore_index=True),
        source_format="+".join(formats),
        group_ids=sorted(set(groups) | set(members["group_id"].dropna().astype(str))),
        daily=pd.concat(dailies, ignore_index=True) if dailies else None,
        encoding=",".join(sorted({log.encoding for log in logs if log.encoding})) or None,
        files=[f for log in logs for f in log.files],
        notes=[note for log in logs for note in log.notes],
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
