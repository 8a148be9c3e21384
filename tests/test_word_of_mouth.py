"""Word of mouth saturates: shares and invitations convert people out of a finite referral
audience (arrivals.referral_audience), at a probability scaled by the share not yet converted."""

import numpy as np
import pytest

from simlib.model import CommunityModel
from simlib.params import load_scenario
from simlib.processes import community
from simlib.processes.arrivals import referral_joins, seed_initial_members
from simlib.runner import simulate, sweep, window

# Shares bring many friends in, and seats are never short: only the audience limits referrals.
SHARING = {"arrivals.share_join_prob": 0.3, "community.max_groups": 200}


def _model(audience: int | None, overflow: str = "new_group") -> CommunityModel:
    params = load_scenario("smoke", {"arrivals.referral_audience": audience, "community.overflow": overflow})
    model = CommunityModel(params, np.random.SeedSequence(1))
    community.open_group(model, 0.0)
    seed_initial_members(model)
    return model


def _sharers(model: CommunityModel, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` shares by members of the group, at ascending times of the first day."""
    rows = model.members.present_rows()
    return rows[np.arange(count) % rows.size], np.linspace(0.1, 0.5, count)


def referral_counters(run) -> dict[str, float]:
    """Worker metric: people of the audience converted, and referral newcomers seated."""
    members = run.tables["members"]
    newcomers = members["join_ts"] >= window(run.params)[0]
    return {"referral_converted": float(run.counters["referral_converted"]),
            "referral_seated": float((newcomers & (members["channel"] == "referral")).sum())}


def test_a_tiny_audience_stops_conversions_at_its_size():
    model = _model(audience=5)
    sharers, times = _sharers(model, 100)
    joined = referral_joins(model, sharers, times, join_prob=1.0)
    assert joined.size == 5 and model.counters["referral_converted"] == 5
    # Everybody reachable has been converted: later shares bring nobody.
    assert referral_joins(model, sharers, times + 1e-3, join_prob=1.0).size == 0
    assert model.counters["referral_converted"] == 5


def test_the_join_probability_scales_with_the_share_of_the_audience_left():
    model = _model(audience=1_000_000, overflow="lost")
    model.counters["referral_converted"] = 750_000  # a quarter of the audience is left
    sharers, times = _sharers(model, 20_000)
    referral_joins(model, sharers, times, join_prob=0.4)
    converted = model.counters["referral_converted"] - 750_000
    expected = 20_000 * 0.4 * 0.25
    assert abs(converted - expected) < 4 * np.sqrt(expected * (1 - 0.1))


def test_people_turned_away_still_use_the_audience_up():
    model = _model(audience=50, overflow="lost")
    seats = model.params.simulation.group_cap - model.members.present_count
    model.admit(seats, "organic", np.full(seats, 0.05))
    sharers, times = _sharers(model, 400)
    assert referral_joins(model, sharers, times, join_prob=1.0).size == 0  # the group is full
    assert model.counters["referral_converted"] == 50 and model.counters["overflow"] == 50


def test_over_a_run_referral_joins_stop_at_a_tiny_audience():
    params = load_scenario("smoke", {**SHARING, "arrivals.referral_audience": 12})
    result = simulate(params, replications=3, seed=7, extra=referral_counters)
    assert (result.summaries["referral_converted"] == 12).all()
    assert (result.summaries["referral_seated"] == 12).all()


@pytest.fixture(scope="module")
def audiences():
    """The smoke scenario with lots of word of mouth: no limit, a huge audience, a modest one."""
    base = load_scenario("smoke", SHARING)
    return sweep({"unlimited": {"arrivals.referral_audience": None},
                  "huge": {"arrivals.referral_audience": 10**9},
                  "modest": {"arrivals.referral_audience": 300}},
                 base=base, replications=4, seed=11, workers=2, extra=referral_counters)


def test_a_huge_audience_behaves_as_no_limit(audiences):
    unlimited = audiences["unlimited"].summaries["referral_converted"]
    huge = audiences["huge"].summaries["referral_converted"]
    assert unlimited.mean() > 200  # enough word of mouth for saturation to matter
    assert huge.mean() == pytest.approx(unlimited.mean(), rel=0.01)
    for name in ("members_end", "ranking_value"):
        assert audiences["huge"].summaries[name].mean() == pytest.approx(
            audiences["unlimited"].summaries[name].mean(), rel=0.01)


def test_a_modest_audience_slows_word_of_mouth_before_it_runs_out(audiences):
    modest = audiences["modest"].summaries["referral_converted"]
    unlimited = audiences["unlimited"].summaries["referral_converted"]
    # Conversions slow down as the audience is used up: they stay well short of it, and of the
    # unlimited case.
    assert (modest < 300).all() and (modest < unlimited).all()
    members_end = {name: result.summaries["members_end"] for name, result in audiences.items()}
    assert (members_end["modest"] < members_end["unlimited"]).all()


def test_null_means_no_limit(tmp_path):
    path = tmp_path / "unlimited.yaml"
    path.write_text("arrivals:\n  referral_audience: null\n", encoding="utf-8")
    assert load_scenario(str(path)).arrivals.referral_audience is None
    assert load_scenario("baseline").arrivals.referral_audience == 2000
