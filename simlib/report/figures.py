"""The report's figures: KPI bars with 95% intervals and health thresholds, the tier mix over
time, and the Pareto frontier of revenue per member against exits.

Call :func:`simlib.plots.setup` first with the report's language: it returns "en" where no CJK
font is installed, and the figures are then drawn with that language.

Scenario labels and anything read from a batch folder are user text: every string drawn goes
through :func:`plot_text`, so that matplotlib shows it as typed (a ``$…$`` pair is never parsed
as mathtext, which would fail on bad TeX) and a very long label does not swamp the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from simlib.plots import contains_cjk, without_cjk
from simlib.report.collect import BatchResults
from simlib.report.tables import KPIS, clipped_interval
from simlib.report.text import label
from simlib.schema import TIERS

#: Plot names longer than this are cut (with "…"); the HTML tables show them whole.
PLOT_NAME_LIMIT = 40


def plot_text(value: object, limit: int | None = None) -> str:
    """``value`` as text matplotlib draws literally: cut to ``limit`` characters, ``$`` escaped."""
    shown = str(value)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown.replace("$", r"\$")


def plot_name(batch: BatchResults, scenario: str, lang: str) -> str:
    """A scenario's name for a plot (see :func:`plot_text`): without CJK characters when the
    plots are in English ("分层运营 Tiered" → "Tiered"; a name with nothing left falls back to the
    scenario's name or slug), so that a figure never shows boxes where no CJK font is installed.
    """
    name = batch.display_name(scenario)
    if lang == "zh" or not contains_cjk(name):
        return plot_text(name, PLOT_NAME_LIMIT)
    for candidate in (name, scenario, batch.scenarios[scenario].slug if scenario in batch.scenarios else ""):
        stripped = without_cjk(candidate).strip(" -_()（）")
        if stripped:
            return plot_text(stripped, PLOT_NAME_LIMIT)
    return "?"


def plot_kpi_bars(batch: BatchResults, headline: pd.DataFrame, kpis: Sequence[str] | None = None,
                  lang: str = "en", ncols: int = 3, thresholds: Mapping[str, float] | None = None):
    """Small multiples: one bar chart per KPI (``kpis``, default those of :data:`KPIS`), bars =
    scenarios, whiskers = 95% intervals (a share's clipped to [0, 1]).

    A KPI with a health threshold gets it as a dashed red line.
    """
    names = [k for k in (kpis or KPIS) if k in set(headline["kpi"])]
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    order = list(dict.fromkeys(headline["scenario"]))
    palette = dict(zip(order, sns.color_palette("deep", len(order)), strict=False))
    for ax, kpi in zip(axes.flat, names, strict=False):
        data = headline[headline["kpi"] == kpi].set_index("scenario").reindex(order).dropna(subset=["mean"])
        data = data.reset_index()
        # Bars keyed by the scenario (unique), ticks named by the plot name (which may repeat).
        sns.barplot(data=data, x="scenario", y="mean", hue="scenario", palette=palette, legend=False, ax=ax,
                    errorbar=None)
        ax.set_xticks(range(len(data)), labels=[plot_name(batch, s, lang) for s in data["scenario"]])
        low, high = clipped_interval(data["low"], data["high"], kpi)  # a share's within [0, 1]
        whiskers = [data["mean"] - low, high - data["mean"]]
        ax.errorbar(range(len(data)), data["mean"], yerr=whiskers, fmt="none", ecolor="black", capsize=4,
                    linewidth=1)
        ax.set_title(plot_text(label(kpi, lang)), fontsize=10)
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


def plot_tier_mix(batch: BatchResults, tiers: pd.DataFrame, lang: str = "en", ncols: int = 3):
    """Stacked areas of members by tier over time, one panel per scenario (shared axes)."""
    if isinstance(tiers["scenario"].dtype, pd.CategoricalDtype):
        scenarios = [s for s in tiers["scenario"].cat.categories if (tiers["scenario"] == s).any()]
    else:
        scenarios = list(dict.fromkeys(tiers["scenario"]))
    present = list(dict.fromkeys(tiers["tier"].astype(str)))
    tier_order = [t for t in TIERS if t in present] + [t for t in present if t not in TIERS]
    colors = dict(zip(tier_order, sns.color_palette("Set2", len(tier_order)), strict=False))
    ncols = max(1, min(ncols, len(scenarios)))
    nrows = max(1, math.ceil(len(scenarios) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.2 * nrows + 0.6), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        part = tiers[tiers["scenario"] == scenario]
        wide = part.pivot_table(index="day", columns="tier", values="members", aggfunc="mean", observed=True)
        wide = wide.reindex(columns=[t for t in tier_order if t in wide.columns]).fillna(0)
        ax.stackplot(wide.index, wide.T.values, labels=[plot_text(label(t, lang)) for t in wide.columns],
                     colors=[colors[t] for t in wide.columns], alpha=0.9)
        ax.set_title(plot_name(batch, scenario, lang), fontsize=10)
        ax.set_xlabel(label("day", lang))
        ax.set_ylabel(label("members", lang))
    for ax in list(axes.flat)[len(scenarios):]:
        ax.set_visible(False)
    handles, labels_ = axes.flat[0].get_legend_handles_labels()
    # Below the panels, outside them: the constrained layout makes room, so no axis label is covered.
    fig.legend(handles, labels_, loc="outside lower center", ncol=len(tier_order), title=label("tier", lang))
    fig.suptitle(label("title_tier_mix", lang))
    return fig


def plot_frontier(batch: BatchResults, headline: pd.DataFrame, front: Sequence[str], lang: str = "en",
                  x_kpi: str = "exits", y_kpi: str = "revenue_per_member"):
    """Revenue per member vs. exits with 95% error bars; Pareto-efficient scenarios marked."""
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
    ax.set_xlabel(label(x_kpi, lang))
    ax.set_ylabel(label(y_kpi, lang))
    ax.set_title(label("title_frontier", lang))
    ax.legend(title="")
    ax.margins(x=0.15, y=0.12)  # room for the point labels inside the axes
    fig.tight_layout()
    place_labels(ax, list(zip(data["name"], data["x"], data["y"], strict=True)))
    return fig


#: Where a point's label may go, in points from the point, tried in this order.
_LABEL_OFFSETS = ((6, 6), (6, -12), (-6, 6), (-6, -12), (6, 18), (6, -24), (-6, 18), (-6, -24), (6, 30),
                  (6, -36), (-6, 30), (-6, -36))


def _annotate(ax, name: str, x: float, y: float, offset: tuple[int, int], fontsize: int):
    return ax.annotate(name, (x, y), textcoords="offset points", xytext=offset, fontsize=fontsize,
                       ha="left" if offset[0] > 0 else "right")


def place_labels(ax, points: Sequence[tuple[str, float, float]], fontsize: int = 8) -> None:
    """Label each point ``(text, x, y)`` at the first offset of :data:`_LABEL_OFFSETS` where the
    label overlaps neither the legend nor a label placed before it and stays inside the axes (else
    at the first offset)."""
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    legend = ax.get_legend()
    placed = [legend.get_window_extent(renderer)] if legend is not None else []
    for name, x, y in points:
        for offset in _LABEL_OFFSETS:
            annotation = _annotate(ax, name, x, y, offset, fontsize)
            box = annotation.get_window_extent(renderer)
            fits = inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)
            if fits and not any(box.overlaps(other) for other in placed):
                break
            annotation.remove()
        else:
            box = _annotate(ax, name, x, y, _LABEL_OFFSETS[0], fontsize).get_window_extent(renderer)
        placed.append(box)
