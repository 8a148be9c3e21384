"""The article's claims as a register, and the one function that gives a claim its verdict.

The register is the ``claims:`` block at the end of ``params/defaults.yaml`` (its header comment
explains the fields). :func:`load_register` reads and validates it once per process; an error
names the file, the key path, the bad value and what was expected. A claim is of one kind:

* ``test`` — a notebook simulates it: its results metric (mean and 95% interval) decides;
* ``input`` — the article's figure is a model input (``parameter``): the model echoes it;
* ``calibrated`` — a parameter was tuned until the claim held: the model echoes it;
* ``untestable`` — the model has nothing that could test it (``why``).

:func:`verdict` turns a claim and a results-JSON metric entry (``{"mean", "low", "high", …}`` or
None) into a :class:`Verdict`. The rules for a ``test`` claim, with [low, high] the metric's 95%
interval:

* ``within`` (the claim is a number, ± ``tolerance``): **reproduced** when [figure − tolerance,
  figure + tolerance] overlaps [low, high] and — for a claim about an effect, which has a
  ``no_effect`` value (0 for a lift, 1 for a ratio) — that value lies outside [low, high];
  **inconclusive** when the interval overlaps the claimed band and also holds ``no_effect``;
  **not reproduced** otherwise.
* ``at_least`` (the claim is a floor): **reproduced** when low ≥ figure, **not reproduced** when
  high < figure, else **inconclusive**. ``at_most`` mirrors it (high ≤ figure; low > figure).
* no entry, or an entry without a mean: **not measured**.

``input`` and ``calibrated`` claims get ``echo_input`` / ``echo_calibrated`` and ``untestable``
claims ``untestable``, whatever the entry says: an echo still shows the measured value when a
metric is given, but it never counts as evidence (:attr:`Verdict.is_evidence`). The one-line
explanations (zh, en) are templates in ``simlib/data/claim_texts.yaml`` filled in with the numbers.
:func:`verdict_table` gives the verdicts of every claim across scenarios as one tidy table.
"""

from __future__ import annotations

import difflib
import functools
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from simlib import yaml_io
from simlib.labels import LANGS, label
from simlib.params import DEFAULTS_FILE

LESSON_NOTEBOOKS = ("01_member_tiering", "02_content_operations", "03_activity_design", "04_kpi_monitoring",
                    "05_automation_tools", "06_monetization", "07_risk_control", "08_cross_platform")
SECTIONS = tuple(f"§{number}" for number in range(1, len(LESSON_NOTEBOOKS) + 1))  # §n ↔ notebook n
KINDS = ("test", "input", "calibrated", "untestable")
VERDICTS = ("reproduced", "not_reproduced", "inconclusive", "echo_input", "echo_calibrated", "untestable",
            "not_measured")
EVIDENCE = ("reproduced", "not_reproduced", "inconclusive")  # the verdicts that say something
TABLE_COLUMNS = ["claim", "section", "source", "kind", "figure", "unit", "scenario", "mean", "low", "high",
                 "verdict", "explanation"]

# The optional fields each kind must have and may have (beyond id, section, source, unit, kind).
_REQUIRED = {"test": {"figure", "compare", "metric", "measures"}, "input": {"parameter", "why"},
             "calibrated": {"figure", "parameter", "why"}, "untestable": {"why"}}
_ALLOWED = {"test": {"tolerance", "no_effect"}, "input": {"figure", "metric"}, "calibrated": {"metric"},
            "untestable": {"figure"}}
_OPTIONAL = ("figure", "compare", "tolerance", "no_effect", "metric", "parameter", "measures", "why")


class ClaimsError(ValueError):
    """The claims register is invalid; each line names the file, the key path, the value and the rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Text(_Strict):
    """A sentence in both languages of the notebooks."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def text(self, lang: str) -> str:
        """The sentence in ``lang`` ("zh" or "en")."""
        return {"zh": self.zh, "en": self.en}[lang]


class MetricRef(_Strict):
    """Where a claim is measured: a lesson notebook and the name of its results metric."""

    notebook: Literal[LESSON_NOTEBOOKS]
    name: str = Field(min_length=1)


