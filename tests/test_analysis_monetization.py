import math

import numpy as np
import pandas as pd
import pytest

from simlib import findings
from simlib.analysis import monetization as mo
from simlib.model import GroupModel, run_replication
from simlib.params import MODE_NAMES, load_scenario
from simlib.runner import simulate
from simlib.schema import TZ


def test_article_table_marks_the_blank_membership_cell_and_the_assumed_prices():
    table = mo.article_table(load_scenario("baseline")).set_index("mode")
    assert table.loc["ecommerce", "difficulty"] == "★★★☆☆"
    assert (table.loc["paid_knowledge", "conversion_low"],
            table.loc["paid_knowledge", "conversion_high"]) == (0.12, 0.22)
    assert table.loc["membership", "conversion_assumed"] and not table.loc["ecommerce", "conversion_assumed"]
    assert table.loc["membership", "conversion"].endswith("*")
    assert table.loc["ecommerce", "conversion"] == "8%–15%"
    assert table.loc["membership", "acceptance"] == "84%"
    assert table.loc["ecommerce", "order_value"].endswith("*")  # the article gives no prices
    assert "*" in mo.table6_footnote("en")
    with pytest.raises(ValueError):
        mo.stars(6)


@pytest.mark.parametrize("share", [0.0, 0.05, 0.15, 0.3, 0.4])
def test_share_and_posts_per_week_are_inverse(share):
    per_week = mo.posts_per_week_for_share(share, 4)
    assert mo.share_from_posts_per_week(per_week, 4) == pytest.approx(share) if per_week else share == 0
    if share == 0.15:
        assert per_week == pytest.approx(0.6 / 0.85)


def test_bad_shares_raise():
    with pytest.raises(ValueError, match="share"):
        mo.posts_per_week_for_share(1.0, 4)
    with pytest.raises(ValueError, match="share"):
        mo.posts_per_week_for_share(-0.1, 4)
    with pytest.raises(ValueError, match="per_week"):
        mo.mode_alone_overrides(0)
    with pytest.raises(ValueError, match="modes"):
        mo.mode_alone_overrides(1.0, ["lottery"])


def test_realised_share_in_simulation_matches_plan():
    base = load_scenario("baseline").with_overrides({"simulation.days": 140,
                                                     "simulation.initial_members": 60})
    overrides = mo.share_sweep_overrides(base, [0.25])["share_25"]
    run = run_replication(base.with_overrides(overrides), 11, 0)
    extra = mo.monetization_extra(run)
    # deterministic schedule: the realised count share is within one post of the plan
    posts = len(run.tables["posts"])
    assert abs(extra["realised_share"] - 0.25) <= 1.5 / posts + 0.01
    assert extra["commercial_revenue"] > 0
    assert extra["commercial_revenue"] <= extra["revenue"]


def test_mode_alone_sells_only_that_mode():
    base = load_scenario("smoke")
    arms = mo.mode_alone_overrides(1.0)
    assert set(arms) == set(MODE_NAMES)
    params = base.with_overrides(arms["membership"])
    assert params.monetization.commercial_posts_per_week == {"ecommerce": 0.0, "paid_knowledge": 0.0,
                                                             "brand_deal": 0.0, "membership": 1.0}
    none = base.with_overrides(mo.share_sweep_overrides(base, [0.0])["share_00"])
    extra = mo.monetization_extra(run_replication(none, 5, 0))
    assert extra["realised_share"] == 0.0 and extra["commercial_revenue"] == 0.0


def test_monetization_extra_reproducible():
    params = load_scenario("smoke")
    assert mo.monetization_extra(run_replication(params, 2, 0)) == mo.monetization_extra(
        run_replication(params, 2, 0)
    )


def _events(rows):
    frame = pd.DataFrame(rows, columns=["ts", "member_id", "event", "amount"])
    frame["ts"] = [pd.Timestamp(t, tz=TZ) for t in frame["ts"]]
    frame["ref_id"] = None
    return frame


