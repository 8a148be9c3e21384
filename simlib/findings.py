"""Sentences that state an effect, chosen by the numbers they state ("text follows the numbers").

A notebook or report never prints a fixed sentence such as "tiering raises retention": it
builds a :class:`Finding` whose wording is picked from the result (an increase, a decrease, or
no difference the interval can tell apart) and which carries :class:`Check` records — the
number behind each claim the sentence makes and the relation the wording asserts. A finding is
*contradicted* when a check does not hold for its own numbers; :func:`problems` lists those,
and the tests run it over every notebook's findings on every default scenario.

Notebooks show a finding with ``ctx.state(finding)`` (see :mod:`simlib.notebook`), which also
records it in ``results.json`` (``findings``: text, headline flag, checks) so the report can
show each dimension's headline findings side by side and the checks can be re-run on the
stored numbers.

>>> up = effect("retention_d90: tiered − untiered", {"mean": 0.03, "low": 0.01, "high": 0.05},
...             subject="90日留存率", fmt=lambda e: f"{e['mean']:+.1%}")
>>> up.text, problems([up])
('90日留存率提高（+3.0%，95%区间不含0）。', [])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from simlib.formatting import as_float

#: Relations a check can assert about its number (``mean``, ``low``, ``high``) and ``bound``.
RELATIONS = ("increase", "decrease", "unclear", ">", ">=", "<", "<=", "contains", "excludes")


@dataclass(frozen=True)
class Check:
    """One claim a sentence makes about one number.

    ``increase`` / ``decrease``: the 95% interval lies above / below 0; ``unclear``: it contains
    0 (or is unknown); ``>``, ``>=``, ``<``, ``<=``: the mean against ``bound``; ``contains`` /
    ``excludes``: ``bound`` inside / outside the interval.
    """

    quantity: str
    relation: str
    mean: float
    low: float = math.nan
    high: float = math.nan
    bound: float | None = None

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"check {self.quantity!r}: relation {self.relation!r}, "
                             f"expected one of {RELATIONS}")
        if self.relation in (">", ">=", "<", "<=", "contains", "excludes") and self.bound is None:
            raise ValueError(f"check {self.quantity!r}: relation {self.relation!r} needs a bound")

    @classmethod
    def of(cls, quantity: str, relation: str, entry: Any, bound: float | None = None) -> Check:
        """A check on an entry (``{"mean", "low", "high"}``) or a plain number."""
        if isinstance(entry, Mapping) or hasattr(entry, "get"):
            mean, low, high = (as_float(entry.get(key)) for key in ("mean", "low", "high"))
        else:
            mean, low, high = as_float(entry), math.nan, math.nan
        return cls(quantity, relation, mean, low, high, None if bound is None else float(bound))

    def holds(self) -> bool:
        mean, low, high, bound = self.mean, self.low, self.high, self.bound
        if self.relation == "increase":
            return low > 0
        if self.relation == "decrease":
            return high < 0
        if self.relation == "unclear":
            return not (low > 0 or high < 0)
        if self.relation == "contains":
            return low <= bound <= high
        if self.relation == "excludes":
            return bound < low or bound > high
        return {">": mean > bound, ">=": mean >= bound, "<": mean < bound, "<=": mean <= bound}[self.relation]


@dataclass(frozen=True)
class Finding:
    """A sentence and the checks that make it true. ``headline`` marks the one to three findings
    of a notebook that the comparative report shows side by side; ``key`` names it there."""

    text: str
    checks: tuple[Check, ...] = field(default_factory=tuple)
    key: str | None = None
    headline: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "text": self.text, "headline": self.headline,
                "checks": [asdict(check) for check in self.checks]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        checks = tuple(Check(check["quantity"], check["relation"], *(as_float(check.get(key)) for key in
                                                                        ("mean", "low", "high")),
                             check.get("bound")) for check in data.get("checks", []))
        return cls(str(data["text"]), checks, data.get("key"), bool(data.get("headline", False)))


def problems(findings: Iterable[Finding]) -> list[str]:
    """Every finding contradicted by its own numbers, as 'text — quantity: relation fails (numbers)'."""
    found = []
    for finding in findings:
        for check in finding.checks:
            if not check.holds():
                numbers = f"mean {check.mean:.4g} [{check.low:.4g}, {check.high:.4g}]"
                bound = "" if check.bound is None else f" {check.bound:.4g}"
                found.append(f"{finding.text} — {check.quantity}: {check.relation}{bound} fails ({numbers})")
    return found


def direction(entry: Any) -> str:
    """'increase', 'decrease' or 'unclear' (the interval contains 0 or is unknown)."""
    low, high = as_float(entry.get("low")), as_float(entry.get("high"))
    if low > 0:
        return "increase"
    if high < 0:
        return "decrease"
    return "unclear"


_EFFECT_WORDS = {
    "zh": {"increase": "{subject}{up}（{value}，95%区间不含0）。",
           "decrease": "{subject}{down}（{value}，95%区间不含0）。",
           "unclear": "{subject}没有可分辨的变化（{value}，95%区间含0）。"},
    "en": {"increase": "{subject} {up} ({value}; the 95% interval excludes 0).",
           "decrease": "{subject} {down} ({value}; the 95% interval excludes 0).",
           "unclear": "{subject}: no change the 95% interval can tell from zero ({value})."},
}
_DEFAULT_VERBS = {"zh": ("提高", "降低"), "en": ("rises", "falls")}


def effect(quantity: str, entry: Any, *, subject: str, fmt: Callable[[Any], str], lang: str = "zh",
           up: str | None = None, down: str | None = None, key: str | None = None,
           headline: bool = False) -> Finding:
    """The sentence for a difference (arm − base) with its interval: its wording is chosen by
    :func:`direction`, and it carries the matching check. ``fmt`` renders the entry (e.g.
    :func:`simlib.formatting.pp`); ``up`` / ``down`` replace the verbs ("提高"/"降低")."""
    verbs = _DEFAULT_VERBS[lang]
    way = direction(entry)
    text = _EFFECT_WORDS[lang][way].format(subject=subject, up=up or verbs[0], down=down or verbs[1],
                                           value=fmt(entry))
    return Finding(text, (Check.of(quantity, way, entry),), key, headline)


def choose(quantity: str, entry: Any, texts: Mapping[str, str], *, key: str | None = None,
           headline: bool = False, **values: Any) -> Finding:
    """A sentence picked from ``texts`` ({"increase": …, "decrease": …, "unclear": …}) by the
    direction of ``entry``, formatted with ``values``; for wording richer than :func:`effect`."""
    way = direction(entry)
    return Finding(texts[way].format(**values), (Check.of(quantity, way, entry),), key, headline)


def versus(quantity: str, entry: Any, bound: float, texts: Mapping[str, str], *, key: str | None = None,
           headline: bool = False, **values: Any) -> Finding:
    """A sentence comparing a value with a fixed figure (a threshold, the article's claim):
    ``texts`` has "above" (the mean is above ``bound``), "below" and "equal"."""
    mean = as_float(entry.get("mean") if isinstance(entry, Mapping) or hasattr(entry, "get") else entry)
    if mean > bound:
        way, relation = "above", ">"
    elif mean < bound:
        way, relation = "below", "<"
    else:
        way, relation = "equal", ">="
    return Finding(texts[way].format(**values), (Check.of(quantity, relation, entry, bound),), key, headline)