class Claim(_Strict):
    """One claim of the article (see the header of the register in defaults.yaml)."""

    id: str = ""  # the claim's key in the register, set by load_register
    section: Literal[SECTIONS]
    source: str = Field(min_length=1)
    unit: Literal["lift", "share", "ratio", "roi", "count", "minutes", "hours", "per_year"]
    kind: Literal[KINDS]
    figure: float | list[float] | None = None
    compare: Literal["within", "at_least", "at_most"] | None = None
    tolerance: float | None = Field(default=None, ge=0.0)
    no_effect: float | None = None
    metric: MetricRef | None = None
    parameter: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$")
    measures: Text | None = None
    why: Text | None = None

    @field_validator("id")
    @classmethod
    def _id_is_the_key(cls, value: str) -> str:
        if value:
            raise ValueError("write no 'id': a claim's key in the register is its id")
        return value

    @field_validator("figure")
    @classmethod
    def _pair(cls, value: float | list[float] | None) -> float | list[float] | None:
        if isinstance(value, list) and not (len(value) == 2 and value[0] <= value[1]):
            raise ValueError(f"expected a number or a range [low, high] with low ≤ high, got {value}")
        return value

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Claim:
        present = {name for name in _OPTIONAL if getattr(self, name) is not None}
        missing = sorted(_REQUIRED[self.kind] - present)
        if missing:
            raise ValueError(f"kind {self.kind} needs {', '.join(missing)}")
        extra = sorted(present - _REQUIRED[self.kind] - _ALLOWED[self.kind])
        if extra:
            raise ValueError(f"kind {self.kind} takes no {', '.join(extra)}")
        if self.kind == "test":
            self._check_test()
        return self

    def _check_test(self) -> None:
        if not isinstance(self.figure, float):
            raise ValueError(f"kind test needs one number as its figure, got {self.figure}")
        if self.compare != "within" and (self.tolerance is not None or self.no_effect is not None):
            raise ValueError(f"compare {self.compare} takes no tolerance or no_effect (within only)")
        if self.compare == "within" and self.tolerance is None:
            raise ValueError("compare within needs a tolerance")
        if self.no_effect is not None and abs(self.no_effect - self.figure) <= self.tolerance:
            raise ValueError(f"no_effect {self.no_effect} lies within figure {self.figure} ± tolerance "
                             f"{self.tolerance}: the claim could not be told from no effect")

    @property
    def notebook(self) -> str:
        """The lesson notebook of the claim's section (§n → the n-th lesson)."""
        return LESSON_NOTEBOOKS[SECTIONS.index(self.section)]


ClaimId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Register(_Strict):
    claims: dict[ClaimId, Claim] = Field(min_length=1)


# --------------------------------------------------------------------------- the register


