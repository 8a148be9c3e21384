"""The claims register in params/defaults.yaml and the one verdict function (simlib.claims)."""

import math
import re

import pandas as pd
import pytest

from simlib import claims
from simlib.labels import LABELS
from simlib.params import ROOT, ParamsError, load_defaults, load_scenario

REGISTER = claims.load_register()

# Every claim the article makes with a figure, by section (the lesson plan's list).
ARTICLE_CLAIMS = {
    "§1": ["tiering_retention_lift", "tiering_value_lift", "tiering_potential_activation",
           "tiering_active_contribution", "tiering_loyal_repurchase", "tiering_silent_recall"],
    "§2": ["content_t2_knowledge", "content_t2_flash_deal", "content_t2_discussion",
           "content_t2_live_preview", "content_best_slots", "content_dwell_time", "content_share_multiplier"],
    "§3": ["activity_roi_checkin", "activity_roi_referral_lottery", "activity_roi_live_flash_sale",
           "activity_roi_ugc", "activity_vs_moments_ads", "activity_depth_vs_benchmark"],
    "§4": ["monitoring_admins_over_200"],
    "§5": ["automation_labour_cut", "automation_reach_accuracy", "automation_aversion"],
    "§6": ["monetization_t6_ecommerce", "monetization_t6_paid_knowledge", "monetization_t6_brand_deal",
           "monetization_t6_membership", "monetization_repurchase_vs_platforms", "monetization_share_cap"],
    "§7": ["risk_info_leak", "risk_opinion_crisis", "risk_opinion_response", "risk_restore",
           "risk_major_crises"],
    "§8": ["cross_platform_ltv", "cross_platform_optimal_overlap"],
}


def make_claim(**fields):
    """A claim built like the register builds one (validated, then given its id)."""
    base = {"section": "§1", "source": "原文", "unit": "lift"}
    return claims.Claim.model_validate({**base, **fields}).model_copy(update={"id": "example"})


WHY = {"zh": "原因", "en": "reason"}
MEASURES = {"zh": "测量", "en": "measure"}
METRIC = {"notebook": "01_member_tiering", "name": "m"}
LIFT = make_claim(kind="test", figure=0.42, compare="within", tolerance=0.05, no_effect=0.0, metric=METRIC,
                  measures=MEASURES)
LEVEL = make_claim(kind="test", figure=2.8, unit="roi", compare="within", tolerance=0.3, metric=METRIC,
                   measures=MEASURES)
FLOOR = make_claim(kind="test", figure=3.0, unit="count", compare="at_least", metric=METRIC,
                   measures=MEASURES)
CAP = make_claim(kind="test", figure=0.15, unit="share", compare="at_most", metric=METRIC,
                 measures=MEASURES)


def entry(mean, low, high):
    return {"mean": mean, "low": low, "high": high, "values": None, "unit": ""}


# --------------------------------------------------------------------------------------- the register


def test_every_claim_of_the_article_is_in_the_register_in_order():
    assert list(REGISTER) == [claim_id for ids in ARTICLE_CLAIMS.values() for claim_id in ids]
    for section, ids in ARTICLE_CLAIMS.items():
        assert {REGISTER[claim_id].section for claim_id in ids} == {section}


def test_kinds_say_what_the_model_can_and_cannot_show():
    kinds = {claim_id: claim.kind for claim_id, claim in REGISTER.items()}
    tested = ["tiering_retention_lift", "tiering_value_lift", "tiering_loyal_repurchase",
              "activity_roi_live_flash_sale", "monitoring_admins_over_200", "monetization_share_cap",
              "cross_platform_ltv"]
    calibrated = ["activity_roi_checkin", "activity_roi_referral_lottery", "activity_roi_ugc",
                  "risk_major_crises"]
    untestable = ["tiering_potential_activation", "activity_vs_moments_ads", "activity_depth_vs_benchmark",
                  "monetization_repurchase_vs_platforms", "cross_platform_optimal_overlap"]
    assert sorted(k for k, v in kinds.items() if v == "test") == sorted(tested)
    assert sorted(k for k, v in kinds.items() if v == "calibrated") == sorted(calibrated)
    assert sorted(k for k, v in kinds.items() if v == "untestable") == sorted(untestable)
    assert all(kinds[k] == "input" for k in set(kinds) - set(tested) - set(calibrated) - set(untestable))


