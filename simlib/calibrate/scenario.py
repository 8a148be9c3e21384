"""A calibration as a scenario: :func:`to_scenario` and :func:`write_scenario` put the estimates
over a base scenario (such as ``baseline``), each estimated key with a comment giving its
interval and n; what a chat log cannot identify stays at the base's values. ``adjusted`` values
(the refinement by simulation of :mod:`simlib.calibrate.replay`) replace estimates, with their
own comments; ``notes`` (e.g. the fit check) go into the header comments."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simlib.calibrate.calibration import Calibration
from simlib.calibrate.estimates import CalibrationError, daily_hazard
from simlib.calibrate.exits import MIN_SPLIT_EXITS
from simlib.params import (
    SCENARIO_HEADER_KEYS,
    ParamsError,
    deep_merge,
    load_defaults,
    load_scenario,
    read_yaml,
    resolve_scenario_path,
)

GROUP_LIMIT = 500  # WeChat's member limit of an ordinary group (simulation.group_cap maximum)

#: Every dotted key a calibration may set; everything else stays at the base scenario's values.
#: ``_scenario`` refuses any other key, so this tuple is what :mod:`simlib.calibrate.scope` (the
#: notebooks' "from your group / at the article's defaults" notes) can rely on.
#: ``members.inactive_exit_multiplier`` is set only when enough exits could be split
#: (:func:`exit_split_estimable`); the paid channels' reach is set to 0 (not separable in a chat log).
CALIBRATED_KEYS = (
    "members.chat_rate_mean", "members.engagement_sigma", "members.active_hour_mean",
    "members.active_hour_sd", "members.base_exit_hazard", "members.inactive_exit_multiplier",
    "arrivals.channels.organic.daily_reach", "arrivals.channels.douyin.daily_reach",
    "arrivals.channels.xiaohongshu.daily_reach", "arrivals.initial_channel_mix",
    "simulation.initial_members", "simulation.group_cap", "simulation.start_date",
)
#: Appended to a calibrated scenario's description: how a scenario (or a strategy applied to it,
#: whose description quotes the baseline's) is recognised as calibrated, without a schema field.
CALIBRATED_MARKER = "[simlib calibrate]"


def _round(value: float, digits: int = 4) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - int(math.floor(math.log10(abs(value))))))


def nested_set(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data["a"]["b"]`` for ``"a.b"``, creating the mappings on the way."""
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def exit_split_estimable(calibration: Calibration) -> bool:
    """Whether enough exits were judged silent and other to estimate both the hazard and the
    silent multiplier (else the base's multiplier is kept)."""
    split = calibration.exit_split
    return min(split.get("exits_silent", 0), split.get("exits_other", 0)) >= MIN_SPLIT_EXITS


