"""Plot setup and the few plot helpers the notebooks share.

Call :func:`setup` once per notebook with the ``lang`` parameter. For ``"zh"`` it looks for an
installed CJK font; if there is none it switches to English labels (and returns ``"en"``) so a
figure never shows empty boxes in place of characters. :func:`L` then gives catalog labels
in the effective language.

The helpers take tidy frames, draw with matplotlib/seaborn, label title, axes, ticks and legend
from :mod:`simlib.labels` (values that are catalog keys, such as tier or channel names, are
translated) and return the ``Axes``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.axes import Axes

from simlib.labels import LANGS, display, label

# Fonts with Simplified Chinese glyphs, in order of preference.
CJK_FONT_CANDIDATES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Sarasa Gothic SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "STHeiti",
    "Noto Sans CJK JP",
)

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_state: dict[str, str | None] = {"lang": "en", "font": None}


def _installed_font_names() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


_CJK_FILE_HINTS = (
    "cjk", "wqy", "wenquanyi", "sourcehan", "simhei", "msyh", "pingfang", "sarasa", "notosanssc",
)


def find_cjk_font() -> str | None:
    """The first installed font of :data:`CJK_FONT_CANDIDATES`, or None."""
    installed = _installed_font_names()
    found = next((name for name in CJK_FONT_CANDIDATES if name in installed), None)
    if found is None and _register_system_cjk_fonts():
        installed = _installed_font_names()
        found = next((name for name in CJK_FONT_CANDIDATES if name in installed), None)
    return found


@functools.cache  # the system's font files are scanned once per process
def _register_system_cjk_fonts() -> bool:
    """Add CJK font files the system has but matplotlib's font cache lacks (the cache is built
    once, so a font installed later is invisible until it is added). True if any was added."""
    added = False
    for path in font_manager.findSystemFonts():
        name = os.path.basename(path).lower().replace("-", "").replace("_", "")
        if any(hint in name for hint in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
                added = True
            except (OSError, RuntimeError, ValueError):  # unreadable or unsupported file
                continue
    if added:  # rewrite matplotlib's cache file, so that the next kernel finds the fonts at once
        cache_name = f"fontlist-v{font_manager.FontManager.__version__}.json"
        cache = os.path.join(matplotlib.get_cachedir(), cache_name)
        try:
            font_manager.json_dump(font_manager.fontManager, cache)
        except OSError:
            pass
    return added


def setup(lang: str = "zh", *, style: str = "whitegrid", context: str = "notebook") -> str:
    """Apply the seaborn theme and choose the label language; returns the effective language."""
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {list(LANGS)}")
    font = find_cjk_font() if lang == "zh" else None
    effective = "zh" if font else "en"
    rc: dict[str, object] = {"axes.unicode_minus": False}
    if font:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
    sns.set_theme(style=style, context=context, rc=rc)
    _state.update(lang=effective, font=font)
    return effective


def current_lang() -> str:
    """The language chosen by the last :func:`setup` ("en" before any call)."""
    return str(_state["lang"])


def L(key: str) -> str:  # noqa: N802 - short name used throughout the notebooks
    """Catalog label of ``key`` in the effective language."""
    return label(key, current_lang())


def text(value: object) -> str:
    """A display string: the catalog label if ``value`` is a catalog key, else ``str(value)``."""
    return display(value, current_lang())


def contains_cjk(value: str) -> bool:
    return bool(_CJK.search(value))


def without_cjk(value: str) -> str:
    """``value`` without its CJK characters, spaces tidied: "分层运营 Tiered" → "Tiered"."""
    return " ".join(_CJK.sub(" ", value).split())


def _axis_label(key: str | None, fallback: str | None) -> str:
    if key is not None:
        return L(key)
    return text(fallback) if fallback is not None else ""


def _check_columns(frame: pd.DataFrame, columns: Sequence[str | None], argument: str = "frame") -> None:
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{argument} lacks columns {missing}; has {list(frame.columns)}")


def _ordered(values: pd.Series, order: Sequence | None) -> list:
    if order is not None:
        return list(order)
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna())
        return [c for c in values.cat.categories if c in present]
    return list(pd.unique(values.dropna()))


def _decorate(ax: Axes, title_key: str | None, x_label: str, y_label: str) -> Axes:
    if title_key is not None:
        ax.set_title(L(title_key))
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    return ax


def _hue_groups(frame: pd.DataFrame, hue: str | None, hue_order: Sequence | None) -> list[tuple]:
    """(hue value, its rows, its colour) for each value of ``hue``; one group of every row without one."""
    hues = _ordered(frame[hue], hue_order) if hue else [None]
    palette = sns.color_palette(n_colors=max(len(hues), 1))
    return [(value, frame if hue is None else frame[frame[hue] == value], palette[index])
            for index, value in enumerate(hues)]


def bar_with_ci(
    frame: pd.DataFrame, x: str, y_mean: str, y_low: str, y_high: str, hue: str | None = None, *,
    title_key: str | None = None, x_key: str | None = None, y_key: str | None = None,
    order: Sequence | None = None, hue_order: Sequence | None = None, ax: Axes | None = None,
) -> Axes:
    """Bars of ``y_mean`` by ``x`` (grouped by ``hue``) with error bars from ``y_low`` to ``y_high``."""
    _check_columns(frame, [x, y_mean, y_low, y_high, hue])
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    xs = _ordered(frame[x], order)
    groups = _hue_groups(frame, hue, hue_order)
    width = 0.8 / len(groups)
    for h_index, (h_value, part, color) in enumerate(groups):
        part = part.set_index(x).reindex(xs)
        positions = np.arange(len(xs)) + (h_index - (len(groups) - 1) / 2) * width
        means = part[y_mean].to_numpy(dtype=float)
        lows, highs = part[y_low].to_numpy(dtype=float), part[y_high].to_numpy(dtype=float)
        errors = np.vstack([means - lows, highs - means])
        ax.bar(positions, means, width=width * 0.95, color=color,
               label=None if hue is None else text(h_value))
        ax.errorbar(positions, means, yerr=np.clip(errors, 0, None), fmt="none", ecolor="black", capsize=3,
                    linewidth=1)
    ax.set_xticks(np.arange(len(xs)), [text(v) for v in xs])
    if hue is not None:
        ax.legend(title=_axis_label(None, hue))
    return _decorate(ax, title_key, _axis_label(x_key, x), _axis_label(y_key, y_mean))


def heatmap(
    frame: pd.DataFrame,
    *,
    index: str | None = None,
    columns: str | None = None,
    values: str | None = None,
    title_key: str | None = None,
    x_key: str | None = None,
    y_key: str | None = None,
    cbar_key: str | None = None,
    fmt: str = ".2f",
    annot: bool = True,
    cmap: str = "YlGnBu",
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of a matrix, or of a long frame pivoted by ``index`` × ``columns`` → ``values``."""
    if index or columns or values:
        if not (index and columns and values):
            raise ValueError("heatmap: give all of index, columns and values to pivot a long frame, or none")
        _check_columns(frame, [index, columns, values])
        matrix = frame.pivot_table(index=index, columns=columns, values=values, aggfunc="mean", observed=True)
    else:
        matrix = frame
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    cbar_kws = {"label": L(cbar_key)} if cbar_key else {}
    sns.heatmap(matrix.astype(float), annot=annot, fmt=fmt, cmap=cmap, ax=ax, cbar_kws=cbar_kws,
                xticklabels=[text(c) for c in matrix.columns], yticklabels=[text(i) for i in matrix.index])
    return _decorate(ax, title_key, _axis_label(x_key, columns or matrix.columns.name),
                     _axis_label(y_key, index or matrix.index.name))


