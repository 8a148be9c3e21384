"""What sets each health-thresholded KPI in the model, and whether the article's threshold
measures the same thing: the data of ``simlib/data/kpi_drivers.yaml``, and the report's
explanation of the thresholds the baseline misses by a wide margin.

Whether a driving parameter is the article's figure, an assumption or calibrated comes from the
provenance comments of the defaults (:mod:`simlib.provenance`), not from the data file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from simlib import provenance, yaml_io
from simlib.params import load_scenario
from simlib.report.html import heading, render_html_table
from simlib.report.ranking import Ranking
from simlib.report.tables import format_number
from simlib.report.text import column_name, label, plain_text, raw_text, report_lang, text
from simlib.report_safety import html_text

DRIVERS_FILE = "data/kpi_drivers.yaml"  # in the simlib package

#: A threshold the baseline misses by more than this share of it is explained in the report.
EXPLAIN_MARGIN = 0.10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZhEn(_Strict):
    zh: str
    en: str

    def __call__(self, lang: str) -> str:
        return getattr(self, report_lang(lang))


class Driver(_Strict):
    param: str
    role: ZhEn


class ArticleMeasure(ZhEn):
    same: Literal["yes", "no", "unclear"]


class KpiDrivers(_Strict):
    definition: ZhEn
    drivers: list[Driver]
    article: ArticleMeasure


@functools.cache  # read once per process
def kpi_drivers() -> dict[str, KpiDrivers]:
    """``{kpi: KpiDrivers}`` from ``simlib/data/kpi_drivers.yaml`` (validated; errors name the key)."""
    source = f"simlib/{DRIVERS_FILE}"
    data = yaml_io.load_package_data(DRIVERS_FILE)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping of KPI names at the top level")
    out = {}
    for kpi, entry in data.items():
        try:
            out[kpi] = KpiDrivers.model_validate(entry)
        except ValidationError as error:
            raise ValueError(yaml_io.validation_message(error, f"{source}: {kpi}", KpiDrivers)) from None
    return out


def resolve_param(params: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``{key path: value}`` of the parameters ``path`` names (``*`` = every key at that level).

    A path that names nothing raises KeyError naming the first missing key.
    """
    found = {"": params}
    for key in path.split("."):
        step = {}
        for prefix, node in found.items():
            if not isinstance(node, Mapping):
                raise KeyError(f"{path}: {prefix or key!r} is not a block of parameters")
            names = list(node) if key == "*" else [key]
            for name in names:
                if name not in node:
                    raise KeyError(f"{path}: no parameter {name!r} under {prefix or 'the top level'!r}")
                step[f"{prefix}.{name}" if prefix else name] = node[name]
        found = step
    return found


def leaf_paths(key_path: str, value: Any) -> list[str]:
    """The key paths of the leaves (scalars and lists) of ``value``, found at ``key_path``."""
    if isinstance(value, Mapping):
        return [leaf for key, item in value.items() for leaf in leaf_paths(f"{key_path}.{key}", item)]
    return [key_path]


def format_param(value: Any) -> str:
    """A parameter's value, short: a Beta shape with its mean, lists and blocks as compact JSON."""
    if isinstance(value, Mapping) and set(value) == {"a", "b"}:
        return f"Beta({value['a']:g}, {value['b']:g}), mean {value['a'] / (value['a'] + value['b']):.2f}"
    if isinstance(value, float):
        return f"{value:g}"
    shown = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return shown if len(shown) <= 120 else shown[:119] + "…"


def driver_cells(params: Mapping[str, Any], path: str, lang: str) -> tuple[str, str]:
    """(default value, provenance) of a driver, as plain text.

    The provenance is the kind of every leaf (article figure, assumption, calibrated) and, when
    all leaves share one comment, that comment of defaults.yaml.
    """
    values = resolve_param(params, path)
    if len(values) == 1:
        shown = format_param(next(iter(values.values())))
    else:
        prefix, suffix = path.split("*")[0], path.split("*")[-1]  # show only what "*" stands for
        shown = "; ".join(f"{key.removeprefix(prefix).removesuffix(suffix)}: {format_param(value)}"
                          for key, value in values.items())
    sources = [provenance.source(leaf) for key, value in values.items() for leaf in leaf_paths(key, value)]
    kinds = " / ".join(plain_text(f"kind_{kind}", lang) for kind in dict.fromkeys(s.kind for s in sources))
    notes = {s.note for s in sources}
    return shown, kinds + (f": {notes.pop()}" if len(notes) == 1 else "")


def explained_kpis(ranking: Ranking, margin: float = EXPLAIN_MARGIN) -> list[str]:
    """The health-thresholded KPIs the baseline misses by more than ``margin`` of the threshold."""
    checks = ranking.checks.get(ranking.baseline, [])
    return [check.kpi for check in checks
            if check.kind == "health" and not check.missing and check.relative_shortfall > margin]


def explanations_html(ranking: Ranking, lang: str = "zh", margin: float = EXPLAIN_MARGIN) -> str:
    """For each threshold the baseline misses widely: what the model's KPI counts, the parameters
    that set it (with their default value and provenance) and whether the article's threshold
    measures the same thing. Empty when the baseline misses none widely."""
    kpis = explained_kpis(ranking, margin)
    if not kpis:
        return ""
    catalog = kpi_drivers()
    params = load_scenario().model_dump()
    out = [heading("explain_head", lang, level=3),
           f"<p>{text('explain_intro', lang, margin=f'{margin:.0%}')}</p>"]
    baseline_checks = {check.kpi: check for check in ranking.checks[ranking.baseline]}
    for kpi in kpis:
        check, entry = baseline_checks[kpi], catalog[kpi]
        out.append(f"<h4>{html_text(label(kpi, lang))}</h4>")
        baseline = text("explain_baseline", lang, value=format_number(check.mean, kpi),
                        threshold=format_number(check.bound, kpi), relative=f"{check.relative_shortfall:.1%}")
        definition = text("explain_definition", lang, definition=entry.definition(lang))
        out.append(f"<p>{baseline} {definition}</p>")
        rows = []
        for driver in entry.drivers:
            default, source = driver_cells(params, driver.param, lang)
            rows.append({column_name("param", lang): driver.param,
                         column_name("param_default", lang): default,
                         column_name("param_kind", lang): source,
                         column_name("param_role", lang): driver.role(lang)})
        out.append(render_html_table(pd.DataFrame(rows)))
        article = raw_text("explain_article", lang, same=text(f"same_{entry.article.same}", lang),
                           why=html_text(entry.article(lang)))
        out.append(f"<p>{article}</p>")
    return "".join(out)
