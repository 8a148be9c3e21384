"""The community of groups: overflow policies, seats, per-group posts, admins, costs and
incidents, the group ids of every table, and the community block's validation."""

import numpy as np
import pandas as pd
import pytest

from simlib import schema
from simlib.model import CommunityModel, run_replication
from simlib.param_blocks import RISK_TYPE_NAMES
from simlib.params import ParamsError, load_scenario
from simlib.processes import community
from simlib.processes.arrivals import seed_initial_members
from simlib.runner import simulate, summarize

FULL = {"simulation.group_cap": 90, "simulation.initial_members": 85,
        "arrivals.channels.organic.daily_reach": 400.0}


@pytest.fixture(scope="module")
def crowded():
    """A smoke group near its cap with many arrivals: under new_group it spills into new groups."""
    return load_scenario("smoke", FULL)


@pytest.fixture(scope="module")
def crowded_run(crowded):
    return run_replication(crowded, 1, 0)


def _model(params) -> CommunityModel:
    model = CommunityModel(params, np.random.SeedSequence(1))
    community.open_group(model, 0.0)
    seed_initial_members(model)
    return model


def _at(*times: float) -> np.ndarray:
    return np.array(times, dtype=float)


# --------------------------------------------------------------------------- seats and policies


def test_newcomers_fill_the_lowest_group_with_a_free_seat_then_open_the_next(crowded):
    model = _model(crowded.with_overrides({"community.max_groups": 3}))
    rows = model.admit(10, "organic", _at(*np.linspace(0.1, 0.2, 10)))
    np.testing.assert_array_equal(model.members.group[rows], [0] * 5 + [1] * 5)
    assert model.groups == 2
    # Two members of the first group leave: the next newcomers take their seats first.
    model.remove(np.array([0, 1]), 0.3, "leave")
    rows = model.admit(3, "douyin", _at(0.4, 0.41, 0.42))
    np.testing.assert_array_equal(model.members.group[rows], [0, 0, 1])
    np.testing.assert_array_equal(model.members.present_by_group[:2], [90, 6])
    # The third group is the last one allowed: newcomers beyond its seats are lost.
    model.admit(200, "organic", _at(*np.linspace(0.5, 0.6, 200)))
    assert model.groups == 3
    np.testing.assert_array_equal(model.members.present_by_group[:3], [90, 90, 90])
    assert model.counters["overflow"] == 200 - 84 - 90
    opened = [row for row in model.costs if row[1] == schema.COST_CATEGORIES.index("group_opening")]
    assert [row[3] for row in opened] == [1, 2]


def test_new_group_never_exceeds_the_cap_of_any_group(crowded, crowded_run):
    members = crowded_run.tables["members"]
    start = pd.Timestamp(crowded.simulation.start_date, tz=schema.TZ)
    day = pd.Timedelta(days=1)
    assert crowded_run.counters["groups"] >= 3
    for group, own in members.groupby("group_id", observed=True):
        for moment in start + day * np.arange(crowded.simulation.days):
            inside = (own["join_ts"] <= moment) & (own["left_ts"].isna() | (own["left_ts"] > moment))
            assert inside.sum() <= crowded.simulation.group_cap, (group, moment)
    daily = crowded_run.daily
    assert daily["groups"].is_monotonic_increasing
    assert daily["groups"].iloc[-1] == crowded_run.counters["groups"]
    assert (daily["present"] <= daily["groups"] * crowded.simulation.group_cap).all()
    assert crowded_run.counters["overflow"] == 0


def test_lost_keeps_one_group_and_counts_whom_it_turns_away(crowded):
    run = run_replication(crowded.with_overrides({"community.overflow": "lost"}), 1, 0)
    assert run.counters["groups"] == 1 and run.daily["groups"].eq(1).all()
    assert run.daily["present"].max() <= 90
    kpis = summarize(run)["kpis"]
    assert kpis["newcomers_lost"] == kpis["overflow"] == run.counters["overflow"] > 50
    assert kpis["groups"] == 1


def test_waitlist_admits_in_order_and_people_give_up(crowded):
    full = crowded.with_overrides({"community.overflow": "waitlist", "simulation.initial_members": 90})
    model = _model(full)
    model.admit(3, "douyin", _at(0.1, 0.2, 0.3))
    model.admit(1, "referral", _at(0.35), inviter=np.array([7]))
    assert model.groups == 1 and len(model.waitlist) == 4
    patience = [gives_up - arrived for arrived, gives_up, _, _ in model.waitlist]
    assert all(wait > 0 for wait in patience)
    # Two seats free up: the first two in line take them, in order, with their channel.
    model.remove(np.array([0, 1]), 0.4, "leave")
    before = model.members.count
    community.admit_waitlisted(model, 0.5)
    admitted = np.arange(before, model.members.count)
    assert admitted.size == 2 and len(model.waitlist) == 2
    assert model.members.channel[admitted].tolist() == [schema.CHANNELS.index("douyin")] * 2
    # Much later the remaining two have given up; nobody takes the next free seat.
    model.remove(np.array([2]), 0.6, "leave")
    community.admit_waitlisted(model, 1000.0)
    assert model.counters["gave_up"] == 2 and not model.waitlist
    assert model.members.count == before + 2


