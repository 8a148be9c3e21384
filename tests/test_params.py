"""Parameter loading: defaults carry the article's figures; bad files fail with clear messages."""

import pytest

from simlib.params import ParamsError, list_scenarios, load_scenario, read_yaml


def test_defaults_hold_the_article_tables():
    p = load_scenario()
    assert p.tiering.rules.potential_max_days == 7 and p.tiering.rules.silent_min_days == 15
    assert p.tiering.rules.active_min_interactions == 5 and p.tiering.rules.loyal_min_purchases == 3
    assert p.content.types["knowledge"].open_rate == pytest.approx(0.783)
    assert p.content.types["flash_deal"].interaction_rate == pytest.approx(0.342)
    assert p.activities.types.checkin.cost_per_head == pytest.approx(3.2)
    assert p.monitoring.health_thresholds.revisit_7d == pytest.approx(0.45)
    assert p.automation.reach_accuracy_automated == pytest.approx(0.987)
    assert p.monetization.modes["paid_knowledge"].conversion_range == (0.12, 0.22)
    assert p.monetization.commercial_share_cap == pytest.approx(0.15)
    assert p.risk.types["opinion_crisis"].response_hours == pytest.approx(2.0)

    # The article's claims that are not settings (ROIs, ×2.3, 68% overlap, 3 admins …) are in the
    # claims register, not in the parameters: nothing could read them as if they were inputs.
    assert not hasattr(p.activities.types.ugc, "roi") and not hasattr(p.cross_platform, "optimal_overlap")


def test_every_default_figure_from_the_article_names_its_source():
    text = (load_scenario.__globals__["DEFAULTS_FILE"]).read_text(encoding="utf-8")
    for figure in ("78.3%", "89.1%", "65.8%", "73.5%", "¥3.2", "¥5.8", "¥15.6", "¥8.4", "≥8条/百人", "≥45%",
                   "≥25%", "≥18%", "60%", "98.7%", "23%", "8%-15%", "12%-22%", "5%-9%", "92%", "78%",
                   "0.3次/年", "2.3倍", "68%"):
        assert figure in text, f"defaults.yaml does not cite the article's {figure}"


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_loads(name):
    params = load_scenario(name)
    assert params.name == name and params.label


def test_scenarios_differ_from_baseline_where_they_say():
    base = load_scenario("baseline")
    assert load_scenario("tiered").tiering.enabled and not base.tiering.enabled
    assert load_scenario("automation_heavy").automation.level == pytest.approx(0.9)
    aggressive = load_scenario("aggressive_monetization").monetization.commercial_posts_per_week
    assert sum(aggressive.values()) > sum(base.monetization.commercial_posts_per_week.values())


def test_overrides_with_dotted_keys_and_nested_dicts():
    p = load_scenario("baseline", {"tiering.enabled": True, "automation": {"level": 0.4}})
    assert p.tiering.enabled and p.automation.level == pytest.approx(0.4)
    again = p.with_overrides({"tiering.interventions.silent.every_days": 10})
    assert again.tiering.interventions.silent.every_days == 10
    assert again.automation.level == pytest.approx(0.4)


