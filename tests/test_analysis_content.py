import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from simlib import compare, findings, provenance, stats
from simlib.analysis import content
from simlib.model import run_replication
from simlib.params import CONTENT_TYPE_NAMES, load_scenario
from simlib.schema import TZ


def ts(text):
    return pd.Timestamp(text, tz=TZ)


@pytest.fixture
def hand_tables():
    """Three members, two posts; every count is known by construction."""
    members = pd.DataFrame({
        "member_id": ["a", "b", "c"], "group_id": "g",
        "join_ts": [ts("2026-01-01 08:00"), ts("2026-01-01 08:00"), ts("2026-01-05 12:00")],
        "channel": "organic",
        "left_ts": [pd.NaT, ts("2026-01-04 10:00"), pd.NaT],
    })
    posts = pd.DataFrame({"post_id": ["p0", "p1"], "ts": [ts("2026-01-02 09:30"), ts("2026-01-06 20:30")],
                          "group_id": "g", "content_type": ["knowledge", "flash_deal"],
                          "commercial": [False, False]})
    rows = [
        ("2026-01-02 09:40", "a", "open", "p0", 10.0), ("2026-01-02 09:50", "b", "open", "p0", 20.0),
        ("2026-01-02 10:00", "a", "message", "p0", np.nan), ("2026-01-02 10:05", "b", "share", "p0", np.nan),
        ("2026-01-02 11:00", "a", "message", None, np.nan),  # chat, not an interaction with a post
        ("2026-01-06 20:40", "c", "open", "p1", 30.0), ("2026-01-06 20:45", "c", "message", "p1", np.nan),
        ("2026-01-06 20:46", "c", "message", "p1", np.nan),
    ]
    events = pd.DataFrame(rows, columns=["ts", "member_id", "event", "ref_id", "amount"])
    events["ts"] = [ts(t) for t in events["ts"]]
    events["group_id"] = "g"
    return {"members": members, "events": events, "posts": posts}


def test_post_stats_counts_by_hand(hand_tables):
    table = content.post_stats(hand_tables).set_index("post_id")
    # p0: a and b present (c not yet joined); p1: a and c present (b left)
    assert table.loc["p0", "recipients"] == 2 and table.loc["p1", "recipients"] == 2
    assert table.loc["p0", "opens"] == 2 and table.loc["p1", "opens"] == 1
    assert table.loc["p0", "interactions"] == 1 and table.loc["p1", "interactions"] == 2
    assert table.loc["p0", "shares"] == 1 and table.loc["p1", "shares"] == 0
    assert table.loc["p0", "dwell_mean"] == pytest.approx(15.0)
    assert table.loc["p0", "slot"] == "Fri 09:30" and table.loc["p0", "weekday"] == 4
    assert table.loc["p1", "open_rate"] == pytest.approx(0.5)
    assert table.loc["p0", "share_rate"] == pytest.approx(0.5)
    cells = content.cell_rates(content.post_stats(hand_tables), by=["content_type"]).set_index("content_type")
    assert cells.loc["flash_deal", "interaction_rate"] == pytest.approx(1.0)


def test_post_stats_rejects_missing_columns(hand_tables):
    broken = dict(hand_tables, posts=hand_tables["posts"].drop(columns="content_type"))
    with pytest.raises(ValueError, match="content_type"):
        content.post_stats(broken)
    with pytest.raises(ValueError, match="posts"):
        content.post_stats({"members": hand_tables["members"], "events": hand_tables["events"]})


def test_article_table_is_table_2():
    params = load_scenario("baseline")
    table = content.article_table(params).set_index("content_type")
    assert list(table.index) == list(CONTENT_TYPE_NAMES)
    assert table.loc["knowledge", "open_rate"] == pytest.approx(0.783)
    assert table.loc["flash_deal", "interaction_rate"] == pytest.approx(0.342)
    assert table.loc["knowledge", "best_slot"] == "Tue/Thu 09:00–11:00"


def test_calendars_put_each_type_in_its_best_slot():
    params = load_scenario("baseline")
    for entry in content.best_slot_calendar(params):
        assert content.is_best_slot(params, entry["type"], f"{entry['weekday']} {entry['time']}")
    grid = content.experimental_calendar(params)
    slots = content.experimental_slots(params)
    assert len(grid) == len(slots) * len(CONTENT_TYPE_NAMES)
    for name in CONTENT_TYPE_NAMES:
        mine = [e for e in grid if e["type"] == name]
        best = [e for e in mine if content.is_best_slot(params, name, f"{e['weekday']} {e['time']}")]
        assert len(best) >= 1 and len(best) < len(slots)  # in its best slot and outside it
    params.with_overrides({"content.calendar": grid})  # validates
    with pytest.raises(ValueError, match="weekday"):
        content.experimental_calendar(params, [("Xyz", "10:00")])


