"""Tests of simlib.analysis.monitoring: queue formulas, the model's queue against them,
the dashboard helpers and the observed-data branch."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simlib import claims, findings
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
    assert values == sorted(values)
    # admins who always watch the group and answer at once: the queue alone decides (Erlang C)
    watching = base.with_overrides({"monitoring.admin_attention_minutes": 0.0})
    assert mon.analytic_admins_needed(0, 6.0, watching) == 1
    assert mon.analytic_admins_needed(10, 6.0, watching) <= mon.analytic_admins_needed(10, 6.0, base)
    assert mon.analytic_admins_needed(200, 12.0, base) >= mon.analytic_admins_needed(200, 6.0, base)
    with pytest.raises(mon.MonitoringInputError):
        mon.analytic_admins_needed(10, 0.0, base)


def test_size_admin_scenarios():
    scenarios = mon.size_admin_scenarios([100, 300], [1, 2], 28)
    assert set(scenarios) == {"n100_a1", "n100_a2", "n300_a1", "n300_a2"}
    assert scenarios["n300_a2"]["simulation.group_cap"] == 300
    assert scenarios["n300_a2"]["community.overflow"] == "lost"  # one group held at its size
    with pytest.raises(mon.MonitoringInputError):
        mon.size_admin_scenarios([600], [1], 28)


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


def test_late_in_shift_reduces_to_erlang_c_and_to_the_attention_race(base):
    watching = base.with_overrides({"monitoring.admin_attention_minutes": 0.0,
                                    "members.question_patience_distribution": "fixed"})
    patience = watching.members.question_patience_minutes
    # admins always watching, fixed patience: P(wait > patience) of M/M/c
    assert mon.late_in_shift(0.2, 1 / 6, 2, watching) == pytest.approx(
        mon.mmc_wait_exceeds(0.2, 1 / 6, 2, patience))
    # an empty queue and exponential patience: the race between noticing (rate c/A) and patience (1/P)
    attention = base.monitoring.admin_attention_minutes
    mean_patience = base.members.question_patience_minutes
    assert mon.late_in_shift(1e-9, 1 / 6, 3, base) == pytest.approx(
        (1 / mean_patience) / (1 / mean_patience + 3 / attention), rel=1e-6)
    assert mon.late_in_shift(1.0, 1 / 6, 2, base) == 1.0  # overloaded
    assert mon.late_backlog(0, 6.0, 1, base) == 0.0
    assert 0 < mon.late_backlog(50, 6.0, 1, base) < mon.late_backlog(200, 6.0, 1, base) < 1


def test_queue_extra_uses_the_engines_definition_of_within_patience(base):
    from simlib.processes.monitoring import answered_within_patience

    run = run_replication(base.with_overrides({"simulation.days": 20, "simulation.initial_members": 150,
                                               "simulation.group_cap": 150}), 4, 0)
    assert mon.queue_extra(run)["within_patience"] == answered_within_patience(run.questions)


class Staffed:
    """A sweep result with per-replication summaries (what size_admin_scenarios' sweep gives)."""

    def __init__(self, within):
        self.summaries = pd.DataFrame({"within_patience": within})


def test_admins_needed_per_replication():
    results = {"n300_a1": Staffed([0.7, 0.95, 0.7]), "n300_a2": Staffed([0.92, 0.97, 0.8]),
               "n300_a3": Staffed([0.95, 0.99, 0.85])}
    assert mon.admins_needed(results, 300, 0.9) == [2.0, 1.0, 4.0]  # 4: none of 1–3 meets it
    with pytest.raises(mon.MonitoringInputError, match="size=100"):
        mon.admins_needed(results, 100, 0.9)


@pytest.mark.parametrize(("needed", "word"), [([4.0, 5.0, 4.0, 5.0], "整体高于"), ([3.0, 3.0, 3.0], "包含"),
                                              ([1.0, 1.0, 2.0, 1.0], "只需")])
def test_admins_needed_finding_against_the_article(needed, word):
    found = mon.admins_needed_finding(needed, 0.9, 5, lang="zh")
    assert word in found.text and found.headline and found.key == "admins_needed_300"
    assert f"{claims.figure('monitoring_admins_over_200'):g}" in found.text
    assert findings.problems([found]) == []
    assert "超过 5 名" in mon.admins_needed_finding([6.0, 6.0], 0.9, 5, lang="zh").text


@pytest.mark.parametrize(("large", "word"), [([3.0, 4.0, 4.0], "增加"), ([2.0, 2.0, 3.0], "没有可分辨"),
                                             ([1.0, 1.0, 2.0], "减少")])
def test_size_effect_finding_follows_the_sign(large, word):
    small = [2.0, 2.0, 3.0] if word != "减少" else [3.0, 3.0, 4.0]
    found = mon.size_effect_finding(small, large, 100, 500, 0.05, "zh")
    assert word in found.text and findings.problems([found]) == []
    if word == "没有可分辨":
        assert "admin_attention_minutes" in found.text


def test_health_and_definition_findings_in_both_directions(base):
    summaries = pd.DataFrame({"messages_per_100_members_per_day": [10.0, 11.0, 12.0],
                              "revisit_7d": [0.2, 0.25, 0.3], "activity_conversion": [0.2, 0.3, 0.25],
                              "share_rate": [np.nan] * 3})
    health = mon.health_table(summaries, base.monitoring.health_thresholds)
    alert_share = pd.DataFrame({"metric": list(health["metric"]), "mean": [0.0, 1.0, 0.5, math.nan]})
    stated = mon.health_findings(health, alert_share, "zh")
    assert ["达标" in stated[0].text, "未达标" in stated[1].text, "无法判定" in stated[2].text] == [True] * 3
    assert "算不出" in stated[3].text
    lower = mon.revisit_definition_finding(0.4, 0.8, "zh")
    higher = mon.revisit_definition_finding(0.8, 0.4, "en")
    assert "低于" in lower.text and "above" in higher.text
    assert findings.problems([*stated, lower, higher]) == []


def test_whatif_findings_follow_the_sign():
    arms = {"base": {"complaints": [10.0, 12.0, 11.0], "exits": [5.0, 6.0, 5.0],
                     "ranking_value": [1000.0, 1100.0, 1050.0]}}
    for offset, arm in zip((5.0, -5.0, 0.0), mon.WHATIFS, strict=True):
        arms[arm] = {name: [v + offset * (1 + 0.1 * i) for i, v in enumerate(values)]
                     for name, values in arms["base"].items()}
    from simlib import compare

    table = compare.table(arms, "base", list(mon.WHATIF_METRICS))
    stated = mon.whatif_findings(table, "zh")
    assert len(stated) == 9
    assert "提高" in stated[0].text and "降低" in stated[3].text and "没有可分辨" in stated[6].text
    assert [finding.key for finding in stated if finding.headline] == ["extra_admin_value"]
    assert findings.problems(stated) == []