def test_figures_are_the_articles_numbers():
    assert claims.figure("tiering_retention_lift") == pytest.approx(0.42)
    assert claims.figure("tiering_value_lift") == pytest.approx(0.58)
    assert claims.figure("activity_vs_moments_ads") == pytest.approx(2.3)
    assert claims.figure("monetization_repurchase_vs_platforms") == (3.0, 5.0)
    assert claims.figure("risk_major_crises") == pytest.approx(0.3)
    assert claims.figure("content_best_slots") is None
    for claim in REGISTER.values():  # the figure, as written, is quoted in the claim's source
        for number in re.findall(r"\d+(?:\.\d+)?", claims.figure_text(claim)):
            assert number in claim.source, (claim.id, number)


def test_tests_are_measured_in_their_own_lesson_and_echoes_point_at_their_parameter():
    defaults = load_defaults()
    for claim in REGISTER.values():
        if claim.kind == "test":
            assert claim.metric.notebook == claim.notebook, claim.id
        if claim.kind in ("input", "calibrated"):
            node = defaults
            for part in claim.parameter.split("."):
                node = node[part]
            if claim.kind == "input" and isinstance(claim.figure, float):
                assert node == pytest.approx(claim.figure), claim.id


def test_lessons_are_the_notebooks_and_each_has_its_claims():
    on_disk = sorted(path.stem for path in (ROOT / "notebooks").glob("0[1-9]*.ipynb"))  # 00: the lab
    assert list(claims.LESSON_NOTEBOOKS) == on_disk
    assert [c.id for c in claims.for_notebook("03_activity_design")] == ARTICLE_CLAIMS["§3"]
    for notebook, section in zip(claims.LESSON_NOTEBOOKS, claims.SECTIONS, strict=True):
        assert {c.section for c in claims.for_notebook(notebook)} == {section}
    with pytest.raises(ValueError, match="expected one of"):
        claims.for_notebook("09_community")


def test_an_unknown_claim_id_names_the_closest():
    with pytest.raises(KeyError, match="tiering_retention_lift"):
        claims.get("tiering_retention")


def test_every_kind_and_verdict_has_a_label_in_both_languages():
    for kind in claims.KINDS:
        zh, en = claims.kind_label(kind, "zh"), claims.kind_label(kind, "en")
        assert zh and en and zh != en
    for code in claims.VERDICTS:
        assert set(LABELS[f"verdict_{code}"]) == {"zh", "en"}
        assert claims.verdict_label(code, "en")


# --------------------------------------------------------------------------------------- not in Params


def test_claims_are_not_parameters():
    assert "claims" not in load_defaults()
    assert "claims" not in load_scenario().model_dump()


def test_a_scenario_or_overrides_with_claims_is_refused(tmp_path):
    path = tmp_path / "with_claims.yaml"
    path.write_text("claims:\n  tiering_retention_lift: {figure: 0.9}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"with_claims.yaml: key 'claims': the claims register lives in "
                                          r"defaults.yaml only"):
        load_scenario(str(path))
    with pytest.raises(ParamsError, match=r"^overrides: key 'claims'"):
        load_scenario("baseline", {"claims.tiering_retention_lift.figure": 0.9})


CLAIM = "    section: \"§1\"\n    source: 原文\n    unit: share\n"
BAD_REGISTERS = [  # (the claims block below `risk: {x: 0.5}`, a fragment of the message, the expectation)
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: guess\n    why: {zh: 中, en: e}\n",
     "claims.a_claim.kind = 'guess'", "'test', 'input', 'calibrated' or 'untestable'"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: untestable\n    why: {zh: 中, en: e}\n    reason: x\n",
     "unknown key 'claims.a_claim.reason'", "expected one of"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: test\n    figure: 0.4\n",
     "claims.a_claim", "kind test needs compare, measures, metric"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: untestable\n    why: {zh: 中, en: e}\n"
     "    parameter: risk.x\n",
     "claims.a_claim", "kind untestable takes no parameter"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: test\n    figure: 0.4\n    compare: at_least\n"
     "    metric: {notebook: 09_community, name: m}\n    measures: {zh: 中, en: e}\n",
     "claims.a_claim.metric.notebook = '09_community'", "'01_member_tiering'"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: test\n    figure: 0.4\n    compare: within\n"
     "    metric: {notebook: 01_member_tiering, name: m}\n    measures: {zh: 中, en: e}\n",
     "claims.a_claim", "compare within needs a tolerance"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: input\n    figure: 0.5\n    parameter: risk.y\n"
     "    why: {zh: 中, en: e}\n",
     "claims.a_claim.parameter = 'risk.y'", "did you mean ['risk.x']"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: input\n    figure: 0.6\n    parameter: risk.x\n"
     "    why: {zh: 中, en: e}\n",
     "claims.a_claim.figure = 0.6", "risk.x = 0.5"),
    ("claims:\n  a_claim:\n" + CLAIM + "    kind: untestable\n    figure: [5, 3]\n    why: {zh: 中, en: e}\n",
     "claims.a_claim.figure", "low ≤ high"),
    ("claims: {}\n", "claims", "at least 1 item"),
    ("other: 1\n", "no 'claims' block", "register"),
]


