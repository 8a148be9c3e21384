"""Acceptance test of "my group" (make test-extended): a hidden group with known behaviour →
its WeChatMsg v1 export → the one command ``simlib report --data`` → a report about that group.

The hidden group is one run of the engine: the baseline scenario with chosen behaviour
parameters (:data:`HIDDEN`), one group of about 500 members over 90 days whose newcomers are
turned away when it is full (``community.overflow: lost``), exported as a chat export shows it
(:func:`test_cli.chat_export`). The command is given the file and the group's size, as an
operator reads it on the group's info page, and nothing else. The test checks that the report's
fit check matches the hidden group's KPIs within their intervals, that the refined parameters'
intervals hold the hidden values, and that every strategy of the template batch is ranked on the
calibrated group, in a report that opens with the fit check.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from test_cli import KEY, chat_export

from simlib import report
from simlib.batch import load_batch
from simlib.cli import main
from simlib.io import KEY_ENV, KEY_FILE_ENV
from simlib.model import run_replication
from simlib.params import load_scenario
from simlib.pipeline import CALIBRATION_DIR, TEMPLATE_BATCH
from simlib.report import fitcheck
from simlib.runner import window

REPO = Path(__file__).parents[1]
TRUE = {
    "members.chat_rate_mean": 0.09,
    "members.engagement_sigma": 1.1,
    "members.active_hour_mean": 21.0,
    "members.base_exit_hazard": 0.002,
}
HIDDEN = {
    **TRUE,
    "members.active_hour_sd": 2.5,
    "simulation.days": 90,
    "simulation.start_date": "2025-09-01",
    "simulation.initial_members": 420,
    "simulation.group_cap": 500,
    "community.overflow": "lost",
    "arrivals.channels.organic.daily_reach": 80.0,  # × 1.0 × 0.015 = 1.2 joins a day, besides referrals
    "arrivals.channels.douyin.daily_reach": 0.0,
    "arrivals.channels.xiaohongshu.daily_reach": 0.0,
    "arrivals.initial_channel_mix": {"organic": 1.0},
}
SEED = 7
NAME = "hidden_group"
@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    params = load_scenario("baseline", HIDDEN)
    run = run_replication(params, SEED, 0)
    path, size = chat_export(run, tmp_path_factory.mktemp("export") / "我们的群(4711@chatroom).csv")
    return run, path, size


@pytest.fixture(scope="module")
def made(hidden, tmp_path_factory):
    """The one command on the hidden group's export; (batch folder, seconds it took, exit status)."""
    _, path, size = hidden
    root = tmp_path_factory.mktemp("report")
    patch = pytest.MonkeyPatch()
    patch.setenv(KEY_ENV, KEY)
    patch.delenv(KEY_FILE_ENV, raising=False)
    started = time.perf_counter()
    try:
        status = main(["report", "--data", str(path), "--members", str(size), "--name", NAME, "--reports-dir",
                       str(root / "reports"), "--notebooks-dir", str(REPO / "notebooks"), "--no-progress"])
    finally:
        patch.undo()
    seconds = time.perf_counter() - started
    days = HIDDEN["simulation.days"]
    print(f"\n`simlib report --data` on a {days}-day export of {size} members: {seconds:.0f} s")
    return root / "reports" / NAME, seconds, status


def test_the_command_succeeds_in_a_folder_of_its_own(made):
    batch_dir, _, status = made
    assert status == 0
    assert (batch_dir / "index.html").is_file() and (batch_dir / fitcheck.FIT_CHECK_FILE).is_file()
    assert (batch_dir / CALIBRATION_DIR / f"{NAME}.yaml").is_file()


def test_the_fit_check_matches_the_hidden_group(made, hidden):
    batch_dir, _, _ = made
    run, _, size = hidden
    fit = fitcheck.read_fit_check(batch_dir)
    assert isinstance(fit, fitcheck.FitCheck)
    # The export's KPIs are the hidden group's own, measured on its full tables …
    start, end = window(run.params)
    truth = fitcheck.measure(report_view(run, start, end, size), start, end, fitcheck.fit_kpis_for(False))
    assert {row.kpi: row.observed for row in fit.rows} == pytest.approx(truth)
    # … and each lies within the calibrated simulation's interval widened by its own margin.
    assert [row.kpi for row in fit.rows if row.agrees is not True] == []
    assert fit.group_size_given and fit.days == HIDDEN["simulation.days"] and fit.baseline == "baseline"


def report_view(run, start, end, size):
    from simlib.calibrate.replay import export_view

    return export_view(run.tables["members"], run.tables["events"], start, end, members_at_end=size)


def test_the_refined_intervals_hold_the_hidden_parameters(made):
    batch_dir, _, _ = made
    text = (batch_dir / CALIBRATION_DIR / f"{NAME}.yaml").read_text(encoding="utf-8")
    for key, truth in TRUE.items():
        line = next(line for line in text.splitlines() if line.strip().startswith(key.split(".")[-1] + ":"))
        found = re.search(r"refined by simulation \S+ \[95%: ([\d.e-]+)–([\d.e-]+)\]", line)
        low, high = map(float, found.groups())
        assert low <= truth <= high, (key, truth, line)


def test_every_strategy_is_ranked_on_the_calibrated_group(made):
    batch_dir, _, _ = made
    batch = report.collect(batch_dir)
    thresholds, _ = report.load_health_thresholds()
    ranking = report.rank_scenarios(batch, thresholds, "baseline")
    strategies = load_batch(TEMPLATE_BATCH).scenarios
    assert sorted(ranking.table["scenario"]) == sorted(strategies)
    assert batch.scenarios["baseline"].label == f"校准 Calibrated: {NAME}"  # the baseline is the group


def test_the_report_opens_with_the_fit_check(made):
    batch_dir, _, _ = made
    page = (batch_dir / "index.html").read_text(encoding="utf-8")
    assert f'id="{fitcheck.SECTION_ID}"' in page
    assert page.index(f'id="{fitcheck.SECTION_ID}"') < page.index(report.text("ranking_head", "zh"))
    for fragment in ("我们的群", "4711", "chatroom"):  # the export's file name reaches no output
        assert fragment not in page
