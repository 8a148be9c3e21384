"""The one event-log schema shared by simulated and real data (see DESIGN.md).

Every analysis in ``simlib`` and in the notebooks works on these four tidy tables, whether
they were produced by :func:`simlib.model.simulate` or by a loader in :mod:`simlib.io`.
Timestamps are timezone-aware in Asia/Shanghai. Categorical columns use pandas
``category`` dtype with the fixed category lists below, so concatenating tables from
different sources keeps the same codes.
"""

from __future__ import annotations

import pandas as pd

TZ = "Asia/Shanghai"

CHANNELS = ["organic", "referral", "douyin", "xiaohongshu", "unknown"]

EVENT_TYPES = [
    "join",
    "leave",  # left on their own
    "removed",  # removed by an admin (system line "移出了群聊" / blacklist)
    "message",
    "open",
    "share",
    "invite",
    "purchase",
    "activity_join",
    "activity_done",
    "question",
    "answer",
    "complaint",
    "violation",
    "recall",
    "incident",
    "intervention",
]

CONTENT_TYPES = ["knowledge", "flash_deal", "discussion", "live_preview", "commercial", "other"]

COST_CATEGORIES = [
    "tier_intervention",
    "activity",
    "admin_labour",
    "automation_tools",
    "acquisition",
    "risk_control",
    "other",
    "group_opening",
]

TIERS = ["potential", "active", "loyal", "silent", "regular"]

MEMBER_COLUMNS = ["member_id", "group_id", "join_ts", "channel", "left_ts"]
EVENT_COLUMNS = ["ts", "group_id", "member_id", "event", "ref_id", "amount"]
POST_COLUMNS = ["post_id", "ts", "group_id", "content_type", "commercial"]
COST_COLUMNS = ["ts", "group_id", "category", "amount"]

TABLE_COLUMNS = {
    "members": MEMBER_COLUMNS,
    "events": EVENT_COLUMNS,
    "posts": POST_COLUMNS,
    "costs": COST_COLUMNS,
}

CATEGORIES = {
    ("members", "channel"): CHANNELS,
    ("events", "event"): EVENT_TYPES,
    ("posts", "content_type"): CONTENT_TYPES,
    ("costs", "category"): COST_CATEGORIES,
}

TIMESTAMP_COLUMNS = {
    "members": ["join_ts", "left_ts"],
    "events": ["ts"],
    "posts": ["ts"],
    "costs": ["ts"],
}


class SchemaError(ValueError):
    """A table does not follow the event-log schema."""


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the right columns and dtypes."""
    frame = pd.DataFrame({column: pd.Series(dtype="object") for column in TABLE_COLUMNS[name]})
    return coerce(name, frame)


def coerce(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the schema's column order and dtypes.

    Raises :class:`SchemaError` naming the table and the missing columns.
    """
    if name not in TABLE_COLUMNS:
        raise SchemaError(f"unknown table {name!r}; expected one of {sorted(TABLE_COLUMNS)}")
    missing = [c for c in TABLE_COLUMNS[name] if c not in frame.columns]
    if missing:
        raise SchemaError(f"table {name!r} lacks columns {missing}; has {list(frame.columns)}")
    out = frame.copy()
    for column in TIMESTAMP_COLUMNS[name]:
        values = pd.to_datetime(out[column])
        if values.dt.tz is None:
            values = values.dt.tz_localize(TZ)
        else:
            values = values.dt.tz_convert(TZ)
        out[column] = values
    for (table, column), categories in CATEGORIES.items():
        if table == name:
            unknown = set(out[column].dropna().astype(str)) - set(categories)
            if unknown:
                raise SchemaError(
                    f"table {name!r} column {column!r} has values {sorted(unknown)[:5]}; "
                    f"expected one of {categories}"
                )
            out[column] = pd.Categorical(out[column], categories=categories)
    for column in ("member_id", "group_id", "post_id", "ref_id"):
        if column in out.columns:
            out[column] = out[column].astype("string")
    if "amount" in out.columns:
        out["amount"] = pd.to_numeric(out["amount"], errors="raise").astype("float64")
    if "commercial" in out.columns:
        out["commercial"] = out["commercial"].astype(bool)
    extra = [c for c in out.columns if c not in TABLE_COLUMNS[name]]
    return out[TABLE_COLUMNS[name] + extra]
