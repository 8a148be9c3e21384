
import numpy as np
import pytest

from simlib.analysis import automation as Z
from simlib.analysis import monitoring as mon
from simlib.params import load_scenario
from simlib.results import mean_ci
from simlib.runner import simulate


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke")


def test_engine_admin_queue_matches_erlang_c(smoke):
    """With a fixed group, uniform question times, round-the-clock admins and no bots, the
    engine's admin queue is M/M/c: its mean wait must agree with Erlang C."""
    params = smoke.with_overrides(Z.mmc_overrides(members=300, question_rate=0.4, answer_minutes=12.0,
                                                  admins=2, days=30))
    lam, mu, c = Z.mmc_rates(params)
    analytic = mon.mmc_mean_wait(lam, mu, c)
    assert analytic == pytest.approx(4.0)
    result = simulate(params, replications=8, seed=11, workers=1)
    assert (result.daily["present"] == 300).all()
    waits = Z.queue_waits(result.questions)
    entry = mean_ci(waits["mean_wait"].tolist())
    assert entry["low"] <= analytic <= entry["high"], (entry, analytic)
    # arrivals are Poisson at the intended rate (questions per day)
    per_day = result.questions.groupby("replication").size().mean() / 30
    assert per_day == pytest.approx(lam * 1440, rel=0.05)


def test_aversion_multiplier_averages_to_article_figure():
    rng = np.random.default_rng(0)
    tolerance = rng.beta(4, 2, 200_000)
    factor = Z.aversion_multiplier(1.0, 0.23, tolerance, 1 - 4 / 6)
    assert factor.mean() == pytest.approx(1.23, abs=0.003)
    assert Z.aversion_multiplier(0.0, 0.23, tolerance, 1 / 3).max() == 1.0
    with pytest.raises(ValueError):
        Z.aversion_multiplier(1.5, 0.23, tolerance, 1 / 3)


def test_level_sweep_metrics_and_reuse(smoke):
    scenarios = Z.level_scenarios((0.0, 1.0))
    scenarios["same_as_zero"] = {"automation.level": 0.0}
    results = Z.sweep_unique(scenarios, base=smoke, replications=2, seed=4, extra=Z.automation_extra)
    assert results["same_as_zero"] is results["level_0.00"]
    zero, full = results["level_0.00"], results["level_1.00"]
    assert (zero.summaries["bot_share"] == 0).all() and (full.summaries["bot_share"] > 0.5).all()
    assert (zero.summaries["tool_cost"] == 0).all()
    assert full.summaries["labour_cost"].mean() < zero.summaries["labour_cost"].mean()
    assert full.summaries["response_mean"].mean() < zero.summaries["response_mean"].mean()
    again = Z.sweep_unique({"x": {"automation.level": 1.0}}, base=smoke, replications=2, seed=4,
                           extra=Z.automation_extra, reuse=results)
    assert again["x"] is full
    best, table = Z.best_level(results, constraints={"within_patience": (">=", 0.0)})
    assert best in results and table["feasible"].all()
    none, table = Z.best_level(results, constraints={"within_patience": (">=", 2.0)})
    assert none is None and not table["feasible"].any()
    with pytest.raises(ValueError):
        Z.best_level(results, constraints={"within_patience": ("==", 0.5)})
    with pytest.raises(ValueError):
        Z.level_scenarios((1.5,))
