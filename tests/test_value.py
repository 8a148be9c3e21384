"""The community's value: net value, the residual value of the members left at the end, and
the ranking value that adds them (simlib.metrics.community_value, simlib.runner.summarize); the
purchase fatigue that keeps sales revenue from growing in proportion to the offers made."""

import math

import numpy as np
import pandas as pd
import pytest

from simlib import metrics, schema
from simlib.compare import paired
from simlib.model import CommunityModel
from simlib.params import load_scenario
from simlib.processes import community
from simlib.processes.arrivals import seed_initial_members
from simlib.processes.monetization import purchase_chance, purchase_propensity
from simlib.runner import simulate, sweep

START = pd.Timestamp("2026-01-01", tz=schema.TZ)
END = START + pd.Timedelta(days=60)
CALENDAR_POSTS = 4  # the defaults' weekly calendar


def _tables(revenue: float, running_cost: float, acquisition: float) -> dict[str, pd.DataFrame]:
    """Four members over 60 days: two stay, one leaves on day 30, one joins on day 30."""
    day = pd.Timedelta(days=1)
    members = pd.DataFrame({
        "member_id": ["a", "b", "c", "d"], "group_id": "g1",
        "join_ts": [START - 10 * day, START - 10 * day, START - 10 * day, START + 30 * day],
        "channel": "organic",
        "left_ts": [pd.NaT, pd.NaT, START + 30 * day, pd.NaT],
    })
    events = pd.DataFrame({
        "ts": [START + 5 * day, START + 30 * day], "group_id": "g1", "member_id": ["a", "c"],
        "event": ["purchase", "leave"], "ref_id": None, "amount": [revenue, np.nan],
    })
    costs = pd.DataFrame({
        "ts": [START + day, START + 2 * day], "group_id": ["g1", None],
        "category": ["admin_labour", "acquisition"], "amount": [running_cost, acquisition],
    })
    posts = pd.DataFrame(columns=schema.POST_COLUMNS)
    tables = {"members": members, "events": events, "posts": posts, "costs": costs}
    return {name: schema.coerce(name, table) for name, table in tables.items()}


def test_residual_value_is_members_at_end_times_operating_value_times_expected_stay():
    tables = _tables(revenue=500.0, running_cost=140.0, acquisition=1000.0)
    value = metrics.community_value(tables, START, END, residual_horizon_months=12)
    months = metrics.member_months(tables["members"], START, END)
    operating = (500.0 - 140.0) / months  # acquisition is what members cost to gain, not to keep
    monthly_exit = 1 / months
    stay = sum((1 - monthly_exit) ** k for k in range(12))
    assert value["net_value"] == pytest.approx(500.0 - 140.0 - 1000.0)
    assert value["operating_value_per_member_month"] == pytest.approx(operating)
    assert value["residual_value"] == pytest.approx(3 * operating * stay)
    assert value["ranking_value"] == pytest.approx(value["net_value"] + value["residual_value"])
    assert metrics.community_value(tables, START, END, 0)["residual_value"] == 0


def test_a_community_run_at_a_loss_carries_a_negative_residual_value():
    tables = _tables(revenue=100.0, running_cost=400.0, acquisition=0.0)
    value = metrics.community_value(tables, START, END, 12)
    assert value["operating_value_per_member_month"] < 0 and value["residual_value"] < 0
    assert value["ranking_value"] < value["net_value"]


def test_expected_member_months_is_the_survival_sum():
    assert metrics.expected_member_months(0.0, 12) == 12
    assert metrics.expected_member_months(1.0, 12) == 1
    assert metrics.expected_member_months(0.1, 3) == pytest.approx(1 + 0.9 + 0.81)


@pytest.fixture(scope="module")
def commercial_share():
    """The baseline with ecommerce posts making 20% and 40% of all posts, paired."""
    posts = {share: CALENDAR_POSTS * share / (1 - share) for share in (0.2, 0.4)}
    base = load_scenario("baseline")
    assert len(base.content.calendar) == CALENDAR_POSTS and base.community.overflow == "new_group"
    return sweep({share: {"monetization.commercial_posts_per_week": {"ecommerce": per_week}}
                  for share, per_week in posts.items()}, base=base, replications=6, seed=20261125, workers=2)