def _leaf_values(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{dotted key path: value}`` of every value below ``data`` that is not a mapping."""
    leaves = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            leaves.update(_leaf_values(value, path))
        else:
            leaves[path] = value
    return leaves


def _same_figure(figure: float | list[float], value: Any) -> bool:
    """An input claim's figure is its parameter's value (a number, or a [low, high] pair)."""
    figures = figure if isinstance(figure, list) else [figure]
    values = value if isinstance(value, list) else [value]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return numbers and len(figures) == len(values) and all(map(math.isclose, figures, values))


def _check_parameters(claims: Mapping[str, Claim], parameters: Mapping[str, Any], source: Path) -> list[str]:
    """Problems of the claims' ``parameter`` against the parameter blocks of the same file."""
    leaves = _leaf_values(parameters)
    problems = []
    for claim in claims.values():
        if claim.parameter is None:
            continue
        where = f"{source}: claims.{claim.id}.parameter = {claim.parameter!r}"
        if claim.parameter not in leaves:
            near = difflib.get_close_matches(claim.parameter, leaves, n=3, cutoff=0.6)
            problems.append(f"{where}: no such parameter in the defaults"
                            + (f"; did you mean {near}?" if near else "; expected a key path like "
                               "risk.types.info_leak.effect"))
        elif claim.kind == "input" and claim.figure is not None and not _same_figure(
                claim.figure, leaves[claim.parameter]):
            problems.append(f"{source}: claims.{claim.id}.figure = {claim.figure}: an input claim's figure "
                            f"is its parameter's value, but {claim.parameter} = {leaves[claim.parameter]!r}")
    return problems


@functools.cache  # read once per process (per file)
def load_register(path: str | Path = DEFAULTS_FILE) -> Mapping[str, Claim]:
    """The claims of the register in ``path`` (the defaults), by id in the file's order (read-only)."""
    path = Path(path)
    try:
        data = yaml_io.read_mapping(path)
    except yaml_io.YamlError as error:
        raise ClaimsError(str(error)) from None
    raw = data.pop("claims", None)
    if raw is None:
        raise ClaimsError(f"{path}: no 'claims' block; the register of the article's claims belongs there")
    try:
        register = _Register.model_validate({"claims": raw})
    except ValidationError as error:
        raise ClaimsError(yaml_io.validation_message(error, path, _Register)) from None
    claims = {key: claim.model_copy(update={"id": key}) for key, claim in register.claims.items()}
    problems = _check_parameters(claims, data, path)
    if problems:
        raise ClaimsError("\n".join(problems))
    return types.MappingProxyType(claims)


def get(claim_id: str) -> Claim:
    """The claim ``claim_id`` of the register; an unknown id is a KeyError naming the closest ids."""
    register = load_register()
    if claim_id not in register:
        near = difflib.get_close_matches(str(claim_id), register, n=3, cutoff=0.5)
        raise KeyError(f"no claim {claim_id!r} in the register of {DEFAULTS_FILE.name}"
                       + (f"; did you mean {near}?" if near else ""))
    return register[claim_id]


def _figure(claim: Claim) -> float | tuple[float, float] | None:
    return tuple(claim.figure) if isinstance(claim.figure, list) else claim.figure


def figure(claim_id: str) -> float | tuple[float, float] | None:
    """The article's figure of the claim ``claim_id`` (a range as (low, high); None if it has none)."""
    return _figure(get(claim_id))


def for_notebook(notebook: str) -> list[Claim]:
    """The claims of a lesson notebook's dimension (its section, or measured there), in register order."""
    if notebook not in LESSON_NOTEBOOKS:
        raise ValueError(f"notebook={notebook!r}: expected one of {list(LESSON_NOTEBOOKS)}")
    return [claim for claim in load_register().values()
            if notebook in (claim.notebook, claim.metric.notebook if claim.metric else None)]


def kind_label(kind: str, lang: str = "zh") -> str:
    """The words for a claim's kind ('模拟检验', 'Tested by simulation' …)."""
    return label(f"kind_{kind}", lang)


def verdict_label(code: str, lang: str = "zh") -> str:
    """The words for a verdict code ('已复现', 'Reproduced' …)."""
    return label(f"verdict_{code}", lang)


# --------------------------------------------------------------------------- numbers as text

_UNIT_WORDS = {"minutes": {"zh": " 分钟", "en": " min"}, "hours": {"zh": " 小时", "en": " h"},
               "per_year": {"zh": " 次/年", "en": "/yr"}}


def _number(value: float, unit: str, lang: str, *, exact: bool = False) -> str:
    """``value`` in its unit: a figure as written (``exact``: '+42%', '1:4.7'), a measurement rounded."""
    if unit in ("lift", "share"):
        digits = "g" if exact else ".1f"
        return f"{100 * value:{'+' if unit == 'lift' else ''}{digits}}%"
    text = f"{value:{'g' if exact else '.2f'}}"
    if unit == "ratio":
        return f"{text}×"
    if unit == "roi":
        return f"1:{text}"
    return text + _UNIT_WORDS.get(unit, {}).get(lang, "")


def figure_text(claim: Claim, lang: str = "zh") -> str:
    """The article's figure as the article writes it: '+42%', '3×–5×', '1:4.7', '—' without one."""
    if claim.figure is None:
        return "—"
    figures = claim.figure if isinstance(claim.figure, list) else [claim.figure]
    return "–".join(_number(value, claim.unit, lang, exact=True) for value in figures)


def _tolerance_text(claim: Claim, lang: str) -> str:
    if claim.unit in ("lift", "share"):
        return f"±{100 * claim.tolerance:g}" + (" 个百分点" if lang == "zh" else " pp")
    return "±" + _number(claim.tolerance, "count" if claim.unit == "roi" else claim.unit, lang, exact=True)


def _interval(entry: Mapping[str, Any] | None) -> tuple[float, float, float]:
    """(mean, low, high) of a metric entry; NaN where unknown; a missing interval is the mean itself."""

    def number(key: str) -> float:
        value = entry.get(key) if entry is not None else None
        return math.nan if value is None else float(value)

    mean, low, high = number("mean"), number("low"), number("high")
    if math.isnan(low) or math.isnan(high):
        low = high = mean
    return mean, low, high


def measured_text(unit: str, mean: float, low: float, high: float, lang: str) -> str:
    """A measurement of a claim's ``unit`` with its interval: '+3.1% [+1.2%, +5.0%]',
    '0.39 [0.31, 0.47] 次/年' (a unit word follows the interval, once)."""
    word = _UNIT_WORDS.get(unit, {}).get(lang, "")
    unit = "count" if word else unit
    text = _number(mean, unit, lang)
    if not low == high == mean:
        text += f" [{_number(low, unit, lang)}, {_number(high, unit, lang)}]"
    return text + word


# --------------------------------------------------------------------------- verdicts

CLAIM_TEXTS_FILE = "data/claim_texts.yaml"  # in the simlib package: the explanations' templates


class _Texts(RootModel[dict[str, Text]]):
    model_config = ConfigDict(strict=True, frozen=True)


@functools.cache  # read once per process
def explanation_texts() -> dict[str, Text]:
    """The explanation templates, ``{key: Text}`` (see the header of the file)."""
    source = f"simlib/{CLAIM_TEXTS_FILE}"
    try:
        return _Texts.model_validate(yaml_io.load_package_data(CLAIM_TEXTS_FILE)).root
    except ValidationError as error:
        raise ClaimsError(yaml_io.validation_message(error, source)) from None


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict on one metric entry, with a one-line explanation in each language."""

    claim: str
    kind: str
    code: str
    figure: float | tuple[float, float] | None
    mean: float
    low: float
    high: float
    explanation: dict[str, str]  # {"zh": …, "en": …}

    @property
    def is_evidence(self) -> bool:
        """Reproduced, not reproduced or inconclusive: a test's outcome, never an echo."""
        return self.code in EVIDENCE


def _test_code(claim: Claim, low: float, high: float) -> tuple[str, str]:
    """(verdict, explanation case) of a measured test claim, by the rules of the module docstring."""
    if claim.compare == "within":
        overlaps = low <= claim.figure + claim.tolerance and high >= claim.figure - claim.tolerance
        holds_no_effect = claim.no_effect is not None and low <= claim.no_effect <= high
        code = "not_reproduced" if not overlaps else "inconclusive" if holds_no_effect else "reproduced"
        return code, "within"
    floor, ceiling = (claim.figure, math.inf) if claim.compare == "at_least" else (-math.inf, claim.figure)
    if floor <= low and high <= ceiling:
        return "reproduced", claim.compare
    if high < floor or low > ceiling:
        return "not_reproduced", claim.compare
    return "inconclusive", "bound"


def _explanation_fields(claim: Claim, interval: tuple[float, float, float], lang: str) -> dict[str, str]:
    """The values the explanation templates put in, as text in ``lang``."""
    measured = not math.isnan(interval[0])
    fields = {
        "fig": figure_text(claim, lang) if claim.figure is not None
        else explanation_texts()["phrase_no_figure"].text(lang),
        "sim": measured_text(claim.unit, *interval, lang) if measured else "—",
        "tol": _tolerance_text(claim, lang) if claim.tolerance is not None else "",
        "none": "" if claim.no_effect is None else _number(claim.no_effect, claim.unit, lang, exact=True),
        "metric": f"{claim.metric.notebook}: {claim.metric.name}" if claim.metric else "—",
        "parameter": claim.parameter or "",
        "why": claim.why.text(lang) if claim.why else "",
    }
    effect = explanation_texts()["phrase_effect"].text(lang) if claim.no_effect is not None else ""
    echo = explanation_texts()["phrase_echo_measured" if measured else "phrase_echo_unmeasured"].text(lang)
    return {**fields, "effect": effect.format(**fields), "echo": echo.format(**fields)}


def verdict(claim: Claim | str, entry: Mapping[str, Any] | None) -> Verdict:
    """The verdict of ``claim`` (a Claim or its id) given its metric ``entry`` (or None)."""
    claim = get(claim) if isinstance(claim, str) else claim
    mean, low, high = _interval(entry)
    measured = not math.isnan(mean)
    if claim.kind == "test":
        code, case = _test_code(claim, low, high) if measured else ("not_measured", "")
    else:
        code, case = {"input": "echo_input", "calibrated": "echo_calibrated"}.get(claim.kind, claim.kind), ""
    template = explanation_texts()[f"{code}_{case}" if case else code]
    explanation = {lang: template.text(lang).format(**_explanation_fields(claim, (mean, low, high), lang))
                   for lang in LANGS}
    return Verdict(claim.id, claim.kind, code, _figure(claim), mean, low, high, explanation)


def verdict_table(entries_by_scenario: Mapping[str, Mapping[str, Mapping[str, Any]]], lang: str = "zh",
                  notebook: str | None = None) -> pd.DataFrame:
    """Every claim's verdict in every scenario, one row each (:data:`TABLE_COLUMNS`).

    ``entries_by_scenario`` is ``{scenario: {metric name: results-JSON entry}}``; ``notebook``
    keeps the claims of one lesson (:func:`for_notebook`). Codes stay codes (:func:`kind_label`,
    :func:`verdict_label` give the words); the explanation is in ``lang``.
    """
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {list(LANGS)}")
    claims = for_notebook(notebook) if notebook is not None else list(load_register().values())
    rows = []
    for claim in claims:
        for scenario, entries in entries_by_scenario.items():
            entry = entries.get(claim.metric.name) if claim.metric else None
            result = verdict(claim, entry)
            rows.append({"claim": claim.id, "section": claim.section, "source": claim.source,
                         "kind": claim.kind, "figure": result.figure, "unit": claim.unit,
                         "scenario": scenario, "mean": result.mean, "low": result.low, "high": result.high,
                         "verdict": result.code, "explanation": result.explanation[lang]})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