def test_a_waitlisted_run_stays_in_one_group_and_fills_freed_seats(crowded):
    params = crowded.with_overrides({"community.overflow": "waitlist",
                                     "community.waitlist_patience_days": 3.0})
    run = run_replication(params, 1, 0)
    assert run.counters["groups"] == 1 and run.daily["present"].max() <= 90
    assert run.counters["gave_up"] > 0 and run.counters["overflow"] == 0
    kpis = summarize(run)["kpis"]
    assert kpis["newcomers_lost"] == run.counters["gave_up"]
    # Seats freed by leavers are taken again: the group stays (nearly) full once it filled up.
    assert run.daily["present"].iloc[10:].min() >= 85


def test_arrivals_come_from_their_own_streams_whatever_the_policy(crowded):
    """Common random numbers: every paid or organic arrival under lost is also one under
    new_group (which turns nobody away), at the same time."""
    new_group = run_replication(crowded, 4, 0).tables["members"]
    lost = run_replication(crowded.with_overrides({"community.overflow": "lost"}), 4, 0).tables["members"]

    def joins(members):
        outside = members[members["channel"].isin(["organic", "douyin", "xiaohongshu"])]
        start = pd.Timestamp(crowded.simulation.start_date, tz=schema.TZ)
        return set(outside["join_ts"][outside["join_ts"] >= start])

    assert joins(lost) <= joins(new_group)
    assert len(joins(new_group)) > len(joins(lost))


# --------------------------------------------------------------------------- per-group posts, costs, ids


