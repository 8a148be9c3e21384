"""Layering parameter mappings: a scenario file over the defaults, overrides over both.

:func:`deep_merge` refuses a key the base does not have (a typo would otherwise be silently
ignored); :func:`expand_dotted` turns ``{"tiering.enabled": True}`` into nested mappings. Errors
are :class:`ParamsError` naming the file (or ``overrides``), the key and what was expected.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from simlib import yaml_io


class ParamsError(ValueError):
    """A parameter file or override is invalid; the message names file, key, value, expectation."""


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the strict loader of :mod:`simlib.yaml_io`; errors name the file."""
    try:
        return yaml_io.read_mapping(path)
    except yaml_io.YamlError as error:
        raise ParamsError(str(error)) from None


def deep_merge(
    base: dict[str, Any], override: dict[str, Any], *, source: str = "", path: str = ""
) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; mappings merge, everything else replaces.

    An override key absent from ``base`` is an error (it would otherwise be silently ignored
    or be a typo), except inside free-form mappings handled by validation.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in merged:
            expected = sorted(map(str, merged))
            raise ParamsError(f"{source}: unknown key {key_path!r}; expected one of {expected}")
        if isinstance(merged[key], dict) and isinstance(value, dict) and key not in _REPLACED_WHOLE:
            merged[key] = deep_merge(merged[key], value, source=source, path=key_path)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Mappings a scenario may replace as a whole (their keys are a free choice of the scenario).
_REPLACED_WHOLE = {"commercial_posts_per_week", "initial_channel_mix"}


def expand_dotted(overrides: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """Turn {"tiering.enabled": True} into {"tiering": {"enabled": True}}."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        kind = type(overrides).__name__
        raise ParamsError(f"{source}: overrides must be a mapping of keys to values, got {kind}")
    expanded: dict[str, Any] = {}
    for key, value in overrides.items():
        if not isinstance(key, str):
            raise ParamsError(f"{source}: override key {key!r} must be a string")
        parts = key.split(".")
        node = expanded
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ParamsError(f"{source}: override {key!r} conflicts with another override")
        last = parts[-1]
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last].update(value)
        else:
            node[last] = value
    return expanded