@pytest.fixture(scope="module")
def grid_run():
    params = load_scenario("smoke").with_overrides(
        {"content.calendar": content.experimental_calendar(load_scenario("smoke"))}
    )
    return run_replication(params, 7, 0)


def test_interactions_per_open_reproduce_table_2_ratio(grid_run):
    """The model lets an opener interact with probability interaction_rate / open_rate (T2)."""
    table = content.post_stats(grid_run.tables)
    cells = content.cell_rates(table[~table["commercial"]], by=["content_type"]).set_index("content_type")
    for name in CONTENT_TYPE_NAMES:
        spec = grid_run.params.content.types[name]
        expected = spec.interaction_rate / spec.open_rate
        opens = cells.loc[name, "opens"]
        observed = cells.loc[name, "interactions"] / opens
        assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / opens), name


def test_best_slot_beats_off_slot_and_dwell_matches_input(grid_run):
    extra = content.content_extra(grid_run)
    for name in CONTENT_TYPE_NAMES:
        best = extra[f"best_open_rate|{name}"]
        off = [v for k, v in extra.items() if k.startswith(f"open_rate|{name}|")
               and not content.is_best_slot(grid_run.params, name, k.split("|")[2])]
        assert best > max(off)
        assert best <= content.expected_best_open_rate(grid_run.params, name) * 1.25
    # dwell per open is Gamma with mean 12 at quality 0 (the article's 12 minutes)
    assert extra["dwell_per_open"] == pytest.approx(12.0, rel=0.03)


def test_content_extra_is_reproducible():
    params = load_scenario("smoke")
    first = content.content_extra(run_replication(params, 3, 1))
    second = content.content_extra(run_replication(params, 3, 1))
    assert first == second


def test_posts_needed_matches_sample_size():
    plan = content.posts_needed(0.6, 0.05, 300)
    size = stats.sample_size_per_arm(0.6, 0.05, relative=False)
    assert plan["n_per_arm"] == size.n_a
    assert plan["posts_per_arm"] == math.ceil(size.n_a / 300)
    assert plan["target_rate"] == pytest.approx(0.65)
    with pytest.raises(ValueError, match="group_size"):
        content.posts_needed(0.6, 0.05, 0)


def test_ab_test_uses_pooled_counts(hand_tables):
    table = content.post_stats(hand_tables)
    result = content.ab_test(table, table["post_id"] == "p1", table["post_id"] == "p0")
    assert (result["z_test"].successes_a, result["z_test"].n_a) == (1, 2)
    assert (result["z_test"].successes_b, result["z_test"].n_b) == (2, 2)
    with pytest.raises(ValueError, match="no posts"):
        content.ab_test(table, table["post_id"] == "none", table["post_id"] == "p0")


def test_hour_weekday_counts_and_replies(hand_tables):
    events = hand_tables["events"].copy()
    events["msg_kind"] = ["", "", "quote", "", "text", "", "text", "quote"]
    grid = content.hour_weekday_counts(events)
    assert len(grid) == 7 * 24 and grid["count"].sum() == 4
    friday_10 = grid[(grid["weekday"] == 4) & (grid["hour"] == 10)]
    assert int(friday_10["count"].iloc[0]) == 1
    replies = content.reply_counts(events)
    assert replies["replies"].sum() == 2 and replies["messages"].sum() == 4
    no_kind = content.reply_counts(hand_tables["events"])
    assert no_kind["replies"].isna().all()


# --------------------------------------------------------------------------- tables and findings


def test_article_table_display_marks_the_assumed_off_slot_rate():
    params = load_scenario("baseline")
    shown = content.article_table_display(params, "zh")
    off_slot = shown.iloc[:, -1]
    assert off_slot.str.endswith("*").all()  # open rate × content.off_slot_factor, an assumption
    assert not shown.iloc[:, 2].str.endswith("*").any()  # table 2's own open rates
    assert "*" in provenance.footnote("zh", content.TABLE2_KEYS)


def test_calendar_kind_says_whether_the_calendar_already_uses_the_best_slots():
    assert content.calendar_kind(load_scenario("baseline")) == "untimed"
    optimized = load_scenario("content_optimized")
    assert content.calendar_kind(optimized) == "best" and content.calendar_best_share(optimized) == 1.0
    mixed = [*content.best_slot_calendar(optimized), {"type": "knowledge", "weekday": "Sun", "time": "11:00"}]
    assert content.calendar_kind(optimized.with_overrides({"content.calendar": mixed})) == "partly_best"
    assert content.calendar_kind(optimized.with_overrides({"content.calendar": []})) == "empty"


