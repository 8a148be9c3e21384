"""Numbers as the notebooks print them: one value, or a value with its 95% interval.

Every function takes either a plain number or an entry with ``mean``, ``low`` and ``high`` (a
results-JSON metric, a :mod:`simlib.compare` result, a table row as a ``pandas.Series``):

>>> num(1234.5, 1), num({"mean": 2.0, "low": 1.5, "high": 2.5}, 1)
('1,234.5', '2.0 [1.5, 2.5]')
>>> pct({"mean": 0.652, "low": 0.631, "high": 0.674})
'65.2% [63.1%, 67.4%]'
>>> pp({"mean": 0.012, "low": 0.003, "high": 0.021})
'+1.2 [+0.3, +2.1] 个百分点'

An unknown value (None or NaN, e.g. 90-day retention in a 60-day run) prints as "—"; an entry
whose interval is unknown prints its mean alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

MISSING = "—"
LANGS = ("zh", "en")
_POINTS = {"zh": " 个百分点", "en": " pp"}
_YUAN = {"zh": " 元", "en": " CNY"}
_VERDICTS = {
    "zh": {"above": "（区间全在0以上：可认为提高）", "below": "（区间全在0以下：可认为降低）",
           "spans": "（区间含0：不能断言有差别）", "unknown": "（无法估计）"},
    "en": {"above": " (interval above 0: an increase)", "below": " (interval below 0: a decrease)",
           "spans": " (interval includes 0: no difference can be claimed)", "unknown": " (not estimable)"},
}


def as_float(value: Any) -> float:
    """``value`` as a float; None (and anything that is not a number) as NaN."""
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def _is_entry(value: Any) -> bool:
    return isinstance(value, Mapping) or (hasattr(value, "get") and hasattr(value, "index"))


def _triple(value: Any) -> tuple[float, float, float]:
    """(mean, low, high) of an entry; (value, NaN, NaN) of a plain number."""
    if _is_entry(value):
        return as_float(value.get("mean")), as_float(value.get("low")), as_float(value.get("high"))
    return as_float(value), math.nan, math.nan


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {LANGS}")
    return lang


def _render(value: Any, one: Callable[[float], str]) -> str:
    """``one(mean)`` and, when the interval is known, `` [one(low), one(high)]``."""
    mean, low, high = _triple(value)
    if math.isnan(mean):
        return MISSING
    if math.isnan(low) or math.isnan(high):
        return one(mean)
    return f"{one(mean)} [{one(low)}, {one(high)}]"


def num(value: Any, digits: int = 2) -> str:
    """A number with thousands separators: '1,234.57', or '12.30 [11.80, 12.90]'."""
    return _render(value, lambda x: f"{x:,.{digits}f}")


def signed(value: Any, digits: int = 2) -> str:
    """A difference, always with its sign: '+3.10', or '+3.10 [-0.40, +6.60]'."""
    return _render(value, lambda x: f"{x:+,.{digits}f}")


def pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage: '65.2%', or '65.2% [63.1%, 67.4%]'."""
    return _render(value, lambda x: f"{100 * x:.{digits}f}%")


def share(value: Any, digits: int = 1) -> str:
    """:func:`pct` of a share whose interval is clipped to [0, 100%] (a t interval from few
    replications can overshoot what a share can be)."""
    mean, low, high = _triple(value)
    clipped = {"mean": mean, "low": min(1.0, max(0.0, low)), "high": min(1.0, max(0.0, high))}
    return pct(clipped if not math.isnan(low) and not math.isnan(high) else mean, digits)


def pp(value: Any, digits: int = 1, lang: str = "zh") -> str:
    """A difference of two shares in percentage points, with sign: '+1.2 [+0.3, +2.1] 个百分点'."""
    text = _render(value, lambda x: f"{100 * x:+.{digits}f}")
    return text if text == MISSING else text + _POINTS[_check_lang(lang)]


def yuan(value: Any, digits: int = 0, lang: str = "zh") -> str:
    """A difference of two amounts, with sign and unit: '+1,234 [+100, +2,368] 元'."""
    return signed(value, digits) + _YUAN[_check_lang(lang)]


def money(value: Any, digits: int = 0) -> str:
    """An amount in yuan: '¥1,234', '-¥56', or '¥1,234 [¥1,100, ¥1,368]'."""
    return _render(value, lambda x: f"{'-' if x < 0 else ''}¥{abs(x):,.{digits}f}")


def verdict(value: Any, lang: str = "zh") -> str:
    """Whether a difference's 95% interval excludes 0, as a phrase to put after the number:
    '（区间全在0以上：可认为提高）', '（区间全在0以下：可认为降低）', '（区间含0：不能断言有差别）'."""
    phrases = _VERDICTS[_check_lang(lang)]
    mean, low, high = _triple(value)
    if math.isnan(mean) or math.isnan(low) or math.isnan(high):
        return phrases["unknown"]
    if low > 0:
        return phrases["above"]
    if high < 0:
        return phrases["below"]
    return phrases["spans"]
