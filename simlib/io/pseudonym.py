"""Keyed pseudonyms for personal identifiers (WeChat ids, WeCom userids, nicknames).

A pseudonym is ``"m_" + HMAC-SHA256(key, identifier)`` as hex, truncated to 16 characters
(``"g_"`` for groups). The same key gives the same pseudonym in every file, so tables from
several exports can be joined, while without the key the identifiers cannot be recovered
by trying candidate names. The key comes from (first match wins):

1. the ``key=`` argument of a loader (tests and the synthetic demo datasets pass one);
2. the environment variable ``SIMLIB_PSEUDONYM_KEY``;
3. a file named by ``SIMLIB_PSEUDONYM_KEY_FILE`` (its content, surrounding whitespace stripped).

The key is held only inside :class:`Pseudonymizer`; it is never written to any output and
never shown in its ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

KEY_ENV = "SIMLIB_PSEUDONYM_KEY"
KEY_FILE_ENV = "SIMLIB_PSEUDONYM_KEY_FILE"
MIN_KEY_BYTES = 16
DIGEST_CHARS = 16


class PseudonymKeyError(ValueError):
    """No usable pseudonymization key (absent, empty, too short or unreadable)."""


def resolve_key(key: str | bytes | None = None) -> bytes:
    """The pseudonymization key as bytes, from the argument, the env var or the key file."""
    source = "the key= argument"
    if key is None and os.environ.get(KEY_ENV):
        key, source = os.environ[KEY_ENV], f"environment variable {KEY_ENV}"
    if key is None and os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV])
        source = f"key file {path} (from {KEY_FILE_ENV})"
        try:
            key = path.read_bytes().strip()
        except OSError as error:
            raise PseudonymKeyError(f"cannot read {source}: {error.strerror}") from None
    if key is None:
        raise PseudonymKeyError(
            "loading real data needs a pseudonymization key: set "
            f"{KEY_ENV} (a secret of at least {MIN_KEY_BYTES} characters) or {KEY_FILE_ENV} "
            "(path of a file holding it), or pass key=...; keep the same key to link exports"
        )
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"the pseudonymization key from {source} has {len(raw)} bytes; expected at least {MIN_KEY_BYTES}"
        )
    return raw


class Pseudonymizer:
    """Maps identifiers to keyed pseudonyms; remembers nothing but the key."""

    __slots__ = ("_key",)

    def __init__(self, key: str | bytes | None = None):
        self._key = resolve_key(key)

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymizer(<key hidden>)"

    def _digest(self, value: str) -> str:
        mac = hmac.new(self._key, value.strip().encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:DIGEST_CHARS]

    def member(self, identifier: str) -> str:
        """Pseudonym of a person (id or nickname): ``m_`` + 16 hex characters."""
        return "m_" + self._digest("member:" + identifier)

    def group(self, identifier: str) -> str:
        """Pseudonym of a group (chat room id, WeCom chat_id or group name): ``g_`` + 16 hex."""
        return "g_" + self._digest("group:" + identifier)

    def order(self, identifier: str) -> str:
        """Pseudonym of an order id (order numbers can be traced to a buyer)."""
        return "o_" + self._digest("order:" + identifier)
