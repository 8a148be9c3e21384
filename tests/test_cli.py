"""My group, the fast parts: ``simlib calibrate`` / ``simlib report --data`` and their errors, a batch
whose scenarios are applied to a calibrated baseline (defaults ⊕ baseline ⊕ strategy, and the
warning when a strategy changes a behaviour), the export's view of a simulated group and the
fit-check rule. The whole path on a hidden group is tests/test_pipeline.py (make test-extended).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from simlib import calibrate, datasets, metrics, pipeline, schema
from simlib.batch import BatchFileError, plan_batch
from simlib.batch.plan import BASELINE_SCENARIO
from simlib.batch_folder import Problem
from simlib.calibrate.replay import export_view
from simlib.cli import main
from simlib.io import KEY_ENV, KEY_FILE_ENV, export, load
from simlib.model import run_replication
from simlib.params import load_scenario
from simlib.report import fitcheck
from simlib.report.text import label as report_label
from simlib.runner import window

FIXTURES = Path(__file__).parent / "fixtures" / "batch"
KEY = "a-test-key-of-enough-bytes"
# An export named after its chat, as MemoTrace names them: the name must reach no output.
CHAT_FILE_NAME = "王小美的宝妈群(12345@chatroom).csv"


@pytest.fixture()
def export_file(tmp_path: Path) -> Path:
    path = tmp_path / CHAT_FILE_NAME
    shutil.copy(datasets.sample_path("wechatmsg_v1"), path)
    return path


@pytest.fixture()
def with_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


# --------------------------------------------------------------------------- command-line errors


def test_calibrate_without_a_key_names_both_variables(export_file, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    scenarios = tmp_path / "scenarios"
    assert main(["calibrate", str(export_file), "--scenarios-dir", str(scenarios)]) == 2
    error = capsys.readouterr().err
    assert KEY_ENV in error and KEY_FILE_ENV in error and "Traceback" not in error
    assert not scenarios.exists()
    reports = tmp_path / "reports"
    assert main(["report", "--data", str(export_file), "--reports-dir", str(reports), "--no-progress"]) == 2
    assert KEY_ENV in capsys.readouterr().err and not reports.exists()


def test_calibrate_an_unknown_file_is_a_clear_error(with_key, tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    assert main(["calibrate", str(missing), "--scenarios-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "not found" in error and "Traceback" not in error
    assert list(tmp_path.iterdir()) == []


def test_calibrate_refuses_an_existing_scenario_without_force(with_key, export_file, tmp_path, capsys):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    existing = scenarios / "mygroup.yaml"
    existing.write_text("label: hand-made\n", encoding="utf-8")
    assert main(["calibrate", str(export_file), "--scenarios-dir", str(scenarios)]) == 2
    error = capsys.readouterr().err
    assert str(existing) in error and "--force" in error
    assert existing.read_text(encoding="utf-8") == "label: hand-made\n"


@pytest.mark.parametrize("name", ["../escape", "has space", "baseline", ""])
def test_calibrate_refuses_a_name_that_cannot_name_a_scenario(with_key, export_file, tmp_path, capsys, name):
    assert main(["calibrate", str(export_file), "--name", name, "--scenarios-dir", str(tmp_path)]) == 2
    assert "--name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [export_file]


def test_calibrate_writes_a_scenario_without_the_chat_name(with_key, export_file, tmp_path, capsys,
                                                            monkeypatch):
    # A lighter refinement than the command's own: this checks the path, test_pipeline.py the accuracy.
    lighter = functools.partial(pipeline.refine, replications=3, max_iterations=2)
    monkeypatch.setattr(pipeline, "refine", lighter)
    scenarios = tmp_path / "scenarios"
    arguments = ["calibrate", str(export_file), "--members", "62", "--scenarios-dir", str(scenarios)]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    written = scenarios / "mygroup.yaml"
    assert f"scenario written: {written}" in out and "Fit check" in out
    text = written.read_text(encoding="utf-8")
    for fragment in ("王小美", "宝妈", "12345", "chatroom", CHAT_FILE_NAME):
        assert fragment not in text and fragment not in out
    assert "refined by simulation" in text and "[95%:" in text and "# Fit check" in text
    params = load_scenario(written)
    assert params.name == "mygroup" and params.simulation.initial_members == 62
    assert not [p for p in scenarios.iterdir() if p.name != "mygroup.yaml"]  # no temporary left
    assert main(arguments) == 2  # exists now
    assert main([*arguments, "--force"]) == 0


# --------------------------------------------------------------------------- a calibrated baseline


GROUP = """\
label: my group
description: calibrated
members:
  chat_rate_mean: 0.2
  active_hour_mean: 9.5
