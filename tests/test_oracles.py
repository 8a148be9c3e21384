"""Analytic results the simulation must reproduce (each inside the simulation's 99% interval).

Each test switches off the mechanisms that the formula does not describe, so that the
engine's output has a known distribution, then compares the simulated estimate (mean over
replications with a t interval) with the closed form.
"""

import math

import numpy as np
import pytest
from scipy import stats

from simlib.params import load_scenario
from simlib.results import mean_ci
from simlib.runner import simulate

# Six interval checks at 99% each: the chance that any of them fails by chance alone stays
# near 6% (Bonferroni), so a change of random streams does not call for new seeds.
CONFIDENCE = 0.99

# A closed group with constant chat behaviour: no arrivals, exits, posts, activities,
# questions, incidents or interest dynamics.
QUIET = {
    "simulation.days": 120, "simulation.initial_members": 300, "simulation.group_cap": 500,
    "members.engagement_sigma": 0.0, "members.novelty_boost": 0.0, "members.interest_floor": 1.0,
    "members.content_interest_gain": 0.0, "members.chat_interest_gain": 0.0, "members.base_exit_hazard": 0.0,
    "members.question_rate": 0.0,
    "arrivals.channels.organic.daily_reach": 0.0, "arrivals.channels.douyin.daily_reach": 0.0,
    "arrivals.channels.xiaohongshu.daily_reach": 0.0, "arrivals.share_join_prob": 0.0,
    "content.calendar": [], "activities.schedule": [], "tiering.enabled": False,
    "monetization.commercial_posts_per_week": {"ecommerce": 0.0},
    "risk.types.info_leak.incidents_per_year": 0.0, "risk.types.opinion_crisis.incidents_per_year": 0.0,
    "risk.types.data_loss.incidents_per_year": 0.0, "risk.types.violation.incidents_per_year": 0.0,
    # Channels differ in engagement; make every member the same.
    **{
        f"arrivals.channels.{channel}.engagement": 1.0
        for channel in ("organic", "douyin", "xiaohongshu", "referral")
    },
}


def quiet(**changes):
    return load_scenario("baseline", {**QUIET, **changes})


def tier_share(result, tier, first_day=60):
    daily = result.daily[result.daily["day"] >= first_day]
    per_replication = daily.groupby("replication").apply(
        lambda d: (d[tier] / d["present"]).mean(), include_groups=False
    )
    return mean_ci(per_replication.tolist(), CONFIDENCE)


def test_silent_share_is_the_poisson_zero_probability():
    # A member is silent after 15 days without interaction: P = exp(-15 λ) in steady state.
    rate = 0.1
    result = simulate(quiet(**{"members.chat_rate_mean": rate}), replications=6, seed=11, workers=2)
    expected = math.exp(-15 * rate)
    estimate = tier_share(result, "silent")
    assert estimate["low"] <= expected <= estimate["high"], (expected, estimate)


def test_active_share_is_the_poisson_tail():
    # Active: ≥5 interactions in 7 days: P(Poisson(7λ) ≥ 5).
    rate = 0.6
    result = simulate(quiet(**{"members.chat_rate_mean": rate}), replications=6, seed=12, workers=2)
    expected = stats.poisson.sf(4, 7 * rate)
    estimate = tier_share(result, "active")
    assert estimate["low"] <= expected <= estimate["high"], (expected, estimate)


def test_message_volume_matches_the_rate():
    rate = 0.25
    result = simulate(quiet(**{"members.chat_rate_mean": rate}), replications=5, seed=13, workers=2)
    estimate = mean_ci(result.values("messages_per_100_members_per_day"), CONFIDENCE)
    assert estimate["low"] <= 100 * rate <= estimate["high"], estimate


