import pandas as pd
import pytest

from simlib import risk_filter as rf


@pytest.fixture(scope="module")
def shipped():
    return rf.SensitiveWordFilter.from_lexicon()


@pytest.mark.parametrize(
    "text",
    ["刷单", "刷 单", "刷*单", "刷\u200b单", "刷🔥单", "刷\u3000单", "刷－单"],
)
def test_evasions_normalize_to_the_term(text):
    assert rf.normalize(text) == "刷单"


def test_full_width_and_case():
    assert rf.normalize("加ＶＸ") == "加vx"
    assert rf.normalize("ＣＶＶ：１２３") == "cvv123"


def test_scan_reports_positions_in_the_original_text(shipped):
    text = "有人要吗?刷*单*返*利"
    matches = shipped.scan(text)
    terms = {m.term: text[m.start:m.end] for m in matches}
    assert terms == {"刷单": "刷*单", "返利": "返*利"}
    assert {m.category for m in matches} == {"fraud_spam"}


def test_overlapping_matches_are_all_reported():
    f = rf.SensitiveWordFilter({"fraud": ["兼职", "兼职日结"], "money": ["日结"]}, detect_personal_data=False)
    text = "诚招兼职日结"
    found = {(m.category, m.term, m.start, m.end) for m in f.scan(text)}
    assert found == {("fraud", "兼职", 2, 4), ("fraud", "兼职日结", 2, 6), ("money", "日结", 4, 6)}


def test_same_term_in_two_categories():
    f = rf.SensitiveWordFilter({"a": ["套现"], "b": ["套 现"]}, detect_personal_data=False)
    assert {m.category for m in f.scan("花呗套现")} == {"a", "b"}


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("电话13812345678谢谢", "13812345678"),
        ("电话 138-1234-5678", "138-1234-5678"),
        ("电话+86 159 0000 1111", "159 0000 1111"),
        ("电话：１３９ ００１３ ８０００", "１３９ ００１３ ８０００"),
    ],
)
def test_phone_numbers(shipped, text, span):
    phones = [m for m in shipped.scan(text) if m.term == "phone_number"]
    assert len(phones) == 1
    assert text[phones[0].start:phones[0].end] == span


@pytest.mark.parametrize("text", ["12345678901", "138123456789", "客服400-820-8820", "2381234567890"])
def test_not_phone_numbers(shipped, text):
    assert [m for m in shipped.scan(text) if m.term == "phone_number"] == []


def test_id_numbers_with_checksum_and_x(shipped):
    assert rf.id_checksum_ok("11010519491231002X")  # the standard example with check digit X
    matches = shipped.scan("身份证11010519491231002x收好")
    assert [(m.term, m.start, m.end) for m in matches] == [("id_number", 3, 21)]
    # same digits, wrong check digit: not an ID number
    assert [m for m in shipped.scan("11010519491231002") if m.term == "id_number"] == []


def test_bank_cards_need_luhn(shipped):
    assert rf.luhn_ok("4111111111111111")
    assert not rf.luhn_ok("4111111111111112")
    assert [m.term for m in shipped.scan("卡 4111 1111 1111 1111")] == ["bank_card"]
    assert shipped.scan("卡 4111 1111 1111 1112") == []


def test_hard_negatives_pass(shipped):
    for text in ["我的密码忘了怎么找回?", "验证码一直收不到怎么办", "提醒大家:任何人找你要验证码都不要给!"]:
        assert shipped.scan(text) == []
    assert {m.category for m in shipped.scan("验证码是 836291")} == {"info_leak"}


def test_flag_frame(shipped):
    frame = shipped.flag(["你好", "兼-职 日-结, 加V领", "电话13812345678"])
    assert list(frame.columns) == ["text_index", "flagged", "categories", "terms"]
    assert frame["flagged"].tolist() == [False, True, True]
    assert frame.loc[1, "categories"] == "fraud_spam"
    assert frame.loc[1, "terms"] == "兼职日结|加v领"
    assert frame.loc[2, "categories"] == "info_leak"


def test_evaluate_on_hand_labelled_set():
    f = rf.SensitiveWordFilter({"fraud": ["刷单"]}, detect_personal_data=False)
    labelled = pd.DataFrame(
        {
            "text": ["刷单赚钱", "刷 单", "别信刷单", "shua单", "你好", "早上好"],
            "label": [1, 1, 0, 1, 0, 0],
        }
    )
    # flagged: T T T F F F -> TP 2, FP 1, FN 1, TN 2
    result = rf.evaluate(f, labelled)
    counts = (result.true_positives, result.false_positives, result.false_negatives, result.true_negatives)
    assert counts == (2, 1, 1, 2)
    assert result.precision.rate == pytest.approx(2 / 3)
    assert result.recall.rate == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 / 3)
    assert result.precision.low < 2 / 3 < result.precision.high
    assert result.confusion().loc[1, True] == 2
    assert result.n == 6


def test_evaluate_rejects_bad_labels():
    f = rf.SensitiveWordFilter({"x": ["刷单"]})
    with pytest.raises(rf.LabelledDataError, match="expected 0 or 1"):
        rf.evaluate(f, pd.DataFrame({"text": ["a"], "label": [2]}))
    with pytest.raises(rf.LabelledDataError, match="label"):
        rf.evaluate(f, pd.DataFrame({"text": ["a"]}))


def test_bad_lexicon_files(tmp_path):
    with pytest.raises(rf.LexiconError, match="does not exist"):
        rf.SensitiveWordFilter.from_lexicon(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories:\n  spam:\n    terms: ['***']\n", encoding="utf-8")
    with pytest.raises(rf.LexiconError, match=r"spam\.terms\[0\]"):
        rf.SensitiveWordFilter.from_lexicon(bad)


def test_shipped_sample_is_realistic_and_filter_imperfect(shipped):
    sample = rf.load_labelled_messages()
    assert 180 <= len(sample) <= 240
    assert 0.2 <= sample["label"].mean() <= 0.3
    assert set(sample["category"]) == {"none", "info_leak", "fraud_spam", "abuse", "violation"}
    result = rf.evaluate(shipped, sample)
    assert 0.5 < result.precision.rate < 1.0
    assert 0.5 < result.recall.rate < 1.0