def test_repurchase_rate_by_hand():
    events = _events([("2026-01-01", "a", "purchase", 10.0), ("2026-01-09", "a", "purchase", 12.0),
                      ("2026-01-02", "b", "purchase", 5.0), ("2026-01-03", "c", "message", np.nan),
                      ("2026-01-04", "d", "purchase", 7.0), ("2026-02-04", "d", "purchase", 7.0),
                      ("2026-03-04", "d", "purchase", 7.0)])
    assert mo.repurchase_rate(events) == pytest.approx(2 / 3)
    assert math.isnan(mo.repurchase_rate(events[events["event"] != "purchase"]))


def test_observed_summary_divides_by_members_or_buyers():
    events = _events([("2026-01-01", "a", "purchase", 10.0), ("2026-01-09", "a", "purchase", 30.0),
                      ("2026-01-02", "b", "purchase", 20.0)])

    class Log:
        pass

    log = Log()
    log.events, log.members = events, pd.DataFrame({"member_id": ["a", "b", "c", "d"]})
    summary = mo.observed_summary(log)
    assert summary["revenue"] == 60 and summary["per"] == "member" and summary["revenue_per_member"] == 15
    log.members = pd.DataFrame(columns=["member_id"])
    summary = mo.observed_summary(log)
    assert summary["per"] == "buyer" and summary["revenue_per_member"] == 30


def test_value_peak_is_the_peak_of_the_mean_curve_with_a_bootstrap_interval():
    clear = {0.0: [1.0, 1.1, 0.9, 1.0], 0.1: [3.0, 3.2, 2.9, 3.1], 0.2: [2.0, 2.1, 1.9, 2.0]}
    peak = mo.value_peak(clear)
    assert (peak["mean"], peak["low"], peak["high"]) == (0.1, 0.1, 0.1)
    assert peak["per_replication"] == [0.1] * 4 and peak["unit"] == "share" and peak["n"] == 4
    flat = {0.0: [1.0, 3.0, 1.0, 3.0], 0.1: [3.0, 1.0, 3.0, 1.0], 0.2: [0.0, 0.0, 0.0, 0.0]}
    wide = mo.value_peak(flat, seed=1)
    assert wide["mean"] == 0.0  # a tie goes to the smaller share
    assert (wide["low"], wide["high"]) == (0.0, 0.1)
    with pytest.raises(ValueError, match="at least two"):
        mo.value_peak({0.1: [1.0]})


def test_sensitivity_arms_cover_both_sides_of_each_assumption():
    params = load_scenario("smoke")
    arms = mo.sensitivity_overrides(params, [0.0, 0.15])
    assert len(arms) == 2 * 2 * len(mo.SENSITIVITY_KEYS)
    key, side, share = mo.sensitivity_arm("members.ad_exit_slope=high|share_15")
    assert (key, side, share, mo.share_of(share)) == ("members.ad_exit_slope", "high", "share_15", 0.15)
    slope = params.members.ad_exit_slope
    assert arms["members.ad_exit_slope=high|share_15"]["members.ad_exit_slope"] == 2 * slope
    no_fatigue = params.with_overrides({"monetization.purchase_fatigue": 0.0})
    assert mo.sensitivity_values(no_fatigue)["monetization.purchase_fatigue"] == {"low": 0.0, "high": 1.0}


def test_other_residual_horizons_match_a_run_with_that_horizon():
    params = load_scenario("smoke").with_overrides({"simulation.days": 40})
    longer = params.with_overrides({"metrics.residual_horizon_months": mo.residual_horizons(params)["long"]})
    base = simulate(params, replications=1, seed=3, extra=mo.monetization_extra)
    moved = simulate(longer, replications=1, seed=3)
    assert base.values("ranking_value_residual_long") == pytest.approx(moved.values("ranking_value"))


