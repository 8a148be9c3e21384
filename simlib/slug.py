"""Safe file names for user-supplied names (scenario and batch names).

A slug keeps Unicode word characters (so Chinese names stay readable), turns every run of
other characters (path separators, dots, punctuation, spaces) into a single ``-`` and adds a
short hash of the original name, so two names that slug alike still get different folders:
``"基线 方案"`` → ``"基线-方案__3fa2c1"``.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

_UNSAFE = re.compile(r"[^\w-]+")
_DASHES = re.compile(r"-{2,}")
MAX_SLUG_CHARS = 48
HASH_CHARS = 6


class UnsafePathError(ValueError):
    """A computed output path would leave the folder it must stay in."""


def short_hash(text: str, chars: int = HASH_CHARS) -> str:
    """The first ``chars`` hex digits of the SHA-256 of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:chars]


def slug_body(name: str) -> str:
    """``name`` reduced to word characters and single dashes (may be empty)."""
    text = unicodedata.normalize("NFKC", str(name))
    text = _UNSAFE.sub("-", text)
    text = _DASHES.sub("-", text).strip("-_")
    return text[:MAX_SLUG_CHARS].rstrip("-_")


def slugify(name: str) -> str:
    """A file-name-safe slug of ``name`` with a short hash of the original: ``body__hash``."""
    body = slug_body(name) or "x"
    return f"{body}__{short_hash(str(name))}"


def safe_folder_name(name: str) -> str:
    """``name`` itself if it is already a clean slug body, else :func:`slugify` of it."""
    body = slug_body(name)
    if body and body == name:
        return name
    return slugify(name)


def contained(root: str | os.PathLike, *parts: str) -> Path:
    """``root/parts...`` resolved, checked to stay strictly inside ``root``.

    Raises :class:`UnsafePathError` if the result is ``root`` itself or lies outside it
    (``..``, absolute parts or symlinks pointing away).
    """
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if target == base or not target.is_relative_to(base):
        raise UnsafePathError(f"path {target} (from {parts!r}) is outside the folder {base}")
    return target
