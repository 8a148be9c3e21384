"""Where every default parameter comes from, read from the comments of ``params/defaults.yaml``.

The comments are the one source: every leaf value of the defaults carries on its own line one
of three tags, and nothing else records the same fact.

* an article row — ``# T1 …`` to ``# T7 …`` (the article's tables) or ``# §1 …`` to ``# §8 …``
  (its prose): the figure is the article's (kind ``article``);
* ``# ASSUMPTION: …`` — the article does not give it; the model needs it (kind ``assumption``);
* ``# CALIBRATED: chosen so … (claim <id>)`` — tuned until one of the article's claims held, so
  reproducing that claim is an echo, not evidence (kind ``calibrated``; ``<id>`` names the claim
  in the register of :mod:`simlib.claims`).

A leaf is a scalar or a list (a list is one value: ``best_slots``, ``calendar``); the values of a
one-line flow mapping (an arrival channel) share that line's comment. The ``claims`` block is
the register, not parameters, and has no provenance.

The file is read with PyYAML (:mod:`simlib.yaml_io`'s strict loader): the node tree gives each
key path and its line, the token stream tells where the YAML on a line ends, and what follows is
the line's comment — so a ``#`` inside a quoted string is never taken for a comment.

``source("risk.types.violation.effect")`` → ``Source(kind="assumption", note=…)``;
``mark("80%", "risk.types.violation.effect")`` → ``"80%*"`` for the notebooks' article tables, with
:func:`footnote` explaining the marks.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from simlib import yaml_io
from simlib.labels import label
from simlib.params import DEFAULTS_FILE, NOT_PARAMETERS

Kind = Literal["article", "assumption", "calibrated"]
KINDS: tuple[Kind, ...] = ("article", "assumption", "calibrated")
MARKS: dict[Kind, str] = {"article": "", "assumption": "*", "calibrated": "†"}

_ARTICLE = re.compile(r"^(?:T[1-7]|§[1-8])(?=[\s:]|$)")
_ASSUMPTION = re.compile(r"^ASSUMPTION\b:?\s*")
_CALIBRATED = re.compile(r"^CALIBRATED\b:?\s*")
_CLAIM_ID = re.compile(r"\(claim ([a-z][a-z0-9_]*)\)")
EXPECTED_TAG = ("'# T1…T7 <row>' or '# §1…§8 <words>' (an article figure), '# ASSUMPTION: <why>' "
                "or '# CALIBRATED: chosen so … (claim <id>)'")


class ProvenanceError(ValueError):
    """A comment of defaults.yaml is not a provenance tag, or a key path has none."""


@dataclass(frozen=True)
class Source:
    """The provenance of one parameter: its kind, the comment's text and, if calibrated, the claim."""

    key_path: str
    kind: Kind
    note: str
    line: int  # 1-based line of defaults.yaml
    claim: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Every leaf key path of a defaults file: the tagged ones and those without a tag."""

    path: Path
    sources: dict[str, Source]
    untagged: dict[str, int]  # key path → 1-based line


def _line_comments(text: str) -> dict[int, str]:
    """``{0-based line: comment text after '#'}`` for every line that ends in a comment."""
    yaml_ends: dict[int, int] = {}
    for token in yaml.scan(text, Loader=yaml_io.StrictLoader):
        end = token.end_mark
        yaml_ends[end.line] = max(yaml_ends.get(end.line, 0), end.column)
    comments = {}
    for number, line in enumerate(text.splitlines()):
        rest = line[yaml_ends.get(number, 0):].strip()
        if rest.startswith("#"):
            comments[number] = rest[1:].strip()
    return comments


def _leaves(node: yaml.Node, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(key path, 0-based line of its key) for every leaf below a mapping node."""
    for key_node, value_node in node.value:
        path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
        if isinstance(value_node, yaml.MappingNode):
            yield from _leaves(value_node, path)
        else:
            yield path, key_node.start_mark.line


def _classify(comment: str, key_path: str, line: int, source: Path) -> Source | None:
    """The tag of ``comment``; None when the comment is no tag at all."""
    if _ARTICLE.match(comment):
        return Source(key_path, "article", comment, line)
    if match := _ASSUMPTION.match(comment):
        return Source(key_path, "assumption", comment[match.end():], line)
    if match := _CALIBRATED.match(comment):
        claim = _CLAIM_ID.search(comment)
        if claim is None:
            raise ProvenanceError(f"{source}: line {line}: {key_path}: {comment!r}: a CALIBRATED tag must "
                                  "name the claim it was tuned for, e.g. '(claim risk_major_crises)'")
        return Source(key_path, "calibrated", comment[match.end():], line, claim.group(1))
    return None


def read(path: str | Path = DEFAULTS_FILE) -> Provenance:
    """The provenance of every leaf of the defaults file at ``path``."""
    path = Path(path)
    text = yaml_io.read_text(path)
    yaml_io.load_text(text, path)  # a file the strict loader refuses fails here, naming the line
    root = yaml.compose(text, Loader=yaml_io.StrictLoader)
    comments = _line_comments(text)
    if not isinstance(root, yaml.MappingNode):
        raise ProvenanceError(f"{path}: expected a mapping of parameter blocks at the top level")
    sources, untagged = {}, {}
    for key_path, line in _leaves(root):
        if key_path.split(".", 1)[0] in NOT_PARAMETERS:
            continue
        tag = _classify(comments.get(line, ""), key_path, line + 1, path)
        if tag is None:
            untagged[key_path] = line + 1
        else:
            sources[key_path] = tag
    return Provenance(path, sources, untagged)


@functools.cache  # the defaults file is read once per process
def _defaults() -> Provenance:
    return read(DEFAULTS_FILE)


def source(key_path: str) -> Source:
    """The provenance of the parameter ``key_path`` of the defaults (e.g. ``risk.types.info_leak.effect``)."""
    provenance = _defaults()
    if key_path in provenance.sources:
        return provenance.sources[key_path]
    if key_path in provenance.untagged:
        raise ProvenanceError(f"{provenance.path}: line {provenance.untagged[key_path]}: {key_path} has no "
                              f"provenance comment; expected {EXPECTED_TAG}")
    near = difflib.get_close_matches(key_path, provenance.sources, n=3, cutoff=0.6)
    hint = f"; did you mean {near}?" if near else " (a leaf key path: a scalar or a list)"
    raise ProvenanceError(f"{provenance.path}: no parameter {key_path!r}{hint}")


def mark(value_text: str, key_path: str) -> str:
    """``value_text`` with the mark of its parameter's kind: '80%*' (assumption), '0.2†'
    (calibrated), unchanged for an article figure. :func:`footnote` explains the marks."""
    return f"{value_text}{MARKS[source(key_path).kind]}"


def footnote(lang: str = "zh", key_paths: Iterable[str] | None = None) -> str:
    """The line under a table that explains its marks ('* 假设…  † 校准…'); with ``key_paths``
    (the parameters the table marked) only the marks they use, and "" when none is marked."""
    kinds = {source(path).kind for path in key_paths} if key_paths is not None else set(KINDS)
    return "  ".join(f"{MARKS[kind]} {label(f'mark_{kind}', lang)}" for kind in KINDS
                     if kind in kinds and MARKS[kind])
