"""Small, checked statistics for A/B tests: proportions, their differences, planning, Bayes.

* :func:`proportion_ci` — Wilson score interval of one proportion.
* :func:`two_proportion_test` — z-test of two independent proportions (statsmodels) with a
  Newcombe (hybrid Wilson score) interval of the difference.
* :func:`sample_size_per_arm` and :func:`design_power` — planning an A/B test with Cohen's
  arcsine effect size ``h`` (statsmodels ``NormalIndPower``).
* :func:`bayes_ab` — beta-binomial comparison: posterior P(B > A) (exact, by one-dimensional
  integration, and by seeded Monte Carlo) and credible intervals of the difference and lift.

Every function returns a small frozen dataclass. Convention: "difference" is always B − A.
Scenario replications run with common random numbers are compared by :mod:`simlib.compare`.
Bad input raises :class:`StatsInputError` (a ``ValueError``) naming the argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

ALTERNATIVES = ("two-sided", "larger", "smaller")
# Our names → statsmodels' names for the interval of a difference of two proportions.
DIFF_CI_METHODS = {"newcombe": "newcomb", "score": "score", "agresti-caffo": "agresti-caffo", "wald": "wald"}


class StatsInputError(ValueError):
    """An argument of a statistics function is out of range."""


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_count(name: str, successes: object, n_name: str, n: object) -> tuple[int, int]:
    for label, value in ((n_name, n), (name, successes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if not (isinstance(value, (float, np.floating)) and float(value).is_integer()):
                raise StatsInputError(f"{label}={value!r}: expected a whole number")
    successes, n = int(successes), int(n)
    if n <= 0:
        raise StatsInputError(f"{n_name}={n}: expected a sample size > 0")
    if not 0 <= successes <= n:
        raise StatsInputError(f"{name}={successes}: expected 0 <= {name} <= {n_name} ({n})")
    return successes, n


def _check_unit(name: str, value: float, *, closed: bool = False) -> float:
    value = float(value)
    ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok or math.isnan(value):
        bounds = "[0, 1]" if closed else "(0, 1)"
        raise StatsInputError(f"{name}={value!r}: expected a value in {bounds}")
    return value


def _check_alternative(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise StatsInputError(f"alternative={alternative!r}: expected one of {list(ALTERNATIVES)}")
    return alternative


# ---------------------------------------------------------------------------------------------
# one proportion


@dataclass(frozen=True)
class ProportionCI:
    successes: int
    n: int
    rate: float
    low: float
    high: float
    confidence: float
    method: str = "wilson"


def proportion_ci(successes: int, n: int, confidence: float = 0.95) -> ProportionCI:
    """Wilson score interval of ``successes / n``."""
    successes, n = _check_count("successes", successes, "n", n)
    confidence = _check_unit("confidence", confidence)
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return ProportionCI(successes, n, successes / n, float(low), float(high), confidence)


# ---------------------------------------------------------------------------------------------
# two independent proportions


@dataclass(frozen=True)
class ProportionTest:
    successes_a: int
    n_a: int
    successes_b: int
    n_b: int
    rate_a: float
    rate_b: float
    difference: float  # rate_b - rate_a
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    alternative: str
    confidence: float
    ci_method: str

    @property
    def relative_lift(self) -> float:
        """(rate_b - rate_a) / rate_a; NaN when rate_a is 0."""
        return self.difference / self.rate_a if self.rate_a > 0 else math.nan


def two_proportion_test(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    alternative: str = "two-sided",
    confidence: float = 0.95,
    ci_method: str = "newcombe",
) -> ProportionTest:
    """Pooled two-proportion z-test of B vs A and an interval of the difference B − A.

    ``alternative`` "larger" tests rate_b > rate_a. The interval is two-sided at
    ``confidence``; ``ci_method`` is one of "newcombe" (hybrid Wilson score, default), "score",
    "agresti-caffo" or "wald". When both groups are all-failures or all-successes the pooled
    variance is zero; the test then reports z = 0 and p = 1 (no evidence of a difference).
    """
    successes_a, n_a = _check_count("successes_a", successes_a, "n_a", n_a)
    successes_b, n_b = _check_count("successes_b", successes_b, "n_b", n_b)
    alternative = _check_alternative(alternative)
    confidence = _check_unit("confidence", confidence)
    if ci_method not in DIFF_CI_METHODS:
        raise StatsInputError(f"ci_method={ci_method!r}: expected one of {list(DIFF_CI_METHODS)}")
    pooled = (successes_a + successes_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        z, p_value = 0.0, 1.0
    else:
        z, p_value = proportions_ztest([successes_b, successes_a], [n_b, n_a], alternative=alternative)
    low, high = confint_proportions_2indep(
        successes_b, n_b, successes_a, n_a,
        method=DIFF_CI_METHODS[ci_method], compare="diff", alpha=1 - confidence,
    )
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    return ProportionTest(
        successes_a, n_a, successes_b, n_b, rate_a, rate_b, rate_b - rate_a,
        float(low), float(high), float(z), float(p_value), alternative, confidence, ci_method,
    )


# ---------------------------------------------------------------------------------------------
# planning


@dataclass(frozen=True)
class SampleSize:
    rate_a: float
    rate_b: float
    effect_size: float  # Cohen's h = 2 asin(sqrt(rate_b)) - 2 asin(sqrt(rate_a))
    n_a: int
    n_b: int
    alpha: float
    power: float
    alternative: str

    @property
    def total(self) -> int:
        return self.n_a + self.n_b


def _target_rate(baseline_rate: float, lift: float, relative: bool) -> float:
    rate_b = baseline_rate * (1 + lift) if relative else baseline_rate + lift
    if not 0.0 < rate_b < 1.0:
        kind = "relative" if relative else "absolute"
        raise StatsInputError(
            f"lift={lift!r} ({kind}) on baseline_rate={baseline_rate} gives rate {rate_b:.4g}; "
            "expected a target rate in (0, 1)"
        )
    if rate_b == baseline_rate:
        raise StatsInputError("lift=0: expected a non-zero lift (no sample size detects no effect)")
    return rate_b


def sample_size_per_arm(
    baseline_rate: float,
    lift: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> SampleSize:
    """Members needed per arm to detect ``lift`` over ``baseline_rate``.

    ``lift`` is relative (0.1 = +10 %) unless ``relative=False``. ``ratio`` = n_b / n_a.
    Uses the normal approximation with the arcsine effect size (Cohen 1988), rounded up.
    For "larger"/"smaller" the sign of the lift must match the alternative.
    """
    baseline_rate = _check_unit("baseline_rate", baseline_rate)
    alpha = _check_unit("alpha", alpha)
    power = _check_unit("power", power)
    alternative = _check_alternative(alternative)
    if not ratio > 0:
        raise StatsInputError(f"ratio={ratio!r}: expected n_b / n_a > 0")
    rate_b = _target_rate(baseline_rate, lift, relative)
    h = float(proportion_effectsize(rate_b, baseline_rate))
    if (alternative == "larger" and h < 0) or (alternative == "smaller" and h > 0):
        raise StatsInputError(f"lift={lift!r} points the other way from alternative={alternative!r}")
    effect = abs(h) if alternative == "two-sided" else h
    n_a = NormalIndPower().solve_power(
        effect_size=effect, nobs1=None, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    n_a = math.ceil(float(np.asarray(n_a).item()) - 1e-9)
    return SampleSize(baseline_rate, rate_b, h, n_a, math.ceil(n_a * ratio - 1e-9), alpha, power, alternative)


def design_power(
    rate_a: float,
    rate_b: float,
    n_a: int,
    n_b: int | None = None,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> float:
    """Power of a two-arm test with ``n_a`` and ``n_b`` (default ``n_a``) members per arm."""
    rate_a = _check_unit("rate_a", rate_a)
    rate_b = _check_unit("rate_b", rate_b)
    alpha = _check_unit("alpha", alpha)
    alternative = _check_alternative(alternative)
    n_b = n_a if n_b is None else n_b
    for name, value in (("n_a", n_a), ("n_b", n_b)):
        if not value > 0:
            raise StatsInputError(f"{name}={value!r}: expected a sample size > 0")
    h = float(proportion_effectsize(rate_b, rate_a))
    effect = abs(h) if alternative == "two-sided" else h
    return float(NormalIndPower().power(effect, nobs1=n_a, alpha=alpha, ratio=n_b / n_a,
                                        alternative=alternative))


# ---------------------------------------------------------------------------------------------
# Bayesian beta-binomial


@dataclass(frozen=True)
class BayesComparison:
    alpha_a: float  # posterior Beta(alpha, beta) parameters
    beta_a: float
    alpha_b: float
    beta_b: float
    prob_b_better: float  # exact P(p_b > p_a), numerical integration
    prob_b_better_mc: float  # the same by Monte Carlo (check)
    difference_mean: float  # E[p_b - p_a]
    difference_low: float
    difference_high: float
    lift_median: float  # median of (p_b - p_a) / p_a
    lift_low: float
    lift_high: float
    expected_loss_b: float  # E[max(p_a - p_b, 0)]: what choosing B costs if it is worse
    credible: float
    draws: int


def _prob_b_better_exact(alpha_a: float, beta_a: float, alpha_b: float, beta_b: float) -> float:
    """P(X_b > X_a) = ∫ f_b(x) F_a(x) dx for independent Beta variables."""
    dist_a, dist_b = sps.beta(alpha_a, beta_a), sps.beta(alpha_b, beta_b)
    lo, hi = dist_b.ppf(1e-12), dist_b.isf(1e-12)  # where B has all its mass
    value, _ = integrate.quad(lambda x: dist_b.pdf(x) * dist_a.cdf(x), lo, hi, limit=200, epsabs=1e-10)
    return float(min(max(value, 0.0), 1.0))


def bayes_ab(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible: float = 0.95,
    draws: int = 200_000,
    seed: int | np.random.Generator = 0,
) -> BayesComparison:
    """Beta-binomial comparison of B vs A with a Beta(prior) on both rates.

    P(B > A) is computed exactly (numerical integration); the credible intervals of the
    difference and of the relative lift are equal-tailed quantiles of ``draws`` seeded
    Monte Carlo samples from the two posteriors.
    """
    successes_a, n_a = _check_count("successes_a", successes_a, "n_a", n_a)
    successes_b, n_b = _check_count("successes_b", successes_b, "n_b", n_b)
    credible = _check_unit("credible", credible)
    if len(prior) != 2 or not all(float(v) > 0 for v in prior):
        raise StatsInputError(f"prior={prior!r}: expected (alpha, beta) with both > 0")
    if int(draws) < 1000:
        raise StatsInputError(f"draws={draws!r}: expected at least 1000 Monte Carlo draws")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    a0, b0 = float(prior[0]), float(prior[1])
    alpha_a, beta_a = a0 + successes_a, b0 + n_a - successes_a
    alpha_b, beta_b = a0 + successes_b, b0 + n_b - successes_b
    p_a = rng.beta(alpha_a, beta_a, size=int(draws))
    p_b = rng.beta(alpha_b, beta_b, size=int(draws))
    diff = p_b - p_a
    lift = diff / p_a
    tails = [(1 - credible) / 2, (1 + credible) / 2]
    d_low, d_high = np.quantile(diff, tails)
    l_low, l_high = np.quantile(lift, tails)
    return BayesComparison(
        alpha_a, beta_a, alpha_b, beta_b,
        prob_b_better=_prob_b_better_exact(alpha_a, beta_a, alpha_b, beta_b),
        prob_b_better_mc=float(np.mean(diff > 0)),
        difference_mean=alpha_b / (alpha_b + beta_b) - alpha_a / (alpha_a + beta_a),
        difference_low=float(d_low),
        difference_high=float(d_high),
        lift_median=float(np.median(lift)),
        lift_low=float(l_low),
        lift_high=float(l_high),
        expected_loss_b=float(np.mean(np.maximum(-diff, 0.0))),
        credible=credible,
        draws=int(draws),
    )
