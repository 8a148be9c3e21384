"""Parts of the engine and the KPI code that were rewritten for speed: each checked against
the plain formulation it replaces (closed forms, stable sorts, pandas group-bys)."""

import math
import pkgutil

import numpy as np
import pandas as pd
import pytest

from simlib import kernels, metrics, processes, schema, tiering
from simlib.agents import CHANNEL_CODES, Members
from simlib.eventlog import EVENT_CODE, REF_MEMBER, REF_NONE, REF_POST, EventLog, chronological_order
from simlib.model import GroupModel, run_replication
from simlib.params import load_defaults, load_scenario
from simlib.processes.arrivals import seed_initial_members
from simlib.runner import window


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke")


@pytest.fixture(scope="module")
def smoke_run(smoke):
    return run_replication(smoke, 21, 0)


def test_chronological_order_is_a_stable_sort_of_the_seconds():
    rng = np.random.default_rng(3)
    # Many events share a second (ties must keep log order), some lie before day 0.
    days = (np.round(rng.uniform(-30, 60, 50_000) * 86400 / 7) * 7 / 86400
            + rng.uniform(0, 0.4, 50_000) / 86400)
    seconds = np.round(days * 86400).astype(np.int64)
    np.testing.assert_array_equal(chronological_order(seconds), np.argsort(seconds, kind="stable"))
    assert chronological_order(np.empty(0, dtype=np.int64)).size == 0
    # A span too wide for the combined integer key falls back to the stable sort.
    wide = np.array([10**17, -(10**17), 5, 5, 0], dtype=np.int64)
    np.testing.assert_array_equal(chronological_order(wide), np.argsort(wide, kind="stable"))


def test_event_log_spreads_chunk_values_and_keeps_single_events():
    log = EventLog()
    log.add("open", np.array([0.1, 0.2]), np.array([3, 4]), REF_POST, 7, np.array([1.5, 2.5]))
    log.add("intervention", 0.3, np.array([5, 6, 8]), REF_NONE)  # one time for the whole chunk
    log.add("answer", 0.4, 9, REF_MEMBER, -1)  # a single event
    log.add("join", np.array([0.5]), np.array([10]), REF_MEMBER, np.array([3]))
    log.add("message", np.empty(0), np.empty(0, dtype=np.int64))  # empty chunks are dropped
    codes, ts, member, ref_kind, ref, amount = log.arrays()
    kinds = ["open"] * 2 + ["intervention"] * 3 + ["answer", "join"]
    np.testing.assert_array_equal(codes, [EVENT_CODE[e] for e in kinds])
    np.testing.assert_allclose(ts, [0.1, 0.2, 0.3, 0.3, 0.3, 0.4, 0.5])
    np.testing.assert_array_equal(member, [3, 4, 5, 6, 8, 9, 10])
    np.testing.assert_array_equal(ref_kind, [REF_POST] * 2 + [REF_NONE] * 3 + [REF_MEMBER] * 2)
    np.testing.assert_array_equal(ref, [7, 7, -1, -1, -1, -1, 3])
    np.testing.assert_array_equal(np.isnan(amount), [False, False, True, True, True, True, True])
    dtypes = [array.dtype for array in (codes, ts, member, ref_kind, ref, amount)]
    assert dtypes == [np.int8, float, np.int64, np.int8, np.int64, float]
    assert all(array.size == 0 for array in EventLog().arrays())


def test_novelty_decays_as_exp_of_age_and_boosts_end_after_their_day(smoke):
    members = Members(8, smoke.tiering.rules.active_window_days, smoke.tiering.rules.loyal_window_days)
    rows = members.add(3, day=0, channel=np.full(3, CHANNEL_CODES["organic"], dtype=np.int8), params=smoke,
                       rng=np.random.default_rng(0))
    members.interest[rows] = 1.0
    boost, days = smoke.members.novelty_boost, smoke.members.novelty_days
    members.set_boost(rows[:1], 0.5, until_day=2)
    for day in range(5):
        novelty = 1 + boost * math.exp(-day / days)
        expected = [novelty * (1.5 if day <= 2 else 1.0), novelty, novelty]
        np.testing.assert_allclose(members.interest_multiplier(rows), expected, rtol=1e-12)
        # (interest stays 1)
        members.end_of_day(day, math.exp(-1 / days), interest_floor=1.0, interest_drift=0.5)


def test_interest_relaxes_geometrically_to_its_floor_and_daily_counts_reset(smoke):
    members = Members(8, smoke.tiering.rules.active_window_days, smoke.tiering.rules.loyal_window_days)
    rows = members.add(2, day=0, channel=np.full(2, CHANNEL_CODES["organic"], dtype=np.int8), params=smoke,
                       rng=np.random.default_rng(0))
    members.interest[rows] = [2.0, 0.1]
    members.today_interactions[rows] = 3
    floor, drift = 0.3, math.exp(-1 / 20)
    for _ in range(10):
        members.end_of_day(0, 1.0, interest_floor=floor, interest_drift=drift)
    expected = floor + (np.array([2.0, 0.1]) - floor) * drift**10
    np.testing.assert_allclose(members.interest[rows], expected, rtol=1e-12)
    np.testing.assert_array_equal(members.today_interactions[rows], 0)


