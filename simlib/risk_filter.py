"""Sensitive-word filter for group-chat moderation (风险控制 · 敏感词过滤).

Two detectors run on every message:

* an Aho-Corasick automaton (``pyahocorasick``) over a lexicon of terms by category
  (``simlib/data/risk/lexicon.yaml``), and
* regular expressions for personal data: mainland mobile numbers, 18-digit resident ID
  numbers and bank-card numbers (16–19 digits passing the Luhn check).

Before matching, text is normalized the way evaders are undone: NFKC (full-width → half-width),
lower case, and the removal of spaces, zero-width characters, punctuation and symbols placed
between characters ("刷 单", "刷*单", "兼-职日-结"). Matches report positions in the *original*
text. :func:`evaluate` measures precision and recall on a labelled sample with Wilson intervals.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import ahocorasick
import pandas as pd

from simlib.stats import ProportionCI, proportion_ci
from simlib.yaml_io import load_text

PII_CATEGORY = "info_leak"
LEXICON_RESOURCE = ("simlib", "data/risk/lexicon.yaml")
LABELLED_RESOURCE = ("simlib", "data/risk/labelled_messages.csv")

# Separators an evader puts between digits ("138-1234-5678", "6222 0212 ...").
_DIGIT_SEPARATORS = set(" -._*/,|~")

_PHONE = re.compile(r"(?<![0-9])(?:\+?86)?(1[3-9][0-9]{9})(?![0-9])")
_ID_NUMBER = re.compile(
    r"(?<![0-9])([1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9x])(?![0-9x])"
)
_CARD = re.compile(r"(?<![0-9])([1-9][0-9]{15,18})(?![0-9])")


class LexiconError(ValueError):
    """The lexicon file is malformed."""


class LabelledDataError(ValueError):
    """A labelled sample lacks columns or has bad labels."""


@dataclass(frozen=True)
class Match:
    category: str
    term: str  # the lexicon term, or "phone_number" / "id_number" / "bank_card"
    start: int  # positions in the original text: text[start:end]
    end: int


# ---------------------------------------------------------------------------------------------
# normalization


def _is_dropped(char: str) -> bool:
    """Whitespace, zero-width/format characters, punctuation and symbols."""
    if char.isspace():
        return True
    category = unicodedata.category(char)
    return category[0] in ("P", "S", "Z", "C")


def _expand(text: str) -> list[tuple[str, int]]:
    """NFKC + lower case, character by character, keeping each output char's source index."""
    out: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        for piece in unicodedata.normalize("NFKC", char).lower():
            out.append((piece, index))
    return out


def normalize(text: str) -> str:
    """The form the lexicon is matched against (see module docstring)."""
    return "".join(char for char, _ in _expand(text) if not _is_dropped(char))


def _word_view(text: str) -> tuple[str, list[int]]:
    kept = [(char, index) for char, index in _expand(text) if not _is_dropped(char)]
    return "".join(c for c, _ in kept), [i for _, i in kept]


def _digit_view(text: str) -> tuple[str, list[int]]:
    """Keep everything except format characters and separators standing between digits."""
    chars = [(c, i) for c, i in _expand(text) if unicodedata.category(c) != "Cf"]
    kept: list[tuple[str, int]] = []
    for position, (char, index) in enumerate(chars):
        if char in _DIGIT_SEPARATORS or char.isspace():
            before = kept[-1][0] if kept else ""
            after = next(
                (c for c, _ in chars[position + 1:] if c not in _DIGIT_SEPARATORS and not c.isspace()), ""
            )
            if before.isdigit() and after.isdigit():
                continue
        kept.append((char, index))
    return "".join(c for c, _ in kept), [i for _, i in kept]


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by bank cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-digit resident ID number."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10x98765432"[total % 11] == number[17].lower()


# ---------------------------------------------------------------------------------------------
# the filter


