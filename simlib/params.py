"""Scenario parameters: typed validation of the defaults with a scenario and overrides merged in.

``load_scenario("params/scenarios/tiered.yaml", overrides={...})`` returns a :class:`Params`
object. Errors are :class:`ParamsError` with one line naming the file, the key path, the bad
value and what was expected (:func:`simlib.yaml_io.validation_message`). Unknown keys are
errors. Files are read with :mod:`simlib.yaml_io`'s strict loader, which does not apply the
YAML 1.1 conversions that silently change values (``yes`` → True, ``0123`` → 83,
``12:30`` → 750): such scalars stay strings, so a typed field rejects them loudly. Layering
(deep merge, dotted override keys) is :mod:`simlib.param_layers`; the typed model of each
block (``simulation``, ``members``, …) is :mod:`simlib.param_blocks`. Every name of both
stays importable from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simlib import yaml_io
from simlib.param_blocks import (  # noqa: F401 - re-exported: the blocks are importable from here
    ACTIVITY_TYPE_NAMES,
    CHANNEL_NAMES,
    CONTENT_TYPE_NAMES,
    END_OF_DAY,
    MODE_NAMES,
    RISK_TYPE_NAMES,
    WEEKDAYS,
    ActiveIntervention,
    Activities,
    ActivityTypes,
    Arrivals,
    Automation,
    BetaShape,
    CalendarEntry,
    Channel,
    Checkin,
    Community,
    Content,
    ContentType,
    CrossPlatform,
    Dwell,
    EndTime,
    HealthThresholds,
    Interventions,
    LiveFlashSale,
    LoyalIntervention,
    Members,
    MetricsParams,
    Mode,
    Monetization,
    Monitoring,
    NonNegativeFloat,
    PositiveFloat,
    PotentialIntervention,
    ReferralLottery,
    Risk,
    RiskType,
    ScheduledActivity,
    ShareFloat,
    SilentIntervention,
    Simulation,
    Slot,
    Strict,
    Tiering,
    TierRules,
    TierTargets,
    Time,
    Tool,
    Ugc,
    time_to_minutes,
)
from simlib.param_layers import ParamsError, deep_merge, expand_dotted, read_yaml  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
PARAMS_DIR = ROOT / "params"
DEFAULTS_FILE = PARAMS_DIR / "defaults.yaml"
#: The keys that name and describe a scenario rather than set a parameter.
SCENARIO_HEADER_KEYS = ("name", "label", "description")
SCENARIOS_DIR = PARAMS_DIR / "scenarios"


class Params(Strict):
    """All parameters of one scenario, validated."""

    name: str = "defaults"
    label: str = ""
    description: str = ""
    simulation: Simulation
    members: Members
    arrivals: Arrivals
    tiering: Tiering
    content: Content
    activities: Activities
    monitoring: Monitoring
    automation: Automation
    monetization: Monetization
    risk: Risk
    cross_platform: CrossPlatform
    community: Community
    metrics: MetricsParams

    def with_overrides(self, overrides: dict[str, Any], *, source: str = "overrides") -> Params:
        """A new Params with ``overrides`` (nested dict, or dotted keys) deep-merged in."""
        merged = deep_merge(self.model_dump(mode="python"), expand_dotted(overrides, source), source=source)
        return _validate(merged, source)


# --------------------------------------------------------------------------- entry points


def _validate(data: dict[str, Any], source: str) -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as error:
        raise ParamsError(yaml_io.validation_message(error, source, Params)) from None


# Top-level blocks of defaults.yaml that are not parameters: the claims register (simlib.claims).
NOT_PARAMETERS = ("claims",)


def load_defaults() -> dict[str, Any]:
    """The parameter blocks of defaults.yaml (without the claims register)."""
    defaults = read_yaml(DEFAULTS_FILE)
    for key in NOT_PARAMETERS:
        defaults.pop(key, None)
    return defaults


def _refuse_register(data: dict[str, Any], source: str) -> None:
    """A scenario or overrides cannot carry the claims register, which only the defaults hold."""
    for key in NOT_PARAMETERS:
        if key in data:
            raise ParamsError(f"{source}: key {key!r}: the claims register lives in {DEFAULTS_FILE.name} "
                              "only, not in a scenario or overrides; remove it")


def resolve_scenario_path(scenario: str | Path) -> Path:
    """A scenario given by name (``tiered``) or path (``params/scenarios/tiered.yaml``)."""
    candidate = Path(scenario)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_absolute() and not candidate.exists():
            candidate = ROOT / candidate
        return candidate
    return SCENARIOS_DIR / f"{scenario}.yaml"


def load_scenario(scenario: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Params:
    """Load defaults, merge a scenario file and then ``overrides``; validate.

    The scenario file may carry ``name``, ``label`` and ``description`` beside the
    parameter sections it overrides.
    """
    merged = load_defaults()
    merged.update({"name": "defaults", "label": "", "description": ""})
    source = str(DEFAULTS_FILE)
    if scenario is not None:
        path = resolve_scenario_path(scenario)
        scenario_data = read_yaml(path)
        _refuse_register(scenario_data, str(path))
        merged = deep_merge(merged, scenario_data, source=str(path))
        merged.setdefault("name", path.stem)
        if "name" not in scenario_data:
            merged["name"] = path.stem
        source = str(path)
    _validate(merged, source)  # the scenario alone must be valid, so errors name the right file
    if overrides:
        expanded = expand_dotted(overrides, "overrides")
        _refuse_register(expanded, "overrides")
        merged = deep_merge(merged, expanded, source="overrides")
        source = "overrides"
    return _validate(merged, source)


def list_scenarios() -> list[str]:
    return sorted(path.stem for path in SCENARIOS_DIR.glob("*.yaml"))
