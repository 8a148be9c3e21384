"""Escaping for user-supplied strings that reach HTML or CSV outputs."""

from __future__ import annotations

import html

import pandas as pd

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def html_text(value: object) -> str:
    """Escape any value for use as HTML text or attribute content."""
    return html.escape(str(value), quote=True)


def csv_cell(value: object) -> object:
    """Neutralize a string cell that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        # Numbers like "-3.5" stay numbers; only text is prefixed.
        try:
            float(value)
            return value
        except ValueError:
            return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are safe to open in a spreadsheet."""
    out = frame.copy()
    out.columns = [csv_cell(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]) or isinstance(
            out[column].dtype, pd.CategoricalDtype
        ):
            out[column] = out[column].astype(object).map(csv_cell)
    return out