def _read_lexicon(path: str | Path | None) -> tuple[dict[str, list[str]], str]:
    if path is None:
        source = resources.files(LEXICON_RESOURCE[0]).joinpath(LEXICON_RESOURCE[1])
        name, text = str(source), source.read_text(encoding="utf-8")
    else:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LexiconError(f"lexicon file {name!r} does not exist") from None
    data = load_text(text, name)  # the strict loader of every YAML input
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise LexiconError(f"{name}: expected a mapping with a 'categories' mapping at the top")
    lexicon: dict[str, list[str]] = {}
    for category, entry in data["categories"].items():
        terms = entry.get("terms") if isinstance(entry, dict) else None
        if not isinstance(terms, list) or not terms:
            raise LexiconError(f"{name}: categories.{category}.terms: expected a non-empty list of strings")
        for position, term in enumerate(terms):
            if not isinstance(term, str) or not normalize(term):
                raise LexiconError(
                    f"{name}: categories.{category}.terms[{position}]={term!r}: "
                    "expected a string with letters or digits"
                )
        lexicon[str(category)] = terms
    return lexicon, name


class SensitiveWordFilter:
    """Lexicon + personal-data patterns; build with :meth:`from_lexicon` or from a dict."""

    def __init__(self, lexicon: dict[str, list[str]], *, detect_personal_data: bool = True):
        if not lexicon:
            raise LexiconError("lexicon is empty: expected {category: [terms]}")
        self.lexicon = {category: list(terms) for category, terms in lexicon.items()}
        self.detect_personal_data = detect_personal_data
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, str]]] = {}
        for category, terms in self.lexicon.items():
            for term in terms:
                key = normalize(term)
                if not key:
                    raise LexiconError(f"lexicon term {term!r} in {category!r} is empty after normalization")
                entries.setdefault(key, [])
                if (category, term) not in entries[key]:
                    entries[key].append((category, term))
        for key, values in entries.items():
            self._automaton.add_word(key, (len(key), tuple(values)))
        self._automaton.make_automaton()

    @classmethod
    def from_lexicon(
        cls, path: str | Path | None = None, *, detect_personal_data: bool = True
    ) -> SensitiveWordFilter:
        """Load a YAML lexicon (default: the one shipped in ``simlib/data/risk``)."""
        lexicon, _ = _read_lexicon(path)
        return cls(lexicon, detect_personal_data=detect_personal_data)

    @property
    def categories(self) -> list[str]:
        out = list(self.lexicon)
        if self.detect_personal_data and PII_CATEGORY not in out:
            out.append(PII_CATEGORY)
        return out

    def scan(self, text: str) -> list[Match]:
        """All matches in ``text`` (overlapping ones included), sorted by position."""
        if not isinstance(text, str):
            raise TypeError(f"text={text!r}: expected a str")
        found: set[Match] = set()
        view, origin = _word_view(text)
        for end_index, (length, values) in self._automaton.iter(view):
            start = origin[end_index - length + 1]
            end = origin[end_index] + 1
            for category, term in values:
                found.add(Match(category, term, start, end))
        if self.detect_personal_data:
            found.update(self._scan_personal_data(text))
        return sorted(found, key=lambda m: (m.start, -(m.end - m.start), m.category, m.term))

    def _scan_personal_data(self, text: str) -> list[Match]:
        view, origin = _digit_view(text)

        def match(term: str, found: re.Match) -> Match:
            """Group 1 of ``found``, located in the original text."""
            return Match(PII_CATEGORY, term, origin[found.start(1)], origin[found.end(1) - 1] + 1)

        matches: list[Match] = []
        id_spans: list[tuple[int, int]] = []
        for found in _ID_NUMBER.finditer(view):
            if id_checksum_ok(found.group(1)):
                id_spans.append(found.span(1))
                matches.append(match("id_number", found))
        for found in _PHONE.finditer(view):
            matches.append(match("phone_number", found))
        for found in _CARD.finditer(view):
            if found.span(1) in id_spans or not luhn_ok(found.group(1)):
                continue
            matches.append(match("bank_card", found))
        return matches

    def flag(self, texts: Iterable[str]) -> pd.DataFrame:
        """One row per text: ``text_index, flagged, categories`` ("|"-joined, sorted), ``terms``."""
        rows = []
        for index, text in enumerate(texts):
            missing = text is None or (isinstance(text, float) and pd.isna(text))
            matches = self.scan("" if missing else str(text))
            rows.append(
                {
                    "text_index": index,
                    "flagged": bool(matches),
                    "categories": "|".join(sorted({m.category for m in matches})),
                    "terms": "|".join(sorted({m.term for m in matches})),
                }
            )
        return pd.DataFrame(rows, columns=["text_index", "flagged", "categories", "terms"])


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass(frozen=True)
class FilterEvaluation:
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    precision: ProportionCI  # TP / (TP + FP), Wilson interval
    recall: ProportionCI  # TP / (TP + FN), Wilson interval
    f1: float

    @property
    def n(self) -> int:
        return self.true_positives + self.false_positives + self.false_negatives + self.true_negatives

    def confusion(self) -> pd.DataFrame:
        """2 × 2 table: rows actual label (1, 0), columns flagged (True, False)."""
        return pd.DataFrame(
            [[self.true_positives, self.false_negatives], [self.false_positives, self.true_negatives]],
            index=pd.Index([1, 0], name="label"),
            columns=pd.Index([True, False], name="flagged"),
        )

    def summary(self) -> pd.DataFrame:
        """Tidy table: metric, value, low, high."""
        precision, recall = self.precision, self.recall
        rows = [
            {"metric": "precision", "value": precision.rate, "low": precision.low, "high": precision.high},
            {"metric": "recall", "value": recall.rate, "low": recall.low, "high": recall.high},
            {"metric": "f1", "value": self.f1, "low": float("nan"), "high": float("nan")},
        ]
        return pd.DataFrame(rows)


