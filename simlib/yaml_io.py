"""The one way YAML files are read, and the one way validation errors are told.

Every YAML input — scenarios, the defaults, batch files, the risk lexicon — goes through
:class:`StrictLoader`, a ``yaml.SafeLoader`` that:

* refuses duplicate keys (the second would silently replace the first);
* refuses non-finite numbers (``.inf``, ``-.inf``, ``.nan``, and ``inf``/``nan`` written bare);
* refuses explicit tags (``!!float 1``, ``!!str``, ``!!binary`` …): a value is what it looks like;
* does not apply YAML 1.1's surprising conversions: booleans are only true/false, integers only
  plain decimals without leading zeros, so ``yes``/``no``/``on``/``off``, ``0123`` and the base-60
  ``12:30`` stay text — a typed field then rejects them loudly (and ``"HH:MM"`` times stay times).

:func:`validation_message` turns a pydantic ``ValidationError`` into lines that each name the file,
the key path, the bad value and what was expected.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import ConstructorError

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_NON_FINITE = "tag:simlib,2025:non-finite"


class YamlError(ValueError):
    """A YAML file cannot be used; the message names the file (and the line when known)."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without YAML 1.1's silent conversions (see the module docstring)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None:
            written = tag.replace("tag:yaml.org,2002:", "!!", 1)
            raise ConstructorError(
                None, None, f"explicit tag {written!r} is not allowed; write the plain value "
                "(quote it if you mean text)", event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_marks: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = first_marks.setdefault(key, key_node.start_mark)
            except TypeError:  # an unhashable key: SafeLoader's own message follows
                break
            if first is not key_node.start_mark:
                problem = f"duplicate key {key!r} (first given on line {first.line + 1})"
                raise ConstructorError(None, None, problem, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _refuse_non_finite(loader: StrictLoader, node: yaml.ScalarNode) -> None:
    raise ConstructorError(
        None, None, f"{node.value!r} is not a finite number; write a number (quote it if you mean text)",
        node.start_mark,
    )


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
StrictLoader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:(?:0|[1-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
               r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)$"),
    list("-+.0123456789"),
)
StrictLoader.add_implicit_resolver(
    _NON_FINITE, re.compile(r"^[-+]?\.?(?:inf|infinity|nan)$", re.IGNORECASE), list("-+.iInN")
)
StrictLoader.add_constructor(_NON_FINITE, _refuse_non_finite)


def load_text(text: str, source: str | Path) -> Any:
    """Parse YAML ``text`` with :class:`StrictLoader`; errors name ``source`` and the line."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f" line {mark.line + 1}:" if mark else ""
        raise YamlError(f"{source}:{line} invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlError(f"{source}: invalid YAML: {error}") from None


def load_package_data(relative: str) -> Any:
    """A YAML data file shipped in the simlib package (``simlib/<relative>``, e.g.
    ``"data/lab_texts.yaml"``), read with :func:`load_text`; errors name the file."""
    source = resources.files("simlib").joinpath(relative)
    return load_text(source.read_text(encoding="utf-8"), source)


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's content; a missing, unreadable or non-UTF-8 file is a :class:`YamlError`."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise YamlError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    except OSError as error:
        raise YamlError(f"{path}: cannot read the file ({error.strerror or error})") from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping of keys (an empty file is ``{}``)."""
    data = load_text(read_text(path), path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise YamlError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------- validation errors


def key_path(loc: Iterable[Any]) -> str:
    """A pydantic location as a key path: ``("schedule", 0, "every_days")`` → ``schedule[0].every_days``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _implicit_tag(loader: type[yaml.SafeLoader], value: str) -> str | None:
    """The tag ``loader`` gives ``value`` written as a plain (unquoted) scalar."""
    resolvers = loader.yaml_implicit_resolvers.get(value[:1], [])
    return next((tag for tag, regexp in resolvers if regexp.match(value)), None)


def _yaml_hint(value: Any) -> str:
    """Why a value that looks like a boolean, a number or a date has the type it has."""
    if isinstance(value, datetime.date):
        return " (an unquoted date is read as a date: quote it to give text)"
    if not isinstance(value, str) or not value:
        return ""
    yaml11 = _implicit_tag(yaml.SafeLoader, value)
    if yaml11 not in (_BOOL, _INT, _FLOAT) or _implicit_tag(StrictLoader, value) == yaml11:
        return ""
    kind = "boolean" if yaml11 == _BOOL else "number"
    return f" (read as the text {value!r}, not as the {kind} YAML 1.1 would make of it)"


def _model_at(model: type[BaseModel] | None, loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that holds the last key of ``loc`` (through nested models, dicts, lists)."""
    annotation: Any = model
    parts = list(loc)
    while parts:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(parts.pop(0))
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
            parts.pop(0)  # the dict key or the list index
        else:
            annotation = next((a for a in get_args(annotation) if a is not type(None)), None)
            if annotation is None:
                return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _expectation(message: str) -> str:
    if message.startswith("Input should be "):
        return "expected " + message.removeprefix("Input should be ")
    return message.removeprefix("Value error, ")


def validation_message(
    error: ValidationError, source: str | Path, model: type[BaseModel] | None = None
) -> str:
    """One line per problem of ``error``: the file, the key path, the bad value, what was expected.

    ``model`` (the validated class) lets an unknown key's line list the keys allowed there.
    """
    lines = []
    for item in error.errors():
        loc, value = list(item["loc"]), item.get("input")
        where = key_path(loc)
        if loc and loc[-1] == "[key]":  # a mapping's key is not one of the names allowed there
            lines.append(f"{source}: {key_path(loc[:-2])}: key {value!r}: {_expectation(item['msg'])}")
        elif item["type"] == "extra_forbidden":
            holder = _model_at(model, loc[:-1])
            allowed = f"; expected one of: {', '.join(holder.model_fields)}" if holder else ""
            lines.append(f"{source}: unknown key '{where}' (value {_short_repr(value)}){allowed}")
        elif item["type"] == "missing":
            lines.append(f"{source}: {where}: required key is missing")
        elif item["type"] == "value_error" and isinstance(value, dict):  # a check across keys
            lines.append(f"{source}: {where}: {_expectation(item['msg'])}")
        else:
            lines.append(f"{source}: {where} = {_short_repr(value)}: {_expectation(item['msg'])}"
                         f"{_yaml_hint(value)}")
    return "\n".join(lines)
