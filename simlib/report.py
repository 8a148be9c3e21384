"""The comparative strategy report: read a batch folder, compare scenarios, rank them.

A batch folder (written by :mod:`simlib.batch`) looks like::

    <batch_dir>/manifest.jsonl                      one JSON line per run attempt
    <batch_dir>/timing.json                         optional
    <batch_dir>/runs/<notebook>/<slug>/results.json (see :mod:`simlib.results`)
    <batch_dir>/runs/<notebook>/<slug>/tables/*.csv
    <batch_dir>/runs/<notebook>/<slug>/notebook.html
    <batch_dir>/failed/...

:func:`collect` reads it without ever raising on bad content: a missing or corrupt
``results.json`` becomes a :class:`Problem` listed in the report. Everything else is a pure
function of the collected :class:`BatchResults`, so the notebook ``strategy_report.ipynb`` is
only glue: it displays the HTML strings and figures built here.

Every user-supplied string (scenario names, labels, descriptions, notebook names, error
messages) is escaped with :func:`simlib.report_safety.html_text` before it reaches HTML, and
the CSV export goes through :func:`simlib.report_safety.csv_safe`.

Statistics: replication values of two scenarios run with the same seeds (common random
numbers) are paired by replication index; the paired difference gets a Student-t interval.
If the lengths (or the seeds) differ, Welch's unpaired interval is used instead and the table
says so.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from scipy import stats

from simlib.report_safety import csv_safe, html_text
from simlib.results import RESULTS_FILE, TABLES_DIR, mean_ci

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

KPI_NOTEBOOK = "04_kpi_monitoring"
TIER_NOTEBOOK = "01_member_tiering"
TIER_TABLE = "tier_daily"
RUN_HTML = "notebook.html"
RUN_INFO = "run.json"
MANIFEST_FILE = "manifest.jsonl"
TIMING_FILE = "timing.json"
HEADLINE_CSV = "headline.csv"
DEFAULT_BASELINE = "baseline"

#: The headline KPIs, in display order, with the kind of number each one is.
KPIS: dict[str, str] = {
    "retention_d30": "share",
    "retention_d90": "share",
    "messages_per_100_members_per_day": "rate",
    "revisit_7d": "share",
    "activity_conversion": "share",
    "share_rate": "share",
    "revenue_per_member": "CNY",
    "ltv": "CNY",
    "cost": "CNY",
    "roi": "ratio",
    "exits": "count",
}

#: Health thresholds of the article's table 4 ("数据监测指标体系"), all lower bounds. Used only
#: when ``params/defaults.yaml`` or its key ``monitoring.health_thresholds`` is missing.
FALLBACK_HEALTH_THRESHOLDS: dict[str, float] = {
    "messages_per_100_members_per_day": 8.0,
    "revisit_7d": 0.45,
    "activity_conversion": 0.25,
    "share_rate": 0.18,
}

#: Keys under which a run may report its member count (used for cost per member).
MEMBER_COUNT_KEYS = ("members", "member_count", "members_total", "group_size", "members_end")

#: Retention floor for the ranking when none is given: baseline's mean 30-day retention minus this.
DEFAULT_RETENTION_TOLERANCE = 0.02

STATUSES = ("ok", "failed", "timeout", "kernel_died", "skipped")

#: KPIs where a decrease is an improvement (for colouring differences).
LOWER_IS_BETTER = frozenset({"cost", "exits"})

PASS_STYLE = "background-color:#d9f2d9;color:#14532d"
FAIL_STYLE = "background-color:#f8d7da;color:#7f1d1d"
_TABLE_STYLE = "border-collapse:collapse;font-size:13px;margin:6px 0"
_CELL_STYLE = "border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top"

# --------------------------------------------------------------------------------------------
# Labels and prose
# --------------------------------------------------------------------------------------------

_LABELS: dict[str, dict[str, str]] = {
    "retention_d30": {"zh": "30日留存率", "en": "30-day retention"},
    "retention_d90": {"zh": "90日留存率", "en": "90-day retention"},
    "messages_per_100_members_per_day": {"zh": "日均发言量(条/百人)", "en": "Messages per 100 members per day"},
    "revisit_7d": {"zh": "七日二次访问率", "en": "7-day revisit rate"},
    "activity_conversion": {"zh": "活动参与转化率", "en": "Activity conversion"},
    "share_rate": {"zh": "内容分享率", "en": "Share rate"},
    "revenue_per_member": {"zh": "人均收入(元)", "en": "Revenue per member (CNY)"},
    "ltv": {"zh": "用户终身价值 LTV(元)", "en": "LTV (CNY)"},
    "cost": {"zh": "成本(元)", "en": "Cost (CNY)"},
    "roi": {"zh": "投资回报率 ROI", "en": "ROI"},
    "exits": {"zh": "退群人数", "en": "Exits"},
    "net_value_per_member": {"zh": "人均净价值(元)", "en": "Net value per member (CNY)"},
    "scenario": {"zh": "方案", "en": "Scenario"},
    "day": {"zh": "天", "en": "Day"},
    "members": {"zh": "成员数", "en": "Members"},
    "tier": {"zh": "分层", "en": "Tier"},
    "potential": {"zh": "潜在用户", "en": "Potential"},
    "active": {"zh": "活跃用户", "en": "Active"},
    "loyal": {"zh": "忠诚用户", "en": "Loyal"},
    "silent": {"zh": "沉默用户", "en": "Silent"},
    "regular": {"zh": "普通用户", "en": "Regular"},
    "title_kpi_bars": {"zh": "各方案关键指标(均值与95%区间)", "en": "KPIs by scenario (mean and 95% interval)"},
    "title_tier_mix": {"zh": "分层结构随时间变化", "en": "Tier mix over time"},
    "title_frontier": {"zh": "人均收入与退群人数:帕累托前沿", "en": "Revenue per member vs. exits: Pareto frontier"},
    "pareto_efficient": {"zh": "帕累托有效", "en": "Pareto-efficient"},
    "dominated": {"zh": "被占优", "en": "Dominated"},
}


def label(key: str, lang: str = "zh") -> str:
    """A display label from the shared catalog :mod:`simlib.labels`, else from this module.

    The catalog is imported lazily so the report works before (or without) it.
    """
    try:
        from simlib import labels as catalog

        found = catalog.label(key, lang)
        if isinstance(found, str) and found and found != key:
            return found
    except Exception:  # catalog missing or key unknown: use the local labels
        pass
    entry = _LABELS.get(key)
    if entry:
        return entry.get(lang) or entry["en"]
    return key


_TEXT: dict[str, dict[str, str]] = {
    "title": {
        "zh": "多方案对比策略报告 (comparative strategy report)",
        "en": "Comparative strategy report",
    },
    "intro": {
        "zh": "本报告读取批量运行 (batch) <code>{batch}</code> 的结果,共 {n_scenarios} 个方案 (scenario),"
        "基线方案 (baseline) 为 <b>{baseline}</b>。所有数字均为多次重复模拟 (replications) 的均值,"
        "方括号内为 95% 置信区间 (95% interval)。同一种子的重复之间成对比较 (common random numbers)。",
        "en": "This report reads the batch <code>{batch}</code>: {n_scenarios} scenarios, baseline "
        "<b>{baseline}</b>. Every number is a mean over simulation replications with its 95% interval "
        "in brackets. Replications with the same seed are compared in pairs (common random numbers).",
    },
    "status_head": {"zh": "运行状态 (run status)", "en": "Run status"},
    "status_summary": {
        "zh": "共 {total} 次运行 (runs):{parts};各次运行耗时合计 (total run time) {seconds} 秒。",
        "en": "{total} runs: {parts}; total run time {seconds} s.",
    },
    "failed_head": {"zh": "失败的运行 (failed runs)", "en": "Failed runs"},
    "no_failed": {"zh": "没有失败的运行。", "en": "No run failed."},
    "problems_head": {"zh": "读取问题 (problems while reading)", "en": "Problems while reading"},
    "no_problems": {"zh": "所有结果文件均读取成功。", "en": "All results files were read."},
    "headline_head": {"zh": "关键指标总表 (headline KPIs)", "en": "Headline KPIs"},
    "headline_note": {
        "zh": "单元格为 均值 [95% 区间]。带阈值的列按文章表4的健康阈值 (health threshold) 着色:"
        "绿色为达标 (pass),红色为未达标 (fail);以均值判断,标 * 表示区间跨越阈值、结论不确定。"
        "阈值来源:{source}。",
        "en": "Cells show mean [95% interval]. Columns with a threshold are coloured by the health "
        "threshold of the article's table 4: green = pass, red = fail, judged on the mean; * marks an "
        "interval that straddles the threshold (not certain). Thresholds from: {source}.",
    },
    "no_kpis": {
        "zh": "没有可用的关键指标 (KPI) 结果,无法比较方案。",
        "en": "No KPI results are available; scenarios cannot be compared.",
    },
    "diff_head": {"zh": "相对基线的配对差异 (paired differences vs. baseline)", "en": "Paired differences vs. baseline"},
    "diff_note": {
        "zh": "每格为 差异 = 方案 − 基线 <b>{baseline}</b> (scenario − baseline) 及其 95% t 区间,"
        "按重复序号配对 (paired by replication, common random numbers)。区间不含 0 即差异显著 (significant):"
        "绿色表示改善,红色表示变差(成本和退群人数以减少为改善);未着色表示与基线无显著差异。"
        "比例类指标的差异以百分点 (pp) 表示。† 表示重复次数或种子不同,改用 Welch 非配对区间。",
        "en": "Each cell is the difference scenario − baseline <b>{baseline}</b> with its 95% t interval, "
        "paired by replication index (common random numbers). An interval that excludes 0 is significant: "
        "green = improvement, red = deterioration (for cost and exits, lower is better); uncoloured = no "
        "significant difference. Shares differ in percentage points (pp). † marks Welch's unpaired "
        "interval, used where replication counts or seeds differ.",
    },
    "no_baseline": {
        "zh": "未找到基线方案 <b>{baseline}</b>,无法计算配对差异。",
        "en": "The baseline scenario <b>{baseline}</b> was not found; no paired differences.",
    },
    "welch_used": {
        "zh": "注意:{n} 个比较无法配对,改用 Welch 非配对区间 (unpaired, †):{why}。",
        "en": "Note: {n} comparisons could not be paired and use Welch's unpaired interval (†): {why}.",
    },
    "plots_head": {"zh": "图表 (plots)", "en": "Plots"},
    "plot_lang_note": {
        "zh": "本机未安装中文字体 (CJK font),图中标签使用英文。",
        "en": "",
    },
    "frontier_note": {
        "zh": "帕累托有效 (Pareto-efficient) 方案:{names}。没有其他方案能在人均收入更高的同时退群更少。",
        "en": "Pareto-efficient scenarios: {names}. No other scenario has higher revenue per member and fewer exits.",
    },
    "no_tiers": {
        "zh": "没有分层数据 (tier_daily.csv,来自 01_member_tiering)。",
        "en": "No tier data (tier_daily.csv from 01_member_tiering).",
    },
    "rank_head": {"zh": "排序与建议 (ranking and recommendation)", "en": "Ranking and recommendation"},
    "rule_net": {
        "zh": "排序规则 (ranking rule):先看资格——四项健康阈值全部达标,且 30 日留存率不低于 {floor};"
        "合格方案排在前面,再按人均净价值 (net value per member = 人均收入 − 人均成本) 从高到低排序;"
        "净价值相同(精确到 0.01 元)时,相对基线差异显著为正者优先。",
        "en": "Ranking rule: eligibility first — all four health thresholds pass and 30-day retention is at "
        "least {floor}; eligible scenarios come first, then by net value per member (revenue per member − "
        "cost per member), highest first; ties (to 0.01 CNY) go to the scenario whose difference vs. "
        "baseline is significantly positive.",
    },
    "rule_roi": {
        "zh": "排序规则 (ranking rule):先看资格——四项健康阈值全部达标,且 30 日留存率不低于 {floor};"
        "结果中没有成员数 (member count),无法计算人均成本,因此改按投资回报率 ROI 从高到低排序;"
        "ROI 相同(精确到 0.01)时,相对基线差异显著为正者优先。",
        "en": "Ranking rule: eligibility first — all four health thresholds pass and 30-day retention is at "
        "least {floor}. The results carry no member count, so cost per member cannot be computed and the "
        "ranking uses ROI instead, highest first; ties (to 0.01) go to the scenario whose difference vs. "
        "baseline is significantly positive.",
    },
    "no_floor": {"zh": "(无基线,不设留存下限)", "en": "(no baseline: no retention floor)"},
    "winner": {
        "zh": "推荐方案 (recommendation):<b>{name}</b>。{why}",
        "en": "Recommendation: <b>{name}</b>. {why}",
    },
    "why_eligible": {
        "zh": "它满足全部健康阈值和留存下限,且{value_label}最高:{value}。",
        "en": "It meets every health threshold and the retention floor and has the highest {value_label}: {value}.",
    },
    "why_none_eligible": {
        "zh": "没有任何方案同时满足全部条件;它是{value_label}最高的方案 ({value}),但未满足:{reasons}。"
        "请先解决这些问题再推广。",
        "en": "No scenario meets every condition; it has the highest {value_label} ({value}) but fails: "
        "{reasons}. Fix these before rolling it out.",
    },
    "is_baseline": {
        "zh": "基线方案本身排名第一:没有替代方案优于现状,建议保持基线。",
        "en": "The baseline itself ranks first: no alternative beats the current practice; keep the baseline.",
    },
    "vs_baseline_sig": {
        "zh": "相对基线,{value_label}高出 {diff}(95% 区间 {interval},{method}),区间不含 0,差异显著 (significant)。",
        "en": "Versus the baseline its {value_label} is higher by {diff} (95% interval {interval}, {method}); "
        "the interval excludes 0, so the difference is significant.",
    },
    "vs_baseline_nonsig": {
        "zh": "相对基线,{value_label}差异为 {diff}(95% 区间 {interval},{method}),区间包含 0,"
        "尚不能确认优于基线 (not significant)。",
        "en": "Versus the baseline its {value_label} differs by {diff} (95% interval {interval}, {method}); "
        "the interval includes 0, so it is not shown to beat the baseline.",
    },
    "vs_baseline_na": {
        "zh": "无法与基线做差异比较(缺少基线或重复值)。",
        "en": "No difference vs. the baseline could be computed (baseline or replication values missing).",
    },
    "vs_second": {
        "zh": "与第二名 <b>{second}</b> 相比:差异 {diff}(95% 区间 {interval},{method});{certainty}",
        "en": "Versus the runner-up <b>{second}</b>: difference {diff} (95% interval {interval}, {method}); {certainty}",
    },
    "sure_clear": {
        "zh": "两者的置信区间不重叠,且差异区间不含 0,结论较为确定。",
        "en": "their intervals do not overlap and the difference excludes 0: a clear lead.",
    },
    "sure_paired": {
        "zh": "两者的置信区间有重叠,但配对差异区间不含 0:领先较小但稳定。",
        "en": "their intervals overlap, but the paired difference excludes 0: a small but consistent lead.",
    },
    "sure_unclear": {
        "zh": "两者的置信区间重叠且差异区间包含 0,排名可能随机波动,建议增加重复次数或小范围试点。",
        "en": "their intervals overlap and the difference includes 0: the order may be chance; "
        "run more replications or pilot both.",
    },
    "only_one": {"zh": "只有一个方案,无法比较。", "en": "Only one scenario: nothing to compare."},
    "links_head": {"zh": "各次运行的笔记本 (executed notebooks)", "en": "Executed notebooks"},
    "no_links": {"zh": "没有已执行的笔记本 HTML。", "en": "No executed notebook HTML found."},
    "csv_note": {
        "zh": "总表已导出为 CSV:<a href=\"{href}\">{name}</a>。",
        "en": "The headline table is exported as CSV: <a href=\"{href}\">{name}</a>.",
    },
    "missing_batch": {
        "zh": "找不到批量运行文件夹 <code>{batch}</code>。",
        "en": "The batch folder <code>{batch}</code> was not found.",
    },
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "paired": {"zh": "配对 t (paired)", "en": "paired t"},
    "welch": {"zh": "Welch 非配对 (unpaired)", "en": "Welch (unpaired)"},
    "none": {"zh": "无法计算", "en": "not computable"},
    "eligible": {"zh": "合格", "en": "eligible"},
    "not_eligible": {"zh": "不合格", "en": "not eligible"},
    "reason_health": {"zh": "{kpi} 未达健康阈值", "en": "{kpi} below its health threshold"},
    "reason_missing": {"zh": "缺少 {kpi}", "en": "{kpi} missing"},
    "reason_retention": {"zh": "30日留存低于下限 {floor}", "en": "30-day retention below the floor {floor}"},
}

_COLUMNS: dict[str, dict[str, str]] = {
    "rank": {"zh": "名次", "en": "Rank"},
    "scenario": {"zh": "方案 (scenario)", "en": "Scenario"},
    "description": {"zh": "说明 (description)", "en": "Description"},
    "kpi": {"zh": "指标 (KPI)", "en": "KPI"},
    "difference": {"zh": "差异 [95% 区间]", "en": "Difference [95% interval]"},
    "significant": {"zh": "显著 (significant)", "en": "Significant"},
    "method": {"zh": "方法 (method)", "en": "Method"},
    "value": {"zh": "{value_label} [95% 区间]", "en": "{value_label} [95% interval]"},
    "vs_baseline": {"zh": "相对基线 [95% 区间]", "en": "vs. baseline [95% interval]"},
    "status": {"zh": "资格 (eligibility)", "en": "Eligibility"},
    "reasons": {"zh": "原因 (reasons)", "en": "Reasons"},
    "notebook": {"zh": "笔记本 (notebook)", "en": "Notebook"},
    "run_status": {"zh": "状态 (status)", "en": "Status"},
    "error": {"zh": "错误 (error)", "en": "Error"},
    "duration": {"zh": "耗时(秒)", "en": "Duration (s)"},
    "link": {"zh": "链接 (link)", "en": "Link"},
    "where": {"zh": "位置", "en": "Where"},
    "problem": {"zh": "问题", "en": "Problem"},
    "threshold": {"zh": "阈值", "en": "threshold"},
}


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def text(key: str, lang: str = "zh", **values: Any) -> str:
    """Report prose as an HTML fragment; every inserted value is escaped."""
    template = _TEXT[key][_lang(lang)]
    return template.format(**{name: html_text(value) for name, value in values.items()})


def _raw_text(key: str, lang: str, **values: Any) -> str:
    """Report prose whose inserted values are already-safe HTML fragments built here."""
    return _TEXT[key][_lang(lang)].format(**values)


def _column(key: str, lang: str, **values: Any) -> str:
    return _COLUMNS[key][_lang(lang)].format(**values)


# --------------------------------------------------------------------------------------------
# Collecting a batch folder
# --------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """Something in the batch folder that could not be used (reported, never raised)."""

    where: str
    message: str


@dataclass
class Run:
    """One run folder ``runs/<notebook>/<slug>``."""

    notebook: str
    slug: str
    folder: Path
    scenario: str
    results: dict[str, Any] | None = None
    html: Path | None = None


@dataclass
class Scenario:
    """A scenario's identity: its name, and the optional label and description."""

    name: str
    slug: str
    label: str
    description: str = ""