BAD_FILES = [  # (file content, a fragment of the message, what it says was expected)
    ("tiering:\n  enabled: yes\n",
     "tiering.enabled = 'yes'", "boolean"),
    ("simulation:\n  days: 0123\n",
     "simulation.days = '0123'", "integer"),
    ("content:\n  calendar:\n    - {type: knowledge, weekday: Mon, time: \"25:00\"}\n",
     "'25:00'", "HH:MM"),
    ("content:\n  calendar:\n    - {type: knowledge, weekday: Monday, time: \"09:00\"}\n",
     "'Monday'", "Mon"),
    ("content:\n  calendar:\n    - {type: podcast, weekday: Mon, time: \"09:00\"}\n",
     "'podcast'", "knowledge"),
    ("tiering:\n  rules:\n    silent_days: 15\n",
     "unknown key 'tiering.rules.silent_days'", "silent_min_days"),
    ("simulaton:\n  days: 30\n",
     "unknown key 'simulaton'", "simulation"),
    ("simulation:\n  days: -5\n",
     "simulation.days = -5", "greater than or equal"),
    ("simulation:\n  group_cap: 600\n",
     "simulation.group_cap = 600", "less than or equal to 500"),
    ("simulation:\n  initial_members: 450\n  group_cap: 400\n",
     "exceeds group_cap", "450"),
    ("simulation:\n  start_date: 2026/01/05\n",
     "start_date", "YYYY-MM-DD"),
    ("content:\n  types:\n    knowledge:\n      open_rate: 1.2\n",
     "content.types.knowledge.open_rate = 1.2", "less than or equal to 1"),
    ("content:\n  types:\n    knowledge:\n      interaction_rate: 0.9\n",
     "interaction_rate 0.9 exceeds open_rate", "content.types.knowledge"),
    ("monetization:\n  modes:\n    ecommerce:\n      conversion_range: [0.2, 0.1]\n",
     "conversion_range", "low ≤ high"),
    ("monetization:\n  modes:\n    ecommerce:\n      conversion_range: 0.1\n",
     "conversion_range", "[low, high]"),
    ("monitoring:\n  admins: two\n",
     "monitoring.admins = 'two'", "integer"),
    ("monitoring:\n  shift_start: \"22:00\"\n  shift_end: \"09:00\"\n",
     "shift_end 09:00 must be after", "monitoring"),
    ("automation:\n  level: 1.5\n",
     "automation.level = 1.5", "less than or equal to 1"),
    ("activities:\n  schedule:\n    - {type: checkin, every_days: 0, first_day: 1}\n",
     "activities.schedule[0].every_days = 0", "greater than or equal to 1"),
    ("activities:\n  schedule:\n    - {type: checkin, every_days: 7}\n",
     "activities.schedule[0].first_day", "missing"),
    ("risk:\n  warning_system: on\n",
     "risk.warning_system = 'on'", "boolean"),
    ("members:\n  price_sensitivity: {a: 0, b: 2}\n",
     "members.price_sensitivity.a = 0", "greater than 0"),
    ("arrivals:\n  channels:\n    wechat_ads: {daily_reach: 1.0}\n",
     "unknown key 'arrivals.channels.wechat_ads'", "organic"),
    ("arrivals:\n  referral_audience: 0\n",
     "arrivals.referral_audience = 0", "greater than or equal to 1"),
    ("arrivals:\n  referral_audience: 2500.5\n",
     "arrivals.referral_audience = 2500.5", "integer"),
    ("arrivals:\n  referral_audience: everyone\n",
     "arrivals.referral_audience = 'everyone'", "integer"),
    ("monetization:\n  purchase_fatigue: -0.5\n",
     "monetization.purchase_fatigue = -0.5", "greater than or equal to 0"),
    ("monetization:\n  purchase_fatigue: high\n",
     "monetization.purchase_fatigue = 'high'", "number"),
    ("- just\n- a list\n",
     "expected a mapping", "list"),
    ("tiering: [unclosed\n",
     "invalid YAML", "line"),
]


@pytest.mark.parametrize(("text", "fragment", "expectation"), BAD_FILES)
def test_bad_scenario_file_gets_a_clear_message(tmp_path, text, fragment, expectation):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParamsError) as caught:
        load_scenario(str(path))
    message = str(caught.value)
    assert str(path) in message, message
    assert fragment in message, message
    assert expectation in message, message
    assert "\n" not in message  # one line, not a pydantic dump


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load_scenario(str(tmp_path / "absent.yaml"))
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_scenario(str(empty)).name == "empty"  # an empty scenario is the defaults
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("label: \"基线\"\n".encode("gb18030"))
    with pytest.raises(ParamsError, match="not UTF-8"):
        load_scenario(str(latin))


def test_strict_loader_keeps_yaml11_traps_as_strings(tmp_path):
    path = tmp_path / "traps.yaml"
    path.write_text("a: yes\nb: 0123\nc: 12:30\nd: true\ne: 12\nf: 1.5\ng: 1e3\nh: off\n", encoding="utf-8")
    expected = {"a": "yes", "b": "0123", "c": "12:30", "d": True, "e": 12, "f": 1.5, "g": 1000.0, "h": "off"}
    assert read_yaml(path) == expected


def test_unquoted_time_is_read_as_the_time_not_minutes(tmp_path):
    path = tmp_path / "calendar.yaml"
    text = "content:\n  calendar:\n    - {type: knowledge, weekday: Mon, time: 12:30}\n"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(str(path)).content.calendar[0].time == "12:30"  # not 750 (YAML 1.1 base 60)


def test_bad_overrides_are_named_as_overrides():
    with pytest.raises(ParamsError, match=r"^overrides: unknown key 'tiering.enabeld'"):
        load_scenario("baseline", {"tiering.enabeld": True})
    with pytest.raises(ParamsError, match=r"overrides: automation.level = 'high'"):
        load_scenario("baseline", {"automation.level": "high"})


def test_every_problem_of_a_file_gets_its_own_line(tmp_path):
    path = tmp_path / "several.yaml"
    path.write_text("simulation:\n  days: -5\n  group_cap: 600\ntiering:\n  enabled: yes\n", encoding="utf-8")
    with pytest.raises(ParamsError) as caught:
        load_scenario(str(path))
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "simulation.days = -5", "simulation.group_cap = 600", "tiering.enabled = 'yes'"]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "not as the boolean YAML 1.1 would make of it" in lines[2]


def test_a_key_not_allowed_in_a_free_form_mapping_is_named(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text("arrivals:\n  initial_channel_mix: {wechat: 1.0}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"arrivals.initial_channel_mix: key 'wechat': expected 'organic'"):
        load_scenario(str(path))