def _ratio_ci(successes: int, n: int) -> ProportionCI:
    if n == 0:
        nan = float("nan")
        return ProportionCI(0, 0, nan, nan, nan, 0.95)
    return proportion_ci(successes, n)


def evaluate(filter: SensitiveWordFilter, labelled: pd.DataFrame) -> FilterEvaluation:
    """Precision, recall and F1 of ``filter`` on ``labelled`` (columns ``text``, ``label`` 0/1)."""
    missing = [c for c in ("text", "label") if c not in labelled.columns]
    if missing:
        raise LabelledDataError(f"labelled frame lacks columns {missing}; has {list(labelled.columns)}")
    labels = pd.to_numeric(labelled["label"], errors="coerce")
    bad = labelled.loc[~labels.isin([0, 1]), "label"]
    if len(bad):
        raise LabelledDataError(f"labelled['label'] has values {list(bad.unique()[:5])}: expected 0 or 1")
    flagged = filter.flag(labelled["text"].tolist())["flagged"].to_numpy()
    actual = labels.to_numpy().astype(int) == 1
    tp = int((flagged & actual).sum())
    fp = int((flagged & ~actual).sum())
    fn = int((~flagged & actual).sum())
    tn = int((~flagged & ~actual).sum())
    precision, recall = _ratio_ci(tp, tp + fp), _ratio_ci(tp, tp + fn)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return FilterEvaluation(tp, fp, fn, tn, precision, recall, f1)


def load_labelled_messages(path: str | Path | None = None) -> pd.DataFrame:
    """The labelled sample shipped with simlib (``text, label, category``) or another CSV like it."""
    if path is None:
        source = resources.files(LABELLED_RESOURCE[0]).joinpath(LABELLED_RESOURCE[1])
        with source.open("r", encoding="utf-8") as stream:
            frame = pd.read_csv(stream, dtype={"text": str, "category": str}, keep_default_na=False)
        name = str(source)
    else:
        name = str(path)
        frame = pd.read_csv(path, dtype={"text": str, "category": str}, keep_default_na=False)
    missing = [c for c in ("text", "label") if c not in frame.columns]
    if missing:
        raise LabelledDataError(f"{name}: lacks columns {missing}; has {list(frame.columns)}")
    frame["label"] = pd.to_numeric(frame["label"], errors="raise").astype(int)
    return frame
