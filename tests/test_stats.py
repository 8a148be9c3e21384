import math

import pytest
from scipy import stats as sps
from scipy.special import betaln

from simlib import stats


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat Med 17:857,
# Table I, method 3 (Wilson score, no continuity correction).
@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_interval_matches_newcombe_table(x, n, low, high):
    ci = stats.proportion_ci(x, n)
    assert ci.rate == pytest.approx(x / n)
    assert ci.low == pytest.approx(low, abs=5e-5)
    assert ci.high == pytest.approx(high, abs=5e-5)


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Stat Med 17:873, Table II, method 10 (hybrid score).
@pytest.mark.parametrize(
    ("b", "nb", "a", "na", "low", "high"),
    [(56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090)],
)
def test_newcombe_difference_interval(b, nb, a, na, low, high):
    result = stats.two_proportion_test(a, na, b, nb)
    assert result.difference == pytest.approx(b / nb - a / na)
    assert result.ci_low == pytest.approx(low, abs=5e-5)
    assert result.ci_high == pytest.approx(high, abs=5e-5)


def test_z_test_matches_hand_formula():
    a, na, b, nb = 120, 1000, 150, 1000
    pooled = (a + b) / (na + nb)
    z = (b / nb - a / na) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    result = stats.two_proportion_test(a, na, b, nb)
    assert result.z == pytest.approx(z)
    assert result.p_value == pytest.approx(2 * sps.norm.sf(z))
    one_sided = stats.two_proportion_test(a, na, b, nb, alternative="larger")
    assert one_sided.p_value == pytest.approx(sps.norm.sf(z))
    assert result.relative_lift == pytest.approx(0.25)


def test_degenerate_groups_give_no_evidence():
    result = stats.two_proportion_test(0, 10, 0, 12)
    assert (result.z, result.p_value) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [((11, 10, 1, 10), "successes_a=11"), ((1, 0, 1, 10), "n_a=0"), ((1, 10, -1, 10), "successes_b=-1"),
     ((1.5, 10, 1, 10), "successes_a=1.5")],
)
def test_bad_counts_name_the_argument(args, fragment):
    with pytest.raises(stats.StatsInputError, match=fragment):
        stats.two_proportion_test(*args)


def test_sample_size_matches_arcsine_formula_and_power():
    plan = stats.sample_size_per_arm(0.10, 0.20)  # 10 % -> 12 %
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    # var(2 asin sqrt(p_hat)) ~ 1/n, so the difference of two arms has variance 2/n
    expected = 2 * ((sps.norm.isf(0.025) + sps.norm.isf(0.2)) / h) ** 2
    assert plan.rate_b == pytest.approx(0.12)
    assert plan.effect_size == pytest.approx(h)
    assert plan.n_a == math.ceil(expected)
    assert plan.n_a == plan.n_b
    assert 3800 < plan.n_a < 3900  # the familiar ~3.8k per arm for 10 % -> 12 %
    assert stats.design_power(0.10, 0.12, plan.n_a) >= 0.8
    assert stats.design_power(0.10, 0.12, plan.n_a - 5) < 0.8


def test_sample_size_absolute_lift_ratio_and_errors():
    plan = stats.sample_size_per_arm(0.25, 0.05, relative=False, ratio=2.0, alternative="larger")
    assert plan.rate_b == pytest.approx(0.30)
    assert plan.n_b == math.ceil(plan.n_a * 2)
    with pytest.raises(stats.StatsInputError, match="lift"):
        stats.sample_size_per_arm(0.6, 1.0)  # target 1.2
    with pytest.raises(stats.StatsInputError, match="baseline_rate"):
        stats.sample_size_per_arm(1.5, 0.1)
    with pytest.raises(stats.StatsInputError, match="alternative"):
        stats.sample_size_per_arm(0.2, -0.1, alternative="larger")


def test_power_grows_with_n_and_is_alpha_under_null_limit():
    small = stats.design_power(0.2, 0.25, 100)
    large = stats.design_power(0.2, 0.25, 2000)
    assert 0 < small < large < 1
    assert stats.design_power(0.2, 0.2 + 1e-9, 50) == pytest.approx(0.05, abs=1e-3)


def _prob_b_better_closed_form(aa, ba, ab, bb):
    """Evan Miller's closed form for integer alpha_b."""
    total = 0.0
    for i in range(int(ab)):
        total += math.exp(betaln(aa + i, ba + bb) - math.log(bb + i) - betaln(1 + i, bb) - betaln(aa, ba))
    return total


def test_bayes_matches_closed_form_and_monte_carlo():
    result = stats.bayes_ab(40, 200, 55, 210, seed=1)
    exact = _prob_b_better_closed_form(result.alpha_a, result.beta_a, result.alpha_b, result.beta_b)
    assert result.prob_b_better == pytest.approx(exact, abs=1e-6)
    assert result.prob_b_better_mc == pytest.approx(exact, abs=0.005)
    assert result.difference_low < result.difference_mean < result.difference_high
    assert result.lift_low < result.lift_median < result.lift_high
    again = stats.bayes_ab(40, 200, 55, 210, seed=1)
    assert again == result  # seeded


def test_bayes_symmetry_and_large_samples():
    assert stats.bayes_ab(30, 100, 30, 100).prob_b_better == pytest.approx(0.5, abs=1e-6)
    big = stats.bayes_ab(10_000, 100_000, 10_300, 100_000)
    # normal approximation of the difference of two posteriors
    sd = math.sqrt(0.1 * 0.9 / 1e5 + 0.103 * 0.897 / 1e5)
    assert big.prob_b_better == pytest.approx(sps.norm.cdf(0.003 / sd), abs=2e-3)
    with pytest.raises(stats.StatsInputError, match="prior"):
        stats.bayes_ab(1, 10, 2, 10, prior=(0, 1))