arrivals:
  initial_channel_mix: {organic: 1.0}
content:
  quality: 0.4
"""
LEVERS = """\
label: levers
tiering:
  enabled: true
content:
  quality: 0.7
"""
MEDDLES = """\
label: meddles
members:
  chat_rate_mean: 0.5
arrivals:
  initial_channel_mix: {douyin: 1.0}
"""
BATCH = """\
name: mine
baseline: group
scenarios: [baseline, levers, meddles]
notebooks: [chaos]
replications: 2
"""


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name, text in (("baseline", "label: article baseline\n"), ("group", GROUP), ("levers", LEVERS),
                       ("meddles", MEDDLES)):
        (scenarios / f"{name}.yaml").write_text(text, encoding="utf-8")
    batch = tmp_path / "batch.yaml"
    batch.write_text(BATCH, encoding="utf-8")
    return {"scenarios": scenarios, "batch": batch, "notebooks": FIXTURES, "reports": tmp_path / "reports"}


def plan(tree: dict[str, Path]):
    return plan_batch(tree["batch"], scenarios_dir=tree["scenarios"], notebooks_dir=tree["notebooks"],
                      reports_dir=tree["reports"])


def composed(tree: dict[str, Path], tmp_path: Path) -> dict:
    """Each run's scenario as the run loads it: its content written to a file, through load_scenario."""
    out = {}
    for run in plan(tree).runs:
        path = tmp_path / "as-run" / f"{run.scenario.name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(run.scenario.content)
        out[run.scenario.name] = load_scenario(path)
    return out


def test_every_scenario_is_defaults_then_baseline_then_strategy(tree, tmp_path):
    scenarios = composed(tree, tmp_path)
    defaults = load_scenario(None)
    base, levers = scenarios[BASELINE_SCENARIO], scenarios["levers"]
    assert base.label == "my group"  # the baseline is the calibrated group itself
    assert base.members.chat_rate_mean == 0.2 and base.content.quality == 0.4
    assert base.tiering.enabled == defaults.tiering.enabled  # neither sets it: the defaults'
    assert levers.name == "levers" and levers.label == "levers"
    assert levers.members.chat_rate_mean == 0.2 and levers.members.active_hour_mean == 9.5  # the group's
    assert levers.tiering.enabled and levers.content.quality == 0.7  # the strategy wins where both set one
    assert levers.members.ad_tolerance == defaults.members.ad_tolerance
    group = load_scenario(tree["scenarios"] / "group.yaml")
    assert levers.model_dump(exclude={"name", "label", "description"}) == group.with_overrides(
        {"tiering": {"enabled": True}, "content": {"quality": 0.7}}).model_dump(
        exclude={"name", "label", "description"})


def test_a_strategy_that_changes_a_behaviour_is_warned_about(tree, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="simlib.batch.plan"):
        warnings = plan(tree).warnings
    assert [r.getMessage() for r in caplog.records] == warnings
    assert composed(tree, tmp_path)["meddles"].members.chat_rate_mean == 0.5  # it still wins
    assert len(warnings) == 2 and all("'meddles'" in w and "operational levers" in w for w in warnings)
    assert any("members.chat_rate_mean from 0.2 to 0.5" in w for w in warnings)
    assert any("arrivals.initial_channel_mix.organic" in w for w in warnings)
    assert not any("'levers'" in w for w in warnings)


def test_the_run_key_follows_the_baseline(tree):
    before = {run.scenario.name: run.params_hash for run in plan(tree).runs}
    group = tree["scenarios"] / "group.yaml"
    group.write_text(GROUP.replace("active_hour_mean: 9.5", "active_hour_mean: 10.5"), encoding="utf-8")
    after = {run.scenario.name: run.params_hash for run in plan(tree).runs}
    assert all(before[name] != after[name] for name in before)
    # A behaviour the strategy overrides does not change its run.
    group.write_text(GROUP.replace("chat_rate_mean: 0.2", "chat_rate_mean: 0.3"), encoding="utf-8")
    again = {run.scenario.name: run.params_hash for run in plan(tree).runs}
    assert again["meddles"] == before["meddles"] and again["levers"] != before["levers"]


