"""What a calibration can tell each lesson: which of its parameters come from a group's export.

``simlib calibrate`` (:func:`simlib.calibrate.write_scenario`) sets the keys of
:data:`~simlib.calibrate.scenario.CALIBRATED_KEYS` and leaves everything else at the base
scenario's values. For each lesson notebook, ``simlib/data/calibration_scope.yaml`` says which
parameters its simulated sections rest on (``uses``), which are the dimension's own (``own``) and
which of those no export identifies, with the reason (``not_identified``, zh and en). The
calibrated keys of a lesson are always *derived* from ``CALIBRATED_KEYS`` — never listed twice.

* :func:`calibration_note` — the Markdown a notebook's real-data section shows: on a calibrated
  scenario, which of the lesson's parameters come from the group's export and which stay at the
  article's defaults; otherwise how to calibrate (the exact commands) and what that would set.
* :func:`is_calibrated` — a scenario written by the calibrator, or a strategy applied to one
  (recognised by :data:`~simlib.calibrate.scenario.CALIBRATED_MARKER` in its description).
* :func:`observed_vs_simulated` — an export's KPI beside the scenario's simulated mean and 95%
  interval, with a sentence (:mod:`simlib.findings`) saying whether it falls inside.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from simlib.calibrate.scenario import CALIBRATED_KEYS, CALIBRATED_MARKER
from simlib.findings import Check, Finding
from simlib.formatting import num, pct
from simlib.labels import LANGS, has_label, label
from simlib.params import Params, load_defaults
from simlib.report_safety import markdown_text
from simlib.results import mean_ci
from simlib.yaml_io import load_package_data

SCOPE_FILE = "data/calibration_scope.yaml"  # in the simlib package


class ScopeError(ValueError):
    """The scope file is malformed or names an unknown notebook; the message names the key."""


@dataclass(frozen=True)
class Unidentified:
    """Parameters a lesson needs that no export identifies, and why (``reason[lang]``)."""

    keys: tuple[str, ...]
    reason: Mapping[str, str]


@dataclass(frozen=True)
class LessonScope:
    notebook: str
    dimension: Mapping[str, str]
    uses: tuple[str, ...]
    own: tuple[str, ...]
    not_identified: tuple[Unidentified, ...]

    @property
    def calibrated(self) -> tuple[str, ...]:
        """The calibrated keys this lesson's simulated sections rest on."""
        return _under(self.uses)

    @property
    def own_calibrated(self) -> tuple[str, ...]:
        """The calibrated keys among the dimension's own parameters (empty: none can be)."""
        return _under(self.own)