def stacked_area(
    frame: pd.DataFrame,
    x: str,
    y: str,
    stack: str,
    *,
    title_key: str | None = None,
    x_key: str | None = None,
    y_key: str | None = None,
    normalize: bool = False,
    stack_order: Sequence | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Stacked areas of ``y`` over ``x`` by ``stack`` (e.g. members by tier per day).

    With ``normalize=True`` each x sums to 1 (shares).
    """
    _check_columns(frame, [x, y, stack])
    layers = _ordered(frame[stack], stack_order)
    wide = frame.pivot_table(index=x, columns=stack, values=y, aggfunc="sum", observed=True)
    wide = wide.reindex(columns=layers)
    wide = wide.fillna(0.0).sort_index()
    if normalize:
        totals = wide.sum(axis=1).replace(0, np.nan)
        wide = wide.div(totals, axis=0).fillna(0.0)
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    ax.stackplot(wide.index.to_numpy(), wide.to_numpy(dtype=float).T, labels=[text(c) for c in wide.columns],
                 alpha=0.85)
    ax.legend(title=_axis_label(None, stack), loc="upper left", fontsize="small")
    ax.margins(x=0)
    return _decorate(ax, title_key, _axis_label(x_key, x), _axis_label(y_key, y))


def line_with_band(
    frame: pd.DataFrame, x: str, y_mean: str, y_low: str, y_high: str, hue: str | None = None, *,
    title_key: str | None = None, x_key: str | None = None, y_key: str | None = None,
    threshold: float | None = None, threshold_key: str = "health_threshold",
    hue_order: Sequence | None = None, ax: Axes | None = None,
) -> Axes:
    """Lines of ``y_mean`` over ``x`` with a shaded ``y_low``–``y_high`` band, one per ``hue``;
    an optional dashed horizontal ``threshold`` line (a health threshold, a target)."""
    _check_columns(frame, [x, y_mean, y_low, y_high, hue])
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    for h_value, part, color in _hue_groups(frame, hue, hue_order):
        part = part.sort_values(x)
        xs = part[x].to_numpy()
        ax.plot(xs, part[y_mean].to_numpy(dtype=float), color=color,
                label=_axis_label(None, y_mean) if hue is None else text(h_value))
        ax.fill_between(xs, part[y_low].to_numpy(dtype=float), part[y_high].to_numpy(dtype=float),
                        color=color, alpha=0.2, linewidth=0)
    if threshold is not None:
        ax.axhline(threshold, color="firebrick", linestyle="--", linewidth=1, label=L(threshold_key))
    if hue is not None or threshold is not None:
        ax.legend(title=_axis_label(None, hue) if hue else None, fontsize="small")
    return _decorate(ax, title_key, _axis_label(x_key, x), _axis_label(y_key, y_mean))