def _calendars(step):
    """A compare.table of the three calendar arms; every arm is ``step`` × a positive amount above the
    scenario's calendar in every metric."""
    metrics = ["messages_per_100_members_per_day", "revisit_7d", "share_rate", "retention_d90", "net_value",
               "residual_value", "ranking_value"]
    base = {name: [1.0, 1.1, 0.9, 1.05] for name in metrics}
    arm = {name: [v + step * (1 + 0.01 * i) for i, v in enumerate(values)] for name, values in base.items()}
    return compare.table({"scenario_calendar": base, "best_slot_calendar": arm, "content_optimized": arm},
                         "scenario_calendar", metrics, include_base=True)


@pytest.mark.parametrize(("step", "word"), [(0.5, "提高"), (-0.5, "降低"), (0.0, "没有可分辨")])
def test_timing_and_optimized_findings_follow_the_sign(step, word):
    table = _calendars(step)
    baseline, optimized = load_scenario("baseline"), load_scenario("content_optimized")
    untimed = content.timing_findings(table, baseline, 4, "zh")
    already = content.timing_findings(table, optimized, 4, "zh")
    assert "随意时段" in untimed[0].text and untimed[0].headline and untimed[0].key == "content_best_slots"
    assert "随意时段" not in already[0].text and "已全部在最佳时段" in already[0].text
    assert all(word in finding.text for finding in untimed)
    value = content.optimized_findings(table, False, "zh")
    assert value[-1].key == "content_value" and "净价值" in value[-1].text and word in value[-1].text
    same_table = _calendars(0.0)
    same = content.optimized_findings(same_table, True, "en")
    assert len(same) == 1 and "already has the content-optimized" in same[0].text and same[0].headline
    assert findings.problems(untimed + already + value + same) == []


def test_timing_findings_leave_out_what_a_short_run_cannot_measure():
    table = _calendars(0.5)
    table.loc[table["metric"] == "retention_d90", ["diff", "diff_low", "diff_high"]] = math.nan
    stated = content.timing_findings(table, load_scenario("baseline"), 4, "zh")
    assert len(stated) == 2 and not any("90日留存率" in finding.text for finding in stated)


@pytest.mark.parametrize(("factor", "word", "interest"),
                         [(0.5, "低于表2", "兴趣"), (1.3, "高于表2", "新鲜感")])
def test_calibration_finding_in_both_directions(factor, word, interest):
    params = load_scenario("baseline")
    rows = []
    for name in CONTENT_TYPE_NAMES:
        article = params.content.types[name].open_rate
        mean = min(0.99, article * factor)
        rows.append({"content_type": name, "rate": "open_rate", "article": article, "mean": mean,
                     "low": mean - 0.01, "high": mean + 0.01, "ratio": mean / article})
    listed, explained = content.calibration_finding(pd.DataFrame(rows), 0.92, "zh")
    assert listed.text.count(word) == 4 and "输入" in listed.text
    assert interest in explained.text
    assert findings.problems([listed, explained]) == []


@pytest.mark.parametrize(("ratio", "members", "words"), [
    ({"mean": 3.4, "low": 3.2, "high": 3.6}, {"mean": 40.0, "low": 20.0, "high": 60.0}, ("低于输入", "增加")),
    ({"mean": 3.8, "low": 3.5, "high": 4.1}, {"mean": -5.0, "low": -9.0, "high": -1.0}, ("回声", "减少")),
])
def test_quality_findings_in_both_directions(ratio, members, words):
    params = load_scenario("baseline")
    dwell = {0.0: {"mean": 12.0, "low": 11.9, "high": 12.1}, 1.0: {"mean": 26.0, "low": 25.8, "high": 26.2}}
    dwell_found, ratio_found, members_found = content.quality_findings(dwell, ratio, members, params, "zh")
    assert "回声" in dwell_found.text and "低于输入的 27" in dwell_found.text
    assert words[0] in ratio_found.text and words[1] in members_found.text
    assert findings.problems([dwell_found, ratio_found, members_found]) == []


def test_ab_finding_follows_the_test(hand_tables):
    table = content.post_stats(hand_tables)
    result = content.ab_test(table, table["post_id"] == "p1", table["post_id"] == "p0")["z_test"]
    found = content.ab_finding(result, "A", "B", "zh")
    assert "分不出" in found.text and findings.problems([found]) == []
    up = SimpleNamespace(difference=0.1, ci_low=0.05, ci_high=0.15)
    down = SimpleNamespace(difference=-0.1, ci_low=-0.15, ci_high=-0.05)
    assert "高于" in content.ab_finding(up, "A", "B").text
    assert "低于" in content.ab_finding(down, "A", "B").text
