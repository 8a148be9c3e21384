"""Tests of simlib.analysis.monitoring: queue formulas, the model's queue against them,
the dashboard helpers and the observed-data branch."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simlib.analysis import monitoring as mon
from simlib.model import run_replication
from simlib.params import load_scenario


@pytest.fixture(scope="module")
def base():
    return load_scenario("baseline")


def test_erlang_c_known_values():
    # M/M/1: P(wait) = rho.
    assert mon.erlang_c(0.5, 1.0, 1) == pytest.approx(0.5)
    # M/M/2 with offered load 1: P(wait) = 1/3 (textbook value).
    assert mon.erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3)
    # Mean wait M/M/1: rho / (mu - lambda).
    assert mon.mmc_mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    assert mon.erlang_c(3.0, 1.0, 2) == 1.0 and math.isinf(mon.mmc_mean_wait(3.0, 1.0, 2))
    assert mon.mmc_wait_exceeds(0.5, 1.0, 1, 2.0) == pytest.approx(0.5 * math.exp(-1.0))
    # M/M/2 with offered load 1: Wq = C / (2mu - lambda); textbook c = 5, a = 4 erlangs → C ≈ 0.5541
    assert mon.mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert mon.erlang_c(4.0, 1.0, 5) == pytest.approx(0.5541, abs=1e-4)
    # many servers stay finite and in [0, 1] (the Erlang B recursion)
    assert 0 <= mon.erlang_c(180.0, 1.0, 200) <= 1


@pytest.mark.parametrize("args",
                         [(-1, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1.5), (1, 1, True), (math.nan, 1, 2)])
def test_erlang_c_rejects_bad_input(args):
    with pytest.raises(mon.MonitoringInputError):
        mon.erlang_c(*args)


def test_question_hours_density_integrates_to_one_and_off_shift_share(base):
    grid = np.linspace(0, 24, 2401)[:-1] + 0.005
    assert mon.question_hour_density(base, grid).sum() * 0.01 == pytest.approx(1.0, abs=1e-6)
    assert mon.off_shift_share(base, "00:00", "23:59") == pytest.approx(0.0, abs=0.01)
    # Extending the shift to 23:00 can only shrink the off-shift share.
    assert mon.off_shift_share(base, shift_end="23:00") < mon.off_shift_share(base)


def test_off_shift_share_matches_the_model(base):
    params = base.with_overrides({"simulation.days": 60, "simulation.initial_members": 200,
                                  "simulation.group_cap": 200,
                                  "members.question_rate": 0.1})
    # Pool three replications: the off-shift share depends on which 200 members (and their
    # habitual hours) a replication happens to draw, so one replication alone is noisy.
    clock = np.concatenate(
        [(run_replication(params, 7, r).questions["asked_day"].to_numpy() % 1) * 24 for r in range(3)]
    )
    observed = float(np.mean((clock < 9) | (clock >= 22)))
    assert len(clock) > 2400
    assert observed == pytest.approx(mon.off_shift_share(params), abs=0.04)


def test_model_queue_reproduces_erlang_c(base):
    """Questions spread evenly over the day, admins always on shift: the model's admin queue is
    an M/M/2 queue, so the mean wait must match the Erlang-C formula."""
    params = base.with_overrides({
        "simulation.days": 40, "simulation.initial_members": 300, "simulation.group_cap": 300,
        "members.active_hour_sd": 40.0, "members.question_rate": 1.0,
                                  "members.question_patience_minutes": 10000,
        "monitoring.shift_start": "00:00", "monitoring.shift_end": "23:59", "monitoring.admins": 2,
        "monitoring.answer_minutes_mean": 6.0, "automation.level": 0.0,
        "monitoring.admin_attention_minutes": 0.0,
        "community.overflow": "lost",  # one group, one queue
    })
    run = run_replication(params, 11, 0)
    questions = run.questions[run.questions["answered_by"] == "admin"]
    arrival_per_minute = len(questions) / (params.simulation.days * 1440)
    expected = mon.mmc_mean_wait(arrival_per_minute, 1 / 6.0, 2)
    assert 0.5 < arrival_per_minute * 6 / 2 < 0.9  # a busy queue, so the test has teeth
    assert questions["wait_minutes"].mean() == pytest.approx(expected, rel=0.2)


def test_queue_extra_is_reproducible_and_sane(base):
    params = base.with_overrides({"simulation.days": 30, "simulation.initial_members": 100,
                                  "simulation.group_cap": 100})
    first = mon.queue_extra(run_replication(params, 3, 1))
    second = mon.queue_extra(run_replication(params, 3, 1))
    assert first == second
    assert set(mon.QUEUE_METRICS) <= set(first)
    assert 0 <= first["within_patience"] <= 1 and 0 <= first["admin_utilization"] <= 1
    assert first["questions_per_day"] == pytest.approx(0.02 * 100, rel=0.5)


def test_fewer_admins_never_serve_faster_under_load(base):
    """Common random numbers: the same questions, 1 vs 3 admins."""
    overrides = {"simulation.days": 21, "simulation.initial_members": 300, "simulation.group_cap": 300,
                 "members.question_rate": 0.25, "monitoring.answer_minutes_mean": 10.0}
    one = mon.queue_extra(run_replication(base.with_overrides({**overrides, "monitoring.admins": 1}), 5, 0))
    three = mon.queue_extra(run_replication(base.with_overrides({**overrides, "monitoring.admins": 3}), 5, 0))
    assert one["within_patience"] < three["within_patience"]
    assert one["mean_response_in_shift_minutes"] > three["mean_response_in_shift_minutes"]


def test_analytic_admins_needed_monotone(base):
    values = [mon.analytic_admins_needed(q, 6.0, base) for q in (0, 10, 50, 100, 200, 400)]
    assert values[0] == 1
    assert values == sorted(values)
    assert mon.analytic_admins_needed(200, 12.0, base) >= mon.analytic_admins_needed(200, 6.0, base)
    with pytest.raises(mon.MonitoringInputError):
        mon.analytic_admins_needed(10, 0.0, base)


def test_size_admin_scenarios_and_min_admins():
    scenarios = mon.size_admin_scenarios([100, 300], [1, 2], 28)
    assert set(scenarios) == {"n100_a1", "n100_a2", "n300_a1", "n300_a2"}
    assert scenarios["n300_a2"]["simulation.group_cap"] == 300
    with pytest.raises(mon.MonitoringInputError):
        mon.size_admin_scenarios([600], [1], 28)
    grid = pd.DataFrame({"size": [100, 100, 300, 300, 300], "admins": [1, 2, 1, 2, 3],
                         "metric": "within_patience",
                         "mean": [0.99, 1.0, 0.9, 0.96, 0.99], "low": [0.97, 1.0, 0.85, 0.94, 0.98],
                         "high": 1.0})
    out = mon.min_admins_meeting(grid, 0.95).set_index("size")
    assert out.loc[100, "needed"] == 1 and out.loc[300, "needed"] == 3 and out.loc[300, "needed_on_mean"] == 2


def test_health_table_verdicts(base):
    summaries = pd.DataFrame({"messages_per_100_members_per_day": [10.0, 11.0, 12.0],
                              "revisit_7d": [0.2, 0.25, 0.3],
                              "activity_conversion": [0.2, 0.3, 0.25], "share_rate": [np.nan] * 3})
    table = mon.health_table(summaries, base.monitoring.health_thresholds).set_index("metric")
    assert table.loc["messages_per_100_members_per_day", "verdict"] == "pass"
    assert table.loc["revisit_7d", "verdict"] == "fail"
    assert table.loc["activity_conversion", "verdict"] == "uncertain"
    assert table.loc["share_rate", "verdict"] == "unknown"
    assert table.loc["messages_per_100_members_per_day", "healthy_on_mean"] is True


def test_alert_shares():
    daily = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [np.nan] * 4})
    shares = mon.alert_shares(daily, {"a": 2.5, "b": 1.0, "c": 1.0})
    assert shares["alert_share_a"] == pytest.approx(2 / 3)
    assert math.isnan(shares["alert_share_b"]) and math.isnan(shares["alert_share_c"])


def test_threshold_table(base):
    table = mon.threshold_table(base, "en")
    assert list(table["metric_key"]) == list(base.monitoring.health_thresholds.model_dump())
    assert table["threshold"].tolist() == [8.0, 0.45, 0.25, 0.18]


def test_observed_dashboard_chat_log_and_wecom(base):
    from simlib import datasets

    chat = mon.observed_dashboard(datasets.load_sample("wechatmsg_v1"), base.monitoring.health_thresholds)
    assert chat["kpis"]["messages_per_100_members_per_day"] > 0
    assert 0 <= chat["kpis"]["revisit_7d_lower_bound"] <= 1
    assert any(name.startswith("share_rate") for name in chat["missing"])
    log = datasets.load_sample("wecom_statistic")
    wecom = mon.observed_dashboard(log, base.monitoring.health_thresholds)
    expected = 100 * log.daily["msg_total"].sum() / log.daily["member_total"].sum()
    assert wecom["kpis"]["wecom_messages_per_100_members_per_day"] == pytest.approx(expected)
    assert wecom["wecom_daily"]["messages_per_100_members_per_day"].notna().all()
