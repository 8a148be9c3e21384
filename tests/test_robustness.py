"""The report's robustness step (simlib.report.rebuild, robustness, robustness_section, summary):
scenarios rebuilt exactly as a batch ran them, re-simulated with assumptions moved, ranked by the
report's rule, and the answer labelled robust or fragile.

The batch folders are written here from real simulations of two small scenarios (the smoke
scenario, 40 days, 40 members, 2 replications), with the run.json a batch writes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from simlib import report
from simlib.batch.plan import params_hash
from simlib.param_layers import deep_merge, read_yaml
from simlib.params import load_scenario
from simlib.report import robustness, robustness_section
from simlib.report.summary import SECTIONS
from simlib.results import write_results
from simlib.runner import simulate

REPO = Path(__file__).resolve().parents[1]
SEED, REPLICATIONS = 11, 2
SMALL = {"simulation": {"days": 40, "initial_members": 40}}
# "costly" pays 50,000 a month for moderation; "warned" runs the warning system, whose cost the
# variant below raises to 1,000,000 a month: that variant, and only that one, puts "costly" first.
SCENARIOS = {
    "costly": {"risk": {"control_cost_per_month": 50000.0}},
    "warned": {"risk": {"warning_system": True}},
}
WARNING_COST = robustness.Assumption("risk.warning_cost_per_month", "set", 0.0, 1_000_000.0)
ASSUMPTIONS = (
    robustness.Assumption("members.ad_exit_slope", "set", 4.0, 16.0),
    WARNING_COST,
    robustness.Assumption("arrivals.no_such_parameter", "scale", 0.5, 2.0),
)
NO_THRESHOLDS: dict[str, float] = {}  # every scenario eligible: the ranking value decides


def _scenario_text(name: str) -> str:
    """The smoke scenario, smaller, with the blocks of :data:`SCENARIOS` (which it does not have)."""
    smoke = deep_merge(read_yaml(REPO / "params" / "scenarios" / "smoke.yaml"), SMALL, source="test")
    data = {**smoke, **SCENARIOS[name], "label": f"{name} 小场景"}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _hash(name: str, content: bytes, overrides: dict) -> str:
    hashed = {"scenario": name, "overrides": overrides, "replications": REPLICATIONS, "seed": SEED,
              "lang": "en", "data_source": None}
    return params_hash(hashed, hashlib.sha256(content).hexdigest())


def make_batch(root: Path, *, record_scenario: bool = True, overrides: dict | None = None) -> Path:
    """A batch folder as simlib.batch writes it: per scenario a 04_kpi_monitoring run with the KPIs
    of a real simulation and its run.json (with the scenario's text when ``record_scenario``; else
    an older run.json and the overrides in the executed notebook's Papermill parameters)."""
    overrides = overrides or {}
    scenarios_dir = root / "scenarios"
    scenarios_dir.mkdir(parents=True)
    for name in SCENARIOS:
        text = _scenario_text(name)
        path = scenarios_dir / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        result = simulate(load_scenario(path, overrides), replications=REPLICATIONS, seed=SEED)
        folder = root / "batch" / "runs" / "04_kpi_monitoring" / name
        write_results(folder, notebook="04_kpi_monitoring", scenario=name, seed=SEED,
                      replications=REPLICATIONS, metrics={}, kpis=result.kpi_entries(),
                      extra={"scenario_label": f"{name} 小场景"})
        info = {"notebook": "04_kpi_monitoring", "scenario": name, "scenario_file": str(path), "seed": SEED,
                "replications": REPLICATIONS, "lang": "en",
                "params_hash": _hash(name, text.encode("utf-8"), overrides)}
        if record_scenario:
            info.update(overrides=overrides, scenario_yaml=text)
        else:
            parameters = {"overrides": overrides, "scenario": str(path)}
            papermill = {"metadata": {"papermill": {"parameters": parameters}}}
            (folder / "notebook.ipynb").write_text(json.dumps(papermill), encoding="utf-8")
        (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return root / "batch"


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    return make_batch(tmp_path_factory.mktemp("robust"))


def _assess(batch_dir: Path, assumptions=ASSUMPTIONS, replications: int = REPLICATIONS,
            thresholds: dict[str, float] = NO_THRESHOLDS):
    batch = report.collect(batch_dir)
    answer = report.rank_scenarios(batch, thresholds, "costly", retention_floor=0.0)
    result = report.assess(batch, answer, report.batch_parameters(batch), replications=replications,
                           assumptions=assumptions)
    return batch, answer, result


@pytest.fixture(scope="module")
def assessed(batch_dir):
    return _assess(batch_dir)


# --------------------------------------------------------------------------- rebuilding


def test_scenarios_are_rebuilt_from_the_batch_record_not_todays_file(batch_dir):
    # Today's file says something else: the batch's own record of the scenario wins.
    (batch_dir.parent / "scenarios" / "warned.yaml").write_text("simulation: {days: 99}\n", encoding="utf-8")
    rebuilt = report.batch_parameters(report.collect(batch_dir))
    assert rebuilt.complete and rebuilt.problems == {}
    assert (rebuilt.seed, rebuilt.replications) == (SEED, REPLICATIONS)
    warned = rebuilt.params["warned"]
    assert warned.risk.warning_system
    assert (warned.simulation.days, warned.simulation.initial_members) == (40, 40)
    assert rebuilt.params["costly"].risk.control_cost_per_month == 50000.0


def test_an_older_run_is_rebuilt_from_its_notebook_until_its_file_changes(tmp_path):
    batch_dir = make_batch(tmp_path, record_scenario=False, overrides={"members.ad_exit_slope": 9.0})
    rebuilt = report.batch_parameters(report.collect(batch_dir))
    assert rebuilt.complete
    assert rebuilt.params["warned"].members.ad_exit_slope == 9.0  # the overrides of the executed notebook
    path = tmp_path / "scenarios" / "warned.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "description: edited since\n", encoding="utf-8")
    changed = report.batch_parameters(report.collect(batch_dir))
    assert list(changed.problems) == ["warned"] and "changed since" in changed.problems["warned"]
    assert not changed.complete
    batch = report.collect(batch_dir)
    answer = report.rank_scenarios(batch, NO_THRESHOLDS, "costly", retention_floor=0.0)
    result = report.assess(batch, answer, changed)
    assert result.not_assessed == "not_rebuilt" and result.robust is None and result.outcomes == {}
    section = robustness_section.robustness_html(batch, answer, result, "en")
    assert "cannot be rebuilt" in section and "warned 小场景" in section and "changed since" in section


def test_a_run_without_run_json_is_a_problem_not_an_error(tmp_path):
    folder = tmp_path / "runs" / "04_kpi_monitoring" / "x"
    write_results(folder, notebook="04_kpi_monitoring", scenario="x", seed=1, replications=2, metrics={},
                  kpis={"ranking_value": {"mean": 1.0, "low": 1.0, "high": 1.0, "values": [1.0, 1.0]}})
    rebuilt = report.batch_parameters(report.collect(tmp_path))
    assert rebuilt.problems == {"x": "the run folder has no readable run.json"}


# --------------------------------------------------------------------------- variants


def test_variants_change_only_their_parameter():
    params = load_scenario("smoke")
    reach = robustness.variant_params(params, robustness.Variant(robustness.ASSUMPTIONS[2], "low"))
    assert robustness.ASSUMPTIONS[2].param == "arrivals.channels.*.daily_reach"
    for name, channel in params.arrivals.channels.items():
        assert reach.arrivals.channels[name].daily_reach == pytest.approx(0.5 * channel.daily_reach)
        assert reach.arrivals.channels[name].join_rate == channel.join_rate
    tolerance = robustness.variant_params(params, robustness.Variant(robustness.ASSUMPTIONS[1], "high"))
    beta = tolerance.members.ad_tolerance
    assert beta.a / (beta.a + beta.b) == pytest.approx(0.30)
    assert beta.a + beta.b == pytest.approx(params.members.ad_tolerance.a + params.members.ad_tolerance.b)
    lost = robustness.variant_params(params, robustness.Variant(robustness.ASSUMPTIONS[4], "low"))
    assert lost.community.overflow == "lost"
    assert lost.model_copy(update={"community": params.community}) == params
    with pytest.raises(KeyError, match="no_such_parameter"):
        robustness.variant_params(params, robustness.Variant(ASSUMPTIONS[2], "low"))


def test_every_assumption_of_the_list_names_a_parameter_of_the_defaults():
    params = load_scenario()
    for assumption in robustness.ASSUMPTIONS:
        assert robustness.current_values(params, assumption), assumption.param
        for side in robustness.SIDES:
            robustness.variant_params(params, robustness.Variant(assumption, side))  # a valid parameter set


# --------------------------------------------------------------------------- the assessment


def test_a_variant_that_flips_the_top_makes_the_answer_fragile(assessed):
    batch, answer, result = assessed
    assert answer.recommended == "warned" and result.subject == "warned"
    assert result.subject_kind == "recommended" and result.runner_up == "costly"
    assert [v.key for v in result.variants] == [
        "members.ad_exit_slope=low", "members.ad_exit_slope=high", "risk.warning_cost_per_month=low",
        "risk.warning_cost_per_month=high"]
    assert result.skipped == [
        "arrivals.no_such_parameter: not a parameter of these defaults (arrivals.no_such_parameter: no "
        "parameter 'no_such_parameter' under 'arrivals')"]
    assert result.base.first == "warned" and not result.flips(result.base)
    assert result.reproduces_batch is True  # same seed, same parameters: the batch's numbers again
    flipped = result.outcomes["risk.warning_cost_per_month=high"]
    assert flipped.first == "costly" and flipped.first_eligible and flipped.margin < 0
    assert [v.key for v in result.flipping] == ["risk.warning_cost_per_month=high"]
    assert result.robust is False
    assert [row[0].param for row in result.influence()][0] == "risk.warning_cost_per_month"
    assert result.influence()[0][1] == 1
    verdict = robustness_section.verdict_html(batch, result, "en")
    assert verdict.startswith("Fragile: <b>warned 小场景</b>")
    assert "with risk.warning_cost_per_month = 1,000,000: costly 小场景 recommended" in verdict


def test_the_rank_table_has_a_row_per_variant_and_a_column_per_scenario(assessed):
    batch, answer, result = assessed
    display, styles = robustness_section.rank_display(batch, answer, result, "en")
    assert list(display.columns) == ["Assumption", "Value", "warned 小场景", "costly 小场景", "First",
                                     "warned 小场景 − costly 小场景 (ranking value, CNY)"]
    assert len(display) == 2 + len(result.variants)
    assert display["Assumption"].iloc[0] == "The batch (2 replications)"
    assert display["Assumption"].iloc[1] == "Re-simulated as run (2 replications)"
    flipped = display.index[display["Value"] == "1,000,000"][0]
    assert display.loc[flipped, ["warned 小场景", "costly 小场景"]].tolist() == ["2", "1"]
    assert display.loc[flipped, "First"] == "costly 小场景 recommended"
    assert styles.loc[flipped, "First"] == report.FAIL_STYLE
    assert (styles.drop(index=flipped)["First"] == report.PASS_STYLE).all()
    # The batch's own row and the re-simulation as run agree: same seed, same parameters.
    assert display.iloc[0, 2:].tolist() == display.iloc[1, 2:].tolist()
    section = robustness_section.robustness_html(batch, answer, result, "en")
    assert "reproduces the batch's own replications exactly" in section
    assert "arrivals.no_such_parameter: not a parameter of these defaults" in section


def test_the_residual_horizon_is_recomputed_without_simulating_again(batch_dir):
    horizon = robustness.Assumption("metrics.residual_horizon_months", "set", 3, 36)
    batch, _, result = _assess(batch_dir, assumptions=(horizon,))
    assert result.simulated == len(SCENARIOS)  # the base only: both variants reuse its replications
    params = report.batch_parameters(batch).params["warned"]
    longer = params.with_overrides({"metrics.residual_horizon_months": 36})
    again = simulate(longer, replications=REPLICATIONS, seed=SEED)
    derived = result.outcomes["metrics.residual_horizon_months=high"].ranking.values["warned"]
    assert derived["values"] == pytest.approx(again.values("ranking_value"), rel=1e-12)


def test_an_answer_that_holds_everywhere_is_robust_and_the_summary_says_how_sure(batch_dir):
    batch, answer, result = _assess(batch_dir, assumptions=ASSUMPTIONS[:1], replications=3)
    assert result.robust is True and result.flipping == []
    assert result.reproduces_batch is True  # the first two of three replications are the batch's
    summary = report.summary_html(batch, answer, "en", result)
    assert summary.startswith('<div id="summary"')
    assert "the recommendation is warned 小场景" in summary
    assert "Robust: <b>warned 小场景</b> stays first" in summary and "1 assumption variants" not in summary
    assert "By how much" in summary and "CNY (95% interval, paired t)" in summary
    for anchor in SECTIONS:
        assert f'href="#{anchor}"' in summary


def test_a_fragile_answer_is_named_in_the_summary_with_what_it_depends_on(assessed):
    batch, answer, result = assessed
    summary = report.summary_html(batch, answer, "zh", result)
    assert "脆弱 (fragile)" in summary
    assert "主要取决于 (depends most on)</b>:risk.warning_cost_per_month(1 个变体改变结论)" in summary


def test_the_step_is_left_out_with_fewer_than_two_replications(batch_dir):
    batch, answer, result = _assess(batch_dir, replications=0)
    assert result.not_assessed == "off" and result.robust is None
    assert "robustness_replications = 0" in robustness_section.robustness_html(batch, answer, result, "en")
    assert "Robustness not assessed" in report.summary_html(batch, answer, "en", result)


def test_when_none_is_eligible_the_closest_is_the_answer_and_places_follow_closeness(batch_dir):
    unreachable = {"share_rate": 0.99, "revisit_7d": 0.999}
    batch, answer, result = _assess(batch_dir, assumptions=(WARNING_COST,), thresholds=unreachable)
    assert answer.recommended is None and result.subject == answer.closest == "warned"
    assert result.subject_kind == "closest" and result.runner_up is None
    for outcome in [result.base, *result.outcomes.values()]:
        assert list(outcome.places) == outcome.ranking.closeness_order() and not outcome.first_eligible
    # Both miss the same conditions by as much (the costs change no behaviour): the ranking value
    # breaks the tie, so the costly warning system makes "costly" the closest.
    assert [v.key for v in result.flipping] == ["risk.warning_cost_per_month=high"]
    checks = result.base.ranking.checks["warned"]
    shortfall = sum((check.bound - check.mean) / check.bound for check in checks if not check.passed)
    assert result.base.margin == pytest.approx(shortfall)
    display, _ = robustness_section.rank_display(batch, answer, result, "en")
    assert display["First"].tolist() == ["none eligible, closest warned 小场景"] * 3 + [
        "none eligible, closest costly 小场景"]
    assert display["warned 小场景"].tolist() == ["1 ✗", "1 ✗", "1 ✗", "2 ✗"]
    assert display["Relative shortfall of warned 小场景, total"].iloc[1] == f"{shortfall:.1%}"
    summary = report.summary_html(batch, answer, "en", result)
    assert "Verdict: no scenario is eligible" in summary
    assert "with risk.warning_cost_per_month = 1,000,000: none eligible, closest costly 小场景" in summary