@pytest.mark.parametrize("change, expected", [
    (("scenarios: [baseline, levers, meddles]", "scenarios: [levers]"), ["'scenarios'", "'baseline'"]),
    (("baseline: group", "baseline: nowhere"), ["'baseline'", "'nowhere'", "not found"]),
    (("replications: 2", "replications: 2\noverrides: {content.quality: 7}"), ["'overrides'", "quality"]),
])
def test_a_bad_baseline_batch_is_refused_before_any_run(tree, change, expected):
    tree["batch"].write_text(BATCH.replace(*change), encoding="utf-8")
    with pytest.raises(BatchFileError) as caught:
        plan(tree)
    for fragment in [str(tree["batch"]), *expected]:
        assert fragment in str(caught.value), (fragment, str(caught.value))


def test_a_strategy_invalid_on_the_baseline_names_its_file(tree):
    (tree["scenarios"] / "levers.yaml").write_text("members:\n  chat_rate: 1\n", encoding="utf-8")
    with pytest.raises(BatchFileError) as caught:
        plan(tree)
    assert "levers.yaml" in str(caught.value) and "chat_rate" in str(caught.value)


# --------------------------------------------------------------------------- the export's view


def chat_export(run, path: Path) -> tuple[Path, int]:
    """A simulated group's WeChatMsg v1 export over its whole run, as a real export shows it, and
    its size at the end (as its info page shows it).

    The engine draws the time of day of an exit independently of the join, so a member who leaves
    on the day they joined may leave before joining; no real export shows that, so such an exit is
    written one second after the join."""
    start, end = window(run.params)
    view = export_view(run.tables["members"], run.tables["events"], start, end)["events"]
    joined = view[view["event"] == "join"].groupby("member_id")["ts"].max()
    early = view["event"].isin(["leave", "removed"]) & (view["member_id"].map(joined) > view["ts"])
    view.loc[early, "ts"] = view.loc[early, "member_id"].map(joined) + pd.Timedelta(seconds=1)
    events = schema.coerce("events", view.sort_values("ts", kind="stable").reset_index(drop=True))
    return export.export_wechatmsg_v1(events, path), metrics.members_at_end(run.tables["members"], end)


def test_the_export_view_of_a_simulated_group_is_what_loading_its_export_gives(tmp_path):
    params = load_scenario("smoke", {"community.overflow": "lost", "simulation.days": 45})
    run = run_replication(params, 3, 0)
    start, end = window(params)
    path, size = chat_export(run, tmp_path / "group.csv")
    view = export_view(run.tables["members"], run.tables["events"], start, end, members_at_end=size)
    loaded = load(path, key=KEY)
    last_day = end - pd.Timedelta(days=1)
    through_file = calibrate.estimate(loaded, start=start, end=last_day, members_at_end=size, bootstrap=100)
    in_memory = calibrate.estimate(view, start=start, end=last_day, bootstrap=100)
    for name in ("chat_rate_mean", "exit_hazard", "join_rate", "engagement_sigma", "active_hour_mean"):
        assert math.isclose(through_file[name].value, in_memory[name].value, rel_tol=1e-9), name
    assert through_file.member_days == in_memory.member_days
    loaded_view = export_view(loaded.members, loaded.events, start, end, members_at_end=size)
    kpis = fitcheck.fit_kpis_for(with_purchases=False)
    assert fitcheck.measure(loaded_view, start, end, kpis) == pytest.approx(
        fitcheck.measure(view, start, end, kpis), nan_ok=True)
    with pytest.raises(calibrate.CalibrationError, match="group size at the end"):
        export_view(loaded.members, loaded.events, start, end, members_at_end=1)


# --------------------------------------------------------------------------- the fit-check rule


