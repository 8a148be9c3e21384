"""The fit check that opens a report made from a real export: does the calibrated group reproduce
what the export shows?

Both sides are measured with the same :mod:`simlib.metrics` functions on the same kind of
tables — what a chat export shows of the group over the window
(:func:`simlib.calibrate.replay.export_view`): the export itself, and each replay of the window by
the calibrated scenario, reduced the same way. The KPIs are those an export can show
(:data:`FIT_KPIS`): messages per 100 members per day, the 7-day revisit counted from messages
(an export shows no reads), 30-day retention of the members who joined in the window, exits per
member-month, and revenue per member-month when an orders file was loaded.

The rule (:func:`agrees`): a KPI **disagrees** when its observed value lies outside the simulated
95% interval (the mean of the replays, Student t) widened on each side by the observed value's own
95% margin (a bootstrap over members: the data are one draw too) — equivalently, when the two
intervals do not overlap. A KPI the export cannot show (no joiners early enough for 30-day
retention, say) is not judged.

The batch folder keeps the fit check as ``fit_check.json`` (:data:`FIT_CHECK_FILE`, written by
:mod:`simlib.pipeline` before the batch runs); the report notebook shows it first with
:func:`read_fit_check` and :func:`fit_check_html`, which never raise on bad content.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib import formatting, labels, metrics
from simlib.batch_folder import Problem
from simlib.report.html import FAIL_STYLE, PASS_STYLE, render_html_table
from simlib.report.text import column_name, label, plain_text, report_lang, text
from simlib.report_safety import html_text
from simlib.results import atomic_write_text, mean_ci

FIT_CHECK_FILE = "fit_check.json"
FIT_CHECK_VERSION = 1
BOOTSTRAP_REPLICATES = 200
CONFIDENCE = 0.95
#: The HTML section's id (tests/test_pipeline.py looks for it in the report).
SECTION_ID = "fit-check"

Tables = Mapping[str, pd.DataFrame]


def exits_per_member_month(tables: Tables, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Exits (leaves and removals) ÷ member-months in the group."""
    months = metrics.member_months(tables["members"], start, end)
    return math.nan if months == 0 else metrics.exits(tables, start, end) / months


