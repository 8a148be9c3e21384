"""An estimate with its 95% interval, the exact intervals of counts and rates, and the error
every part of calibration raises."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95


class CalibrationError(ValueError):
    """The log or an argument cannot be calibrated; the message names what and why."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval and the count it rests on."""

    value: float
    low: float
    high: float
    n: int
    unit: str = ""
    method: str = ""

    def contains(self, truth: float) -> bool:
        return bool(self.low <= truth <= self.high)

    def describe(self, digits: int = 4) -> str:
        def fmt(x: float) -> str:
            return f"{x:.{digits}g}" if np.isfinite(x) else "nan"

        unit = f" {self.unit}" if self.unit else ""
        interval = f"95% interval {fmt(self.low)}–{fmt(self.high)}"
        return f"{fmt(self.value)}{unit} ({interval}, n={self.n}; {self.method})"


def poisson_rate(count: int, exposure: float, unit: str = "", method: str = "exact Poisson") -> Estimate:
    """Events per unit of exposure with the exact (Garwood, Gamma) 95% interval."""
    alpha = 1 - CONFIDENCE
    low = sps.gamma.ppf(alpha / 2, count) / exposure if count > 0 else 0.0
    high = sps.gamma.ppf(1 - alpha / 2, count + 1) / exposure
    return Estimate(count / exposure, float(low), float(high), int(count), unit, method)


def daily_hazard(count: int, member_days: float) -> Estimate:
    """Exits per member-day at risk as a hazard: h = −ln(1 − exits / member-days).

    The simulation draws each member's exit once a day with probability 1 − e^−h, so the
    share of member-days that end in an exit estimates 1 − e^−h; the exact Poisson interval
    is transformed the same way.
    """
    rate = poisson_rate(count, member_days)

    def hazard(p: float) -> float:
        return float(-math.log1p(-min(p, 1 - 1e-12)))

    return Estimate(hazard(rate.value), hazard(rate.low), hazard(rate.high), rate.n, "per member-day",
                    "exits / member-days at risk, exact Poisson interval")


def rate_ratio(count_a: int, exposure_a: float, count_b: int, exposure_b: float) -> Estimate:
    """(count_a/exposure_a) / (count_b/exposure_b), exact conditional (Clopper–Pearson) interval."""
    total = count_a + count_b
    scale = exposure_b / exposure_a
    if count_b == 0:
        value = math.inf if count_a > 0 else math.nan
    else:
        value = count_a / count_b * scale
    alpha = 1 - CONFIDENCE
    p_low = sps.beta.ppf(alpha / 2, count_a, total - count_a + 1) if count_a > 0 else 0.0
    p_high = sps.beta.ppf(1 - alpha / 2, count_a + 1, total - count_a) if count_a < total else 1.0
    low = p_low / (1 - p_low) * scale
    high = p_high / (1 - p_high) * scale if p_high < 1 else math.inf
    return Estimate(float(value), float(low), float(high), int(total), "ratio",
                    "rate ratio, exact conditional binomial interval")
