"""Shared pieces of the real-data loaders: errors, the loaded-log container, decoding,
CSV reading with file line numbers, time parsing, the group id and building the members table.
"""

from __future__ import annotations

import csv
import io
import math
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
    when the source is ``statistic_group_by_day``; it is None otherwise. ``notes`` says in words
    what the loader could not resolve (e.g. names in a PyWxDump file without its ``users.json``).
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
    notes: list[str] = field(default_factory=list)  # what the loader could not resolve, in words

    def counts(self) -> dict[str, int]:
        """Number of events of each type (only types present)."""
        values = self.events["event"].value_counts()
        return {str(k): int(v) for k, v in values.items() if v}


# ``file`` is the file's number in the load (1 for :func:`simlib.io.load`, the position in the
# list for ``load_many``; ``LoadedLog.files[file - 1]`` is its path). Not the file's name: chat
# exports are named after the chat (MemoTrace writes ``<chat name>.csv``), and the skipped rows
# are written out with the tables.
SKIPPED_COLUMNS = ["file", "row", "reason"]


def skipped_frame(rows: Sequence[tuple[int, int | None, str]]) -> pd.DataFrame:
    """The skipped-rows table from (file number, 1-based line or None, reason) tuples."""
    frame = pd.DataFrame(list(rows), columns=SKIPPED_COLUMNS)
    frame["file"] = frame["file"].astype("int64")
    frame["row"] = frame["row"].astype("Int64")
    return frame


class Skips:
    """Collects the counted skips of one file: (1-based line or JSON position, reason)."""

    def __init__(self):
        self.rows: list[tuple[int, int | None, str]] = []

    def add(self, line: int | None, reason: str) -> None:
        self.rows.append((1, line, reason))

    def frame(self) -> pd.DataFrame:
        """The skips in file order."""
        return skipped_frame(sorted(self.rows, key=lambda row: -1 if row[1] is None else row[1]))


class FirstSeen:
    """Remembers the line where each key (a whole record, a message or order id) was first seen."""

    def __init__(self):
        self.lines: dict[object, int] = {}

    def earlier(self, line: int, key: object) -> int | None:
        """The earlier line that had ``key``, or None if this is its first line."""
        first = self.lines.setdefault(key, line)
        return first if first != line else None


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