def revenue_per_member_month(tables: Tables, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Revenue of the purchases ÷ member-months in the group."""
    months = metrics.member_months(tables["members"], start, end)
    return math.nan if months == 0 else metrics.revenue(tables, start, end) / months


def retention_d30(tables: Tables, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Share of the window's joiners (joined ≥ 30 days before its end) still there 30 days on."""
    return metrics.retention(tables["members"], 30, start, end)


@dataclass(frozen=True)
class FitKpi:
    name: str
    unit: str
    compute: Callable[[Tables, pd.Timestamp, pd.Timestamp], float]
    needs_purchases: bool = False


FIT_KPIS = (
    FitKpi("messages_per_100_members_per_day", "messages", metrics.messages_per_100_members_per_day),
    FitKpi("revisit_7d", "share", metrics.revisit_7d),
    FitKpi("retention_d30", "share", retention_d30),
    FitKpi("exits_per_member_month", "per member-month", exits_per_member_month),
    FitKpi("revenue_per_member_month", "CNY", revenue_per_member_month, needs_purchases=True),
)


def fit_kpis_for(with_purchases: bool) -> tuple[FitKpi, ...]:
    """The KPIs an export shows: revenue only when an orders file was loaded."""
    return tuple(kpi for kpi in FIT_KPIS if with_purchases or not kpi.needs_purchases)


def measure(tables: Tables, start: pd.Timestamp, end: pd.Timestamp,
            kpis: Sequence[FitKpi]) -> dict[str, float]:
    """Each KPI of ``kpis`` on one export view over [start, end)."""
    return {kpi.name: float(kpi.compute(tables, start, end)) for kpi in kpis}


def observed_intervals(tables: Tables, start: pd.Timestamp, end: pd.Timestamp, kpis: Sequence[FitKpi], *,
                       replicates: int = BOOTSTRAP_REPLICATES,
                       seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of each KPI by a bootstrap over members: members (with all their
    events) are drawn with replacement, as many as there are, and the KPIs measured again."""
    members, events = tables["members"], tables["events"]
    rows = metrics.member_rows(members, events["member_id"])
    events = events.iloc[np.flatnonzero(rows >= 0)]
    rows = rows[rows >= 0]
    order = np.argsort(rows, kind="stable")
    events, rows = events.iloc[order].reset_index(drop=True), rows[order]
    counts = np.bincount(rows, minlength=len(members))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {kpi.name: [] for kpi in kpis}
    for _ in range(replicates):
        drawn = rng.integers(0, len(members), size=len(members))
        lengths = counts[drawn]
        # Positions of the drawn members' events: each member's block, one after the other.
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        positions = np.repeat(first[drawn], lengths) + within
        resampled = {
            "members": members.iloc[drawn].assign(member_id=np.arange(len(members))),
            "events": events.iloc[positions].assign(member_id=np.repeat(np.arange(len(members)), lengths)),
        }
        for name, value in measure(resampled, start, end, kpis).items():
            samples[name].append(value)
    alpha = 1 - CONFIDENCE
    out = {}
    for name, values in samples.items():
        finite = np.asarray([v for v in values if math.isfinite(v)])
        out[name] = ((float(np.quantile(finite, alpha / 2)), float(np.quantile(finite, 1 - alpha / 2)))
                     if finite.size else (math.nan, math.nan))
    return out


def agrees(observed_low: float, observed_high: float, simulated_low: float,
           simulated_high: float) -> bool | None:
    """The fit-check rule (module docstring): False when the observed interval and the simulated
    interval do not overlap — the observed value lies outside the simulated interval widened by
    its own margin; None when a bound is unknown (the KPI is not judged)."""
    bounds = (observed_low, observed_high, simulated_low, simulated_high)
    if not all(isinstance(b, (int, float)) and math.isfinite(b) for b in bounds):
        return None
    return bool(observed_high >= simulated_low and observed_low <= simulated_high)


@dataclass
class FitRow:
    """One KPI: observed on the export (with its bootstrap interval) and simulated (mean, t interval)."""

    kpi: str
    unit: str
    observed: float
    observed_low: float
    observed_high: float
    simulated: float
    simulated_low: float
    simulated_high: float
    simulated_values: list[float] = field(default_factory=list)

    @property
    def agrees(self) -> bool | None:
        if not math.isfinite(self.observed):
            return None
        return agrees(self.observed_low, self.observed_high, self.simulated_low, self.simulated_high)


@dataclass
class FitCheck:
    """The fit check of a calibrated group: its rows and what they rest on."""

    group: str  # the calibrated scenario's name
    baseline: str  # the report's baseline scenario, which is the calibrated group
    window_start: str  # first day (YYYY-MM-DD)
    window_end: str  # last day, inclusive
    days: int
    source: str  # formats and file count, never file names
    members_seen: int
    members_at_start: int
    members_at_end: int
    hidden_members: int
    group_size_given: bool
    replications: int
    seed: int
    rows: list[FitRow]
    notes: list[str] = field(default_factory=list)

    @property
    def disagreements(self) -> list[FitRow]:
        return [row for row in self.rows if row.agrees is False]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = FIT_CHECK_VERSION
        return _finite(data)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FitCheck:
        """Raises ValueError/KeyError/TypeError on content that is not a fit check."""
        if data.get("version") != FIT_CHECK_VERSION:
            raise ValueError(f"version {data.get('version')!r}; expected {FIT_CHECK_VERSION}")
        fields = {key: data[key] for key in cls.__dataclass_fields__ if key != "rows"}
        rows = [FitRow(**{key: _number(value) if key not in ("kpi", "unit", "simulated_values") else value
                          for key, value in row.items()}) for row in data["rows"]]
        for row in rows:
            row.simulated_values = [_number(v) for v in row.simulated_values]
        return cls(**fields, rows=rows)

    def lines(self) -> list[str]:
        """The fit check as plain text lines (for the terminal and the scenario's comments)."""
        rule = labels.report_text("fit_rule_text", "en")
        out = [f"Fit check, observed on the export vs. the calibrated group replayed {self.replications} "
               f"times over {self.window_start} … {self.window_end} (rule: {rule}):"]
        for row in self.rows:
            verdict = {True: "agrees", False: "DISAGREES", None: "not judged"}[row.agrees]
            observed = _plain(row.observed, row.observed_low, row.observed_high, row.unit)
            simulated = _plain(row.simulated, row.simulated_low, row.simulated_high, row.unit)
            out.append(f"  {row.kpi}: observed {observed}, simulated {simulated}: {verdict}")
        return out


def fit_row(kpi: FitKpi, observed: float, interval: tuple[float, float],
            simulated: Sequence[float]) -> FitRow:
    """A KPI's row: the observed value with its interval, the simulated values' mean and t interval."""
    summary = mean_ci([v for v in simulated if math.isfinite(v)])
    return FitRow(kpi.name, kpi.unit, observed, interval[0], interval[1], summary["mean"], summary["low"],
                  summary["high"], [float(v) for v in simulated])


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _finite(value: Any) -> Any:
    """NaN and infinities as None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _plain(value: float, low: float, high: float, unit: str) -> str:
    """A value and its interval as plain text: "18.9 [17.9, 20.2]", shares in percent."""
    def one(x: float) -> str:
        if not math.isfinite(x):
            return formatting.MISSING
        return f"{100 * x:.1f}%" if unit == "share" else f"{x:.3g}"

    return f"{one(value)} [{one(low)}, {one(high)}]"


# --------------------------------------------------------------------------- the batch folder


def write_fit_check(folder: str | os.PathLike, fit: FitCheck) -> Path:
    """Write ``fit_check.json`` into ``folder`` (atomically)."""
    path = Path(folder) / FIT_CHECK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(fit.to_json(), ensure_ascii=False, indent=1, allow_nan=False))
    return path


def read_fit_check(batch_dir: str | os.PathLike) -> FitCheck | Problem | None:
    """The batch's fit check; None when the batch was not made from an export; a
    :class:`~simlib.batch_folder.Problem` when the file cannot be used (never raises)."""
    path = Path(batch_dir) / FIT_CHECK_FILE
    if not path.is_file():
        return None
    try:
        return FitCheck.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return Problem(FIT_CHECK_FILE, f"unreadable fit check: {type(error).__name__}: {error}")


# --------------------------------------------------------------------------- HTML

def _format(value: float, low: float, high: float, unit: str) -> str:
    entry = {"mean": value, "low": low, "high": high}
    if unit == "share":
        return formatting.pct(entry)
    return formatting.num(entry, 3 if unit == "per member-month" else 2)


def fit_check_table(fit: FitCheck, lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display table, cell styles): KPI, observed, simulated, verdict."""
    verdict_word = {True: "agrees", False: "disagrees", None: "not_judged"}
    frame = pd.DataFrame({
        column_name("fit_kpi", lang): [label(row.kpi, lang) for row in fit.rows],
        column_name("fit_observed", lang): [
            _format(row.observed, row.observed_low, row.observed_high, row.unit) for row in fit.rows],
        column_name("fit_simulated", lang): [
            _format(row.simulated, row.simulated_low, row.simulated_high, row.unit) for row in fit.rows],
        column_name("fit_verdict", lang): [
            plain_text(f"fit_{verdict_word[row.agrees]}", lang) for row in fit.rows],
    })
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    styles.iloc[:, -1] = [{True: PASS_STYLE, False: FAIL_STYLE, None: ""}[row.agrees] for row in fit.rows]
    return frame, styles


def fit_check_html(fit: FitCheck | Problem | None, lang: str = "zh") -> str:
    """The fit check section; "" when the batch has no fit check (it was not made from an export)."""
    if fit is None:
        return ""
    parts = [f'<section id="{SECTION_ID}"><h2>{text("fit_heading", lang)}</h2>']
    if isinstance(fit, Problem):
        problem = text("fit_problem", lang, problem=f"{fit.where}: {fit.message}")
        parts.append(f'<p style="{FAIL_STYLE}">{problem}</p></section>')
        return "".join(parts)
    size = (text("fit_size_given", lang, hidden=fit.hidden_members) if fit.group_size_given
            else text("fit_size_missing", lang))
    intro = text("fit_intro", lang, source=fit.source, start=fit.window_start, end=fit.window_end,
                 days=fit.days, members=fit.members_seen, group=fit.group, replications=fit.replications,
                 seed=fit.seed)
    parts.append(f"<p>{intro} {size}</p>")
    if fit.disagreements:
        names = "、" if report_lang(lang) == "zh" else ", "
        kpis = names.join(label(row.kpi, lang) for row in fit.disagreements)
        parts.append(f'<p style="{FAIL_STYLE};padding:6px"><strong>{text("fit_disagree", lang, kpis=kpis)}'
                     "</strong></p>")
    else:
        parts.append(f'<p style="{PASS_STYLE};padding:6px">{text("fit_all_agree", lang)}</p>')
    frame, styles = fit_check_table(fit, lang)
    parts.append(render_html_table(frame, styles))
    rule = text("fit_rule", lang, rule=plain_text("fit_rule_text", lang), replications=fit.replications)
    parts.append(f"<p>{rule} {text('fit_revisit_note', lang)}</p>")
    if fit.notes:
        parts.append("<ul>" + "".join(f"<li>{html_text(note)}</li>" for note in fit.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)