UP = {"mean": 3.0, "low": 1.0, "high": 5.0}
DOWN = {"mean": -3.0, "low": -5.0, "high": -1.0}
FLAT = {"mean": 0.5, "low": -1.0, "high": 2.0}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_peak_wording_follows_the_interval_against_the_cap(lang):
    shares = [0.0, 0.1, 0.15, 0.2, 0.4]
    below = mo.peak_finding({"mean": 0.1, "low": 0.0, "high": 0.1}, 0.15, shares, lang)
    above = mo.peak_finding({"mean": 0.2, "low": 0.2, "high": 0.4}, 0.15, shares, lang)
    around = mo.peak_finding({"mean": 0.15, "low": 0.1, "high": 0.2}, 0.15, shares, lang)
    edge = mo.peak_finding({"mean": 0.4, "low": 0.2, "high": 0.4}, 0.15, shares, lang)
    assert len({below.text, above.text, around.text}) == 3
    assert edge.text.startswith(above.text.split("**")[0]) and edge.text != above.text
    assert all(f.headline and f.key == "best_commercial_share" for f in (below, above, around, edge))
    assert findings.problems([below, above, around, edge]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mode_step_holdout_and_sensitivity_findings_flip_with_the_numbers(lang):
    values = np.array([[10.0, 11.0, 12.0], [20.0, 21.0, 22.5], [1.0, 2.0, 1.5]])
    clear = dict(zip(("ecommerce", "paid_knowledge", "brand_deal"), values.tolist(), strict=True))
    separated = mo.best_mode_finding(clear, 0.7, lang)
    tied = mo.best_mode_finding({**clear, "ecommerce": [19.0, 23.0, 20.0]}, 0.7, lang)
    assert mo.say("modes.paid_knowledge", lang) in separated.text and separated.text != tied.text
    more, fewer = (mo.mode_exits_finding(entry, "brand_deal", lang) for entry in (UP, DOWN))
    assert more.text != fewer.text
    up = mo.step_findings({"ranking_value": UP, "exits": UP, "retention_d30": UP}, "15% → 20%", lang)
    down = mo.step_findings({"ranking_value": DOWN, "exits": DOWN, "retention_d30": DOWN}, "15% → 20%", lang)
    assert [f.checks[0].relation for f in up] == ["increase"] * 3
    assert all(a.text != b.text for a, b in zip(up, down, strict=True))
    close_fit, under, over = (mo.holdout_finding(guess, 100.0, lang) for guess in (102.0, 80.0, 130.0))
    assert len({close_fit.text, under.text, over.text}) == 3 and "20.0%" in under.text
    peak = {"mean": 0.2, "low": 0.1, "high": 0.3}
    lower = mo.sensitivity_finding("members.ad_exit_slope", (4.0, peak), (16.0, {**peak, "mean": 0.1}), lang)
    higher = mo.sensitivity_finding("members.ad_exit_slope", (4.0, peak), (16.0, {**peak, "mean": 0.3}), lang)
    same = mo.sensitivity_finding("members.ad_exit_slope", (4.0, peak), (16.0, peak), lang)
    assert len({lower.text, higher.text, same.text}) == 3
    stated = [separated, tied, more, fewer, *up, *down, close_fit, under, over, lower, higher, same]
    assert findings.problems(stated) == []


def test_repurchase_note_gives_the_register_s_reason():
    note = mo.repurchase_note("no platforms in the model", (3.0, 5.0), {"mean": 0.4, "low": 0.3, "high": 0.5},
                              "en")
    assert "no platforms in the model" in note and "8%–13%" in note


def test_annoyance_weights_match_model():
    params = load_scenario("smoke")
    model = GroupModel(params, np.random.SeedSequence(1))
    assert mo.annoyance_weights(params) == pytest.approx(model.annoyance)
    assert np.mean(list(mo.annoyance_weights(params).values())) == pytest.approx(1.0)
