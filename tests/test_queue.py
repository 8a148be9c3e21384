"""The admins' queue: M/M/c against Erlang C, complaints at ordinary loads, and the one
definition of "answered within patience"."""

import math

import numpy as np
import pandas as pd
import pytest

from simlib.analysis.monitoring import erlang_c, mmc_mean_wait
from simlib.compare import paired
from simlib.param_blocks import RISK_TYPE_NAMES
from simlib.params import load_scenario
from simlib.processes.monitoring import answered_within_patience
from simlib.results import mean_ci
from simlib.runner import simulate, sweep

ANSWER_MINUTES = 6.0
MEMBERS = 100
QUESTIONS_PER_REPLICATION = 20_000


def mmc_overrides(admins: int, load: float) -> dict:
    """A fixed membership (no arrivals, exits or incidents), Poisson questions, no bots, and
    admins on shift round the clock who watch the group all the time: an M/M/c queue with
    utilisation ``load`` per admin. The horizon holds about QUESTIONS_PER_REPLICATION questions."""
    per_day = load * admins * 1440 / ANSWER_MINUTES
    return {
        "simulation.days": math.ceil(QUESTIONS_PER_REPLICATION / per_day),
        "simulation.initial_members": MEMBERS, "simulation.group_cap": MEMBERS,
        "members.question_rate": per_day / MEMBERS, "members.question_timing": "poisson",
        "members.base_exit_hazard": 0.0,
        "monitoring.admins": admins, "monitoring.answer_minutes_mean": ANSWER_MINUTES,
        "monitoring.shift_start": "00:00", "monitoring.shift_end": "24:00",
        "monitoring.admin_attention_minutes": 0.0,
        "automation.level": 0.0, "tiering.enabled": False,
        "activities.schedule": [], "content.calendar": [], "monetization.commercial_posts_per_week": {},
        **{f"arrivals.channels.{name}.daily_reach": 0.0 for name in ("organic", "douyin", "xiaohongshu")},
        "arrivals.share_join_prob": 0.0,
        **{f"risk.types.{kind}.incidents_per_year": 0.0 for kind in RISK_TYPE_NAMES},
    }


@pytest.mark.parametrize("admins", [1, 2, 3])
@pytest.mark.parametrize("load", [0.5, 0.75])
def test_the_queue_is_mmc_and_matches_erlang_c(admins, load):
    result = simulate("baseline", overrides=mmc_overrides(admins, load), replications=10, seed=11, workers=2)
    questions = result.questions
    assert (questions["answered_by"].isin(["admin", "unanswered"])).all()
    per_replication = questions.groupby("replication")["wait_minutes"].agg(
        wait="mean", waited=lambda waits: float((waits > 0).mean()))
    arrival_rate, service_rate = load * admins / ANSWER_MINUTES, 1 / ANSWER_MINUTES  # per minute
    expected_wait = mmc_mean_wait(arrival_rate, service_rate, admins)
    expected_waited = erlang_c(arrival_rate, service_rate, admins)
    wait = mean_ci(per_replication["wait"].tolist())
    waited = mean_ci(per_replication["waited"].tolist())
    assert wait["low"] <= expected_wait <= wait["high"], (wait, expected_wait)
    assert waited["low"] <= expected_waited <= waited["high"], (waited, expected_waited)
    # Tight: the interval is narrow enough to see an 8% error in the mean wait.
    assert (wait["high"] - wait["low"]) / 2 <= 0.075 * expected_wait
    assert (waited["high"] - waited["low"]) / 2 <= 0.015


@pytest.fixture(scope="module")
def staffing():
    """The baseline (default loads) with 1, 2 and 3 admins per group, paired."""
    return sweep({f"admins_{count}": {"monitoring.admins": count} for count in (1, 2, 3)}, base="baseline",
                 replications=10, seed=20261125, workers=2)


def test_more_admins_mean_fewer_complaints_and_fewer_exits_at_default_loads(staffing):
    one, two, three = (staffing[f"admins_{count}"] for count in (1, 2, 3))
    fewer_complaints_2 = paired(one, two, "complaints")
    fewer_complaints_3 = paired(two, three, "complaints")
    assert fewer_complaints_2["high"] < 0 and fewer_complaints_3["high"] < 0
    assert one.summaries["complaints"].mean() > 300  # complaints happen at ordinary loads
    fewer_exits = paired(one, three, "exits")
    assert fewer_exits["high"] < 0, fewer_exits
    within = [answered_within_patience(result.questions) for result in (one, two, three)]
    assert within[0] < within[1] < within[2] < 1


def test_answered_within_patience_is_the_share_without_a_complaint(staffing):
    result = staffing["admins_2"]
    questions = result.questions[result.questions["replication"] == 0]
    known = questions["complained"].dropna()
    assert answered_within_patience(questions) == pytest.approx(1 - known.mean())
    # A question complains exactly when an admin took it up after the asker's patience ran out,
    # counted from when it reached the admins (no bots here: when it was asked) or, off shift,
    # from the next shift start.
    answered = questions[questions["answered_by"] == "admin"]
    late = answered["wait_minutes"] > answered["patience_minutes"]
    complained = answered["complained"].astype(bool)
    assert (complained <= late).all()
    clock = answered["asked_day"] % 1
    on_shift = (clock >= 9 / 24) & (clock < 22 / 24)
    assert on_shift.sum() > 100 and (complained[on_shift] == late[on_shift]).all()
    bots = questions[questions["answered_by"] == "bot"]
    assert not bots["complained"].any()
    # The complaints in the log are those of the questions table (within the horizon).
    tables = simulate(result.params, replications=1, seed=result.seed, keep_tables=True).runs[0]
    logged = int((tables.tables["events"]["event"] == "complaint").sum())
    assert logged == int(tables.questions["complained"].fillna(False).sum())


def test_answered_within_patience_leaves_unknown_outcomes_out():
    questions = pd.DataFrame({"complained": pd.array([True, False, False, None], dtype="boolean")})
    assert answered_within_patience(questions) == pytest.approx(2 / 3)
    assert math.isnan(answered_within_patience(questions.iloc[3:]))


def test_patience_is_random_per_question_or_fixed():
    base = load_scenario("smoke", {"simulation.days": 20})
    drawn = simulate(base, replications=1, seed=2).questions
    fixed = simulate(base.with_overrides({"members.question_patience_distribution": "fixed"}), replications=1,
                     seed=2).questions
    admin_drawn = drawn.loc[drawn["answered_by"] == "admin", "patience_minutes"]
    assert admin_drawn.std() > 30 and admin_drawn.mean() == pytest.approx(120, rel=0.35)
    admin_fixed = fixed.loc[fixed["answered_by"] == "admin", "patience_minutes"]
    np.testing.assert_array_equal(admin_fixed.unique(), [120.0])
