"""The words of the lesson notebooks' findings, kept out of the code.

Each analysis module that states findings (:mod:`simlib.findings`) keeps its sentence templates
in ``simlib/data/sentences/<module>.yaml`` (long Chinese prose reads better there than in Python
strings). An entry is a mapping ``{zh: …, en: …}``; entries may be grouped under a key, e.g. the
``increase`` / ``decrease`` / ``unclear`` wordings of one finding for :func:`simlib.findings.choose`.
Templates are ``str.format`` strings filled in with the numbers.

>>> sentence("automation", "words.ranking_value", "en")
'community value (net + residual)'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

from simlib.labels import LANGS
from simlib.yaml_io import load_package_data

SENTENCES_DIR = "data/sentences"  # in the simlib package


class SentencesError(ValueError):
    """A sentence file is malformed or a key is missing; the message names the file and the key."""


def _check(entries: Any, where: str) -> None:
    if not isinstance(entries, Mapping) or not entries:
        raise SentencesError(f"{where}: expected a mapping of sentences")
    if set(entries) == set(LANGS):
        bad = [lang for lang in LANGS if not isinstance(entries[lang], str)]
        if bad:
            raise SentencesError(f"{where}: {bad}: expected text")
        return
    for key, value in entries.items():
        _check(value, f"{where}.{key}")


@functools.cache  # read once per process
def catalog(module: str) -> Mapping[str, Any]:
    """The sentences of ``module`` (e.g. "automation"), as read from its YAML file."""
    source = resources.files("simlib").joinpath(f"{SENTENCES_DIR}/{module}.yaml")
    if not source.is_file():
        raise SentencesError(f"no sentence file {SENTENCES_DIR}/{module}.yaml in the simlib package")
    entries = load_package_data(f"{SENTENCES_DIR}/{module}.yaml")
    _check(entries, f"{SENTENCES_DIR}/{module}.yaml")
    return entries


def _entry(module: str, key: str) -> Mapping[str, Any]:
    entry: Any = catalog(module)
    parts, start = key.split("."), 0
    while start < len(parts):
        # the longest match first: a key may itself hold dots (a parameter's key path)
        name = next((".".join(parts[start:end]) for end in range(len(parts), start, -1)
                     if isinstance(entry, Mapping) and ".".join(parts[start:end]) in entry), None)
        if name is None:
            raise SentencesError(f"{SENTENCES_DIR}/{module}.yaml: no sentence {key!r}")
        entry, start = entry[name], start + name.count(".") + 1
    return entry


def sentence(module: str, key: str, lang: str, **values: Any) -> str:
    """The sentence ``key`` (dotted, e.g. "queue_gap.increase") in ``lang``, filled with ``values``."""
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {list(LANGS)}")
    entry = _entry(module, key)
    if set(entry) != set(LANGS):
        raise SentencesError(f"{SENTENCES_DIR}/{module}.yaml: {key!r} is a group, not a sentence")
    return entry[lang].format(**values) if values else entry[lang]


def group(module: str, key: str, lang: str) -> dict[str, str]:
    """Every sentence under ``key`` in ``lang``, unfilled: ``{"increase": …, "decrease": …, …}``
    for :func:`simlib.findings.choose` and :func:`simlib.findings.versus`."""
    entry = _entry(module, key)
    return {name: sentence(module, f"{key}.{name}", lang) for name in entry}
