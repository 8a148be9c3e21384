"""Content operations (内容运营): per-post statistics, rates by content type × time slot,
calendars for experiments, A/B planning and the observed-data views of notebook 02.

Everything here works on the schema tables (``members``, ``events``, ``posts``), so the same
functions serve simulated runs and real exports; what a chat export cannot show (opens,
dwell) comes back empty and the notebook says so.

:func:`content_extra` is a module-level ``RunResult -> dict`` for ``simulate(..., extra=)``:
it is evaluated in the worker and returns per-replication rates with keys
``"<rate>|<content type>|<slot>"`` that :func:`cell_table` turns into a tidy table.

The sentences the notebook states are built here too (:func:`calibration_finding`,
:func:`timing_findings`, :func:`optimized_findings`, :func:`quality_findings`,
:func:`ab_finding`): their wording is chosen by the numbers (:mod:`simlib.findings`), from the
templates in ``simlib/data/sentences/content.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simlib import claims, compare, findings, metrics, provenance, stats
from simlib.analysis import sentences
from simlib.analysis.bounds import against, joined
from simlib.findings import Check, Finding
from simlib.formatting import num, pct, pp, signed, yuan
from simlib.labels import label
from simlib.params import CONTENT_TYPE_NAMES, WEEKDAYS, Params, time_to_minutes
from simlib.results import mean_ci
from simlib.schema import TZ

RATE_NAMES = ("open_rate", "interaction_rate", "share_rate")
POST_STATS_COLUMNS = [
    "post_id", "ts", "content_type", "commercial", "weekday", "time", "slot", "recipients",
    "opens", "interactions", "shares", "dwell_mean", "open_rate", "interaction_rate", "share_rate",
]
# A slot that is in no content type's best window (T2): Sunday late morning.
NEUTRAL_SLOT = ("Sun", "11:00")


# --------------------------------------------------------------------------- the article's table


def _minutes_to_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def best_slot_text(spec) -> str:
    """'Tue/Thu 09:00–11:00' from a content type's best slots (slots sharing a window are merged)."""
    windows: dict[tuple[str, str], list[str]] = {}
    for slot in spec.best_slots:
        windows.setdefault((slot.start, slot.end), []).append(slot.weekday)
    return "; ".join(f"{'/'.join(days)} {start}–{end}" for (start, end), days in windows.items())


def article_table(params: Params) -> pd.DataFrame:
    """Table 2 of the article as the parameters hold it: type, best slot, open and interaction rate."""
    rows = []
    for name in CONTENT_TYPE_NAMES:
        spec = params.content.types[name]
        rows.append(
            {
                "content_type": name,
                "best_slot": best_slot_text(spec),
                "open_rate": spec.open_rate,
                "interaction_rate": spec.interaction_rate,
                "interactions_per_open": spec.interaction_rate / spec.open_rate
                if spec.open_rate
                else math.nan,
            }
        )
    return pd.DataFrame(rows)


#: The parameters table 2's display marks: the model's open rate outside the best slots.
TABLE2_KEYS = ("content.off_slot_factor",)


def article_table_display(params: Params, lang: str = "zh") -> pd.DataFrame:
    """Table 2 for display: the article's columns plus the model's open rate outside the best
    slots (open rate × ``content.off_slot_factor``), each value marked by its provenance
    (:func:`simlib.provenance.footnote` of :data:`TABLE2_KEYS` explains the marks)."""
    table = article_table(params)
    factor = params.content.off_slot_factor
    columns = {key: sentences.sentence("content", f"table2.{key}", lang)
               for key in ("best_slot", "interactions_per_open", "off_slot_open_rate")}
    return pd.DataFrame({
        label("content_type", lang): [label(name, lang) for name in table["content_type"]],
        columns["best_slot"]: table["best_slot"],
        **{label(rate, lang): [provenance.mark(f"{value:.1%}", f"content.types.{name}.{rate}")
                               for name, value in zip(table["content_type"], table[rate], strict=True)]
           for rate in ("open_rate", "interaction_rate")},
        columns["interactions_per_open"]: [f"{value:.2f}" for value in table["interactions_per_open"]],
        columns["off_slot_open_rate"]: [provenance.mark(f"{rate * factor:.1%}", "content.off_slot_factor")
                                        for rate in table["open_rate"]],
    })