def _covers(prefix: str, key: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _under(prefixes: Sequence[str]) -> tuple[str, ...]:
    return tuple(key for key in CALIBRATED_KEYS if any(_covers(prefix, key) for prefix in prefixes))


def _texts_of(entry: Any, where: str) -> dict[str, str]:
    if not isinstance(entry, Mapping) or set(entry) - {"keys"} != set(LANGS) or not all(
            isinstance(entry[lang], str) and entry[lang].strip() for lang in LANGS):
        raise ScopeError(f"{SCOPE_FILE}: {where} = {entry!r}: expected text in each of {LANGS}")
    return {lang: entry[lang] for lang in LANGS}


def _keys_of(value: Any, where: str, parameters: Mapping[str, Any]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(key, str) for key in value):
        raise ScopeError(f"{SCOPE_FILE}: {where} = {value!r}: expected a list of dotted parameter keys")
    for key in value:
        node: Any = parameters
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ScopeError(f"{SCOPE_FILE}: {where}: {key!r} is not a parameter of params/defaults.yaml")
            node = node[part]
    return tuple(value)


def _unidentified(item: Any, where: str, parameters: Mapping[str, Any]) -> Unidentified:
    keys = _keys_of(item.get("keys") if isinstance(item, Mapping) else None, f"{where}.keys", parameters)
    clash = [key for key in keys for calibrated in CALIBRATED_KEYS
             if _covers(key, calibrated) or _covers(calibrated, key)]
    if clash:
        raise ScopeError(f"{SCOPE_FILE}: {where}.keys: {clash} hold or are calibrated keys; "
                         "expected parameters no calibration sets")
    return Unidentified(keys, _texts_of(item, where))


def _lesson(notebook: str, entry: Any, parameters: Mapping[str, Any]) -> LessonScope:
    where = f"notebooks.{notebook}"
    if not isinstance(entry, Mapping) or set(entry) != {"dimension", "uses", "own", "not_identified"}:
        raise ScopeError(f"{SCOPE_FILE}: {where}: expected dimension, uses, own and not_identified")
    reasons = tuple(_unidentified(item, f"{where}.not_identified[{index}]", parameters)
                    for index, item in enumerate(entry["not_identified"] or []))
    return LessonScope(notebook, _texts_of(entry["dimension"], f"{where}.dimension"),
                       _keys_of(entry["uses"], f"{where}.uses", parameters),
                       _keys_of(entry["own"], f"{where}.own", parameters), reasons)


@functools.cache
def _catalog() -> dict[str, Any]:
    data = load_package_data(SCOPE_FILE)
    if not isinstance(data, Mapping) or set(data) != {"keys", "texts", "notebooks"}:
        raise ScopeError(f"{SCOPE_FILE}: expected the top-level keys 'keys', 'texts' and 'notebooks'")
    if set(data["keys"]) != set(CALIBRATED_KEYS):
        missing = sorted(set(CALIBRATED_KEYS) - set(data["keys"]))
        extra = sorted(set(data["keys"]) - set(CALIBRATED_KEYS))
        raise ScopeError(f"{SCOPE_FILE}: keys: expected exactly CALIBRATED_KEYS of "
                         f"simlib/calibrate/scenario.py; missing {missing}, not calibrated {extra}")
    parameters = load_defaults()
    return {"keys": {key: _texts_of(entry, f"keys.{key}") for key, entry in data["keys"].items()},
            "texts": {key: _texts_of(entry, f"texts.{key}") for key, entry in data["texts"].items()},
            "notebooks": {notebook: _lesson(notebook, entry, parameters)
                          for notebook, entry in data["notebooks"].items()}}


def notebooks() -> tuple[str, ...]:
    """The lesson notebooks the scope file describes."""
    return tuple(_catalog()["notebooks"])


def lesson_scope(notebook: str) -> LessonScope:
    lessons = _catalog()["notebooks"]
    if notebook not in lessons:
        raise ScopeError(f"{SCOPE_FILE}: no entry for notebook {notebook!r}; "
                         f"expected one of {sorted(lessons)}")
    return lessons[notebook]


def _text(key: str, lang: str, **values: Any) -> str:
    return _catalog()["texts"][key][lang].format(**values)


def is_calibrated(params: Params) -> bool:
    """Whether ``params`` is a scenario written by ``simlib calibrate`` (or a strategy applied to one)."""
    return CALIBRATED_MARKER in (params.description or "")


def _key_list(keys: Sequence[str], lang: str) -> list[str]:
    words = _catalog()["keys"]
    colon = "：" if lang == "zh" else ": "
    return [f"- `{key}`{colon}{words[key][lang]}" for key in keys]


def _reasons(scope: LessonScope, lang: str) -> list[str]:
    colon, comma = ("：", "、") if lang == "zh" else (": ", ", ")
    return [f"- {comma.join(f'`{key}`' for key in item.keys)}{colon}{item.reason[lang]}"
            for item in scope.not_identified]


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang = {lang!r}: expected one of {LANGS}")


def calibration_note(params: Params, notebook: str, lang: str = "zh") -> str:
    """Markdown for a lesson's real-data section: what of this lesson describes the user's group.

    On a calibrated scenario (:func:`is_calibrated`): the lesson's parameters that come from the
    group's export, then those that stay at the article's defaults, with the reasons. Otherwise:
    the commands that calibrate and rerun this notebook, and what calibrating would set. When
    none of the dimension's own parameters can be calibrated, the note says so plainly.
    """
    _check_lang(lang)
    scope = lesson_scope(notebook)
    name = markdown_text(params.label or params.name)
    lines: list[str] = []
    if is_calibrated(params):
        lines += [_text("calibrated_title", lang, label=name), "",
                  _text("calibrated_from_export", lang), "", *_key_list(scope.calibrated, lang), ""]
        lines.append(_text("calibrated_defaults", lang) if scope.own_calibrated else
                     _text("nothing_own", lang, dimension=scope.dimension[lang]))
    else:
        export, members = _text("command_export", lang), _text("command_members", lang)
        lines += [_text("default_title", lang, label=name), "", "```bash",
                  f".venv/bin/simlib calibrate {export} --name mygroup --members {members}",
                  f".venv/bin/papermill notebooks/{notebook}.ipynb out.ipynb -p scenario mygroup "
                  f"-p data_source {export}", "```", "",
                  _text("default_would_set", lang), "", *_key_list(scope.calibrated, lang), ""]
        lines.append(_text("default_stays", lang) if scope.own_calibrated else
                     _text("nothing_own", lang, dimension=scope.dimension[lang]))
    lines += ["", *_reasons(scope, lang)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- observed vs. simulated


@dataclass(frozen=True)
class Comparison:
    """One KPI measured on an export and simulated by the scenario (per-replication values)."""

    kpi: str  # a label-catalog key, or a key of the scope file's texts
    unit: str  # "share" (shown as %) or anything else (shown as a number)
    observed: float
    simulated: Sequence[float]


def _kpi_name(kpi: str, lang: str) -> str:
    return label(kpi, lang) if has_label(kpi) else _text(kpi, lang)


def _fmt(value: float, unit: str) -> str:
    return pct(value) if unit == "share" else num(value, 2)


def observed_vs_simulated(rows: Sequence[Comparison], params: Params,
                          lang: str = "zh") -> tuple[pd.DataFrame, list[Finding]]:
    """The export's KPIs beside the scenario's simulated mean and 95% interval (a table to show),
    and one finding per KPI saying whether the observed value falls inside that interval (a KPI
    the export cannot show — NaN — gets no sentence). On a scenario that is not calibrated, the
    sentence for a value outside adds that a difference is expected there."""
    _check_lang(lang)
    table, found = [], []
    for row in rows:
        entry = mean_ci(list(row.simulated))
        interval = f"[{_fmt(entry['low'], row.unit)}, {_fmt(entry['high'], row.unit)}]"
        inside = math.isfinite(row.observed) and entry["low"] <= row.observed <= entry["high"]
        name = _kpi_name(row.kpi, lang)
        table.append({label("kpi", lang): name, _text("observed", lang): _fmt(row.observed, row.unit),
                      _text("simulated_mean", lang): _fmt(entry["mean"], row.unit),
                      _text("interval", lang): interval,
                      _text("inside", lang): _text("inside_yes" if inside else "inside_no", lang)
                      if math.isfinite(row.observed) and math.isfinite(entry["mean"]) else "—"})
        if not (math.isfinite(row.observed) and math.isfinite(entry["low"])):
            continue
        way = "inside" if inside else ("above" if row.observed > entry["high"] else "below")
        text = _text(f"comparison_{way}", lang, kpi=name, observed=_fmt(row.observed, row.unit),
                     interval=interval, mean=_fmt(entry["mean"], row.unit))
        if not inside and not is_calibrated(params):
            text += (" " if lang == "en" else "") + _text("comparison_not_calibrated", lang)
        check = Check.of(f"{row.kpi}: observed vs. simulated 95% interval",
                         "contains" if inside else "excludes", entry, bound=row.observed)
        found.append(Finding(text, (check,), key=f"observed_vs_simulated_{row.kpi}"))
    return pd.DataFrame(table), found