@dataclass
class CsvExport:
    """A decoded CSV export: its text, encoding, header and the skips counted while loading it."""

    path: str
    text: str
    encoding: str
    header: list[str]
    skips: Skips = field(default_factory=Skips)

    def records(self, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
        """(first line of the record, {column: value}) for each record; see :func:`csv_records`."""
        return csv_records(self.path, self.text, required)


def open_csv(path: str | os.PathLike) -> CsvExport:
    """Read and decode a CSV export and parse its header (records are read by ``records``)."""
    text, encoding = decode(path, read_bytes(path))
    header = _header(path, csv.reader(io.StringIO(text, newline=""), strict=True))
    return CsvExport(str(path), text, encoding, header)


def _header(path, reader) -> list[str]:
    try:
        return [h.strip() for h in next(reader)]
    except StopIteration:
        raise LoadError("file is empty; expected a CSV header", path=path) from None
    except csv.Error as error:
        raise LoadError(f"cannot read the CSV header ({error})", path=path, line=1) from None


def csv_records(path, text: str, expected: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (first line number of the record, {column: value}) for each CSV record.

    Checks the header against ``expected`` (all required columns present) and that every
    record has as many fields as the header — a short last record means a truncated file.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _header(path, reader)
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
            raise _malformed_record(path, text, header, start, error) from None
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


def _malformed_record(path, text: str, header: list[str], line: int, error: csv.Error) -> LoadError:
    """Say what a record the csv module refused is: a cell over its size limit, or a quote left open."""
    limit = csv.field_size_limit()
    if "field larger than field limit" in str(error):
        sizes = _cell_sizes(_from_line(text, line))
        if sizes is not None:
            biggest = max(range(len(sizes)), key=sizes.__getitem__)
            column = header[biggest] if biggest < len(header) else f"field {biggest + 1}"
            return LoadError(
                f"column {column!r} holds a cell of {sizes[biggest]:,} characters, over the csv module's "
                f"field size limit of {limit:,}; expected a chat message or value (a cell this large is "
                "usually a pasted file or a corrupt export: remove or shorten it)",
                path=path,
                line=line,
            )
        rest = len(_from_line(text, line))
        return LoadError(
            f"a quote opened in this record is not closed where expected: the remaining {rest:,} "
            f"characters of the file run into one cell (over the csv module's field size limit of "
            f"{limit:,}); the file looks truncated or has an unclosed quote",
            path=path,
            line=line,
        )
    return LoadError(
        f"malformed CSV record ({error}); the file looks truncated or has an unclosed quote",
        path=path,
        line=line,
    )


def _from_line(text: str, line: int) -> str:
    """The text from the start of 1-based physical line ``line``."""
    position = 0
    for _ in range(line - 1):
        position = text.find("\n", position) + 1
        if position == 0:
            return ""
    return text[position:]


def _cell_sizes(record_text: str) -> list[int] | None:
    """Lengths of the cells of the record that starts ``record_text``, read without the csv
    module's size limit (restored afterwards); None if the record never ends (an open quote)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, len(record_text) + 1))
    try:
        row = next(csv.reader(io.StringIO(record_text, newline=""), strict=True))
    except (csv.Error, StopIteration):
        return None
    finally:
        csv.field_size_limit(previous)
    return [len(cell) for cell in row]


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


def parse_epoch(path, line, column: str, value: object) -> pd.Timestamp:
    """Epoch seconds (as in WeChat's CreateTime, WeCom's join_time) to an Asia/Shanghai timestamp."""
    text = str(value).strip()
    try:
        seconds = float(text) if text and not isinstance(value, bool) else math.nan
    except ValueError:
        seconds = math.nan
    # NaN and ±inf (e.g. '1e400') fail the range check too.
    if not _MIN_EPOCH <= seconds < _MAX_EPOCH:
        raise bad_value(path, line, column, value, "Unix epoch seconds between 2000 and 2100")
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(schema.TZ)


def parse_local_time(path, line, column: str, value: str) -> pd.Timestamp:
    """'YYYY-MM-DD HH:MM:SS' in Asia/Shanghai (also accepts epoch seconds)."""
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        return parse_epoch(path, line, column, text)
    for pattern in TIME_FORMATS:
        try:
            moment = pd.Timestamp(datetime.strptime(text, pattern)).tz_localize(schema.TZ)
        except ValueError:
            continue
        if not _MIN_EPOCH <= moment.timestamp() < _MAX_EPOCH:
            raise bad_value(path, line, column, value, "a time between 2000 and 2100")
        return moment
    raise bad_value(
        path, line, column, value, "a time like '2024-03-01 20:15:00' (Asia/Shanghai) or epoch seconds"
    )


def parse_int(path, line, column: str, value: str) -> int:
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        raise bad_value(path, line, column, value, "an integer") from None


# ---------------------------------------------------------------- group ids


class GroupIds:
    """The one rule that gives a group the same id in every format.

    ``group_id`` (a neutral label, used as is) if given; else the keyed pseudonym
    (:meth:`Pseudonymizer.group`) of the room's identity: ``room`` if given, else the identity
    the file carries — the chat room id (PyWxDump ``room_name``, WeChatMsg ``TalkerId`` or the
    ``(…@chatroom)`` of MemoTrace's export folder), WeCom's ``chat_id`` / ``ChatId``, an orders
    file's group column. The same room id thus gives the same group id in every file.
    """

    def __init__(self, pseudonyms, group_id: str | None = None, room: str | None = None):
        self.pseudonyms = pseudonyms
        self.fixed = group_id or (pseudonyms.group(room) if room else None)
        self.cache: dict[str, str] = {}

    def of(self, identity: str | None) -> str | None:
        """The group id of a room known in the file as ``identity`` (None if neither is known)."""
        if self.fixed:
            return self.fixed
        if not identity:
            return None
        if identity not in self.cache:
            self.cache[identity] = self.pseudonyms.group(identity)
        return self.cache[identity]


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