# --------------------------------------------------------------------------- calendars


def representative_time(slot) -> str:
    """A posting time inside a best-slot window: 30 minutes after its start (or its middle if shorter)."""
    start, end = time_to_minutes(slot.start), time_to_minutes(slot.end)
    return _minutes_to_time(start + min(30, (end - start) // 2))


def best_slot_calendar(params: Params, *, all_slots: bool = False) -> list[dict[str, str]]:
    """One post per content type in its (first) best slot of T2 — or in every best slot."""
    calendar = []
    for name in CONTENT_TYPE_NAMES:
        slots = params.content.types[name].best_slots
        for slot in slots if all_slots else slots[:1]:
            calendar.append({"type": name, "weekday": slot.weekday, "time": representative_time(slot)})
    return calendar


def experimental_slots(params: Params) -> list[tuple[str, str]]:
    """The slot grid of the experiment: each type's first best slot plus a neutral slot, in weekday order."""
    slots = {(entry["weekday"], entry["time"]) for entry in best_slot_calendar(params)}
    slots.add(NEUTRAL_SLOT)
    return sorted(slots, key=lambda s: (WEEKDAYS.index(s[0]), time_to_minutes(s[1])))


def experimental_calendar(params: Params,
                          slots: Sequence[tuple[str, str]] | None = None) -> list[dict[str, str]]:
    """Every content type posted in every slot of the grid (types × slots posts a week).

    Each type then appears once in its best slot and several times outside it, so the
    simulation can show open and interaction rates by type × slot.
    """
    grid = list(slots) if slots is not None else experimental_slots(params)
    if not grid:
        raise ValueError("slots is empty: expected at least one (weekday, 'HH:MM') slot")
    for weekday, time in grid:
        if weekday not in WEEKDAYS:
            raise ValueError(f"slot weekday {weekday!r}: expected one of {WEEKDAYS}")
        time_to_minutes(time)
    return [{"type": name, "weekday": weekday, "time": time}
            for weekday, time in grid for name in CONTENT_TYPE_NAMES]


def slot_label(weekday: int | str, time: str) -> str:
    day = WEEKDAYS[weekday] if isinstance(weekday, (int, np.integer)) else weekday
    return f"{day} {time}"


def is_best_slot(params: Params, content_type: str, slot: str) -> bool:
    """Whether ``slot`` ('Tue 09:30') lies in a best window of ``content_type`` (T2)."""
    if content_type not in params.content.types:
        return False
    weekday, time = slot.split(" ")
    return params.content.types[content_type].in_best_slot(WEEKDAYS.index(weekday), time_to_minutes(time))


def calendar_best_share(params: Params) -> float:
    """Share of the calendar's posts that fall in a best slot of their type (T2); NaN without posts."""
    calendar = params.content.calendar
    if not calendar:
        return math.nan
    inside = [is_best_slot(params, entry.type, slot_label(entry.weekday, entry.time)) for entry in calendar]
    return float(np.mean(inside))


def calendar_kind(params: Params) -> str:
    """How the scenario's calendar is timed: 'untimed' (no post in its type's best slot),
    'partly_best', 'best' (every post in one), or 'empty' (no content posts)."""
    best = calendar_best_share(params)
    if math.isnan(best):
        return "empty"
    return "best" if best == 1 else "untimed" if best == 0 else "partly_best"


# --------------------------------------------------------------------------- per-post statistics


def _seconds(values: pd.Series) -> np.ndarray:
    """Seconds since the epoch of tz-aware (or naive = local) timestamps; NaN for NaT."""
    values = pd.to_datetime(values)
    if values.dt.tz is None:
        values = values.dt.tz_localize(TZ)
    seconds = (values - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype="float64", na_value=np.nan)


def _require(tables: Mapping[str, pd.DataFrame], needed: Mapping[str, Sequence[str]]) -> None:
    for name, columns in needed.items():
        if name not in tables:
            raise ValueError(f"tables lacks the {name!r} table; expected the schema tables "
                             "members/events/posts")
        missing = [c for c in columns if c not in tables[name].columns]
        if missing:
            raise ValueError(f"table {name!r} lacks columns {missing}; has {list(tables[name].columns)}")


def recipients_at(members: pd.DataFrame, times: pd.Series) -> np.ndarray:
    """Members in the group at each time: joined at or before it and not yet gone."""
    joined = np.sort(_seconds(members["join_ts"]))
    left = _seconds(members["left_ts"]) if "left_ts" in members else np.empty(0)
    left = np.sort(left[~np.isnan(left)])
    at = _seconds(times)
    return (np.searchsorted(joined, at, side="right") - np.searchsorted(left, at, side="right")).astype(int)


def post_stats(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per post: type, weekday, time slot, recipients (members present at post time),
    opens, interactions (messages whose ref_id is the post), shares, mean dwell minutes of the
    opens (``amount`` of open events) and the three rates per recipient / per open.

    Opens and dwell exist only where the data has open events (the simulation, WeCom
    statistics); in a chat export they are 0 / NaN.
    """
    _require(tables, {"members": ["join_ts"], "events": ["ts", "event", "ref_id", "amount"],
                      "posts": ["post_id", "ts", "content_type", "commercial"]})
    posts, events = tables["posts"], tables["events"]
    if posts.empty:
        return pd.DataFrame(columns=POST_STATS_COLUMNS)
    post_ids = posts["post_id"].astype(str).to_numpy()
    post_index = pd.Index(post_ids)
    ref = events["ref_id"]
    if isinstance(ref.dtype, pd.CategoricalDtype):  # simulated logs: map the few categories, then the codes
        lookup = post_index.get_indexer(ref.cat.categories.astype(str))
        codes = ref.cat.codes.to_numpy()
        which = np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    else:
        which = post_index.get_indexer(ref.astype(object).where(ref.notna(), None))
    n = len(post_ids)
    amount = events["amount"].to_numpy(dtype=float)

    def count(event: str) -> np.ndarray:
        chosen = which[((events["event"] == event).to_numpy()) & (which >= 0)]
        return np.bincount(chosen, minlength=n)

    is_open = (events["event"] == "open").to_numpy() & (which >= 0)
    dwell_known = is_open & ~np.isnan(amount)
    dwell_sum = np.bincount(which[dwell_known], weights=amount[dwell_known], minlength=n)
    dwell_n = np.bincount(which[dwell_known], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        dwell = np.where(dwell_n > 0, dwell_sum / np.maximum(dwell_n, 1), np.nan)
    local = pd.to_datetime(posts["ts"])
    local = local.dt.tz_localize(TZ) if local.dt.tz is None else local.dt.tz_convert(TZ)
    weekday = local.dt.day_of_week.to_numpy()
    time = local.dt.strftime("%H:%M").to_numpy()
    out = pd.DataFrame({
        "post_id": post_ids,
        "ts": posts["ts"].reset_index(drop=True),
        "content_type": posts["content_type"].astype(str).to_numpy(),
        "commercial": posts["commercial"].astype(bool).to_numpy(),
        "weekday": weekday,
        "time": time,
        "slot": [slot_label(int(w), t) for w, t in zip(weekday, time, strict=True)],
        "recipients": recipients_at(tables["members"], posts["ts"]),
        "opens": count("open"),
        "interactions": count("message"),
        "shares": count("share"),
        "dwell_mean": dwell,
    })
    return _with_rates(out)[POST_STATS_COLUMNS]


def _with_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` (recipients, opens, interactions, shares) with the three rates added: opens and
    interactions per recipient, shares per open (NaN where the denominator is 0)."""
    recipients = counts["recipients"].to_numpy(dtype=float)
    opens = counts["opens"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        counts["open_rate"] = np.where(recipients > 0, opens / recipients, np.nan)
        counts["interaction_rate"] = np.where(recipients > 0, counts["interactions"] / recipients, np.nan)
        counts["share_rate"] = np.where(opens > 0, counts["shares"] / np.maximum(opens, 1), np.nan)
    return counts


def cell_rates(post_table: pd.DataFrame, by: Sequence[str] = ("content_type", "slot")) -> pd.DataFrame:
    """Pooled rates per cell: Σ opens / Σ recipients, Σ interactions / Σ recipients, Σ shares / Σ opens."""
    by = list(by)
    grouped = post_table.groupby(by, observed=True)[["recipients", "opens", "interactions", "shares"]].sum()
    grouped["posts"] = post_table.groupby(by, observed=True).size()
    return _with_rates(grouped).reset_index()


# --------------------------------------------------------------------------- per-replication extra


def dwell_per_member_day(tables: Mapping[str, pd.DataFrame], start, end) -> float:
    """Minutes spent reading posts per member per day: Σ dwell of opens ÷ member-days."""
    events = tables["events"]
    mask = (events["event"] == "open") & (events["ts"] >= start) & (events["ts"] < end)
    member_days = metrics.present_per_day(tables["members"], start, end).sum()
    return float(events.loc[mask, "amount"].sum() / member_days) if member_days else math.nan


def content_extra(run: Any) -> dict[str, float]:
    """Per-replication content metrics for ``simulate(extra=content_extra)``.

    Keys: ``open_rate|<type>|<slot>``, ``interaction_rate|…``, ``share_rate|…`` for each
    non-commercial cell; ``best_open_rate|<type>`` and ``best_interaction_rate|<type>`` over
    the posts in the type's best slot (T2); ``dwell_per_open`` (minutes) and
    ``dwell_per_member_day``.
    """
    from simlib.runner import window

    start, end = window(run.params)
    table = post_stats(run.tables)
    table = table[~table["commercial"]]
    out: dict[str, float] = {}
    for row in cell_rates(table).itertuples(index=False):
        for name in RATE_NAMES:
            out[f"{name}|{row.content_type}|{row.slot}"] = float(getattr(row, name))
    cells = zip(table["content_type"], table["slot"], strict=True)
    best = table[[is_best_slot(run.params, t, s) for t, s in cells]]
    for row in cell_rates(best, by=["content_type"]).itertuples(index=False):
        out[f"best_open_rate|{row.content_type}"] = float(row.open_rate)
        out[f"best_interaction_rate|{row.content_type}"] = float(row.interaction_rate)
    events = run.tables["events"]
    open_dwell = events.loc[events["event"] == "open", "amount"]
    out["dwell_per_open"] = float(open_dwell.mean()) if len(open_dwell) else math.nan
    out["dwell_per_member_day"] = dwell_per_member_day(run.tables, start, end)
    return out


def cell_table(result: Any, params: Params | None = None) -> pd.DataFrame:
    """Tidy mean and 95% interval over replications of the ``rate|type|slot`` columns of
    ``result.summaries`` (from :func:`content_extra`): rate, content_type, slot, best, mean, low, high."""
    rows = []
    for column in result.summaries.columns:
        parts = str(column).split("|")
        if len(parts) != 3 or parts[0] not in RATE_NAMES:
            continue
        entry = mean_ci(result.summaries[column].astype(float).tolist())
        rows.append({"rate": parts[0], "content_type": parts[1], "slot": parts[2],
                     "best": is_best_slot(params or result.params, parts[1], parts[2]),
                     "mean": entry["mean"], "low": entry["low"], "high": entry["high"], "n": entry["n"]})
    frame = pd.DataFrame(rows, columns=["rate", "content_type", "slot", "best", "mean", "low", "high", "n"])
    if len(frame):
        order = sorted(frame["slot"].unique(), key=lambda s: (WEEKDAYS.index(s.split()[0]), s.split()[1]))
        frame["slot"] = pd.Categorical(frame["slot"], categories=order)
        frame["content_type"] = pd.Categorical(frame["content_type"], categories=list(CONTENT_TYPE_NAMES))
        frame = frame.sort_values(["rate", "content_type", "slot"]).reset_index(drop=True)
    return frame


def calibration_table(result: Any, params: Params) -> pd.DataFrame:
    """Simulated open and interaction rates in each type's best slot vs. T2 (mean, 95% interval,
    and whether T2's figure lies inside the interval)."""
    rows = []
    for name in CONTENT_TYPE_NAMES:
        spec = params.content.types[name]
        for rate, article in (("open_rate", spec.open_rate), ("interaction_rate", spec.interaction_rate)):
            column = f"best_{rate}|{name}"
            values = result.summaries[column].astype(float).tolist() if column in result.summaries else []
            entry = mean_ci(values)
            inside = entry["low"] <= article <= entry["high"] if entry["n"] else False
            rows.append({"content_type": name, "rate": rate, "article": article, "mean": entry["mean"],
                         "low": entry["low"], "high": entry["high"],
                         "ratio": entry["mean"] / article if article else math.nan,
                         "article_inside": bool(inside)})
    return pd.DataFrame(rows)


def reach_accuracy(params: Params) -> float:
    """The share of members a post reaches: manual posting misses some (T5), automation level L
    moves it linearly to the automated accuracy."""
    automation = params.automation
    return automation.reach_accuracy_manual + automation.level * (
        automation.reach_accuracy_automated - automation.reach_accuracy_manual)


def expected_best_open_rate(params: Params, content_type: str) -> float:
    """What T2's open rate becomes in the model before member interest acts: the article's rate
    times the reach accuracy (:func:`reach_accuracy`)."""
    return params.content.types[content_type].open_rate * reach_accuracy(params)


# --------------------------------------------------------------------------- A/B test


def arm_counts(post_table: pd.DataFrame, mask: pd.Series | np.ndarray,
               success: str = "opens") -> tuple[int, int]:
    """(successes, trials) of an arm: Σ ``success`` and Σ recipients over the posts in ``mask``."""
    part = post_table[np.asarray(mask, dtype=bool)]
    if part.empty:
        raise ValueError("an A/B arm has no posts: check the arm's content type and slot")
    return int(part[success].sum()), int(part["recipients"].sum())


def ab_test(post_table: pd.DataFrame, mask_a, mask_b, *, success: str = "opens",
            seed: int = 0) -> dict[str, Any]:
    """Two-proportion z-test and beta-binomial comparison of arm B vs arm A (opens per recipient).

    Each recipient of each post is treated as one trial; with the same members receiving
    every post the trials are not independent, so the test is optimistic (see the notebook).
    """
    sa, na = arm_counts(post_table, mask_a, success)
    sb, nb = arm_counts(post_table, mask_b, success)
    return {"z_test": stats.two_proportion_test(sa, na, sb, nb),
            "bayes": stats.bayes_ab(sa, na, sb, nb, seed=seed)}


def posts_needed(baseline_rate: float, lift_points: float, group_size: int, *, alpha: float = 0.05,
                 power: float = 0.8) -> dict[str, float]:
    """Recipients per arm to detect an absolute lift of ``lift_points`` (0.05 = 5 points) and the
    posts per arm this takes in a group of ``group_size`` members (every member receives each post)."""
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)) or group_size < 1:
        raise ValueError(f"group_size={group_size!r}: expected a whole number of members >= 1")
    size = stats.sample_size_per_arm(baseline_rate, lift_points, relative=False, alpha=alpha, power=power)
    return {"baseline_rate": baseline_rate, "target_rate": size.rate_b, "n_per_arm": size.n_a,
            "group_size": int(group_size), "posts_per_arm": math.ceil(size.n_a / group_size)}


# --------------------------------------------------------------------------- observed chat data


def hour_weekday_counts(events: pd.DataFrame, event: str = "message") -> pd.DataFrame:
    """Average ``event`` count per weekday × hour: total count ÷ number of such weekdays in the
    data's date range. Tidy: weekday (0 = Mon), hour, count, per_day."""
    if not {"ts", "event"} <= set(events.columns):
        raise ValueError(f"events lacks ts/event columns; has {list(events.columns)}")
    local = pd.to_datetime(events["ts"])
    local = local.dt.tz_localize(TZ) if local.dt.tz is None else local.dt.tz_convert(TZ)
    mask = (events["event"].astype(str) == event).to_numpy()
    grid = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
    if not mask.any():
        return pd.DataFrame({"count": 0, "per_day": 0.0}, index=grid).reset_index()
    chosen = local[mask]
    counts = pd.DataFrame({"weekday": chosen.dt.day_of_week, "hour": chosen.dt.hour}).value_counts()
    counts = counts.reindex(grid, fill_value=0)
    days = pd.date_range(local.min().normalize(), local.max().normalize(), freq="D")
    per_weekday = pd.Series(days.day_of_week).value_counts().reindex(range(7), fill_value=0)
    out = counts.rename("count").reset_index()
    out["per_day"] = out["count"] / per_weekday.reindex(out["weekday"]).to_numpy().clip(min=1)
    return out


def reply_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Messages and replies (quoted messages, ``msg_kind == 'quote'``) by hour of day.

    Returns hour, messages, replies, reply_share; replies are NaN when the export has no
    message kinds.
    """
    local = pd.to_datetime(events["ts"])
    local = local.dt.tz_localize(TZ) if local.dt.tz is None else local.dt.tz_convert(TZ)
    is_message = (events["event"].astype(str) == "message").to_numpy()
    hours = local[is_message].dt.hour
    messages = hours.value_counts().reindex(range(24), fill_value=0)
    if "msg_kind" in events.columns:
        quote = (events["msg_kind"].astype(str) == "quote").to_numpy()[is_message]
        replies = hours[quote].value_counts().reindex(range(24), fill_value=0).astype(float)
    else:
        replies = pd.Series(np.nan, index=range(24))
    out = pd.DataFrame({"hour": range(24), "messages": messages.to_numpy(), "replies": replies.to_numpy()})
    out["reply_share"] = np.where(out["messages"] > 0, out["replies"] / out["messages"].clip(lower=1), np.nan)
    return out


# --------------------------------------------------------------------------- what the numbers say
#
# Each function returns the findings (simlib.findings) a part of notebook 02 states; the wording
# is chosen by the numbers and carries the checks that make it true.

SENTENCES = "content"


def _words(key: str, lang: str, **values: Any) -> str:
    return sentences.sentence(SENTENCES, key, lang, **values)


def _texts(key: str, lang: str) -> dict[str, str]:
    return sentences.group(SENTENCES, key, lang)


def _diff(table: pd.DataFrame, arm: str, metric: str) -> dict[str, float]:
    rows = table[(table["arm"] == arm) & (table["metric"] == metric)]
    if rows.empty:
        raise KeyError(f"the comparison has no row for arm {arm!r} and metric {metric!r}")
    return compare.entry(rows.iloc[0], "diff")


def _known(table: pd.DataFrame, arm: str, metrics: Sequence[str]) -> list[str]:
    """The ``metrics`` whose difference is known (90-day retention is not in a shorter run)."""
    return [metric for metric in metrics if not math.isnan(_diff(table, arm, metric)["mean"])]


def _formatter(metric: str, lang: str):
    """How a difference of ``metric`` is written: shares in percentage points, others signed."""
    if metric in ("revisit_7d", "share_rate", "retention_d30", "retention_d90"):
        return lambda entry: pp(entry, lang=lang)
    digits = 0 if metric in ("members_end", "final_members", "ranking_value", "net_value",
                             "residual_value") else 2
    return lambda entry: signed(entry, digits)


def calibration_finding(calibration: pd.DataFrame, reach: float, lang: str = "zh") -> list[Finding]:
    """Each type's simulated best-slot open rate (:func:`calibration_table`) against table 2 —
    an input seen through the model — and whether interest lowers or raises it beyond the
    missed deliveries (the mean simulated / T2 ratio against the reach accuracy)."""
    rows = calibration[calibration["rate"] == "open_rate"]
    parts = []
    for row in rows.to_dict("records"):
        parts.append(against(f"best-slot open rate of {row['content_type']} vs T2", row, row["article"],
                             _texts("best_slot_open", lang), type=label(row["content_type"], lang),
                             value=pct(row), figure=f"{row['article']:.1%}"))
    space = "" if lang == "zh" else " "
    listed = joined(parts, lang, lead=_words("calibration.lead", lang) + space,
                     tail=_words("calibration.note", lang, reach=f"{reach:.1%}"))
    ratio = float(rows["ratio"].mean())
    interest = findings.versus("mean simulated / T2 open-rate ratio − reach accuracy", ratio - reach, 0.0,
                               _texts("interest", lang), ratio=f"{ratio:.2f}", reach=f"{reach:.2f}")
    return [listed, interest]


TIMING_METRICS = ("messages_per_100_members_per_day", "revisit_7d", "retention_d90")


def timing_findings(calendars: pd.DataFrame, params: Params, best_posts: int,
                    lang: str = "zh") -> list[Finding]:
    """The best-slot calendar − the scenario's calendar (a :func:`simlib.compare.table` with arms
    "scenario_calendar" and "best_slot_calendar"): messages per 100 members a day (headline
    "content_best_slots"), the 7-day revisit rate and 90-day retention. The subject says how the
    scenario's own calendar is timed (:func:`calendar_kind`), so an already optimized calendar
    is never called untimed."""
    kind = calendar_kind(params)
    out = []
    for metric in _known(calendars, "best_slot_calendar", TIMING_METRICS):
        subject = _words(f"subjects.timing.{kind}", lang, metric=label(metric, lang), best_posts=best_posts,
                         scenario_posts=len(params.content.calendar))
        out.append(findings.effect(f"{metric}: best-slot calendar − scenario calendar",
                                   _diff(calendars, "best_slot_calendar", metric), subject=subject,
                                   fmt=_formatter(metric, lang), lang=lang,
                                   key="content_best_slots" if metric == TIMING_METRICS[0] else None,
                                   headline=metric == TIMING_METRICS[0]))
    return out


def optimized_findings(calendars: pd.DataFrame, same: bool, lang: str = "zh") -> list[Finding]:
    """The content-optimized calendar and quality − the scenario ("content_optimized" against
    "scenario_calendar"): messages, share rate (with where its change comes from), 90-day
    retention, and the community's ranking value with net and residual value (headline
    "content_value"). ``same``: the scenario already is content-optimized, so one sentence says
    there is nothing to compare (its check: no difference in ranking value)."""
    ranking = _diff(calendars, "content_optimized", "ranking_value")
    if same:
        check = Check.of("ranking_value: content_optimized − scenario calendar", "unclear", ranking)
        return [Finding(_words("optimized_same", lang), (check,), "content_value", True)]
    out = [findings.effect(f"{metric}: content_optimized − scenario calendar",
                           _diff(calendars, "content_optimized", metric), lang=lang,
                           subject=_words("subjects.optimized", lang, metric=label(metric, lang)),
                           fmt=_formatter(metric, lang))
           for metric in _known(calendars, "content_optimized",
                                ("messages_per_100_members_per_day", "share_rate", "retention_d90"))]
    share = _diff(calendars, "content_optimized", "share_rate")
    out.append(findings.choose("share_rate: content_optimized − scenario calendar", share,
                               _texts("share_source", lang)))
    parts = {name: yuan(_diff(calendars, "content_optimized", metric), lang=lang)
             for name, metric in (("net", "net_value"), ("residual", "residual_value"))}
    out.append(findings.choose("ranking_value: content_optimized − scenario calendar", ranking,
                               _texts("optimized_value", lang), key="content_value", headline=True,
                               arm=_words("optimized_arm", lang), value=yuan(ranking, lang=lang), **parts))
    return out


def quality_findings(dwell: Mapping[float, Any], share_ratio: Any, members_diff: Any, params: Params,
                     lang: str = "zh") -> list[Finding]:
    """Content quality 0 vs 1: dwell per open against the inputs (12 and 27 minutes: echoes), the
    paired share-rate ratio against the input multiplier (claim content_share_multiplier), and
    the members at the end (more shares, more newcomers)."""
    inputs = {0.0: params.content.dwell_minutes.ordinary, 1.0: claims.figure("content_dwell_time")}
    dwell_parts = [against(f"dwell per open at quality {q:g} vs input", dwell[q], float(inputs[q]),
                           _texts("dwell", lang), q=f"{q:g}", value=num(dwell[q], 2), figure=f"{inputs[q]:g}")
                   for q in (0.0, 1.0)]
    dwell_finding = joined(dwell_parts, lang)
    multiplier = claims.figure("content_share_multiplier")
    ratio = against("share-rate ratio quality 1 / 0 vs the input multiplier", share_ratio, float(multiplier),
                    _texts("share_ratio", lang), value=num(share_ratio), figure=f"{multiplier:g}")
    members = findings.choose("members_end: quality 1 − quality 0", members_diff, _texts("members", lang),
                              value=signed(members_diff, 0), join=f"{params.arrivals.share_join_prob:.0%}",
                              overflow=_words(f"overflow.{params.community.overflow}", lang))
    return [dwell_finding, ratio, members]


def ab_finding(z_test: Any, slot_a: str, slot_b: str, lang: str = "zh") -> Finding:
    """Variant B − variant A of a two-proportion test (:func:`ab_test`'s ``z_test``)."""
    entry = {"mean": z_test.difference, "low": z_test.ci_low, "high": z_test.ci_high}
    return findings.choose("open rate: variant B − variant A", entry, _texts("ab", lang), slot_a=slot_a,
                           slot_b=slot_b, value=pp(entry, lang=lang))
