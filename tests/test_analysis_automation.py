import numpy as np
import pandas as pd
import pytest

from simlib import findings
from simlib.analysis import automation as Z
from simlib.analysis import monitoring as mon
from simlib.params import load_scenario
from simlib.results import mean_ci
from simlib.runner import simulate

UP = {"mean": 3.0, "low": 1.0, "high": 5.0}
DOWN = {"mean": -3.0, "low": -5.0, "high": -1.0}
FLAT = {"mean": 0.5, "low": -1.0, "high": 2.0}


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke")


def test_engine_admin_queue_matches_erlang_c(smoke):
    """The engine's true M/M/c option (Poisson questions, round-the-clock admins who watch the
    group all the time, no bots): its mean wait must agree with Erlang C."""
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


def test_default_queue_gap_uses_the_queue_s_own_load(smoke):
    questions = pd.DataFrame({
        "replication": [0, 0, 0, 1, 1],
        "answered_by": ["admin", "bot", "admin", "admin", "unanswered"],
        "wait_minutes": [10.0, 0.0, 30.0, 5.0, np.nan],
    })
    daily = pd.DataFrame({"replication": [0, 0, 1, 1], "groups": [1, 1, 2, 2]})
    gap = Z.default_queue_gap(questions, daily, smoke).set_index("replication")
    mu, c = 1 / smoke.monitoring.answer_minutes_mean, smoke.monitoring.admins
    # replication 0: two questions reached the admins over 2 group-days
    assert gap.loc[0, "arrival_per_minute"] == pytest.approx(2 / (2 * 1440))
    expected = mon.mmc_mean_wait(2 / (2 * 1440), mu, c)
    assert gap.loc[0, "erlang_c_wait"] == pytest.approx(expected)
    assert gap.loc[0, "gap"] == pytest.approx(20.0 - expected)
    assert gap.loc[1, "arrival_per_minute"] == pytest.approx(2 / (4 * 1440))
    with pytest.raises(ValueError, match="at least one admin"):
        Z.default_queue_gap(questions, daily, smoke.with_overrides({"monitoring.admins": 0}))


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
    # the value KPIs come from the summary: ranking = revenue − cost + residual
    s = full.summaries
    assert np.allclose(s["ranking_value"], s["revenue_total"] - s["cost_total"] + s["residual_value"])
    again = Z.sweep_unique({"x": {"automation.level": 1.0}}, base=smoke, replications=2, seed=4,
                           extra=Z.automation_extra, reuse=results)
    assert again["x"] is full
    best, table = Z.best_level(results, constraints={"within_patience": (">=", 0.0)})
    assert best in results and table["feasible"].all() and "ranking_value" in table
    none, table = Z.best_level(results, constraints={"within_patience": (">=", 2.0)})
    assert none is None and not table["feasible"].any()
    with pytest.raises(ValueError):
        Z.best_level(results, constraints={"within_patience": ("==", 0.5)})
    with pytest.raises(ValueError):
        Z.level_scenarios((1.5,))


def test_article_figures_table_marks_assumptions(smoke):
    table = Z.article_figures_table(smoke, "en").set_index("Parameter")
    assert table.loc["automation.reach_accuracy_manual", "Value"].endswith("*")
    assert not table.loc["automation.labour_cost_reduction", "Value"].endswith("*")


def _arms(labour, revenue, other, residual):
    """Per-replication columns of two arms whose differences are the given parts."""
    base = {"labour_tool_cost": [100.0, 100.0], "revenue_total": [500.0, 500.0],
            "cost_total": [300.0, 300.0], "residual_value": [50.0, 50.0]}
    arm = {"labour_tool_cost": [100.0 - labour, 100.0 - labour], "revenue_total": [500.0 + revenue] * 2,
           "cost_total": [300.0 - labour - other] * 2, "residual_value": [50.0 + residual] * 2}
    for side in (base, arm):
        side["ranking_value"] = [r - c + v for r, c, v in zip(side["revenue_total"], side["cost_total"],
                                                               side["residual_value"], strict=True)]
    return base, arm