def test_the_ranking_value_is_net_plus_residual_per_replication_and_in_paired_differences(commercial_share):
    for result in commercial_share.values():
        s = result.summaries
        np.testing.assert_allclose(s["ranking_value"] - s["net_value"], s["residual_value"], rtol=1e-9,
                                   atol=1e-6)
    low, high = commercial_share[0.2], commercial_share[0.4]
    ranking = paired(low, high, "ranking_value")
    net = paired(low, high, "net_value")
    residual = paired(low, high, "residual_value")
    assert ranking["mean"] == pytest.approx(net["mean"] + residual["mean"])
    assert not math.isclose(residual["mean"], 0)


def test_burning_members_with_sales_posts_lowers_the_residual_value(commercial_share):
    """Raising only the commercial share from 20% to 40% of posts: exits rise, fewer members
    stay, and the residual value falls although each member left brings more."""
    low, high = commercial_share[0.2], commercial_share[0.4]
    assert paired(low, high, "exits")["low"] > 0
    assert paired(low, high, "members_end")["high"] < 0
    assert paired(low, high, "residual_value")["high"] < 0
    per_member_month = "operating_value_per_member_month"
    assert (high.summaries[per_member_month] > low.summaries[per_member_month]).all()


def test_purchase_fatigue_makes_recent_buyers_convert_less():
    base = load_scenario("smoke", {"simulation.days": 120, "activities.schedule": [],
                                   "monetization.commercial_posts_per_week": {"ecommerce": 3.0},
                                   "monetization.purchase_fatigue": 0.0})
    tired = base.with_overrides({"monetization.purchase_fatigue": 2.0})
    results = sweep({"fresh": base, "tired": tired}, replications=3, seed=4)

    def sales(result):
        return result.summaries["revenue_per_member"] * result.summaries["members"]

    assert (sales(results["tired"]) < 0.8 * sales(results["fresh"])).all()


def test_an_offer_converts_a_member_at_rate_over_one_plus_fatigue_times_recent_purchases():
    params = load_scenario("smoke", {"monetization.purchase_fatigue": 0.5})
    model = CommunityModel(params, np.random.SeedSequence(3))
    community.open_group(model, 0.0)
    seed_initial_members(model)
    rows = model.members.present_rows()[:3]
    model.members.purchases_window[rows] = [0, 1, 3]
    fresh = purchase_chance(model, rows, 0.1, tiring=False)
    np.testing.assert_allclose(purchase_chance(model, rows, 0.1), fresh / [1.0, 1.5, 2.5])
    assert fresh[0] == pytest.approx(0.1 * purchase_propensity(model, rows[:1])[0])


def _activity_revenue(schedule: list[dict], fatigue: float) -> np.ndarray:
    """Activity revenue per replication of the smoke group running only ``schedule``, no sales
    posts, where check-in finishers nearly always buy (so many come back as recent buyers)."""
    params = load_scenario("smoke", {"simulation.days": 90, "activities.schedule": schedule,
                                     "activities.types.checkin.purchase_prob": 0.9,
                                     "monetization.commercial_posts_per_week": {"ecommerce": 0.0},
                                     "monetization.purchase_fatigue": fatigue})
    result = simulate(params, replications=3, seed=5)
    return result.activities.groupby("replication")["revenue"].sum().to_numpy()


def test_fatigue_tires_activity_offers_but_not_the_live_sale_balance():
    checkins = [{"type": "checkin", "every_days": 10, "first_day": 1}]
    assert (_activity_revenue(checkins, 2.0) < _activity_revenue(checkins, 0.0)).all()
    # Deposit holders pay the balance whatever they bought lately: the same run either way.
    sales = [{"type": "live_flash_sale", "every_days": 10, "first_day": 1}]
    np.testing.assert_array_equal(_activity_revenue(sales, 2.0), _activity_revenue(sales, 0.0))