def _scenario(calibration: Calibration, name: str, base: str | Path | None, label: str | None,
              description: str | None, adjusted: Mapping[str, tuple[Any, str]] | None = None,
              notes: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(scenario data, comment per dotted key, header comment lines)."""
    if not isinstance(calibration, Calibration):
        raise CalibrationError(
            f"expected a Calibration from simlib.calibrate.estimate, got {type(calibration).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise CalibrationError(f"scenario name = {name!r}: expected a non-empty string")
    base_data = read_yaml(resolve_scenario_path(base)) if base is not None else {}
    merged = deep_merge({**load_defaults(), "name": "", "label": "", "description": ""}, base_data,
                       source=str(base))
    estimates = calibration.estimates
    window = calibration.window_text
    overrides: dict[str, Any] = {}
    comments: dict[str, str] = {}

    def put(key: str, value: Any, comment: str) -> None:
        if key not in CALIBRATED_KEYS:
            raise CalibrationError(f"{key}: not a calibrated key; expected one of CALIBRATED_KEYS "
                                   "(simlib/calibrate/scenario.py)")
        overrides[key] = value
        comments[key] = comment

    def from_estimate(key: str, estimate_name: str, *, minimum: float | None = None) -> None:
        e = estimates[estimate_name]
        value = _round(e.value)
        if minimum is not None and value < minimum:
            value = minimum
        put(key, value, f"estimated {_round(e.value)} [95%: {_round(e.low)}–{_round(e.high)}], n={e.n}")

    from_estimate("members.chat_rate_mean", "chat_rate_mean")
    from_estimate("members.engagement_sigma", "engagement_sigma")
    from_estimate("members.active_hour_mean", "active_hour_mean")
    from_estimate("members.active_hour_sd", "active_hour_sd", minimum=0.1)
    # Interest dynamics are not identifiable (module docstring): fix them so that the estimated
    # rate is the simulated rate of an ordinary member.
    split = calibration.exit_split
    if exit_split_estimable(calibration):
        from_estimate("members.base_exit_hazard", "exit_hazard_non_silent")
        from_estimate("members.inactive_exit_multiplier", "inactive_exit_multiplier")
    else:
        # Too few exits to separate: keep the base's multiplier m and take the hazard that
        # explains the judged exits given it, h = exits / (other days + m × silent days).
        multiplier = float(merged["members"]["inactive_exit_multiplier"])
        exposure = split.get("days_other", 0) + multiplier * split.get("days_silent", 0)
        exits = split.get("exits_silent", 0) + split.get("exits_other", 0)
        e = daily_hazard(exits, exposure) if exposure > 0 else estimates["exit_hazard"]
        put("members.base_exit_hazard", _round(e.value),
            f"estimated {_round(e.value)} [95%: {_round(e.low)}–{_round(e.high)}], n={e.n}, "
            f"given the base's inactive_exit_multiplier {multiplier} (too few exits to estimate it)")
    joins = estimates["join_rate"]
    organic = merged["arrivals"]["channels"]["organic"]
    per_reach = organic["click_rate"] * organic["join_rate"]
    if per_reach <= 0:
        raise CalibrationError(
            f"base scenario {base}: arrivals.channels.organic click_rate × join_rate is 0; "
            "expected a positive funnel to carry the observed joins")
    put("arrivals.channels.organic.daily_reach", _round(joins.value / per_reach),
        f"× click {organic['click_rate']} × join {organic['join_rate']} = {_round(joins.value)} "
        "joins/day observed "
        f"[95%: {_round(joins.low)}–{_round(joins.high)}], n={joins.n}")
    for channel in ("douyin", "xiaohongshu"):
        put(f"arrivals.channels.{channel}.daily_reach", 0.0,
            "paid channels are not separable in a chat log: all joins go to organic")
    put("arrivals.initial_channel_mix", {"organic": 1.0},
        "the channel of members already in the group is unknown")
    size = calibration.members_at_end
    initial = min(size, GROUP_LIMIT)
    cap = max(int(merged["simulation"]["group_cap"]), initial)
    added = (f" ({calibration.hidden_members} silent members added from the given size)"
             if calibration.hidden_members else "")
    put("simulation.initial_members", int(initial), f"group size at {calibration.end.date()}" + added)
    put("simulation.group_cap", int(cap), "at least the group's current size")
    put("simulation.start_date", str((calibration.end + pd.Timedelta(days=1)).date()),
        "the day after the data window")
    data = {key: value for key, value in base_data.items() if key not in SCENARIO_HEADER_KEYS}
    if description is None:
        on_top = f", on top of {Path(str(base)).stem}" if base else ""
        description = f"calibrated to {calibration.source} over {window}" + on_top
    if CALIBRATED_MARKER not in description:
        description = f"{description} {CALIBRATED_MARKER}".strip()
    header = {"name": name, "label": label if label is not None else f"校准 Calibrated: {name}",
              "description": description}
    data = {**header, **data}
    for key, (value, comment) in (adjusted or {}).items():
        put(key, _round(value) if isinstance(value, float) else value, comment)
    for key, value in overrides.items():
        nested_set(data, key, value)
    lines = [
        f"Calibrated scenario '{name}', written by simlib.calibrate.",
        f"Data: {calibration.source}; window {window}; {calibration.members_seen} members, "
        f"{calibration.member_days} member-days.",
        f"Base: {base if base is not None else 'defaults only'}. Keys commented 'estimated' come from the "
        "log, those commented 'refined by simulation' from the log through the simulated group's export "
        "(simlib.calibrate.replay); everything else (open rates, dwell, tolerances, conversions, interest "
        "dynamics, costs) is the base's: a chat log cannot identify it.",
    ]
    lines += [f"Note: {note}" for note in calibration.notes]
    lines += list(notes)
    return data, comments, lines


def to_scenario(calibration: Calibration, name: str, base: str | Path | None = "baseline", *,
                label: str | None = None, description: str | None = None,
                adjusted: Mapping[str, tuple[Any, str]] | None = None) -> dict[str, Any]:
    """The scenario mapping: ``base`` (a scenario name or path, or None for the defaults) with
    the estimable parameters replaced by the calibration's estimates.

    Overridden: ``members.chat_rate_mean``, ``engagement_sigma``, ``active_hour_mean``,
    ``active_hour_sd``, ``base_exit_hazard`` (the non-silent hazard, with
    ``inactive_exit_multiplier``, when both could be estimated; else the overall hazard),
    ``arrivals`` (organic ``daily_reach`` so that reach × click × join rate is the observed
    joins per day; paid channels off; members already present counted as organic),
    ``simulation.initial_members`` (group size at the end of the window, at most 500),
    ``group_cap`` and ``start_date`` (the day after the window). Everything else is the base's.
    ``adjusted`` maps dotted keys to (value, comment) pairs that replace those values (the
    refinement of :func:`simlib.calibrate.replay.refine`).
    """
    return _scenario(calibration, name, base, label, description, adjusted)[0]


def _with_comments(text: str, comments: dict[str, str], header: list[str]) -> str:
    out = [f"# {line}" for line in header]
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        is_key = ":" in stripped and not stripped.startswith(("-", "#", "'", '"'))
        key = stripped.split(":", 1)[0] if is_key else None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if key is not None:
            stack.append((indent, key))
            path = ".".join(k for _, k in stack)
            if path in comments:
                line = f"{line}  # {comments[path]}"
        out.append(line)
    return "\n".join(out) + "\n"


def write_scenario(calibration: Calibration, path: str | os.PathLike, name: str | None = None,
                   base: str | Path | None = "baseline", *, label: str | None = None,
                   description: str | None = None, adjusted: Mapping[str, tuple[Any, str]] | None = None,
                   notes: Sequence[str] = ()) -> Path:
    """Write :func:`to_scenario` as commented YAML, atomically, after checking that it loads
    with :func:`simlib.params.load_scenario`. ``name`` defaults to the file's stem; ``notes`` are
    added to the header comments (one line each)."""
    target = Path(path)
    if target.suffix not in (".yaml", ".yml"):
        raise CalibrationError(f"{target}: expected a .yaml or .yml file name for the scenario")
    data, comments, header = _scenario(calibration, name or target.stem, base, label, description, adjusted,
                                       notes)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    text = _with_comments(text, comments, header)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp.yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        try:
            load_scenario(temporary)
        except ParamsError as error:
            raise CalibrationError(f"{target}: the calibrated scenario does not validate: {error}") from None
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