def test_the_rule_flags_an_observed_value_outside_the_widened_interval():
    assert fitcheck.agrees(0.9, 1.1, 1.0, 1.2)  # overlapping
    assert fitcheck.agrees(1.2, 1.4, 1.0, 1.2)  # touching counts as agreeing
    assert fitcheck.agrees(1.3, 1.5, 1.0, 1.2) is False  # observed above: margin too small
    assert fitcheck.agrees(0.1, 0.5, 1.0, 1.2) is False  # below
    assert fitcheck.agrees(math.nan, 1.0, 1.0, 1.2) is None  # not judged
    # The same rule read the other way: the observed value outside the simulated interval widened
    # on each side by its own margin.
    observed, low, high = 1.45, 1.3, 1.6
    widened = (1.0 - (high - observed), 1.2 + (observed - low))
    assert fitcheck.agrees(low, high, 1.0, 1.2) == (widened[0] <= observed <= widened[1])


def fit_check(group: str = "mygroup") -> fitcheck.FitCheck:
    rows = [
        fitcheck.FitRow("messages_per_100_members_per_day", "messages", 18.9, 17.9, 20.2, 19.5, 19.1, 19.9,
                        [19.0, 20.0]),
        fitcheck.FitRow("exits_per_member_month", "per member-month", 0.2, 0.18, 0.22, 0.09, 0.08, 0.1,
                        [0.08, 0.1]),
        fitcheck.FitRow("retention_d30", "share", math.nan, math.nan, math.nan, 0.9, 0.85, 0.95, [0.9, 0.9]),
    ]
    return fitcheck.FitCheck(group, "baseline", "2025-09-01", "2025-11-29", 90,
                             "wechatmsg_v1 export (1 file)", 598, 420, 470, 12, True, 2, 5, rows, ["a note"])


def test_the_fit_check_says_which_kpis_disagree_and_escapes_names(tmp_path):
    fit = fit_check(group="<script>alert(1)</script>")
    assert [row.agrees for row in fit.rows] == [True, False, None]
    assert [row.kpi for row in fit.disagreements] == ["exits_per_member_month"]
    for lang in ("zh", "en"):
        page = fitcheck.fit_check_html(fit, lang)
        assert f'id="{fitcheck.SECTION_ID}"' in page and "<script>" not in page and "&lt;script&gt;" in page
        assert report_label("exits_per_member_month", lang) in page
    assert "Warning" in fitcheck.fit_check_html(fit, "en") and "警告" in fitcheck.fit_check_html(fit, "zh")
    agreeing = fitcheck.FitCheck(**{**fit.__dict__, "rows": fit.rows[:1]})
    assert "Warning" not in fitcheck.fit_check_html(agreeing, "en")
    assert any("DISAGREES" in line for line in fit.lines())


def test_the_fit_check_file_round_trips_and_bad_content_is_a_problem(tmp_path):
    assert fitcheck.read_fit_check(tmp_path) is None and fitcheck.fit_check_html(None) == ""
    fitcheck.write_fit_check(tmp_path, fit_check())
    back = fitcheck.read_fit_check(tmp_path)
    assert isinstance(back, fitcheck.FitCheck) and back.to_json() == fit_check().to_json()
    written = json.loads((tmp_path / fitcheck.FIT_CHECK_FILE).read_text(encoding="utf-8"))
    assert written["rows"][2]["observed"] is None  # NaN as null: strict JSON
    (tmp_path / fitcheck.FIT_CHECK_FILE).write_text('{"version": 1, "rows": "x"}', encoding="utf-8")
    problem = fitcheck.read_fit_check(tmp_path)
    assert isinstance(problem, Problem) and fitcheck.FIT_CHECK_FILE in fitcheck.fit_check_html(problem, "en")


def test_the_observed_margin_is_a_bootstrap_over_members():
    loaded = datasets.load_sample("wechatmsg_v1")
    start = loaded.events["ts"].min().normalize()
    end = loaded.events["ts"].max().normalize() + pd.Timedelta(days=1)
    view = export_view(loaded.members, loaded.events, start, end)
    kpis = fitcheck.fit_kpis_for(with_purchases=False)
    point = fitcheck.measure(view, start, end, kpis)
    intervals = fitcheck.observed_intervals(view, start, end, kpis, replicates=100, seed=1)
    for name, (low, high) in intervals.items():
        assert low < point[name] < high, name
    assert intervals == fitcheck.observed_intervals(view, start, end, kpis, replicates=100, seed=1)