def test_every_post_goes_to_every_open_group_and_events_refer_to_their_groups_copy(crowded_run):
    tables = crowded_run.tables
    posts, events = tables["posts"], tables["events"]
    assert posts["post_id"].is_unique
    assert posts["group_id"].nunique() == crowded_run.counters["groups"]
    # At each publishing time, one copy per group open then.
    copies = posts.groupby("ts")["group_id"].nunique()
    daily = crowded_run.daily.set_index("day")["groups"]
    start = pd.Timestamp(crowded_run.params.simulation.start_date, tz=schema.TZ)
    day_of = ((copies.index - start) // pd.Timedelta(days=1)).to_numpy()
    open_before = daily.reindex(day_of - 1).fillna(1).to_numpy()
    open_after = daily.reindex(day_of).to_numpy()
    assert (copies.to_numpy() >= open_before).all() and (copies.to_numpy() <= open_after).all()
    # Opens, replies, shares and sales refer to the copy of the member's own group.
    post_group = posts.set_index(posts["post_id"].astype(str))["group_id"].astype(str)
    on_posts = events[events["ref_id"].astype(str).str.fullmatch(r"p\d+")]
    assert set(on_posts["event"].astype(str)) >= {"open", "share", "message", "purchase"}
    referred = post_group.reindex(on_posts["ref_id"].astype(str)).to_numpy()
    np.testing.assert_array_equal(referred, on_posts["group_id"].astype(str).to_numpy())


def test_group_ids_of_members_events_costs_and_incidents_agree(crowded_run):
    tables = crowded_run.tables
    members, events, costs = tables["members"], tables["events"], tables["costs"]
    groups = crowded_run.counters["groups"]
    names = {f"g{group + 1}" for group in range(groups)}
    assert set(members["group_id"].astype(str)) == names
    with_member = events[events["member_id"].notna()]
    member_group = members.set_index(members["member_id"].astype(str))["group_id"].astype(str)
    np.testing.assert_array_equal(member_group.reindex(with_member["member_id"].astype(str)).to_numpy(),
                                  with_member["group_id"].astype(str).to_numpy())
    incidents = crowded_run.incidents
    logged = events[events["event"] == "incident"]
    assert len(logged) == len(incidents) > 0
    by_id = incidents.set_index("incident_id")["group_id"].astype(str)
    ids = logged["ref_id"].astype(str).str[1:].astype(int)
    np.testing.assert_array_equal(by_id.reindex(ids).to_numpy(), logged["group_id"].astype(str).to_numpy())
    assert events["group_id"].notna().all()
    # Costs: each group's daily fixed costs, acquisition for the whole community (no group).
    assert costs.loc[costs["category"] == "acquisition", "group_id"].isna().all()
    assert costs.loc[costs["category"] != "acquisition", "group_id"].notna().all()
    labour = costs[costs["category"] == "admin_labour"]
    per_day = labour.groupby(labour["ts"].dt.normalize())["group_id"].nunique()
    daily_groups = crowded_run.daily["groups"].to_numpy()
    assert (per_day.to_numpy()[: len(daily_groups)] == daily_groups).all()
    assert (costs["category"] == "group_opening").sum() == groups - 1
    for name in ("members", "events", "posts", "costs"):
        schema.coerce(name, tables[name])


def test_incidents_strike_each_group_from_its_opening(crowded):
    params = crowded.with_overrides({"risk.types.violation.incidents_per_year": 400.0})
    run = run_replication(params, 2, 0)
    incidents = run.incidents
    assert incidents["group_id"].nunique() == run.counters["groups"]
    opened = run.daily.groupby("groups")["day"].min()  # the first day each number of groups was open
    for group, own in incidents.groupby("group_id", observed=True):
        number = int(str(group)[1:])
        assert own["day"].min() >= opened.loc[number] - 1


def test_each_group_has_its_own_admins_and_queue():
    """Two full groups with one admin each: each group's queue is M/M/1 (mean wait ρ/(μ − λ)),
    not one M/M/2 queue shared by both admins (a third of that wait at the same load)."""
    minutes, load, cap = 6.0, 0.6, 50
    per_group_per_day = load * 1440 / minutes
    params = load_scenario("baseline", {
        "simulation.days": 40, "simulation.initial_members": cap, "simulation.group_cap": cap,
        "community.max_groups": 2, "arrivals.channels.organic.daily_reach": 10_000.0,
        "members.question_rate": per_group_per_day / cap, "members.question_timing": "poisson",
        "members.base_exit_hazard": 0.0, "monitoring.admins": 1, "monitoring.answer_minutes_mean": minutes,
        "monitoring.shift_start": "00:00", "monitoring.shift_end": "24:00",
        "monitoring.admin_attention_minutes": 0.0,
        "activities.schedule": [], "content.calendar": [], "monetization.commercial_posts_per_week": {},
        **{f"risk.types.{kind}.incidents_per_year": 0.0 for kind in RISK_TYPE_NAMES},
    })
    result = simulate(params, replications=3, seed=5, workers=2)
    questions = result.questions[result.questions["asked_day"] >= 2]  # both groups full by then
    waits = questions.groupby("group_id", observed=True)["wait_minutes"].mean()
    mm1 = load * minutes / (1 - load)  # 9 minutes; M/M/2 at the same load per admin: 3.4
    assert len(waits) == 2
    assert waits.between(0.8 * mm1, 1.2 * mm1).all(), waits
    labour = result.summaries["groups"]
    assert (labour == 2).all()


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"community.overflow": "spill"}, "community.overflow = 'spill'"),
    ({"community.max_groups": 0}, "greater than or equal to 1"),
    ({"community.waitlist_patience_days": 0.0}, "greater than 0"),
    ({"community.group_opening_cost": -1.0}, "greater than or equal to 0"),
    ({"community.groups": 3}, "unknown key 'community.groups'"),
    ({"metrics.residual_horizon_months": -1}, "greater than or equal to 0"),
    ({"members.question_timing": "evenly"}, "members.question_timing = 'evenly'"),
    ({"members.question_patience_distribution": "normal"}, "question_patience_distribution"),
    ({"members.inactive_after_days": 0}, "greater than or equal to 1"),
    ({"monitoring.shift_start": "24:00"}, "expected a time 'HH:MM'"),
    ({"monitoring.shift_end": "24:30"}, "or '24:00'"),
    ({"monitoring.admin_attention_minutes": -5.0}, "greater than or equal to 0"),
    ({"arrivals.initial_tenure_days": [40, 30]}, "shortest < longest"),
    ({"risk.major_crisis_exit_multiplier": 0.5}, "greater than or equal to 1"),
])
def test_bad_community_and_queue_parameters_are_named(overrides, expected):
    with pytest.raises(ParamsError, match="overrides") as error:
        load_scenario("baseline", overrides)
    assert expected in str(error.value)


def test_a_round_the_clock_shift_is_valid():
    params = load_scenario("baseline", {"monitoring.shift_start": "00:00", "monitoring.shift_end": "24:00"})
    assert params.monitoring.shift_hours == 24


def test_membership_renewal_probability_is_a_parameter():
    base = load_scenario("smoke", {"monetization.commercial_posts_per_week": {"membership": 3.0}})

    def renewals(probability):
        params = base.with_overrides({"monetization.membership_renewal_prob": probability})
        run = run_replication(params, 3, 0)
        events = run.tables["events"]
        return int(((events["event"] == "purchase") & events["ref_id"].isna()).sum())

    assert renewals(0.0) == 0 < renewals(1.0)
