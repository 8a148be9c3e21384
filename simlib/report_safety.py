"""Escaping for user-supplied strings that reach HTML, Markdown or CSV outputs, and the
sanitizer that exported notebooks pass through.

* :func:`html_text` — any value as HTML text or attribute content.
* :func:`markdown_text` — any value as literal text inside Markdown (``display(Markdown(...))``).
* :func:`csv_safe` — spreadsheet-safe cells (no formula injection).
* :func:`clean_html_fragment` and :func:`active_content` — the HTML of an exported notebook's
  outputs keeps tables, headings, links and images but never runs script; the check lists
  anything that could.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

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


# CommonMark lets any ASCII punctuation be escaped with a backslash. '&', '<' and '>' become HTML
# entities instead (Markdown shows an entity as its character, never as markup).
_MARKDOWN_PUNCTUATION = re.compile(r"([!\"#$%'()*+,\-./:;=?@\[\\\]^_`{|}~])")


def markdown_text(value: object) -> str:
    """Any value as literal text inside Markdown: no emphasis, link, heading, math or HTML.

    Line breaks and other control characters become spaces, so the text cannot start a new
    block. Use it for every user-supplied string (scenario labels, names, file names) put into
    ``display(Markdown(...))``: ``Markdown(f"情景 **{markdown_text(params.label)}**")``.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# What an exported notebook's HTML outputs and Markdown may keep: text formatting, tables,
# headings, lists, links and images. Everything else is shown as escaped text.
_SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
_PLAIN_ATTRIBUTES = frozenset({
    "class", "id", "title", "style", "align", "colspan", "rowspan", "alt", "width", "height", "start",
    "span", "border", "open",
})
# The content of these elements is dropped with them (not shown as text).
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in _PLAIN_ATTRIBUTES:
        return True
    scheme = value.strip().lower()
    if name == "href":
        return tag == "a" and not scheme.startswith("data:")
    if name == "src":  # images: inline raster or SVG data (no script runs in <img>), or the web
        return tag == "img" and scheme.startswith(("data:image/", "http://", "https://"))
    return False


def clean_html_fragment(fragment: object) -> str:
    """HTML from a notebook output or Markdown cell, reduced to markup that cannot run script.

    Used as nbconvert's ``clean_html`` filter when a notebook is exported with
    ``sanitize_html=True`` (see :func:`simlib.batch.worker.export_html`).
    """
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    text = fragment.decode() if isinstance(fragment, bytes) else str(fragment)
    return bleach.clean(
        _SCRIPT_OR_STYLE.sub("", text),
        tags=_SAFE_TAGS,
        attributes=_allowed_attribute,
        protocols={"http", "https", "mailto", "data"},
        css_sanitizer=CSSSanitizer(),
        strip_comments=True,
    )


_ACTIVE_TAGS = frozenset({"script", "iframe", "frame", "object", "embed", "applet", "base", "form", "meta",
                          "link", "svg", "math"})
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "poster"})


class _ActiveContentFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_body = False
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.in_body = True
        if not self.in_body:
            return
        if tag in _ACTIVE_TAGS:
            self.found.append(f"<{tag}> element")
        for name, value in attrs:
            url = "".join(ch for ch in (value or "") if ch > " ").lower()  # browsers skip these too
            if name.startswith("on"):
                self.found.append(f"{name}= attribute on <{tag}>")
            elif name in _URL_ATTRIBUTES and url.startswith(("javascript:", "vbscript:", "data:text")):
                self.found.append(f"{name}={url[:20]}… on <{tag}>")


def active_content(page: str) -> list[str]:
    """What in the ``<body>`` of an HTML page could run script ([] for a clean page).

    The page's own head (the export template's scripts and styles) is not examined.
    """
    finder = _ActiveContentFinder()
    finder.feed(page)
    finder.close()
    return finder.found