def test_poisson_arrivals_count_and_dispersion():
    # Organic joins: Poisson with rate reach × click × join per day, admitted below the cap.
    params = quiet(**{
        "arrivals.channels.organic.daily_reach": 100.0, "arrivals.channels.organic.join_rate": 0.02,
        "simulation.initial_members": 0, "simulation.days": 100,
    })
    result = simulate(params, replications=12, seed=14, workers=2, extra=None)
    joins = result.summaries["members"].to_numpy()
    expected = 2.0 * 100
    estimate = mean_ci(joins.tolist(), CONFIDENCE)
    assert estimate["low"] <= expected <= estimate["high"], estimate
    # Poisson: variance ≈ mean (chi-square test of the dispersion index at 1%).
    dispersion = joins.var(ddof=1) * (joins.size - 1) / joins.mean()
    assert stats.chi2.ppf(0.005, joins.size - 1) < dispersion < stats.chi2.ppf(0.995, joins.size - 1)


def test_exit_hazard_gives_exponential_survival():
    hazard = 0.004
    params = quiet(**{
        "members.base_exit_hazard": hazard, "members.chat_rate_mean": 2.0, "simulation.days": 90,
    })
    result = simulate(params, replications=6, seed=15, workers=2)
    remaining = (result.summaries["final_members"] / 300).tolist()
    estimate = mean_ci(remaining, CONFIDENCE)
    expected = math.exp(-hazard * 90)
    assert estimate["low"] <= expected <= estimate["high"], (expected, estimate)


@pytest.mark.parametrize("content_type", ["knowledge", "flash_deal", "discussion", "live_preview"])
def test_open_and_interaction_rates_reproduce_table_2(content_type):
    # Posts in the type's best slot, reach 100%, interest effect off: the population means
    # must equal the article's table 2 (calibration of the logit shift).
    params = quiet(**{"content.interest_multiplier_power": 0.0, "automation.reach_accuracy_manual": 1.0,
                      "members.open_logit_sigma": 0.8, "simulation.days": 28})
    slot = params.content.types[content_type].best_slots[0]
    calendar = [{"type": content_type, "weekday": slot.weekday, "time": slot.start}]
    params = params.with_overrides({"content.calendar": calendar})
    result = simulate(params, replications=3, seed=16, keep_tables=True)
    opens = recipients = replies = 0
    for run in result.runs:
        events = run.tables["events"]
        post_events = events[events["ref_id"].astype(str).str.startswith("p", na=False)]
        opens += int((post_events["event"] == "open").sum())
        replies += int((post_events["event"] == "message").sum())
        recipients += 300 * len(run.tables["posts"])
    spec = params.content.types[content_type]
    assert abs(opens / recipients - spec.open_rate) < 0.03
    assert abs(replies / recipients - spec.interaction_rate) < 0.03
    # And the binomial interval of the pooled rate covers the target.
    low, high = stats.binomtest(opens, recipients).proportion_ci(0.99)
    assert low <= spec.open_rate <= high


def test_referral_branching_mean_matches_one_over_one_minus_r():
    # Referral lottery with a big cap: participants per initial participant → 1/(1−R) over
    # generations (R < 1), truncated at the activity's duration. (300 members: the cap of 500
    # is never reached, so no newcomer is turned away.)
    params = quiet(**{
        "simulation.initial_members": 300, "simulation.days": 30,
        "activities.schedule": [{"type": "referral_lottery", "every_days": 100, "first_day": 1}],
        "activities.types.referral_lottery.duration_days": 12,
        "activities.types.referral_lottery.participation": 0.3,
        "activities.types.referral_lottery.invites_mean": 2.0,
        "activities.types.referral_lottery.invite_accept_prob": 0.3,
        "activities.types.referral_lottery.newcomer_participation": 0.5,
    })
    reproduction = params.activities.types.referral_lottery.reproduction_number
    days = params.activities.types.referral_lottery.duration_days
    expected = sum(reproduction**g for g in range(days))  # generations 0 … duration−1
    result = simulate(params, replications=20, seed=17, workers=2)
    acts = result.activities
    ratio = (acts["participants"] / (acts["participants"] - acts["newcomer_participants"])).tolist()
    estimate = mean_ci(ratio, CONFIDENCE)
    assert estimate["low"] <= expected <= estimate["high"], (expected, estimate)
    assert np.isclose(expected, 1 / (1 - reproduction), rtol=0.01)