@pytest.mark.parametrize(("parts", "largest"), [((40.0, 5.0, 0.0, -10.0), "labour_tool_saving"),
                                                ((5.0, 1.0, 0.0, -90.0), "residual")])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_value_decomposition_and_driver_finding(parts, largest, lang):
    base, arm = _arms(*parts)
    table = Z.value_decomposition(base, arm).set_index("component")
    assert table.loc["ranking_value", "mean"] == pytest.approx(sum(parts))
    assert table.loc[["labour_tool_saving", "revenue", "other_costs", "residual"], "mean"].tolist() == \
        pytest.approx(list(parts))
    finding = Z.driver_finding(table.reset_index(), "level_0.00", "level_1.00", lang)
    assert Z.say(f"words.{largest}", lang) in finding.text.split("**")[1]
    assert table.loc[largest, "drivers"] in finding.text
    assert findings.problems([finding]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_best_level_wording_follows_the_runner_up_interval(lang):
    clear = {"level_0.00": [10.0, 11.0, 12.0], "level_0.50": [20.0, 21.0, 22.5],
             "level_1.00": [30.0, 31.5, 32.0]}
    close = {**clear, "level_0.50": [29.0, 33.0, 30.0]}
    base, arm = _arms(10.0, 0.0, 0.0, 5.0)
    table = Z.value_decomposition(base, arm)
    separated, _ = Z.best_level_findings(clear, table, "level_0.00", "level_1.00", lang)
    tied, _ = Z.best_level_findings(close, table, "level_0.00", "level_1.00", lang)
    assert separated.headline and separated.key == "best_automation_level"
    lead = separated.checks[-1]
    assert separated.text == Z.say("best_level.separated", lang, best="L = 1.00", second="L = 0.50",
                                   value="¥31", lead=Z._unit("yuan", lang)(
                                       {"mean": lead.mean, "low": lead.low, "high": lead.high}))
    assert lead.relation == "increase" and tied.checks[-1].relation == "unclear"
    assert "L = 1.00" in tied.text and tied.text != separated.text
    assert findings.problems([separated, tied]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_queue_findings_follow_the_numbers(lang):
    inside = Z.queue_check_finding({"mean": 3.9, "low": 3.7, "high": 4.1}, 4.0, lang)
    outside = Z.queue_check_finding({"mean": 3.5, "low": 3.3, "high": 3.7}, 4.0, lang)
    assert inside.text != outside.text
    longer = Z.queue_gap_finding(UP, {"mean": 10.0, "low": 8.0, "high": 12.0}, 7.0, 0.4, lang)
    shorter = Z.queue_gap_finding(DOWN, {"mean": 4.0, "low": 2.0, "high": 6.0}, 7.0, 0.4, lang)
    same = Z.queue_gap_finding(FLAT, {"mean": 7.5, "low": 6.0, "high": 9.0}, 7.0, 0.4, lang)
    overloaded = Z.queue_gap_finding(UP, UP, float("inf"), 1.2, lang)
    assert len({longer.text, shorter.text, same.text, overloaded.text}) == 4
    off_later = Z.shift_finding(UP, lang)
    off_sooner = Z.shift_finding(DOWN, lang)
    assert off_later.text != off_sooner.text
    stated = [inside, outside, longer, shorter, same, overloaded, off_later, off_sooner]
    assert findings.problems(stated) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cost_reach_and_aversion_findings_flip_with_the_sign(lang):
    cut = {"mean": 0.4, "low": 0.35, "high": 0.45}
    rise = {"mean": -0.1, "low": -0.15, "high": -0.05}
    down, up = Z.labour_cut_finding(cut, 0.6, lang), Z.labour_cut_finding(rise, 0.6, lang)
    assert "60%" in down.text and "60%" in up.text and down.text != up.text
    assert "+10.0%" in up.text or "10.0%" in up.text  # the rise is stated as a positive change
    better = Z.reach_finding({"mean": 1.08, "low": 1.05, "high": 1.11}, lang)
    worse = Z.reach_finding({"mean": 0.95, "low": 0.93, "high": 0.97}, lang)
    assert better.checks[0].relation == "increase" and worse.checks[0].relation == "decrease"
    more = Z.aversion_findings(UP, UP, lang)
    fewer = Z.aversion_findings(DOWN, DOWN, lang)
    unclear = Z.aversion_findings(FLAT, FLAT, lang)
    assert len({more[1].text, fewer[1].text, unclear[1].text}) == 3
    assert more[0].text != fewer[0].text
    stated = [down, up, better, worse, *more, *fewer, *unclear]
    assert findings.problems(stated) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_constrained_and_difference_findings(lang):
    table = pd.DataFrame({"scenario": ["level_1.00", "level_0.00"], "ranking_value": [30.0, 10.0],
                          "within_patience": [0.9, 0.7], "feasible": [True, False]})
    constraints = {"within_patience": (">=", 0.8)}
    found = Z.constrained_finding("level_1.00", table, constraints, lang)
    none = Z.constrained_finding(None, table.assign(within_patience=[0.75, 0.7], feasible=False), constraints,
                                 lang)
    assert "L = 1.00" in found.text and found.text != none.text
    up = Z.difference_findings({"within_patience": UP, "ranking_value": UP}, "B − A", lang)
    down = Z.difference_findings({"within_patience": DOWN, "ranking_value": DOWN}, "B − A", lang)
    assert [f.checks[0].relation for f in up] == ["increase"] * 2
    assert [f.checks[0].relation for f in down] == ["decrease"] * 2
    assert all(a.text != b.text for a, b in zip(up, down, strict=True))
    assert findings.problems([found, none, *up, *down]) == []
