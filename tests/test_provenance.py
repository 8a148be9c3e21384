"""Every default parameter's provenance, read from the comments of params/defaults.yaml."""

import pytest

from simlib import claims, provenance
from simlib.params import load_defaults
from simlib.yaml_io import YamlError

DEFAULTS = provenance.read()


def leaf_paths(data, prefix=""):
    """Every key path of ``data`` whose value is not a mapping (a list is one value)."""
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from leaf_paths(value, path)
        else:
            yield path


def test_every_default_parameter_has_a_provenance():
    assert DEFAULTS.untagged == {}
    assert set(DEFAULTS.sources) == set(leaf_paths(load_defaults()))
    assert not [path for path in DEFAULTS.sources if path.startswith("claims.")]


def test_the_article_assumptions_and_calibrations_are_told_apart():
    leak = provenance.source("risk.types.info_leak.effect")
    assert (leak.kind, leak.note) == ("article", "T7 风险降低92%")
    violation = provenance.source("risk.types.violation.effect")
    assert violation.kind == "assumption" and "T7 leaves the effect blank" in violation.note
    warning = provenance.source("risk.warning_escalation_reduction")
    assert (warning.kind, warning.claim) == ("calibrated", "risk_major_crises")
    for activity in ("checkin", "referral_lottery", "ugc"):  # chosen so the ROI is near table 3's
        tuned = provenance.source(f"activities.types.{activity}.purchase_prob")
        assert (tuned.kind, tuned.claim) == ("calibrated", f"activity_roi_{activity}")
    assert provenance.source("activities.types.live_flash_sale.final_purchase_prob").kind == "assumption"
    assert provenance.source("monetization.modes.membership.conversion_range").kind == "assumption"


def test_the_values_of_a_one_line_mapping_share_its_comment():
    reach, clicks = (provenance.source(f"arrivals.channels.douyin.{field}") for field in ("daily_reach",
                                                                                         "click_rate"))
    assert reach.kind == clicks.kind == "assumption"
    assert (reach.line, reach.note) == (clicks.line, clicks.note)
    dwell = provenance.source("content.dwell_minutes.quality")
    assert dwell.kind == "article" and dwell.note.startswith("§2")
    assert provenance.source("content.types.knowledge.best_slots").note.startswith("T2")


def test_calibrations_and_the_claims_register_agree():
    register = claims.load_register()
    for claim in register.values():
        if claim.kind == "calibrated":
            tag = provenance.source(claim.parameter)
            assert (tag.kind, tag.claim) == ("calibrated", claim.id), claim.id
        if claim.kind == "input":  # an echo of the article's figure: the parameter holds that figure
            assert provenance.source(claim.parameter).kind == "article", claim.id
    for tag in DEFAULTS.sources.values():
        if tag.kind == "calibrated":
            assert register[tag.claim].kind == "calibrated" and register[tag.claim].parameter == tag.key_path


def test_mark_and_footnote_for_the_article_tables():
    assert provenance.mark("80%", "risk.types.violation.effect") == "80%*"
    assert provenance.mark("0.2", "activities.types.checkin.purchase_prob") == "0.2†"
    assert provenance.mark("92%", "risk.types.info_leak.effect") == "92%"
    both = provenance.footnote("zh")
    assert both.startswith("* 假设") and "† 校准" in both
    assert provenance.footnote("en").startswith("* Assumption")
    assert provenance.footnote("en", ["risk.types.info_leak.effect"]) == ""
    assumed_only = provenance.footnote("en", ["risk.types.info_leak.effect", "risk.types.violation.effect"])
    assert assumed_only.startswith("* Assumption") and "†" not in assumed_only
    with pytest.raises(ValueError, match="lang"):
        provenance.footnote("fr")


def test_an_unknown_or_non_leaf_key_is_named():
    with pytest.raises(provenance.ProvenanceError, match="did you mean"):
        provenance.source("risk.types.violation.efect")
    with pytest.raises(provenance.ProvenanceError, match="no parameter 'risk.types'"):
        provenance.source("risk.types")


def write(tmp_path, text):
    path = tmp_path / "defaults.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_parser_reads_comments_not_strings(tmp_path):
    path = write(tmp_path, (
        'a:\n'
        '  label: "no # comment here"   # T3 参与门槛\n'
        '  quoted: "#1 fan"\n'
        '  note: 1.5                    # a remark, not a tag\n'
        '  slots:                       # ASSUMPTION: a block list is one value\n'
        '    - {x: 1}                   # T1 a comment inside the list is not the list\'s\n'
        'claims:\n'
        '  c: {figure: 1}\n'))
    result = provenance.read(path)
    assert result.sources["a.label"].note == "T3 参与门槛"
    assert result.sources["a.slots"].kind == "assumption"
    assert result.untagged == {"a.quoted": 3, "a.note": 4}


def test_a_calibrated_tag_must_name_its_claim(tmp_path):
    path = write(tmp_path, "a:\n  b: 0.5   # CALIBRATED: chosen so it works\n")
    with pytest.raises(provenance.ProvenanceError, match=r"line 2: a.b: .*must name the claim"):
        provenance.read(path)


def test_a_broken_file_names_its_line(tmp_path):
    with pytest.raises(YamlError, match=r"defaults.yaml: line \d+: invalid YAML"):
        provenance.read(write(tmp_path, "a:\n  b: [unclosed\n"))