def test_repeated_members_count_each_interaction(smoke):
    model = GroupModel(smoke, np.random.SeedSequence(1))
    seed_initial_members(model)
    before = model.members.today_interactions[:3].copy()
    interest_before = model.members.interest[:3].copy()
    model.record_interactions(np.array([0, 1, 1, 2, 2, 2]), interest_gain=0.25)
    model.record_interactions(np.array([0, 2]))
    np.testing.assert_array_equal(model.members.today_interactions[:3] - before, [2, 2, 4])
    # Interest rises once per member however often they appear.
    np.testing.assert_allclose(model.members.interest[:3] - interest_before, [0.25, 0.25, 0.25])


def test_day_index_matches_timedelta_floor_division():
    start = pd.Timestamp("2026-01-05", tz=schema.TZ)
    stamps = [
        "2026-01-04 23:59:59", "2026-01-05 00:00:00", "2026-01-07 12:00:00", None, "2026-03-01 00:00:01",
    ]
    ts = pd.Series(pd.to_datetime(stamps).tz_localize(schema.TZ))
    reference = ((ts - start) // pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    np.testing.assert_array_equal(metrics._day_index(ts, start), reference)
    in_seconds = ts.astype("datetime64[s, Asia/Shanghai]")
    np.testing.assert_array_equal(metrics._day_index(in_seconds, start), reference)
    naive = ts.dt.tz_localize(None)
    np.testing.assert_array_equal(metrics._day_index(naive, start.tz_localize(None)), reference)


def test_event_counts_and_activity_participation_match_plain_pandas(smoke, smoke_run):
    tables = smoke_run.tables
    start, end = window(smoke)
    events = tables["events"]
    wrapped = metrics.WindowEvents(events, start, end)
    for kinds, (low, high) in [(["message"], (start, end)), (["leave", "removed"], (start, end)),
                               (["open"], (start + pd.Timedelta(days=3), end - pd.Timedelta(days=2)))]:
        plain = int((events["event"].isin(kinds) & (events["ts"] >= low) & (events["ts"] < high)).sum())
        assert metrics._count_events(wrapped, kinds, low, high) == plain
        assert metrics._count_events(events, kinds, low, high) == plain
    joins = events[(events["event"] == "activity_join") & (events["ts"] >= start) & (events["ts"] < end)]
    assert len(joins) > 0
    grouped = (joins.assign(activity=joins["ref_id"].astype(str), member=joins["member_id"].astype(str))
               .groupby("activity").agg(first_ts=("ts", "min"), participants=("member", "nunique"))
               .reset_index())
    table = metrics.activity_participation(tables, start, end)
    assert table["activity"].tolist() == grouped["activity"].tolist()
    assert table["participants"].tolist() == grouped["participants"].tolist()
    assert table["first_ts"].tolist() == grouped["first_ts"].tolist()


def test_every_question_is_in_the_questions_table(smoke):
    # One admin with multi-day answers is busy when the horizon ends: the question being
    # answered then counts as unanswered (it used to be lost), like those still queued.
    params = smoke.with_overrides({"monitoring.admins": 1, "monitoring.answer_minutes_mean": 5000.0})
    run = run_replication(params, 4, 0)
    asked = int((run.tables["events"]["event"] == "question").sum())
    assert len(run.questions) == asked
    assert (run.questions["answered_by"] == "unanswered").sum() >= 2


def test_a_complaint_raises_the_exit_hazard_on_its_own_day(smoke):
    # No admins and no bots: every question ends in a complaint once patience runs out. With
    # a complaint multiplier that makes the hazard ~100 every complainer leaves at that day's
    # close; with a tiny base hazard (~0.3 exits expected in all) almost nobody else does.
    params = smoke.with_overrides({"monitoring.admins": 0, "members.complaint_exit_multiplier": 1e7,
                                   "members.base_exit_hazard": 1e-5, "automation.level": 0.0})
    run = run_replication(params, 2, 0)
    events = run.tables["events"]
    start = pd.Timestamp(params.simulation.start_date, tz=schema.TZ)
    day = ((events["ts"] - start) // pd.Timedelta(days=1)).astype(int)
    complaints = events[events["event"] == "complaint"].assign(day=day)
    exits = events[events["event"].isin(["leave", "removed"])].assign(day=day)
    assert len(complaints) >= 5
    first_complaint = complaints.groupby(complaints["member_id"].astype(str))["day"].min()
    exit_day = exits.groupby(exits["member_id"].astype(str))["day"].min()
    assert (exit_day.reindex(first_complaint.index) == first_complaint).all()
    assert len(set(exit_day.index) - set(first_complaint.index)) <= 3


def test_compiled_tiers_follow_the_rules_in_priority_order(smoke):
    rules = smoke.tiering.rules
    rng = np.random.default_rng(3)
    n = 20_000
    days_since_join = rng.integers(0, 3 * rules.potential_max_days, n)
    messages_total = rng.integers(0, 3 * rules.potential_max_messages + 1, n)
    interactions = rng.integers(0, 2 * rules.active_min_interactions, n)
    purchases = rng.integers(0, 2 * rules.loyal_min_purchases, n)
    days_since_interaction = rng.integers(0, 2 * rules.silent_min_days, n)
    # The plain formulation: assign from the lowest priority up, so higher rules overwrite.
    expected = np.full(n, tiering.REGULAR)
    expected[days_since_interaction >= rules.silent_min_days] = tiering.SILENT
    newcomer = (days_since_join < rules.potential_max_days) & (messages_total <= rules.potential_max_messages)
    expected[newcomer] = tiering.POTENTIAL
    expected[interactions >= rules.active_min_interactions] = tiering.ACTIVE
    expected[purchases >= rules.loyal_min_purchases] = tiering.LOYAL
    tiers = tiering.classify(days_since_join, messages_total, interactions, purchases, days_since_interaction,
                             rules)
    np.testing.assert_array_equal(tiers, expected)
    assert set(np.unique(tiers)) == set(range(len(schema.TIERS)))  # every rule was exercised
    with pytest.raises(ValueError, match="differ in length"):
        tiering.classify(days_since_join, messages_total[:-1], interactions, purchases,
                         days_since_interaction, rules)


def test_leavers_apply_complaints_inactivity_and_the_commercial_share_to_the_right_members():
    day = 30
    rows = np.array([2, 4, 5, 9])
    static = np.full(10, 0.1)
    last_interaction = np.full(10, day, dtype=np.int32)  # everybody spoke today
    complaint_until = np.full(10, -1, dtype=np.int32)
    complaint_until[[4, 7]] = day  # 7 complained but is not in rows
    complaint_until[5] = day - 1  # 5's complaint no longer holds
    ad_tolerance = np.array([0.0] * 9 + [0.5])
    draws = np.full(4, 0.15)  # above the static hazard 0.1: nobody leaves unless something raises it

    def leaving(slope=0.0, inactive_multiplier=2.0):
        return kernels.leavers(day, rows, draws, static, last_interaction, 15, inactive_multiplier,
                               complaint_until, 2.0, slope, 0.3, ad_tolerance)

    np.testing.assert_array_equal(leaving(), [4])
    # A commercial share 0.3 above a tolerance of 0 multiplies the hazard by exp(slope × 0.3).
    complaint_until[4] = -1
    np.testing.assert_array_equal(leaving(slope=math.log(1.6) / 0.3), [2, 4, 5])  # 9 tolerates 0.5 > 0.3
    # Inactivity: 15 days or more since the last interaction doubles the hazard; 14 does not.
    last_interaction[2], last_interaction[9] = day - 15, day - 14
    np.testing.assert_array_equal(leaving(), [2])
    np.testing.assert_array_equal(leaving(inactive_multiplier=1.0), np.empty(0))


def test_the_inactivity_exit_ignores_the_tier_label_and_tiering():
    # Same members, same random numbers: the exits do not depend on whether tiering is on
    # (which changes only who is seen, and interventions, here switched off by zero effect and
    # cost), nor on the silent rule of the tier labels.
    base = load_scenario("smoke", {"simulation.days": 40, "activities.schedule": [],
                                   "community.overflow": "lost"})
    quiet = {"tiering.interventions.potential.interest_boost": 0.0,
             "tiering.interventions.potential.cost_per_member": 0.0,
             "tiering.interventions.active.interest_boost": 0.0,
             "tiering.interventions.active.cost_per_member_week": 0.0,
             "tiering.interventions.loyal.purchase_multiplier": 1.0,
             "tiering.interventions.loyal.cost_per_member_month": 0.0,
             "tiering.interventions.silent.recall_prob": 0.0,
             "tiering.interventions.silent.cost_per_target": 0.0}
    on = base.with_overrides({"tiering.enabled": True, **quiet})
    off = base.with_overrides({"tiering.enabled": False, **quiet})
    relabelled = off.with_overrides({"tiering.rules.silent_min_days": 3})
    exits = [run_replication(params, 6, 0).tables["members"]["left_ts"] for params in (on, off, relabelled)]
    assert exits[0].notna().sum() > 5
    pd.testing.assert_series_equal(exits[0], exits[1])
    pd.testing.assert_series_equal(exits[1], exits[2])
    # …and they do depend on the inactivity threshold.
    sooner = run_replication(off.with_overrides({"members.inactive_after_days": 3}), 6, 0)
    assert sooner.tables["members"]["left_ts"].notna().sum() > exits[1].notna().sum()


def test_each_process_module_is_named_after_a_params_block():
    # "Where is X simulated?" has the same answer as its params block, notebook and analysis module.
    modules = {module.name for module in pkgutil.iter_modules(processes.__path__)}
    assert {"arrivals", "content", "monetization", "activities", "monitoring", "tiering", "risk",
            "community"} <= modules
    assert modules <= set(load_defaults())
