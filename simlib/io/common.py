"""Shared pieces of the real-data loaders: errors, the loaded-log container, decoding,
CSV reading with file line numbers, time parsing and building the members table.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from simlib import schema

UTF8_BOM = b"\xef\xbb\xbf"


class LoadError(ValueError):
    """A real-data file cannot be loaded: names the file, the line, the bad value and what was expected."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)


def bad_value(path, line: int | None, column: str, value: object, expected: str) -> LoadError:
    """A LoadError for one bad cell: 'file, line N: column 'X' has value 'v'; expected ...'."""
    shown = repr(value if not isinstance(value, str) or len(value) <= 60 else value[:57] + "...")
    return LoadError(f"column {column!r} has value {shown}; expected {expected}", path=path, line=line)


@dataclass
class LoadedLog:
    """What a loader returns: the four schema tables plus what was skipped and why.

    ``events`` carries extra columns beside the schema ones: ``msg_kind`` (the mapped
    WeChat message type for messages, ``system`` for events parsed from system lines) and,
    only when loaded with ``keep_text=True``, ``text`` (message text, names pseudonymized in
    system lines). ``daily`` holds WeCom's aggregate statistics (one row per group and day)
    when the source is ``statistic_group_by_day``; it is None otherwise.
    """

    members: pd.DataFrame
    events: pd.DataFrame
    posts: pd.DataFrame
    costs: pd.DataFrame
    skipped: pd.DataFrame
    source_format: str
    group_ids: list[str] = field(default_factory=list)
    daily: pd.DataFrame | None = None
    encoding: str | None = None
    files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of events of each type (only types present)."""
        values = self.events["event"].value_counts()
        return {str(k): int(v) for k, v in values.items() if v}


SKIPPED_COLUMNS = ["file", "row", "reason"]


class Skips:
    """Collects counted skips (file, 1-based line, reason)."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self.rows: list[tuple[str, int | None, str]] = []

    def add(self, line: int | None, reason: str) -> None:
        self.rows.append((self.path, line, reason))

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=SKIPPED_COLUMNS)
        frame["row"] = frame["row"].astype("Int64")
        return frame


# ---------------------------------------------------------------- decoding


def read_bytes(path: str | os.PathLike) -> bytes:
    target = Path(path)
    if not target.is_file():
        raise LoadError("file not found (or not a regular file)", path=path)
    data = target.read_bytes()
    if not data.strip().strip(UTF8_BOM).strip():
        raise LoadError("file is empty; expected a header and at least one record", path=path)
    return data


def decode(path: str | os.PathLike, data: bytes) -> tuple[str, str]:
    """Decode a chat export: UTF-8 (with or without BOM) or, failing that, GB18030/GBK.

    Returns (text, encoding name). A file where some lines are UTF-8 Chinese and others
    are not (typically two exports pasted together) is refused, because guessing would
    silently garble names and system lines.
    """
    if data.startswith(UTF8_BOM):
        body, encoding = data[len(UTF8_BOM):], "utf-8-sig"
    else:
        body, encoding = data, "utf-8"
    try:
        return body.decode("utf-8"), encoding
    except UnicodeDecodeError:
        pass
    utf8_line = None
    bad_line = None
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8_line = utf8_line or number
        except UnicodeDecodeError:
            bad_line = bad_line or number
    if utf8_line is not None and bad_line is not None:
        raise LoadError(
            f"mixed encodings: line {utf8_line} is UTF-8 but line {bad_line} is not; "
            "expected one encoding for the whole file (re-export it, or convert it to UTF-8)",
            path=path,
            line=bad_line,
        )
    try:
        return body.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        raise LoadError(
            f"bytes {body[error.start:error.start + 4]!r} are neither UTF-8 nor GBK/GB18030; "
            "expected a UTF-8 (or GBK) text export",
            path=path,
            line=line,
        ) from None


# ---------------------------------------------------------------- CSV


