"""Which of each lesson's parameters a calibration sets (simlib.calibrate.scope), the note every
lesson's real-data section shows, and the observed-vs-simulated comparison."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from simlib import calibrate, datasets, findings
from simlib.calibrate import CALIBRATED_KEYS, CALIBRATED_MARKER, Comparison, scope
from simlib.calibrate.scenario import _scenario
from simlib.io import export, load
from simlib.params import load_scenario

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(path.stem for path in (ROOT / "notebooks").glob("0[1-8]_*.ipynb"))
HOSTILE = "<b>bold</b> *star* [link](http://example.com)"


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """A calibration of a small synthetic group's chat export (fast: no simulation)."""
    tables = datasets.synthetic_tables(seed=11, members=60, days=60)
    path = export.export_wechatmsg_v1(tables["events"], tmp_path_factory.mktemp("scope") / "chat.csv")
    return calibrate.estimate(load(path, "wechatmsg_v1", key=datasets.DEMO_KEY), members_at_end=70, seed=1)


@pytest.fixture(scope="module")
def calibrated(calibration, tmp_path_factory):
    path = calibrate.write_scenario(calibration, tmp_path_factory.mktemp("scenarios") / "mygroup.yaml")
    return load_scenario(path)


def _leaves(data, prefix=""):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, data


def test_the_calibrated_keys_are_what_to_scenario_writes(calibration, calibrated):
    data, comments, _ = _scenario(calibration, "mygroup", "baseline", None, None)
    expected = set(CALIBRATED_KEYS)
    if not calibrate.exit_split_estimable(calibration):
        expected.discard("members.inactive_exit_multiplier")
    assert set(comments) == expected
    # and the written scenario differs from its base only under those keys
    base = dict(_leaves(load_scenario("baseline").model_dump(mode="json")))
    written = dict(_leaves(calibrated.model_dump(mode="json")))
    changed = {key for key, value in written.items() if base.get(key) != value
               and key not in ("name", "label", "description")}
    assert changed, "the calibration changed nothing"
    assert all(any(scope._covers(calibrated, key) for calibrated in CALIBRATED_KEYS) for key in changed), (
        sorted(changed))
    assert data == calibrate.to_scenario(calibration, "mygroup")


def test_a_key_outside_the_calibrated_keys_is_refused(calibration):
    with pytest.raises(calibrate.CalibrationError, match="content.quality: not a calibrated key"):
        calibrate.to_scenario(calibration, "mygroup", adjusted={"content.quality": (1.0, "made up")})


def test_a_calibrated_scenario_and_a_strategy_on_it_are_recognised(calibrated):
    assert CALIBRATED_MARKER in calibrated.description and scope.is_calibrated(calibrated)
    description = f"tiers — applied to mygroup: {calibrated.description}"  # as simlib batch composes it
    applied = calibrated.model_copy(update={"name": "tiered", "label": "分层", "description": description})
    assert scope.is_calibrated(applied)
    # no shipped scenario, all written by hand, is taken for a calibrated one
    for path in sorted((ROOT / "params" / "scenarios").glob("*.yaml")):
        assert not scope.is_calibrated(load_scenario(path)), path.name


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("notebook", LESSONS)
def test_the_note_differs_for_a_calibrated_and_a_default_scenario(notebook, lang, calibrated):
    lesson = scope.lesson_scope(notebook)
    assert lesson.calibrated, "every lesson simulates the group, whose size and arrivals are calibrated"
    mine = scope.calibration_note(calibrated, notebook, lang)
    default = scope.calibration_note(load_scenario("baseline"), notebook, lang)
    assert mine != default
    assert scope._text("calibrated_title", lang, label="mygroup").split("**")[1] in mine
    assert "--name mygroup" not in mine  # no instructions once calibrated
    assert scope._text("default_title", lang, label="x").split("**")[1] in default
    command = f"papermill notebooks/{notebook}.ipynb out.ipynb -p scenario mygroup"
    assert "simlib calibrate" in default and "--name mygroup --members" in default and command in default
    for note in (mine, default):
        for key in lesson.calibrated:
            assert f"`{key}`" in note
        for item in lesson.not_identified:
            assert item.reason[lang] in note
        nothing = scope._text("nothing_own", lang, dimension=lesson.dimension[lang])
        assert (nothing in note) == (not lesson.own_calibrated)
    # the dimensions that allow nothing to be calibrated say so; those that do, do not
    if notebook in ("02_content_operations", "03_activity_design", "05_automation_tools", "06_monetization",
                    "07_risk_control"):
        assert not lesson.own_calibrated
    else:
        assert lesson.own_calibrated


def test_markup_in_a_label_is_escaped(calibrated):
    for params in (calibrated, load_scenario("baseline")):
        note = scope.calibration_note(params.model_copy(update={"label": HOSTILE}), "04_kpi_monitoring", "en")
        assert "<b>" not in note and "&lt;b&gt;" in note and "[link](" not in note


def test_every_notebook_of_the_scope_file_exists_and_every_lesson_shows_the_note():
    assert sorted(scope.notebooks()) == LESSONS
    for notebook in LESSONS:
        cells = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
        calls = [c for c in cells if c.cell_type == "code" and "calibration_note(" in c.source]
        assert len(calls) == 1 and "ctx.notebook, ctx.lang)" in calls[0].source, notebook


def test_an_unknown_notebook_and_a_bad_entry_are_clear_errors():
    with pytest.raises(scope.ScopeError, match="no entry for notebook '09_nothing'"):
        scope.lesson_scope("09_nothing")
    entry = {"dimension": {"zh": "维度", "en": "dimension"}, "uses": ["members.no_such_key"], "own": ["risk"],
             "not_identified": []}
    with pytest.raises(scope.ScopeError, match=r"notebooks.x.uses: 'members.no_such_key' is not a parameter"):
        scope._lesson("x", entry, load_scenario(None).model_dump(mode="json"))
    entry = {**entry, "uses": ["risk"],
             "not_identified": [{"keys": ["members.chat_rate_mean"], "zh": "理由", "en": "reason"}]}
    with pytest.raises(scope.ScopeError, match=r"not_identified\[0\].keys: \['members.chat_rate_mean'\]"):
        scope._lesson("x", entry, load_scenario(None).model_dump(mode="json"))


@pytest.mark.parametrize("observed, way", [(0.30, "inside"), (0.50, "above"), (0.10, "below")])
def test_observed_beside_simulated_says_whether_it_falls_inside(observed, way, calibrated):
    simulated = [0.28, 0.30, 0.32, 0.31, 0.29]
    rows = [Comparison("revisit_7d_messages", "share", observed, simulated),
            Comparison("messages_per_100_members_per_day", "messages", math.nan, [8.0, 9.0])]
    table, stated = scope.observed_vs_simulated(rows, calibrated, "zh")
    assert len(table) == 2 and table.iloc[1].tolist()[-1] == "—"  # the export cannot show the second
    assert len(stated) == 1 and findings.problems(stated) == []
    expected = scope._text(f"comparison_{way}", "zh", kpi="七日二次访问率（只以发言计）",
                           observed=f"{observed:.1%}", interval="[", mean="").split("[")[0]
    assert stated[0].text.startswith(expected)
    assert table.iloc[0].tolist()[-1] == ("是" if way == "inside" else "否")
    assert scope._text("comparison_not_calibrated", "zh") not in stated[0].text
    _, default = scope.observed_vs_simulated(rows[:1], load_scenario("baseline"), "en")
    expected_note = way != "inside"  # only a value outside is "expected to differ" on a default scenario
    assert default[0].text.endswith(scope._text("comparison_not_calibrated", "en")) == expected_note