@pytest.mark.parametrize(("block", "fragment", "expectation"), BAD_REGISTERS)
def test_a_bad_register_gets_a_clear_message(tmp_path, block, fragment, expectation):
    path = tmp_path / "defaults.yaml"
    path.write_text("risk: {x: 0.5}\n" + block, encoding="utf-8")
    with pytest.raises(claims.ClaimsError) as caught:
        claims.load_register(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert fragment in message, message
    assert expectation in message, message


# --------------------------------------------------------------------------------------- verdicts

VERDICT_CASES = [  # (claim, entry, verdict code)
    (LIFT, entry(0.40, 0.30, 0.50), "reproduced"),
    (LIFT, entry(0.20, -0.05, 0.45), "inconclusive"),  # allows both +42% and no effect
    (LIFT, entry(0.03, 0.01, 0.05), "not_reproduced"),
    (LIFT, entry(0.00, -0.02, 0.02), "not_reproduced"),  # no effect, and the claim excluded
    (LIFT, entry(0.80, 0.70, 0.90), "not_reproduced"),
    (LEVEL, entry(3.3, 3.05, 3.5), "reproduced"),  # overlaps 2.8 ± 0.3
    (LEVEL, entry(1.9, 1.7, 2.1), "not_reproduced"),
    (FLOOR, entry(4.0, 3.0, 5.0), "reproduced"),
    (FLOOR, entry(3.0, 2.0, 4.0), "inconclusive"),
    (FLOOR, entry(1.0, 1.0, 1.0), "not_reproduced"),
    (CAP, entry(0.10, 0.05, 0.15), "reproduced"),
    (CAP, entry(0.15, 0.10, 0.20), "inconclusive"),
    (CAP, entry(0.30, 0.20, 0.40), "not_reproduced"),
    (LIFT, None, "not_measured"),
    (LIFT, {"mean": None, "low": None, "high": None}, "not_measured"),
]


@pytest.mark.parametrize(("claim", "metric_entry", "code"), VERDICT_CASES)
def test_verdict_rules(claim, metric_entry, code):
    result = claims.verdict(claim, metric_entry)
    assert result.code == code
    assert result.is_evidence == (code in ("reproduced", "not_reproduced", "inconclusive"))
    assert set(result.explanation) == {"zh", "en"} and all(result.explanation.values())


def test_a_point_without_an_interval_is_judged_as_a_point():
    result = claims.verdict(FLOOR, {"mean": 4.0})
    assert (result.code, result.low, result.high) == ("reproduced", 4.0, 4.0)


def test_the_explanation_is_computed_from_the_numbers():
    result = claims.verdict("tiering_retention_lift", entry(0.031, 0.012, 0.050))
    assert result.code == "not_reproduced"
    assert result.explanation["zh"] == "模拟 +3.1% [+1.2%, +5.0%]：原文 +42%（容差 ±5 个百分点）不在区间内"
    assert result.explanation["en"] == ("simulated +3.1% [+1.2%, +5.0%]: the article's +42% "
                                        "(tolerance ±5 pp) lies outside the interval")
    inconclusive = claims.verdict("cross_platform_ltv", entry(1.6, 0.9, 2.4))
    assert inconclusive.code == "inconclusive" and "1×" in inconclusive.explanation["zh"]
    rate = claims.verdict("risk_major_crises", entry(0.39, 0.31, 0.47))
    assert "0.39 [0.31, 0.47] 次/年" in rate.explanation["zh"]


def test_echoes_show_the_measurement_but_are_never_evidence():
    calibrated = claims.verdict("activity_roi_checkin", entry(4.7, 4.5, 4.9))  # even a perfect match
    assert calibrated.code == "echo_calibrated" and not calibrated.is_evidence
    assert (calibrated.mean, calibrated.low, calibrated.high) == (4.7, 4.5, 4.9)
    assert "activities.types.checkin.purchase_prob" in calibrated.explanation["en"]
    assert "1:4.70 [1:4.50, 1:4.90]" in calibrated.explanation["zh"]
    echo = claims.verdict("automation_labour_cut", None)
    assert echo.code == "echo_input" and math.isnan(echo.mean)
    assert "automation.labour_cost_reduction" in echo.explanation["zh"]
    slots = claims.verdict("content_best_slots", None)
    assert slots.explanation["en"].startswith("the article's listed setting is a model input")
    untestable = claims.verdict("activity_vs_moments_ads", entry(1.0, 0.5, 1.5))
    assert untestable.code == "untestable" and "朋友圈广告" in untestable.explanation["zh"]


def test_verdict_table_across_scenarios():
    results = {
        "baseline": {"tiered_vs_untiered_retention_lift": entry(0.03, 0.01, 0.05),
                     "activity_roi_checkin": entry(1.9, 1.7, 2.1)},
        "tiered": {"tiered_vs_untiered_retention_lift": entry(0.45, 0.40, 0.50)},
    }
    table = claims.verdict_table(results, lang="en")
    assert list(table.columns) == claims.TABLE_COLUMNS
    assert len(table) == 2 * len(REGISTER)
    row = table.set_index(["claim", "scenario"])
    assert row.loc[("tiering_retention_lift", "baseline"), "verdict"] == "not_reproduced"
    assert row.loc[("tiering_retention_lift", "tiered"), "verdict"] == "reproduced"
    assert row.loc[("activity_roi_checkin", "baseline"), "verdict"] == "echo_calibrated"
    assert row.loc[("activity_roi_checkin", "baseline"), "mean"] == pytest.approx(1.9)
    assert pd.isna(row.loc[("activity_roi_checkin", "tiered"), "mean"])
    assert row.loc[("tiering_value_lift", "tiered"), "verdict"] == "not_measured"
    assert row.loc[("monetization_repurchase_vs_platforms", "tiered"), "figure"] == (3.0, 5.0)
    lesson = claims.verdict_table(results, notebook="01_member_tiering")
    assert set(lesson["claim"]) == set(ARTICLE_CLAIMS["§1"])
    assert lesson["explanation"].str.contains("[\u4e00-\u9fff]").all()  # in Chinese by default
    assert not table["explanation"].str.contains("模拟|原文").any()
    with pytest.raises(ValueError, match="lang='fr'"):
        claims.verdict_table(results, lang="fr")


def test_every_verdict_has_an_explanation_in_both_languages():
    tests = {f"{code}_{compare}" for code in ("reproduced", "not_reproduced")
             for compare in ("within", "at_least", "at_most")}
    others = {"inconclusive_within", "inconclusive_bound", "not_measured", "echo_input", "echo_calibrated",
              "untestable", "phrase_effect", "phrase_echo_measured", "phrase_echo_unmeasured",
              "phrase_no_figure"}
    texts = claims.explanation_texts()
    assert set(texts) == tests | others
    assert all(text.zh != text.en for text in texts.values())


def test_a_notebook_context_shows_its_lessons_claims_with_verdicts():
    from simlib import notebook

    ctx = notebook.start("01_member_tiering", scenario="smoke", overrides={}, replications=2, seed=1,
                         output_dir=None, lang="zh")
    ctx.record("tiered_vs_untiered_retention_lift", {"mean": 0.01, "low": -0.01, "high": 0.03})
    shown = ctx.claims_check()
    ids = [claim.id for claim in claims.for_notebook("01_member_tiering")]
    assert len(shown) == len(ids) and list(ctx.tables["claims_check"]["claim"]) == ids
    row = ctx.tables["claims_check"].set_index("claim").loc["tiering_retention_lift"]
    assert row["verdict"] == "not_reproduced"
    assert "原文数字" in shown.columns and "已复现" not in set(shown["判定"])