def csv_records(path, text: str, expected: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (first line number of the record, {column: value}) for each CSV record.

    Checks the header against ``expected`` (all required columns present) and that every
    record has as many fields as the header — a short last record means a truncated file.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise LoadError("file is empty; expected a CSV header", path=path) from None
    except csv.Error as error:
        raise LoadError(f"cannot read the CSV header ({error})", path=path, line=1) from None
    header = [h.strip() for h in header]
    missing = [c for c in expected if c not in header]
    if missing:
        raise LoadError(
            f"header lacks columns {missing}; found {header}; expected {list(expected)}", path=path, line=1
        )
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise LoadError(
                f"malformed CSV record ({error}); the file looks truncated or has an unclosed quote",
                path=path,
                line=start,
            ) from None
        previous_end = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            truncated = " (the file looks truncated)" if _at_end(reader) else ""
            raise LoadError(
                f"record has {len(row)} fields; expected {len(header)} as in the header{truncated}",
                path=path,
                line=start,
            )
        yield start, dict(zip(header, row, strict=True))


def _at_end(reader) -> bool:
    try:
        next(reader)
    except StopIteration:
        return True
    except csv.Error:
        return False
    return False


# ---------------------------------------------------------------- values

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")

# Plausible range for chat and order times: before WeChat existed or far in the future is a
# unit mistake (milliseconds) or a corrupt cell.
_MIN_EPOCH = 946_684_800  # 2000-01-01
_MAX_EPOCH = 4_102_444_800  # 2100-01-01


def parse_epoch(path, line, column: str, value: str) -> pd.Timestamp:
    """Epoch seconds (as in WeChat's CreateTime, WeCom's join_time) to an Asia/Shanghai timestamp."""
    text = str(value).strip()
    try:
        seconds = int(float(text)) if text else None
    except ValueError:
        seconds = None
    if seconds is None or not _MIN_EPOCH <= seconds < _MAX_EPOCH:
        raise bad_value(path, line, column, value, "Unix epoch seconds between 2000 and 2100")
    return pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(schema.TZ)


def parse_local_time(path, line, column: str, value: str) -> pd.Timestamp:
    """'YYYY-MM-DD HH:MM:SS' in Asia/Shanghai (also accepts epoch seconds)."""
    text = str(value).strip()
    if text.isdigit():
        return parse_epoch(path, line, column, text)
    for pattern in TIME_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return pd.Timestamp(moment).tz_localize(schema.TZ)
    raise bad_value(
        path, line, column, value, "a time like '2024-03-01 20:15:00' (Asia/Shanghai) or epoch seconds"
    )


def parse_int(path, line, column: str, value: str) -> int:
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        raise bad_value(path, line, column, value, "an integer") from None


# ---------------------------------------------------------------- tables

EVENT_EXTRA = ["msg_kind", "text"]


def events_frame(records: list[dict], keep_text: bool) -> pd.DataFrame:
    """Schema events table (sorted by time) from event dicts; ``text`` only when kept."""
    columns = schema.EVENT_COLUMNS + ["msg_kind"] + (["text"] if keep_text else [])
    frame = pd.DataFrame(records, columns=columns)
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    frame["amount"] = pd.to_numeric(frame["amount"]).astype("float64")
    frame["msg_kind"] = frame["msg_kind"].astype("string")
    if keep_text:
        frame["text"] = frame["text"].astype("string")
    frame = schema.coerce("events", frame)
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def members_from_events(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (member, group): first join (or first appearance), its channel, and the
    time of the last leave/removal if no join followed it."""
    columns = schema.MEMBER_COLUMNS
    rows = []
    if not events.empty:
        known = events.dropna(subset=["member_id"])
        for (member, group), own in known.groupby(["member_id", "group_id"], sort=True, observed=True):
            own = own.sort_values("ts", kind="stable")
            joins = own[own["event"] == "join"]
            exits = own[own["event"].isin(["leave", "removed"])]
            if len(joins):
                join_ts = joins["ts"].iloc[0]
                channel = joins["channel"].iloc[0] if "channel" in joins else "unknown"
            else:
                join_ts = own["ts"].iloc[0]
                channel = "unknown"
            left_ts = pd.NaT
            if len(exits) and (not len(joins) or exits["ts"].iloc[-1] >= joins["ts"].iloc[-1]):
                left_ts = exits["ts"].iloc[-1]
            rows.append((member, group, join_ts, channel if isinstance(channel, str) else "unknown", left_ts))
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return schema.empty_table("members")
    frame["left_ts"] = pd.to_datetime(frame["left_ts"], utc=True).dt.tz_convert(schema.TZ)
    return schema.coerce("members", frame)


def finish(
    records: list[dict],
    *,
    keep_text: bool,
    skips: Skips,
    source_format: str,
    encoding: str | None,
    path,
    daily: pd.DataFrame | None = None,
    members: pd.DataFrame | None = None,
) -> LoadedLog:
    """Assemble a LoadedLog from event dicts (each may carry a ``channel`` for joins)."""
    with_channel = pd.DataFrame(records, columns=["ts", "group_id", "member_id", "event", "channel"])
    events = events_frame([{k: v for k, v in r.items() if k != "channel"} for r in records], keep_text)
    if members is None:
        if with_channel.empty:
            members = schema.empty_table("members")
        else:
            with_channel["channel"] = with_channel["channel"].fillna("unknown")
            with_channel = with_channel.sort_values("ts", kind="stable")
            members = members_from_events(with_channel)
    groups = sorted(
        set(events["group_id"].dropna().astype(str))
        | set(members["group_id"].dropna().astype(str))
        | (
            set(daily["group_id"].dropna().astype(str))
            if daily is not None and "group_id" in daily
            else set()
        )
    )
    return LoadedLog(
        members=members,
        events=events,
        posts=schema.empty_table("posts"),
        costs=schema.empty_table("costs"),
        skipped=skips.frame(),
        source_format=source_format,
        group_ids=groups,
        daily=daily,
        encoding=encoding,
        files=[str(path)],
    )