@dataclass
class BatchResults:
    """Everything the report needs from one batch folder."""

    batch_dir: Path
    runs: list[Run] = field(default_factory=list)
    manifest: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    #: scenario -> kpi -> {"mean", "low", "high", "values", "unit", "notebook", "seed", "run"}
    kpis: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    found: bool = True

    def scenario_names(self, baseline: str | None = DEFAULT_BASELINE) -> list[str]:
        """Scenario names with KPIs, the baseline first, the others sorted."""
        names = sorted(self.kpis)
        if baseline in self.kpis:
            names.remove(baseline)
            names.insert(0, baseline)
        return names

    def display_name(self, scenario: str) -> str:
        info = self.scenarios.get(scenario)
        return info.label if info and info.label else scenario


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _clean_entry(entry: Any) -> dict[str, Any] | None:
    """A validated KPI entry, or None if it has no usable mean."""
    if not isinstance(entry, Mapping):
        return None
    values = entry.get("values")
    if isinstance(values, list):
        values = [float(v) if _is_number(v) else math.nan for v in values]
        if not any(math.isfinite(v) for v in values):
            values = None
    else:
        values = None
    mean = entry.get("mean")
    if not _is_number(mean):
        if values is None:
            return None
        mean = mean_ci(values)["mean"]
    low = entry.get("low") if _is_number(entry.get("low")) else mean
    high = entry.get("high") if _is_number(entry.get("high")) else mean
    unit = entry.get("unit") if isinstance(entry.get("unit"), str) else ""
    return {"mean": float(mean), "low": float(low), "high": float(high), "values": values, "unit": unit}


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _read_manifest(path: Path, problems: list[Problem]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    if not path.exists():
        return lines
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        problems.append(Problem(MANIFEST_FILE, f"cannot read: {error}"))
        return lines
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(Problem(f"{MANIFEST_FILE}:{number}", f"not JSON: {error.msg}"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(f"{MANIFEST_FILE}:{number}", "not a JSON object"))
            continue
        lines.append(record)
    return lines


def _run_key(record: Mapping[str, Any]) -> tuple[str, str]:
    return (str(record.get("notebook", "")), str(record.get("scenario_slug") or record.get("scenario", "")))


def effective_attempts(manifest: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per (notebook, scenario): the latest attempt that was not a skip.

    A ``skipped`` line means a re-run found the run already done, so the attempt that did the
    work decides its status; a run only ever skipped stays ``skipped``.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in manifest:
        key = _run_key(record)
        if record.get("status") == "skipped" and key in latest:
            continue
        latest[key] = dict(record)
    return list(latest.values())


def _sorted_runs(runs: Iterable[Run]) -> list[Run]:
    return sorted(runs, key=lambda run: (run.notebook != KPI_NOTEBOOK, run.notebook, run.slug))


def collect(batch_dir: str | os.PathLike) -> BatchResults:
    """Read a batch folder. Bad or missing content becomes :attr:`BatchResults.problems`."""
    root = Path(batch_dir)
    batch = BatchResults(batch_dir=root)
    if not root.is_dir():
        batch.found = False
        batch.problems.append(Problem(str(root), "batch folder not found"))
        return batch

    batch.manifest = _read_manifest(root / MANIFEST_FILE, batch.problems)
    if (root / TIMING_FILE).exists():
        try:
            timing = _read_json(root / TIMING_FILE)
            batch.timing = timing if isinstance(timing, dict) else None
        except (OSError, ValueError) as error:
            batch.problems.append(Problem(TIMING_FILE, f"unreadable: {error}"))

    attempts = {_run_key(r): r for r in effective_attempts(batch.manifest)}
    runs_root = root / "runs"
    if runs_root.is_dir():
        for notebook_dir in sorted(p for p in runs_root.iterdir() if p.is_dir()):
            for run_dir in sorted(p for p in notebook_dir.iterdir() if p.is_dir()):
                batch.runs.append(_read_run(notebook_dir.name, run_dir, attempts, batch.problems))

    on_disk = {(run.notebook, run.slug) for run in batch.runs}
    for key, record in attempts.items():
        if record.get("status") == "ok" and key not in on_disk:
            batch.problems.append(
                Problem(f"runs/{key[0]}/{key[1]}", "manifest says ok but the run folder is missing")
            )

    for run in _sorted_runs(batch.runs):
        _register_scenario(batch, run, attempts.get((run.notebook, run.slug), {}))
        if run.results is None:
            continue
        kpis = run.results.get("kpis")
        if not isinstance(kpis, Mapping):
            continue
        into = batch.kpis.setdefault(run.scenario, {})
        for name, entry in kpis.items():
            if name in into:
                continue
            cleaned = _clean_entry(entry)
            if cleaned is None:
                batch.problems.append(
                    Problem(f"runs/{run.notebook}/{run.slug}/{RESULTS_FILE}", f"KPI {name!r} has no usable mean")
                )
                continue
            seed = run.results.get("seed")
            cleaned.update(notebook=run.notebook, seed=seed if _is_number(seed) else None, run=run)
            into[str(name)] = cleaned
        if not into:
            del batch.kpis[run.scenario]
    # Scenarios known only from the manifest (all their runs failed) still get a name.
    for record in attempts.values():
        name = record.get("scenario")
        if isinstance(name, str) and name not in batch.scenarios:
            slug = str(record.get("scenario_slug") or name)
            from_file = _scenario_file_text(record)
            batch.scenarios[name] = Scenario(name=name, slug=slug, label=from_file.get("label") or name,
                                             description=from_file.get("description", ""))
    return batch


def _read_run(notebook: str, run_dir: Path, attempts: Mapping, problems: list[Problem]) -> Run:
    record = attempts.get((notebook, run_dir.name), {})
    where = f"runs/{notebook}/{run_dir.name}/{RESULTS_FILE}"
    # The scenario's name: the manifest's, else the run's run.json, else results.json's, else the slug.
    named = isinstance(record.get("scenario"), str) and record["scenario"]
    scenario = record["scenario"] if named else run_dir.name
    if not named and (run_dir / RUN_INFO).is_file():
        try:
            info = _read_json(run_dir / RUN_INFO)
            if isinstance(info, dict) and isinstance(info.get("scenario"), str) and info["scenario"]:
                scenario, named = info["scenario"], True
        except (OSError, ValueError):
            pass
    run = Run(notebook=notebook, slug=run_dir.name, folder=run_dir, scenario=scenario)
    html_path = run_dir / RUN_HTML
    if html_path.is_file():
        run.html = html_path
    path = run_dir / RESULTS_FILE
    if not path.exists():
        if record.get("status", "ok") == "ok":
            problems.append(Problem(where, "results.json is missing"))
        return run
    try:
        payload = _read_json(path)
    except (OSError, ValueError) as error:
        problems.append(Problem(where, f"corrupt results.json: {error}"))
        return run
    if not isinstance(payload, dict):
        problems.append(Problem(where, "corrupt results.json: not a JSON object"))
        return run
    run.results = payload
    if not named and isinstance(payload.get("scenario"), str) and payload["scenario"]:
        run.scenario = _scenario_name(payload["scenario"])
    if not isinstance(payload.get("kpis"), Mapping) or not payload.get("kpis"):
        problems.append(Problem(where, "results.json has no KPIs"))
    return run


def _scenario_name(value: str) -> str:
    """A scenario name from a results.json ``scenario`` field (a scenario file path gives its stem)."""
    if value.endswith((".yaml", ".yml")):
        return Path(value).stem
    return value


def _scenario_file_text(record: Mapping[str, Any]) -> dict[str, str]:
    """``label`` and ``description`` from the scenario file the manifest names, if readable."""
    path = record.get("scenario_file")
    if not isinstance(path, str) or not path.endswith((".yaml", ".yml")):
        return {}
    try:
        import yaml

        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except Exception:  # missing or unreadable scenario file: the report just has no description
        return {}
    if not isinstance(data, Mapping):
        return {}
    return {key: data[key] for key in ("label", "description") if isinstance(data.get(key), str)}


def _register_scenario(batch: BatchResults, run: Run, record: Mapping[str, Any]) -> None:
    sources = [run.results or {}, record]
    label_value = next((s.get("scenario_label") for s in sources if isinstance(s.get("scenario_label"), str)), None)
    description = next((s.get("description") for s in sources if isinstance(s.get("description"), str)), "")
    known = batch.scenarios.get(run.scenario)
    if not label_value or not description:
        if known is None or known.label == known.name or not known.description:
            from_file = _scenario_file_text(record)
            label_value = label_value or from_file.get("label")
            description = description or from_file.get("description", "")
    if known is None:
        batch.scenarios[run.scenario] = Scenario(
            name=run.scenario, slug=run.slug, label=label_value or run.scenario, description=description or ""
        )
        return
    if label_value and known.label == known.name:
        known.label = label_value
    if description and not known.description:
        known.description = description


def resolve_batch_dir(batch_dir: str | os.PathLike) -> Path:
    """``batch_dir`` as given if it exists, else relative to the project root."""
    path = Path(batch_dir)
    if path.is_absolute() or path.exists():
        return path
    project_root = Path(__file__).resolve().parents[1]
    candidate = project_root / path
    return candidate if candidate.exists() else path


# --------------------------------------------------------------------------------------------
# Health thresholds
# --------------------------------------------------------------------------------------------


def load_health_thresholds(defaults_path: str | os.PathLike | None = None) -> tuple[dict[str, float], str]:
    """Health thresholds ``{kpi: lower bound}`` and where they came from.

    Read from ``params/defaults.yaml`` key ``monitoring.health_thresholds`` (a mapping
    kpi → number). If the file or key is missing or unreadable, the article's table-4 values
    :data:`FALLBACK_HEALTH_THRESHOLDS` are used and the source says so.
    """
    path = Path(defaults_path) if defaults_path else Path(__file__).resolve().parents[1] / "params" / "defaults.yaml"
    fallback = dict(FALLBACK_HEALTH_THRESHOLDS), "article table 4 (fallback)"
    try:
        import yaml

        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except Exception:  # missing file, no PyYAML, YAML syntax error: fall back, never crash the report
        return fallback
    section = data.get("monitoring") if isinstance(data, Mapping) else None
    thresholds = section.get("health_thresholds") if isinstance(section, Mapping) else None
    if not isinstance(thresholds, Mapping):
        return fallback
    parsed = {str(k): float(v) for k, v in thresholds.items() if _is_number(v)}
    if not parsed:
        return fallback
    return parsed, f"{path.parent.name}/{path.name}: monitoring.health_thresholds"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def headline_table(batch: BatchResults, kpis: Sequence[str] | None = None, baseline: str = DEFAULT_BASELINE) -> pd.DataFrame:
    """Long table, one row per scenario × KPI: mean, low, high (95%), n, unit, source notebook."""
    names = list(kpis) if kpis is not None else _kpi_names(batch)
    rows = []
    for scenario in batch.scenario_names(baseline):
        info = batch.scenarios.get(scenario)
        for kpi in names:
            entry = batch.kpis[scenario].get(kpi)
            if entry is None:
                continue
            values = entry["values"]
            rows.append(
                {
                    "scenario": scenario,
                    "scenario_label": info.label if info else scenario,
                    "description": info.description if info else "",
                    "kpi": kpi,
                    "mean": entry["mean"],
                    "low": entry["low"],
                    "high": entry["high"],
                    "n": 0 if values is None else int(sum(math.isfinite(v) for v in values)),
                    "unit": entry["unit"] or KPIS.get(kpi, ""),
                    "notebook": entry["notebook"],
                }
            )
    columns = ["scenario", "scenario_label", "description", "kpi", "mean", "low", "high", "n", "unit", "notebook"]
    return pd.DataFrame(rows, columns=columns)


def _kpi_names(batch: BatchResults) -> list[str]:
    present = {name for entries in batch.kpis.values() for name in entries}
    ordered = [name for name in KPIS if name in present]
    return ordered + sorted(present - set(ordered))


def health_flags(headline: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Pass/fail of each scenario × thresholded KPI (lower bounds, judged on the mean).

    ``certain`` is False when the 95% interval straddles the threshold.
    """
    rows = []
    for row in headline.itertuples(index=False):
        if row.kpi not in thresholds:
            continue
        bound = float(thresholds[row.kpi])
        rows.append(
            {
                "scenario": row.scenario,
                "kpi": row.kpi,
                "mean": row.mean,
                "threshold": bound,
                "passed": bool(row.mean >= bound),
                "certain": bool(row.low >= bound or row.high < bound),
            }
        )
    return pd.DataFrame(rows, columns=["scenario", "kpi", "mean", "threshold", "passed", "certain"])


def format_number(value: float, kpi: str = "", unit: str = "") -> str:
    """A KPI value for display: shares as percent, money with 2 decimals, counts as integers."""
    if value is None or not math.isfinite(value):
        return "–"
    kind = KPIS.get(kpi) or unit
    if kind == "share" or unit in ("share", "proportion"):
        return f"{value * 100:.1f}%"
    if kind == "count":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    if kind == "CNY":
        return f"{value:,.2f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_interval(mean: float, low: float, high: float, kpi: str = "", unit: str = "") -> str:
    """``"12.3 [11.8, 12.9]"``."""
    return f"{format_number(mean, kpi, unit)} [{format_number(low, kpi, unit)}, {format_number(high, kpi, unit)}]"


def _threshold_text(kpi: str, bound: float) -> str:
    return f"≥ {format_number(bound, kpi)}"


def headline_display(
    headline: pd.DataFrame, flags: pd.DataFrame, lang: str = "zh"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide display table (scenarios × KPIs, "mean [low, high]") and its cell styles."""
    kpis = list(dict.fromkeys(headline["kpi"]))
    scenarios = list(dict.fromkeys(headline["scenario"]))
    bounds = dict(zip(flags["kpi"], flags["threshold"], strict=False))
    header = {}
    for kpi in kpis:
        name = label(kpi, lang)
        if kpi in bounds:
            name = f"{name} ({_column('threshold', lang)} {_threshold_text(kpi, bounds[kpi])})"
        header[kpi] = name
    flag_of = {(r.scenario, r.kpi): r for r in flags.itertuples(index=False)}
    first = headline.drop_duplicates("scenario").set_index("scenario")
    body, styles = [], []
    for scenario in scenarios:
        row = {_column("scenario", lang): first.loc[scenario, "scenario_label"]}
        style = {_column("scenario", lang): ""}
        description = first.loc[scenario, "description"]
        row[_column("description", lang)] = description if isinstance(description, str) else ""
        style[_column("description", lang)] = ""
        for kpi in kpis:
            match = headline[(headline["scenario"] == scenario) & (headline["kpi"] == kpi)]
            column = header[kpi]
            if match.empty:
                row[column], style[column] = "–", ""
                continue
            entry = match.iloc[0]
            cell = format_interval(entry["mean"], entry["low"], entry["high"], kpi, entry["unit"])
            flag = flag_of.get((scenario, kpi))
            if flag is not None:
                style[column] = PASS_STYLE if flag.passed else FAIL_STYLE
                if not flag.certain:
                    cell += " *"
            else:
                style[column] = ""
            row[column] = cell
        body.append(row)
        styles.append(style)
    return pd.DataFrame(body), pd.DataFrame(styles)


def headline_csv_frame(headline: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """The headline table for export: one row per scenario × KPI, with threshold and pass flag."""
    merged = headline.merge(flags[["scenario", "kpi", "threshold", "passed"]], on=["scenario", "kpi"], how="left")
    merged["health"] = merged["passed"].map({True: "pass", False: "fail"}).fillna("")
    return merged.drop(columns=["passed"])


def write_headline_csv(headline: pd.DataFrame, flags: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the headline CSV (formula-looking text cells neutralized by :func:`csv_safe`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    csv_safe(headline_csv_frame(headline, flags)).to_csv(target, index=False, encoding="utf-8")
    return target


# --------------------------------------------------------------------------------------------
# Statistics: differences, net value, ranking, Pareto front
# --------------------------------------------------------------------------------------------


def compare_values(
    a: Sequence[float] | None,
    b: Sequence[float] | None,
    *,
    paired: bool = True,
    confidence: float = 0.95,
    mean_a: float | None = None,
    mean_b: float | None = None,
) -> dict[str, Any]:
    """Difference a − b with a t interval: paired by index when allowed and lengths match, else Welch.

    Returns ``method`` ("paired", "welch" or "none"), ``n``, ``mean_diff``, ``low``, ``high``,
    ``excludes_zero`` and a ``note``.
    """
    result: dict[str, Any] = {"method": "none", "n": 0, "mean_diff": math.nan, "low": math.nan,
                              "high": math.nan, "excludes_zero": False, "note": ""}
    if a is None or b is None:
        if mean_a is not None and mean_b is not None:
            result["mean_diff"] = float(mean_a - mean_b)
        result["note"] = "no replication values"
        return result
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if paired and xa.size == xb.size:
        keep = np.isfinite(xa) & np.isfinite(xb)
        diffs = xa[keep] - xb[keep]
        if diffs.size >= 2:
            ci = mean_ci(diffs.tolist(), confidence)
            result.update(method="paired", n=int(diffs.size), mean_diff=ci["mean"], low=ci["low"], high=ci["high"])
            result["excludes_zero"] = bool(ci["low"] > 0 or ci["high"] < 0)
            return result
    xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
    if xa.size < 2 or xb.size < 2:
        if xa.size and xb.size:
            result["mean_diff"] = float(xa.mean() - xb.mean())
        result["note"] = "fewer than 2 replications"
        return result
    diff = float(xa.mean() - xb.mean())
    va, vb = xa.var(ddof=1) / xa.size, xb.var(ddof=1) / xb.size
    se = math.sqrt(va + vb)
    if se == 0:
        low = high = diff
    else:
        df = (va + vb) ** 2 / (va**2 / (xa.size - 1) + vb**2 / (xb.size - 1))
        half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
        low, high = diff - half, diff + half
    result.update(method="welch", n=int(min(xa.size, xb.size)), mean_diff=diff, low=low, high=high)
    result["excludes_zero"] = bool(low > 0 or high < 0)
    if not paired:
        result["note"] = "seeds differ: unpaired (Welch)"
    else:
        result["note"] = f"replication counts differ ({xa.size} vs {xb.size}): unpaired (Welch)"
    return result


def _same_seed(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("seed") is None or b.get("seed") is None or a.get("seed") == b.get("seed")


def compare_entries(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`compare_values` for two KPI entries (paired only if their seeds agree)."""
    return compare_values(a.get("values"), b.get("values"), paired=_same_seed(a, b),
                          mean_a=a.get("mean"), mean_b=b.get("mean"))


def paired_differences(
    batch: BatchResults, baseline: str = DEFAULT_BASELINE, kpis: Sequence[str] | None = None
) -> pd.DataFrame:
    """Difference scenario − baseline for every other scenario × KPI (see :func:`compare_values`)."""
    columns = ["scenario", "kpi", "method", "n", "mean_diff", "low", "high", "excludes_zero", "note"]
    if baseline not in batch.kpis:
        return pd.DataFrame(columns=columns)
    names = list(kpis) if kpis is not None else _kpi_names(batch)
    rows = []
    for scenario in batch.scenario_names(baseline):
        if scenario == baseline:
            continue
        for kpi in names:
            a, b = batch.kpis[scenario].get(kpi), batch.kpis[baseline].get(kpi)
            if a is None or b is None:
                continue
            rows.append({"scenario": scenario, "kpi": kpi, **compare_entries(a, b)})
    return pd.DataFrame(rows, columns=columns)


def _member_count(entry: Mapping[str, Any]) -> list[float] | float | None:
    """Member count(s) from the run that supplied ``entry`` (per replication if available)."""
    run: Run | None = entry.get("run")
    if run is None or run.results is None:
        return None
    for section in ("kpis", "metrics"):
        block = run.results.get(section)
        if not isinstance(block, Mapping):
            continue
        for key in MEMBER_COUNT_KEYS:
            found = _clean_entry(block.get(key))
            if found and found["mean"] > 0:
                return found["values"] if found["values"] is not None else found["mean"]
    return None


def net_values(batch: BatchResults) -> tuple[str, dict[str, dict[str, Any]]]:
    """The ranking value of each scenario: ``(value_name, {scenario: entry})``.

    ``net_value_per_member`` = revenue_per_member − cost per member, per replication, where cost
    per member is the ``cost_per_member`` KPI if present, else ``cost`` / member count from the
    same run. If no scenario has what that needs, the value is ``roi``.
    """
    entries: dict[str, dict[str, Any]] = {}
    for scenario, kpis in batch.kpis.items():
        revenue = kpis.get("revenue_per_member")
        if revenue is None:
            continue
        per_member = kpis.get("cost_per_member")
        if per_member is not None:
            cost_values, cost_mean = per_member["values"], per_member["mean"]
        elif "cost" in kpis and (members := _member_count(kpis["cost"])) is not None:
            cost = kpis["cost"]
            if isinstance(members, list) and cost["values"] is not None and len(members) == len(cost["values"]):
                cost_values = [c / m if m else math.nan for c, m in zip(cost["values"], members, strict=True)]
                cost_mean = float(np.nanmean(cost_values))
            else:
                count = float(np.nanmean(members)) if isinstance(members, list) else float(members)
                cost_values = None if cost["values"] is None else [c / count for c in cost["values"]]
                cost_mean = cost["mean"] / count
        else:
            continue
        if revenue["values"] is not None and cost_values is not None and len(revenue["values"]) == len(cost_values):
            values = [r - c for r, c in zip(revenue["values"], cost_values, strict=True)]
            ci = mean_ci(values)
            entries[scenario] = {"mean": ci["mean"], "low": ci["low"], "high": ci["high"], "values": values,
                                 "seed": revenue.get("seed")}
        else:
            value = revenue["mean"] - cost_mean
            entries[scenario] = {"mean": value, "low": value, "high": value, "values": None,
                                 "seed": revenue.get("seed")}
    if entries and len(entries) == len(batch.kpis):
        return "net_value_per_member", entries
    roi = {s: dict(k["roi"]) for s, k in batch.kpis.items() if "roi" in k}
    return "roi", roi


@dataclass
class Ranking:
    """Result of :func:`rank_scenarios`: the ranked table and the rule that produced it."""

    table: pd.DataFrame
    value_name: str
    retention_floor: float | None
    baseline: str
    values: dict[str, dict[str, Any]]


def rank_scenarios(
    batch: BatchResults,
    thresholds: Mapping[str, float],
    baseline: str = DEFAULT_BASELINE,
    retention_floor: float | None = None,
    retention_tolerance: float = DEFAULT_RETENTION_TOLERANCE,
) -> Ranking:
    """Rank scenarios by a transparent rule.

    1. Eligible first: every health-thresholded KPI present and passing (mean ≥ threshold), and
       ``retention_d30`` ≥ the retention floor (``retention_floor`` if given, else the baseline's
       mean 30-day retention − ``retention_tolerance``).
    2. Then by the ranking value (:func:`net_values`: net value per member, else ROI), highest
       first, compared at 2 decimals.
    3. Ties: a significantly positive paired difference vs. the baseline first, then the higher
       lower bound of that difference, then the name.
    """
    value_name, values = net_values(batch)
    if retention_floor is None and "retention_d30" in batch.kpis.get(baseline, {}):
        retention_floor = batch.kpis[baseline]["retention_d30"]["mean"] - retention_tolerance
    rows = []
    for scenario in batch.scenario_names(baseline):
        kpis = batch.kpis[scenario]
        reasons: list[tuple[str, str]] = []
        for kpi, bound in thresholds.items():
            if kpi not in kpis:
                reasons.append(("missing", kpi))
            elif kpis[kpi]["mean"] < bound:
                reasons.append(("health", kpi))
        if retention_floor is not None:
            if "retention_d30" not in kpis:
                reasons.append(("missing", "retention_d30"))
            elif kpis["retention_d30"]["mean"] < retention_floor:
                reasons.append(("retention", "retention_d30"))
        value = values.get(scenario)
        diff = (
            compare_values(value["values"], values[baseline]["values"], paired=_same_seed(value, values[baseline]),
                           mean_a=value["mean"], mean_b=values[baseline]["mean"])
            if value is not None and baseline in values and scenario != baseline
            else None
        )
        rows.append(
            {
                "scenario": scenario,
                "eligible": not reasons,
                "reasons": reasons,
                "value": value["mean"] if value else math.nan,
                "value_low": value["low"] if value else math.nan,
                "value_high": value["high"] if value else math.nan,
                "diff": diff["mean_diff"] if diff else math.nan,
                "diff_low": diff["low"] if diff else math.nan,
                "diff_high": diff["high"] if diff else math.nan,
                "diff_method": diff["method"] if diff else "none",
                "diff_significant": bool(diff and diff["excludes_zero"] and diff["mean_diff"] > 0),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=["scenario", "eligible", "reasons", "value", "value_low", "value_high", "diff", "diff_low",
                 "diff_high", "diff_method", "diff_significant"],
    )
    if not table.empty:
        table["_value"] = table["value"].round(2).fillna(-math.inf)
        table["_tiebreak"] = table["diff_low"].fillna(-math.inf)
        table = table.sort_values(
            ["eligible", "_value", "diff_significant", "_tiebreak", "scenario"],
            ascending=[False, False, False, False, True],
            kind="mergesort",
        ).drop(columns=["_value", "_tiebreak"])
    table.insert(0, "rank", range(1, len(table) + 1))
    return Ranking(table.reset_index(drop=True), value_name, retention_floor, baseline, values)


def pareto_front(
    headline: pd.DataFrame, x_kpi: str = "exits", y_kpi: str = "revenue_per_member"
) -> list[str]:
    """Scenarios not dominated in (fewer ``x_kpi``, more ``y_kpi``), by their means."""
    wide = headline.pivot_table(index="scenario", columns="kpi", values="mean", aggfunc="first")
    if x_kpi not in wide or y_kpi not in wide:
        return []
    points = wide[[x_kpi, y_kpi]].dropna()
    front = []
    for name, (x, y) in points.iterrows():
        dominated = ((points[x_kpi] <= x) & (points[y_kpi] >= y) & ((points[x_kpi] < x) | (points[y_kpi] > y))).any()
        if not dominated:
            front.append(str(name))
    order = list(dict.fromkeys(headline["scenario"]))
    return sorted(front, key=order.index)


# --------------------------------------------------------------------------------------------
# Run status and links
# --------------------------------------------------------------------------------------------


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_text(record: Mapping[str, Any], limit: int = 400) -> str:
    for key in ("error", "error_message", "message", "reason", "exception"):
        value = record.get(key)
        if value:
            message = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            message = _ANSI.sub("", message).strip()
            return message if len(message) <= limit else message[: limit - 1] + "…"
    return ""


def run_status(batch: BatchResults) -> tuple[dict[str, int], pd.DataFrame]:
    """Counts per status (latest effective attempt per run) and the table of non-ok runs."""
    attempts = effective_attempts(batch.manifest)
    counts = {status: 0 for status in STATUSES}
    failed = []
    for record in attempts:
        status = str(record.get("status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
        if status not in ("ok", "skipped"):
            duration = record.get("duration_s")
            failed.append(
                {
                    "notebook": str(record.get("notebook", "")),
                    "scenario": str(record.get("scenario", record.get("scenario_slug", ""))),
                    "status": status,
                    "duration_s": float(duration) if _is_number(duration) else math.nan,
                    "error": _error_text(record),
                }
            )
    return counts, pd.DataFrame(failed, columns=["notebook", "scenario", "status", "duration_s", "error"])


def run_links(batch: BatchResults, html_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every executed notebook's HTML with an href relative to ``html_dir`` (default: the batch folder).

    Only files that exist inside ``<batch_dir>/runs`` are linked; path segments are URL-quoted.
    """
    base = Path(html_dir) if html_dir is not None else batch.batch_dir
    runs_root = (batch.batch_dir / "runs").resolve()
    rows = []
    for run in sorted(batch.runs, key=lambda r: (r.notebook, r.scenario)):
        if run.html is None:
            continue
        target = run.html.resolve()
        if not target.is_relative_to(runs_root):
            continue
        relative = os.path.relpath(target, base.resolve())
        href = "/".join(quote(part, safe="") for part in Path(relative).parts)
        rows.append({"notebook": run.notebook, "scenario": batch.display_name(run.scenario), "href": href})
    return pd.DataFrame(rows, columns=["notebook", "scenario", "href"])


# --------------------------------------------------------------------------------------------
# HTML rendering (everything escaped)
# --------------------------------------------------------------------------------------------


def render_html_table(
    frame: pd.DataFrame,
    styles: pd.DataFrame | None = None,
    caption: str | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """An HTML table of ``frame``; headers, cells, caption and styles are all escaped.

    ``styles`` (same shape and columns) holds inline CSS per cell. ``links`` names columns whose
    cells are hrefs: ``{column: text column}`` renders ``<a href=cell>text</a>``.
    """
    links = dict(links or {})
    hidden = set(links.values())
    columns = [c for c in frame.columns if c not in hidden]
    parts = [f'<table style="{_TABLE_STYLE}">']
    if caption:
        parts.append(f'<caption style="text-align:left;font-weight:bold">{html_text(caption)}</caption>')
    parts.append("<thead><tr>")
    parts += [f'<th style="{_CELL_STYLE};background:#f3f4f6">{html_text(c)}</th>' for c in columns]
    parts.append("</tr></thead><tbody>")
    for position in range(len(frame)):
        parts.append("<tr>")
        for column in columns:
            value = frame[column].iloc[position]
            style = _CELL_STYLE
            if styles is not None and column in styles.columns and styles[column].iloc[position]:
                style = f"{style};{styles[column].iloc[position]}"
            if column in links:
                content = f'<a href="{html_text(value)}">{html_text(frame[links[column]].iloc[position])}</a>'
            else:
                content = html_text(_cell_text(value))
            parts.append(f'<td style="{html_text(style)}">{content}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def heading(key: str, lang: str = "zh", level: int = 2) -> str:
    return f"<h{level}>{text(key, lang)}</h{level}>"


def intro_html(batch: BatchResults, lang: str = "zh", baseline: str = DEFAULT_BASELINE) -> str:
    """Title and introduction (or a notice that the batch folder is missing)."""
    parts = [f"<h1>{text('title', lang)}</h1>"]
    if not batch.found:
        parts.append(f"<p>{text('missing_batch', lang, batch=batch.batch_dir.name)}</p>")
        return "".join(parts)
    parts.append(
        f"<p>{text('intro', lang, batch=batch.batch_dir.name, n_scenarios=len(batch.kpis), baseline=baseline)}</p>"
    )
    return "".join(parts)


def status_html(batch: BatchResults, lang: str = "zh") -> str:
    """Run counts, the failed runs with their errors, and reading problems."""
    counts, failed = run_status(batch)
    total = sum(counts.values())
    parts_text = ", ".join(f"{status} {count}" for status, count in counts.items() if count or status in ("ok", "failed"))
    seconds = sum(r["duration_s"] for r in effective_attempts(batch.manifest) if _is_number(r.get("duration_s")))
    summary = text("status_summary", lang, total=total, parts=parts_text, seconds=f"{seconds:,.1f}")
    out = [heading("status_head", lang), f"<p>{summary}</p>"]
    out.append(f"<h3>{text('failed_head', lang)}</h3>")
    if failed.empty:
        out.append(f"<p>{text('no_failed', lang)}</p>")
    else:
        failed = failed.assign(scenario=[batch.display_name(name) for name in failed["scenario"]])
        shown = failed.rename(columns={
            "notebook": _column("notebook", lang), "scenario": _column("scenario", lang),
            "status": _column("run_status", lang), "duration_s": _column("duration", lang),
            "error": _column("error", lang),
        })
        out.append(render_html_table(shown))
    out.append(f"<h3>{text('problems_head', lang)}</h3>")
    if not batch.problems:
        out.append(f"<p>{text('no_problems', lang)}</p>")
    else:
        frame = pd.DataFrame(
            [{_column("where", lang): p.where, _column("problem", lang): p.message} for p in batch.problems]
        )
        out.append(render_html_table(frame))
    return "".join(out)


def headline_html(
    headline: pd.DataFrame, flags: pd.DataFrame, lang: str = "zh", threshold_source: str = ""
) -> str:
    """The headline section: scenarios × KPIs with health colours."""
    out = [heading("headline_head", lang)]
    if headline.empty:
        out.append(f"<p>{text('no_kpis', lang)}</p>")
        return "".join(out)
    out.append(f"<p>{text('headline_note', lang, source=threshold_source)}</p>")
    display, styles = headline_display(headline, flags, lang)
    out.append(render_html_table(display, styles))
    return "".join(out)


def differences_display(
    batch: BatchResults, differences: pd.DataFrame, lang: str = "zh"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide display of :func:`paired_differences`: scenarios × KPIs, "diff [low, high]", and styles.

    A significant difference is green when it is an improvement (higher, or lower for
    :data:`LOWER_IS_BETTER` KPIs) and red when it is a deterioration; † marks a Welch interval.
    """
    kpis = list(dict.fromkeys(differences["kpi"]))
    scenario_column = _column("scenario", lang)
    rows, styles = [], []
    for scenario in dict.fromkeys(differences["scenario"]):
        part = differences[differences["scenario"] == scenario].set_index("kpi")
        row, style = {scenario_column: batch.display_name(scenario)}, {scenario_column: ""}
        for kpi in kpis:
            column = label(kpi, lang)
            if kpi not in part.index:
                row[column], style[column] = "–", ""
                continue
            entry = part.loc[kpi]
            unit = batch.kpis[scenario][kpi]["unit"]
            cell = _format_diff(entry["mean_diff"], entry["low"], entry["high"], kpi, unit)
            if entry["method"] == "welch":
                cell += " †"
            row[column] = cell
            better = entry["mean_diff"] < 0 if kpi in LOWER_IS_BETTER else entry["mean_diff"] > 0
            style[column] = (PASS_STYLE if better else FAIL_STYLE) if entry["excludes_zero"] else ""
        rows.append(row)
        styles.append(style)
    return pd.DataFrame(rows), pd.DataFrame(styles)


def differences_html(
    batch: BatchResults, differences: pd.DataFrame, lang: str = "zh", baseline: str = DEFAULT_BASELINE
) -> str:
    """The paired-differences section (one row per scenario, one column per KPI)."""
    out = [heading("diff_head", lang)]
    if baseline not in batch.kpis:
        out.append(f"<p>{text('no_baseline', lang, baseline=baseline)}</p>")
        return "".join(out)
    out.append(f"<p>{text('diff_note', lang, baseline=batch.display_name(baseline))}</p>")
    if differences.empty:
        return "".join(out)
    welch = differences[differences["method"] == "welch"]
    if not welch.empty:
        notes = sorted(set(welch["note"]))
        out.append(f"<p><b>{text('welch_used', lang, n=len(welch), why='; '.join(notes))}</b></p>")
    display, styles = differences_display(batch, differences, lang)
    out.append(render_html_table(display, styles))
    return "".join(out)


def _format_diff(mean: float, low: float, high: float, kpi: str, unit: str) -> str:
    def signed(value: float) -> str:
        formatted = format_number(value, kpi, unit)
        if KPIS.get(kpi) == "share" and math.isfinite(value):
            formatted = formatted.replace("%", " pp")
        return ("+" + formatted) if math.isfinite(value) and value > 0 else formatted

    if not math.isfinite(low):
        return signed(mean)
    return f"{signed(mean)} [{signed(low)}, {signed(high)}]"


def _reason_text(reason: tuple[str, str], lang: str, floor: float | None) -> str:
    kind, kpi = reason
    if kind == "retention":
        return text("reason_retention", lang, floor=format_number(floor or 0.0, "retention_d30"))
    return text(f"reason_{kind}", lang, kpi=label(kpi, lang))


def ranking_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """The ranking rule, the ranked table and the recommendation with its reasons."""
    out = [heading("rank_head", lang)]
    if ranking.table.empty:
        out.append(f"<p>{text('no_kpis', lang)}</p>")
        return "".join(out)
    floor = (
        format_number(ranking.retention_floor, "retention_d30")
        if ranking.retention_floor is not None
        else _TEXT["no_floor"][_lang(lang)]
    )
    rule = "rule_net" if ranking.value_name == "net_value_per_member" else "rule_roi"
    out.append(f"<p>{text(rule, lang, floor=floor)}</p>")
    out.append(f"<p>{recommendation_html(batch, ranking, lang)}</p>")
    value_label = label(ranking.value_name, lang)
    unit_kpi = "revenue_per_member" if ranking.value_name == "net_value_per_member" else "roi"
    rows, styles = [], []
    for row in ranking.table.itertuples(index=False):
        rows.append({
            _column("rank", lang): row.rank,
            _column("scenario", lang): batch.display_name(row.scenario),
            _column("value", lang, value_label=value_label): format_interval(row.value, row.value_low, row.value_high, unit_kpi),
            _column("vs_baseline", lang): "" if row.scenario == ranking.baseline
            else _format_diff(row.diff, row.diff_low, row.diff_high, unit_kpi, ""),
            _column("status", lang): text("eligible" if row.eligible else "not_eligible", lang),
            _column("reasons", lang): "; ".join(_plain(_reason_text(r, lang, ranking.retention_floor)) for r in row.reasons),
        })
        styles.append({_column("status", lang): PASS_STYLE if row.eligible else FAIL_STYLE})
    out.append(render_html_table(pd.DataFrame(rows), pd.DataFrame(styles)))
    return "".join(out)


def _plain(fragment: str) -> str:
    """Undo escaping of a text() fragment so that render_html_table escapes it exactly once."""
    import html

    return html.unescape(fragment)


def _in_sentence(name: str, lang: str) -> str:
    """An English label inside a sentence: "Net value per member" → "net value per member"."""
    if _lang(lang) == "en" and len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def recommendation_html(batch: BatchResults, ranking: Ranking, lang: str = "zh") -> str:
    """Why #1 wins, by how much vs. the baseline (with interval) and how sure the order is."""
    table = ranking.table
    if table.empty:
        return text("no_kpis", lang)
    top = table.iloc[0]
    value_label = _in_sentence(label(ranking.value_name, lang), lang)
    unit_kpi = "revenue_per_member" if ranking.value_name == "net_value_per_member" else "roi"
    value = format_interval(top["value"], top["value_low"], top["value_high"], unit_kpi)
    if top["eligible"]:
        why = text("why_eligible", lang, value_label=value_label, value=value)
    else:
        reasons = "; ".join(_plain(_reason_text(r, lang, ranking.retention_floor)) for r in top["reasons"])
        why = text("why_none_eligible", lang, value_label=value_label, value=value, reasons=reasons)
    parts = [_raw_text("winner", lang, name=html_text(batch.display_name(top["scenario"])), why=why)]
    if top["scenario"] == ranking.baseline:
        parts.append(text("is_baseline", lang))
    elif top["diff_method"] != "none":
        key = "vs_baseline_sig" if top["diff_significant"] else "vs_baseline_nonsig"
        parts.append(text(
            key, lang, value_label=value_label,
            diff=_format_diff(top["diff"], math.nan, math.nan, unit_kpi, ""),
            interval=f"[{format_number(top['diff_low'], unit_kpi)}, {format_number(top['diff_high'], unit_kpi)}]",
            method=_plain(text(top["diff_method"], lang)),
        ))
    else:
        parts.append(text("vs_baseline_na", lang))
    if len(table) < 2:
        parts.append(text("only_one", lang))
        return " ".join(parts)
    second = table.iloc[1]
    a, b = ranking.values.get(top["scenario"]), ranking.values.get(second["scenario"])
    if a is None or b is None:
        return " ".join(parts)
    diff = compare_values(a["values"], b["values"], paired=_same_seed(a, b), mean_a=a["mean"], mean_b=b["mean"])
    overlap = not (top["value_low"] > second["value_high"] or second["value_low"] > top["value_high"])
    if diff["excludes_zero"] and not overlap:
        certainty = "sure_clear"
    elif diff["excludes_zero"]:
        certainty = "sure_paired"
    else:
        certainty = "sure_unclear"
    interval = (
        f"[{format_number(diff['low'], unit_kpi)}, {format_number(diff['high'], unit_kpi)}]"
        if diff["method"] != "none" else "–"
    )
    parts.append(_raw_text(
        "vs_second", lang,
        second=html_text(batch.display_name(second["scenario"])),
        diff=html_text(_format_diff(diff["mean_diff"], math.nan, math.nan, unit_kpi, "")),
        interval=html_text(interval),
        method=text(diff["method"], lang),
        certainty=text(certainty, lang),
    ))
    return " ".join(parts)


def frontier_note_html(batch: BatchResults, front: Sequence[str], lang: str = "zh") -> str:
    names = ", ".join(batch.display_name(name) for name in front) or "–"
    return f"<p>{text('frontier_note', lang, names=names)}</p>"


def links_html(links: pd.DataFrame, lang: str = "zh") -> str:
    """Links to every executed notebook (hrefs and texts escaped)."""
    out = [heading("links_head", lang)]
    if links.empty:
        out.append(f"<p>{text('no_links', lang)}</p>")
        return "".join(out)
    frame = links.assign(text=RUN_HTML)
    frame = frame.rename(columns={"notebook": _column("notebook", lang), "scenario": _column("scenario", lang),
                                  "href": _column("link", lang)})
    out.append(render_html_table(frame, links={_column("link", lang): "text"}))
    return "".join(out)


def csv_link_html(csv_path: Path, html_dir: Path, lang: str = "zh") -> str:
    relative = os.path.relpath(csv_path.resolve(), html_dir.resolve())
    href = "/".join(quote(part, safe="") for part in Path(relative).parts)
    return f"<p>{text('csv_note', lang, href=href, name=csv_path.name)}</p>"


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def setup_plots(lang: str = "zh") -> str:
    """Plot style and fonts; returns the language plots can use ("en" when no CJK font).

    Uses :func:`simlib.plots.setup` when it exists; otherwise a local check for a CJK font.
    """
    try:
        from simlib import plots

        return plots.setup(lang)
    except Exception:  # module missing or failing: local fallback
        pass
    import seaborn as sns
    from matplotlib import font_manager, rcParams

    sns.set_theme(style="whitegrid")
    if _lang(lang) == "en":
        return "en"
    cjk = ("Noto Sans CJK", "Noto Sans SC", "Source Han Sans", "WenQuanYi", "SimHei", "Microsoft YaHei",
           "PingFang", "Heiti", "AR PL")
    for font in font_manager.fontManager.ttflist:
        if any(font.name.startswith(prefix) for prefix in cjk):
            rcParams["font.sans-serif"] = [font.name, *rcParams["font.sans-serif"]]
            rcParams["axes.unicode_minus"] = False
            return "zh"
    return "en"


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def plot_name(batch: BatchResults, scenario: str, lang: str) -> str:
    """A scenario's name for a plot: without CJK characters when the plots are in English.

    ("分层运营 Tiered" → "Tiered"; a name with nothing left falls back to the scenario's name or
    slug), so that a figure never shows boxes where no CJK font is installed.
    """
    name = batch.display_name(scenario)
    if lang == "zh" or not _CJK.search(name):
        return name
    for candidate in (name, scenario, batch.scenarios[scenario].slug if scenario in batch.scenarios else ""):
        stripped = " ".join(_CJK.sub(" ", candidate).split()).strip(" -_()（）")
        if stripped:
            return stripped
    return "?"


def plot_kpi_bars(batch: BatchResults, headline: pd.DataFrame, kpis: Sequence[str] | None = None,
                  lang: str = "en", ncols: int = 3, thresholds: Mapping[str, float] | None = None):
    """Small multiples: one bar chart per KPI, bars = scenarios, whiskers = 95% intervals.

    A KPI with a health threshold gets it as a dashed red line.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import PercentFormatter

    names = [k for k in (kpis or list(dict.fromkeys(headline["kpi"]))) if k in set(headline["kpi"])]
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    order = list(dict.fromkeys(headline["scenario"]))
    palette = dict(zip(order, sns.color_palette("deep", len(order)), strict=False))
    for ax, kpi in zip(axes.flat, names, strict=False):
        data = headline[headline["kpi"] == kpi].set_index("scenario").reindex(order).dropna(subset=["mean"])
        data = data.assign(name=[plot_name(batch, s, lang) for s in data.index]).reset_index()
        sns.barplot(data=data, x="name", y="mean", hue="scenario", palette=palette, legend=False, ax=ax,
                    errorbar=None)
        ax.errorbar(range(len(data)), data["mean"], yerr=[data["mean"] - data["low"], data["high"] - data["mean"]],
                    fmt="none", ecolor="black", capsize=4, linewidth=1)
        ax.set_title(label(kpi, lang), fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
        if thresholds and kpi in thresholds:
            ax.axhline(float(thresholds[kpi]), color="tab:red", linestyle="--", linewidth=1)
        if KPIS.get(kpi) == "share":
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(label("title_kpi_bars", lang))
    fig.tight_layout()
    return fig


def tier_mix(batch: BatchResults, baseline: str = DEFAULT_BASELINE) -> pd.DataFrame:
    """``tables/tier_daily.csv`` of every 01_member_tiering run: scenario, day, tier, members."""
    frames = []
    for run in batch.runs:
        if run.notebook != TIER_NOTEBOOK:
            continue
        path = run.folder / TABLES_DIR / f"{TIER_TABLE}.csv"
        if not path.is_file():
            continue
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as error:
            batch.problems.append(Problem(f"runs/{run.notebook}/{run.slug}/tables/{path.name}", f"unreadable: {error}"))
            continue
        if not {"day", "tier", "members"} <= set(frame.columns):
            batch.problems.append(Problem(f"runs/{run.notebook}/{run.slug}/tables/{path.name}",
                                          "missing columns day, tier, members"))
            continue
        frames.append(frame[["day", "tier", "members"]].assign(scenario=run.scenario))
    if not frames:
        return pd.DataFrame(columns=["scenario", "day", "tier", "members"])
    out = pd.concat(frames, ignore_index=True)[["scenario", "day", "tier", "members"]]
    order = batch.scenario_names(baseline) + sorted(set(out["scenario"]) - set(batch.kpis))
    out["scenario"] = pd.Categorical(out["scenario"], categories=list(dict.fromkeys(order)))
    return out.sort_values(["scenario", "day", "tier"]).reset_index(drop=True)


def plot_tier_mix(batch: BatchResults, tiers: pd.DataFrame, lang: str = "en", ncols: int = 3):
    """Stacked areas of members by tier over time, one panel per scenario (shared axes)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from simlib.schema import TIERS

    scenarios = [s for s in tiers["scenario"].cat.categories if (tiers["scenario"] == s).any()] \
        if isinstance(tiers["scenario"].dtype, pd.CategoricalDtype) else list(dict.fromkeys(tiers["scenario"]))
    present = list(dict.fromkeys(tiers["tier"].astype(str)))
    tier_order = [t for t in TIERS if t in present] + [t for t in present if t not in TIERS]
    colors = dict(zip(tier_order, sns.color_palette("Set2", len(tier_order)), strict=False))
    ncols = max(1, min(ncols, len(scenarios)))
    nrows = max(1, math.ceil(len(scenarios) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.2 * nrows), squeeze=False,
                             sharex=True, sharey=True)
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        part = tiers[tiers["scenario"] == scenario]
        wide = part.pivot_table(index="day", columns="tier", values="members", aggfunc="mean", observed=True)
        wide = wide.reindex(columns=[t for t in tier_order if t in wide.columns]).fillna(0)
        ax.stackplot(wide.index, wide.T.values, labels=[label(t, lang) for t in wide.columns],
                     colors=[colors[t] for t in wide.columns], alpha=0.9)
        ax.set_title(plot_name(batch, scenario, lang), fontsize=10)
        ax.set_xlabel(label("day", lang))
        ax.set_ylabel(label("members", lang))
    for ax in list(axes.flat)[len(scenarios):]:
        ax.set_visible(False)
    handles, labels_ = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="lower center", ncol=len(tier_order), title=label("tier", lang),
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(label("title_tier_mix", lang))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_frontier(batch: BatchResults, headline: pd.DataFrame, front: Sequence[str], lang: str = "en",
                  x_kpi: str = "exits", y_kpi: str = "revenue_per_member"):
    """Revenue per member vs. exits with 95% error bars; Pareto-efficient scenarios marked."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    x = headline[headline["kpi"] == x_kpi].set_index("scenario")
    y = headline[headline["kpi"] == y_kpi].set_index("scenario")
    names = [s for s in dict.fromkeys(headline["scenario"]) if s in x.index and s in y.index]
    data = pd.DataFrame({
        "scenario": names,
        "name": [plot_name(batch, s, lang) for s in names],
        "x": x.loc[names, "mean"].to_numpy(), "x_low": x.loc[names, "low"].to_numpy(),
        "x_high": x.loc[names, "high"].to_numpy(),
        "y": y.loc[names, "mean"].to_numpy(), "y_low": y.loc[names, "low"].to_numpy(),
        "y_high": y.loc[names, "high"].to_numpy(),
    })
    data["status"] = [label("pareto_efficient" if s in front else "dominated", lang) for s in names]
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.errorbar(data["x"], data["y"], xerr=[data["x"] - data["x_low"], data["x_high"] - data["x"]],
                yerr=[data["y"] - data["y_low"], data["y_high"] - data["y"]], fmt="none", ecolor="grey",
                capsize=3, linewidth=1, zorder=1)
    sns.scatterplot(data=data, x="x", y="y", hue="status", style="status", s=110, ax=ax, zorder=2,
                    hue_order=[label("pareto_efficient", lang), label("dominated", lang)],
                    style_order=[label("pareto_efficient", lang), label("dominated", lang)])
    efficient = data[data["scenario"].isin(front)].sort_values("x")
    if len(efficient) > 1:
        ax.plot(efficient["x"], efficient["y"], linestyle="--", color="tab:green", linewidth=1, zorder=1)
    for row in data.itertuples(index=False):
        ax.annotate(row.name, (row.x, row.y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel(label(x_kpi, lang))
    ax.set_ylabel(label(y_kpi, lang))
    ax.set_title(label("title_frontier", lang))
    ax.legend(title="")
    fig.tight_layout()
    return fig
