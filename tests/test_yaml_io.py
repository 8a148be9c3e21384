"""The one strict YAML loader and the one validation-error formatter, through both of their users:
a scenario file (:func:`simlib.params.load_scenario`) and a batch file (:func:`simlib.batch.load_batch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simlib import yaml_io
from simlib.batch import BatchFileError, load_batch
from simlib.params import ParamsError, load_scenario
from simlib.risk_filter import SensitiveWordFilter

SCENARIO = "name: test\nlabel: test\nsimulation:\n  days: 60\n"
BATCH = "name: test\nscenarios: [baseline]\nnotebooks: [01_member_tiering]\nseed: 5\n"

# (what is refused, text appended to a valid file, what the message says)
REFUSALS = [
    ("duplicate key", "name: again\n", "duplicate key 'name' (first given on line 1)"),
    ("infinity", "extra: .inf\n", "'.inf' is not a finite number"),
    ("minus infinity", "extra: -.Inf\n", "'-.Inf' is not a finite number"),
    ("not a number", "extra: .nan\n", "'.nan' is not a finite number"),
    ("bare inf", "extra: inf\n", "'inf' is not a finite number"),
    ("bare nan", "extra: NaN\n", "'NaN' is not a finite number"),
    ("float tag", "extra: !!float 3\n", "explicit tag '!!float' is not allowed"),
    ("str tag", "extra: !!str 3\n", "explicit tag '!!str' is not allowed"),
    ("binary tag", "extra: !!binary aGk=\n", "explicit tag '!!binary' is not allowed"),
    ("local tag", "extra: !days 3\n", "explicit tag '!days' is not allowed"),
]


def _load(kind: str, path: Path) -> None:
    if kind == "scenario":
        load_scenario(str(path))
    else:
        load_batch(path)


@pytest.mark.parametrize("kind, valid, error",
                         [("scenario", SCENARIO, ParamsError), ("batch", BATCH, BatchFileError)])
@pytest.mark.parametrize("what, text, expected", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_in_scenario_and_batch_files(tmp_path, kind, valid, error, what, text, expected):
    path = tmp_path / f"{kind}.yaml"
    path.write_text(valid + text, encoding="utf-8")
    with pytest.raises(error) as caught:
        _load(kind, path)
    message = str(caught.value)
    line = len(valid.splitlines()) + 1
    assert message.startswith(f"{path}: line {line}: invalid YAML: "), message
    assert expected in message, message


# (YAML 1.1 trap, key it is given to, what a typed field expected) per file kind
TRAPS = {
    "scenario": [("yes", "tiering:\n  enabled: {}\n", "tiering.enabled = 'yes'", "boolean"),
                 ("off", "risk:\n  controls: {}\n", "risk.controls = 'off'", "boolean"),
                 ("0123", "simulation:\n  days: {}\n", "simulation.days = '0123'", "integer"),
                 ("12:30", "simulation:\n  seed: {}\n", "simulation.seed = '12:30'", "integer")],
    "batch": [("on", BATCH + "workers: {}\n", "workers = 'on'", "integer"),
              ("no", BATCH + "lang: {}\n", "lang = 'no'", "'zh' or 'en'"),
              ("0123", BATCH.replace("seed: 5\n", "seed: {}\n"), "seed = '0123'", "integer"),
              ("12:30", BATCH + "timeout_s: {}\n", "timeout_s = '12:30'", "number")],
}


@pytest.mark.parametrize("kind, trap, template, fragment, expected",
                         [(kind, *case) for kind, cases in TRAPS.items() for case in cases])
def test_yaml11_traps_stay_text_and_a_typed_field_refuses_them(tmp_path, kind, trap, template, fragment,
                                                               expected):
    path = tmp_path / f"{kind}.yaml"
    path.write_text(template.format(trap), encoding="utf-8")
    with pytest.raises(ParamsError if kind == "scenario" else BatchFileError) as caught:
        _load(kind, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {fragment}: expected"), message
    assert expected in message and "YAML 1.1" in message, message


def test_yaml11_traps_are_text_where_text_is_wanted(tmp_path):
    path = tmp_path / "batch.yaml"
    path.write_text("name: no\nscenarios: [yes, 0123]\nnotebooks: [12:30]\n", encoding="utf-8")
    config = load_batch(path)
    assert (config.name, config.scenarios, config.notebooks) == ("no", ["yes", "0123"], ["12:30"])
    assert yaml_io.load_text("a: '.inf'\nb: 'yes'\nc: 1_000\nd: -2.5e3\ne: ~\n", "x") == {
        "a": ".inf", "b": "yes", "c": 1000, "d": -2500.0, "e": None}


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(yaml_io.YamlError, match="absent.yaml: file not found"):
        yaml_io.read_mapping(tmp_path / "absent.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("label: 基线\n".encode("gb18030"))
    with pytest.raises(yaml_io.YamlError, match="not UTF-8 text"):
        yaml_io.read_mapping(latin)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(yaml_io.YamlError, match="expected a mapping of keys at the top level, got list"):
        yaml_io.read_mapping(listed)
    with pytest.raises(yaml_io.YamlError, match=r"x.yaml: line 2: invalid YAML: expected ',' or '\]'"):
        yaml_io.load_text("a: [1, 2\n", "x.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert yaml_io.read_mapping(empty) == {}


def test_the_risk_lexicon_goes_through_the_strict_loader(tmp_path):
    lexicon = tmp_path / "lexicon.yaml"
    text = "categories:\n  spam: {terms: [加微信]}\n  spam: {terms: [免费领]}\n"
    lexicon.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate key 'spam'"):
        SensitiveWordFilter.from_lexicon(lexicon)


# --------------------------------------------------------------------------- the error formatter


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    start: int
    end: int

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1)
    windows: list[Window]
    shares: dict[Literal["a", "b"], float] = {}


def _message(data: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        Plan.model_validate(data)
    return yaml_io.validation_message(caught.value, "plan.yaml", Plan)


def test_each_problem_names_file_key_path_value_and_expectation():
    message = _message({"name": "", "windows": [{"start": 1, "end": 2}, {"start": "9", "end": 10, "size": 3}],
                        "shares": {"c": 0.5}})
    assert message.splitlines() == [
        "plan.yaml: name = '': String should have at least 1 character",
        "plan.yaml: windows[1].start = '9': expected a valid integer",
        "plan.yaml: unknown key 'windows[1].size' (value 3); expected one of: start, end",
        "plan.yaml: shares: key 'c': expected 'a' or 'b'",
    ]


def test_missing_keys_and_checks_across_keys():
    message = _message({"windows": [{"start": 5, "end": 2}]})
    assert message.splitlines() == [
        "plan.yaml: name: required key is missing",
        "plan.yaml: windows[0]: end 2 must be after start 5",
    ]


def test_an_unquoted_date_is_explained():
    class Dated(BaseModel):
        model_config = ConfigDict(strict=True)
        start: str

    with pytest.raises(ValidationError) as caught:
        Dated.model_validate(yaml_io.load_text("start: 2026-01-05\n", "d.yaml"))
    message = yaml_io.validation_message(caught.value, "d.yaml")
    assert message.startswith("d.yaml: start = datetime.date(2026, 1, 5): expected a valid string")
    assert "quote it" in message
