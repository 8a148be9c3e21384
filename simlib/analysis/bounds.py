"""Sentences that place a measured interval against a fixed figure: a health threshold, a tier
target, the article's figure.

:func:`simlib.findings.versus` compares a mean with a figure; a lesson usually needs three
wordings, decided by the whole 95% interval: it lies above the figure, below it, or around it
(the figure is inside, so the data cannot tell). :func:`against` picks one and attaches the
checks (:class:`simlib.findings.Check`) that make it true, so :func:`simlib.findings.problems`
catches a sentence that no longer fits its numbers.

>>> found = against("open rate vs T2", {"mean": 0.4, "low": 0.38, "high": 0.42}, 0.78,
...                 {"above": "above {figure}", "below": "below {figure}", "around": "around {figure}",
...                  "unknown": "unknown"}, figure="78%")
>>> found.text
'below 78%'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from simlib.findings import Check, Finding
from simlib.formatting import as_float

WAYS = ("above", "below", "around", "unknown")


def interval(entry: Any) -> tuple[float, float, float]:
    """(mean, low, high) of an entry ({"mean", "low", "high"}, a table row) or of a plain number,
    whose interval is the number itself."""
    if isinstance(entry, Mapping) or hasattr(entry, "get"):
        mean, low, high = (as_float(entry.get(key)) for key in ("mean", "low", "high"))
    else:
        mean = low = high = as_float(entry)
    if math.isnan(low) or math.isnan(high):
        low = high = mean
    return mean, low, high


def way(entry: Any, bound: float) -> str:
    """'above' (the interval lies above ``bound``), 'below', 'around' (it holds ``bound``) or
    'unknown' (no mean)."""
    mean, low, high = interval(entry)
    if math.isnan(mean):
        return "unknown"
    if low > bound:
        return "above"
    if high < bound:
        return "below"
    return "around"


def against(quantity: str, entry: Any, bound: float, texts: Mapping[str, str], *, key: str | None = None,
            headline: bool = False, **values: Any) -> Finding:
    """The sentence of ``texts`` ({"above", "below", "around", "unknown"}) that fits ``entry``'s
    interval against ``bound``, formatted with ``values``, with its checks: "above" — the
    interval excludes the bound and the mean is above it; "below" likewise; "around" — the
    interval contains the bound; "unknown" (no mean) states no effect and carries no check."""
    missing = [name for name in WAYS if name not in texts]
    if missing:
        raise ValueError(f"texts for {quantity!r} lack {missing}; expected the keys {list(WAYS)}")
    if not math.isfinite(bound):
        raise ValueError(f"bound for {quantity!r} = {bound!r}: expected a finite number")
    chosen = way(entry, bound)
    mean, low, high = interval(entry)
    if chosen == "unknown":
        checks: tuple[Check, ...] = ()
    elif chosen == "around":
        checks = (Check(quantity, "contains", mean, low, high, bound),)
    else:
        checks = (Check(quantity, "excludes", mean, low, high, bound),
                  Check(quantity, ">" if chosen == "above" else "<", mean, low, high, bound))
    return Finding(texts[chosen].format(**values), checks, key, headline)


def joined(parts: Sequence[Finding], lang: str, lead: str = "", tail: str = "") -> Finding:
    """One sentence listing the clauses of several findings ("；"- or "; "-separated), with all
    their checks: e.g. each content type's open rate against table 2 in one line."""
    separator, stop = ("；", "。") if lang == "zh" else ("; ", ". ")
    text = lead + separator.join(part.text for part in parts) + stop + tail
    return Finding(text.strip(), tuple(check for part in parts for check in part.checks))
