"""The report's words in the reader's language: labels and prose from :mod:`simlib.labels`.

Prose templates are HTML; :func:`text` escapes every value it fills in, :func:`raw_text` takes
fragments built (and escaped) by the report itself.
"""

from __future__ import annotations

from typing import Any

from simlib import labels
from simlib.report_safety import html_text


def report_lang(lang: str) -> str:
    """The report's language: "en" for "en", else "zh"."""
    return "en" if lang == "en" else "zh"


def label(key: str, lang: str = "zh") -> str:
    """A KPI's, tier's or plot's label from the catalog; a name the catalog lacks is shown as is."""
    return labels.display(key, report_lang(lang))


def text(key: str, lang: str = "zh", **values: Any) -> str:
    """Report prose as an HTML fragment; every inserted value is escaped."""
    template = labels.report_text(key, report_lang(lang))
    return template.format(**{name: html_text(value) for name, value in values.items()})


def raw_text(key: str, lang: str, **values: Any) -> str:
    """Report prose whose inserted values are already-safe HTML fragments built here."""
    return labels.report_text(key, report_lang(lang)).format(**values)


def plain_text(key: str, lang: str, **values: Any) -> str:
    """Report prose as plain text, for a table cell (escaped later, with the table)."""
    return labels.report_text(key, report_lang(lang)).format(**values)


def column_name(key: str, lang: str, **values: Any) -> str:
    """A table header (escaped later, with the table)."""
    return plain_text(f"column_{key}", lang, **values)
