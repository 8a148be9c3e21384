"""The helpers the lesson modules' findings share: choosing the best arm, an interval against a
figure (simlib.analysis.choice), and the sentence files (simlib.analysis.sentences)."""

import string

import pytest

from simlib.analysis import choice, sentences


def test_best_arm_checks_the_best_mean_and_the_lead():
    best = choice.best_arm({"a": [1.0, 2.0, 3.0], "b": [5.0, 6.0, 7.5], "c": [4.0, 6.0, 5.0]}, "value")
    assert (best.arm, best.runner_up) == ("b", "c") and best.mean == pytest.approx(6.1667, abs=1e-3)
    assert [check.relation for check in best.checks] == [">=", ">=", "unclear"]
    assert all(check.holds() for check in best.checks) and not best.separated
    clear = choice.best_arm({"a": [1.0, 2.0, 3.0], "b": [5.0, 6.0, 7.5]}, "value")
    assert clear.separated and clear.checks[-1].relation == "increase"
    with pytest.raises(ValueError, match="at least two arms"):
        choice.best_arm({"a": [1.0]}, "value")


@pytest.mark.parametrize(("entry", "word"), [({"mean": 0.1, "low": 0.05, "high": 0.12}, "below"),
                                             ({"mean": 0.3, "low": 0.2, "high": 0.4}, "above"),
                                             ({"mean": 0.15, "low": 0.1, "high": 0.2}, "around")])
def test_against_a_figure(entry, word):
    way, check = choice.against(entry, 0.15, "share")
    assert way == word and check.holds()


def test_sentences_are_found_filled_and_missing_ones_named():
    assert sentences.sentence("automation", "units.minutes", "en") == " min"
    assert "ρ = 1.20" in sentences.sentence("automation", "queue_overload", "en", rho="1.20")
    # a key may itself hold dots (a parameter's key path)
    assert sentences.sentence("risk", "uses.risk.major_crisis_prob", "en").startswith("chance")
    assert set(sentences.group("monetization", "holdout", "zh")) == {"close", "under", "over"}
    with pytest.raises(sentences.SentencesError, match="no sentence 'holdout.sideways'"):
        sentences.sentence("monetization", "holdout.sideways", "zh")
    with pytest.raises(sentences.SentencesError, match="is a group"):
        sentences.sentence("monetization", "holdout", "zh")
    with pytest.raises(sentences.SentencesError, match="no sentence file"):
        sentences.catalog("no_such_module")
    with pytest.raises(ValueError, match="lang"):
        sentences.sentence("automation", "units.minutes", "fr")


@pytest.mark.parametrize("module", ["automation", "monetization", "risk", "cross_platform"])
def test_every_sentence_has_both_languages_with_the_same_fields(module):
    def leaves(entry, path=""):
        if set(entry) == {"zh", "en"}:
            yield path, entry
        else:
            for key, value in entry.items():
                yield from leaves(value, f"{path}.{key}" if path else key)

    for path, entry in leaves(sentences.catalog(module)):
        zh, en = ({name for _, name, _, _ in string.Formatter().parse(entry[lang]) if name}
                  for lang in ("zh", "en"))
        assert zh == en, f"{module}: {path}"
