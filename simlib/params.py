"""Scenario parameters: strict YAML loading, deep merge over the defaults, typed validation.

``load_scenario("params/scenarios/tiered.yaml", overrides={...})`` returns a :class:`Params`
object. Errors are :class:`ParamsError` with one line naming the file, the key path, the bad
value and what was expected. Unknown keys are errors. The YAML loader does not apply the
YAML 1.1 conversions that silently change values (``yes`` → True, ``0123`` → 83,
``12:30`` → 750): such scalars stay strings, so a typed field rejects them loudly.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parent.parent
PARAMS_DIR = ROOT / "params"
DEFAULTS_FILE = PARAMS_DIR / "defaults.yaml"
SCENARIOS_DIR = PARAMS_DIR / "scenarios"

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
CONTENT_TYPE_NAMES = ("knowledge", "flash_deal", "discussion", "live_preview")
ACTIVITY_TYPE_NAMES = ("checkin", "referral_lottery", "live_flash_sale", "ugc")
MODE_NAMES = ("ecommerce", "paid_knowledge", "brand_deal", "membership")
RISK_TYPE_NAMES = ("info_leak", "opinion_crisis", "data_loss", "violation")
CHANNEL_NAMES = ("organic", "douyin", "xiaohongshu", "referral")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
END_OF_DAY = "24:00"  # allowed as a shift end only: a shift that runs to midnight


class ParamsError(ValueError):
    """A parameter file or override is invalid; the message names file, key, value, expectation."""


# --------------------------------------------------------------------------- YAML loading


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprising implicit types.

    Booleans are only true/false; integers only plain decimals without leading zeros;
    sexagesimal numbers (12:30) and octal (0123) are left as strings.
    """


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:(?:0|[1-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)$"),
    list("-+.0123456789"),
)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with :class:`StrictLoader`; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise ParamsError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        raise ParamsError(f"{path}:{line} invalid YAML: {getattr(error, 'problem', error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any], *, source: str = "",
               path: str = "") -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; mappings merge, everything else replaces.

    An override key absent from ``base`` is an error (it would otherwise be silently ignored
    or be a typo), except inside free-form mappings handled by validation.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in merged:
            raise ParamsError(
                f"{source}: unknown key {key_path!r}; expected one of {sorted(map(str, merged))}")
        if isinstance(merged[key], dict) and isinstance(value, dict) and key not in _REPLACED_WHOLE:
            merged[key] = deep_merge(merged[key], value, source=source, path=key_path)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Mappings a scenario may replace as a whole (their keys are a free choice of the scenario).
_REPLACED_WHOLE = {"commercial_posts_per_week", "initial_channel_mix"}


# --------------------------------------------------------------------------- typed models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


ShareFloat = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


def _check_time(value: str) -> str:
    if not _TIME.match(value):
        raise ValueError(f"expected a time 'HH:MM' (00:00–23:59), got {value!r}")
    return value


def _check_end_time(value: str) -> str:
    if value != END_OF_DAY and not _TIME.match(value):
        raise ValueError(f"expected a time 'HH:MM' (00:00–23:59) or '24:00' (midnight), got {value!r}")
    return value


def time_to_minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class Simulation(Strict):
    days: int = Field(ge=7, le=3650)
    start_date: str
    group_cap: int = Field(ge=10, le=500)
    initial_members: int = Field(ge=0, le=500)
    replications: int = Field(ge=1, le=1000)
    seed: int = Field(ge=0)

    @field_validator("start_date")
    @classmethod
    def _date(cls, value: str) -> str:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            raise ValueError(f"expected a date 'YYYY-MM-DD', got {value!r}")
        return value

    @model_validator(mode="after")
    def _cap(self) -> Simulation:
        if self.initial_members > self.group_cap:
            raise ValueError(f"initial_members {self.initial_members} exceeds group_cap {self.group_cap}")
        return self


class BetaShape(Strict):
    a: PositiveFloat
    b: PositiveFloat

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)


class Members(Strict):
    chat_rate_mean: NonNegativeFloat
    engagement_sigma: NonNegativeFloat
    open_logit_sigma: NonNegativeFloat
    active_hour_mean: float = Field(ge=0.0, lt=24.0)
    active_hour_sd: PositiveFloat
    price_sensitivity: BetaShape
    ad_tolerance: BetaShape
    bot_tolerance: BetaShape
    share_propensity: BetaShape
    novelty_boost: NonNegativeFloat
    novelty_days: PositiveFloat
    interest_drift_days: PositiveFloat
    interest_floor: float = Field(ge=0.0, le=5.0)
    content_interest_gain: NonNegativeFloat
    base_exit_hazard: float = Field(ge=0.0, le=1.0)
    inactive_exit_multiplier: NonNegativeFloat
    inactive_after_days: int = Field(ge=1, le=365)
    ad_exit_slope: NonNegativeFloat
    complaint_exit_multiplier: NonNegativeFloat
    complaint_exit_days: int = Field(ge=1, le=365)
    hour_spread_hours: NonNegativeFloat
    chat_interest_gain: NonNegativeFloat
    question_rate: NonNegativeFloat
    question_timing: Literal["usual_hour", "poisson"]
    question_patience_minutes: PositiveFloat
    question_patience_distribution: Literal["fixed", "exponential"]


class Channel(Strict):
    daily_reach: NonNegativeFloat
    click_rate: ShareFloat
    join_rate: ShareFloat
    cost_per_click: NonNegativeFloat
    engagement: NonNegativeFloat
    price_sensitivity_shift: float = Field(ge=-1.0, le=1.0)
    exit_hazard_multiplier: NonNegativeFloat

    @property
    def joins_per_day(self) -> float:
        return self.daily_reach * self.click_rate * self.join_rate


class Arrivals(Strict):
    channels: dict[Literal["organic", "douyin", "xiaohongshu", "referral"], Channel]
    share_join_prob: ShareFloat
    initial_channel_mix: dict[Literal["organic", "douyin", "xiaohongshu", "referral"], float]
    initial_tenure_days: tuple[int, int]
    initial_daily_interaction_prob: float = Field(gt=0.0, le=1.0)

    @field_validator("initial_tenure_days", mode="before")
    @classmethod
    def _tenure(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        if not (isinstance(value, tuple) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                and 0 <= value[0] < value[1]):
            raise ValueError(
                f"expected [shortest, longest] whole days with 0 ≤ shortest < longest, got {value!r}")
        return value

    @model_validator(mode="after")
    def _all_channels(self) -> Arrivals:
        missing = set(CHANNEL_NAMES) - set(self.channels)
        if missing:
            raise ValueError(f"channels lacks {sorted(missing)}; all of {list(CHANNEL_NAMES)} are needed")
        weights = self.initial_channel_mix.values()
        if any(v < 0 for v in weights) or sum(weights) <= 0:
            raise ValueError("initial_channel_mix must be non-negative weights with a positive sum, "
                             f"got {self.initial_channel_mix}")
        return self


class TierRules(Strict):
    potential_max_days: int = Field(ge=1)
    potential_max_messages: int = Field(ge=0)
    active_min_interactions: int = Field(ge=1)
    active_window_days: int = Field(ge=1, le=60)
    loyal_min_purchases: int = Field(ge=1)
    loyal_window_days: int = Field(ge=1, le=365)
    silent_min_days: int = Field(ge=1, le=365)


class TierTargets(Strict):
    potential_activation_messages: int = Field(ge=0)
    active_contribution_lift: NonNegativeFloat
    loyal_repurchase_rate: ShareFloat
    silent_recall_rate: ShareFloat


class PotentialIntervention(Strict):
    cost_per_member: NonNegativeFloat
    interest_boost: NonNegativeFloat
    boost_days: int = Field(ge=1)


class ActiveIntervention(Strict):
    cost_per_member_week: NonNegativeFloat
    interest_boost: NonNegativeFloat


class LoyalIntervention(Strict):
    cost_per_member_month: NonNegativeFloat
    purchase_multiplier: NonNegativeFloat


class SilentIntervention(Strict):
    every_days: int = Field(ge=1)
    cost_per_target: NonNegativeFloat
    recall_prob: ShareFloat
    interest_reset: NonNegativeFloat


class Interventions(Strict):
    potential: PotentialIntervention
    active: ActiveIntervention
    loyal: LoyalIntervention
    silent: SilentIntervention


class Tiering(Strict):
    enabled: bool
    rules: TierRules
    targets: TierTargets
    interventions: Interventions


class Slot(Strict):
    weekday: Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _times(cls, value: str) -> str:
        return _check_time(value)

    @model_validator(mode="after")
    def _order(self) -> Slot:
        if time_to_minutes(self.end) <= time_to_minutes(self.start):
            raise ValueError(f"slot end {self.end} must be after start {self.start}")
        return self

    def contains(self, weekday: int, minute: int) -> bool:
        return (WEEKDAYS.index(self.weekday) == weekday
                and time_to_minutes(self.start) <= minute <= time_to_minutes(self.end))


class ContentType(Strict):
    best_slots: list[Slot] = Field(min_length=1)
    open_rate: ShareFloat
    interaction_rate: ShareFloat
    commercial: bool

    @model_validator(mode="after")
    def _rates(self) -> ContentType:
        if self.interaction_rate > self.open_rate:
            raise ValueError(f"interaction_rate {self.interaction_rate} exceeds open_rate {self.open_rate}")
        return self

    def in_best_slot(self, weekday: int, minute: int) -> bool:
        return any(slot.contains(weekday, minute) for slot in self.best_slots)


class CalendarEntry(Strict):
    type: Literal["knowledge", "flash_deal", "discussion", "live_preview"]
    weekday: Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    time: str

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_time(value)

    @property
    def weekday_index(self) -> int:
        return WEEKDAYS.index(self.weekday)

    @property
    def minute(self) -> int:
        return time_to_minutes(self.time)


class Dwell(Strict):
    ordinary: PositiveFloat
    quality: PositiveFloat


class Content(Strict):
    quality: ShareFloat
    off_slot_factor: ShareFloat
    commercial_open_rate: ShareFloat
    open_delay_minutes: PositiveFloat
    interest_multiplier_power: NonNegativeFloat
    dwell_minutes: Dwell
    dwell_shape: PositiveFloat
    share_multiplier_quality: float = Field(ge=1.0)
    types: dict[Literal["knowledge", "flash_deal", "discussion", "live_preview"], ContentType]
    calendar: list[CalendarEntry]

    @model_validator(mode="after")
    def _all_types(self) -> Content:
        missing = set(CONTENT_TYPE_NAMES) - set(self.types)
        if missing:
            raise ValueError(f"types lacks {sorted(missing)}")
        return self


class Checkin(Strict):
    threshold: str
    streak_days: int = Field(ge=1)
    cost_per_head: NonNegativeFloat
    roi: NonNegativeFloat
    participation: ShareFloat
    continue_prob: ShareFloat
    purchase_prob: ShareFloat
    order_value: NonNegativeFloat
    interest_boost: NonNegativeFloat
    duration_days: int = Field(ge=1)


class ReferralLottery(Strict):
    threshold: str
    invites_required: int = Field(ge=1)
    cost_per_head: NonNegativeFloat
    roi: NonNegativeFloat
    participation: ShareFloat
    invites_mean: NonNegativeFloat
    invite_accept_prob: ShareFloat
    newcomer_participation: ShareFloat
    purchase_prob: ShareFloat
    order_value: NonNegativeFloat
    interest_boost: NonNegativeFloat
    duration_days: int = Field(ge=1)

    @property
    def reproduction_number(self) -> float:
        """Expected participants caused by one participant (branching-process R)."""
        return self.invites_mean * self.invite_accept_prob * self.newcomer_participation


class LiveFlashSale(Strict):
    threshold: str
    deposit: NonNegativeFloat
    cost_per_head: NonNegativeFloat
    roi: NonNegativeFloat
    participation: ShareFloat
    final_purchase_prob: ShareFloat
    order_value: NonNegativeFloat
    interest_boost: NonNegativeFloat
    duration_days: int = Field(ge=1)


class Ugc(Strict):
    threshold: str
    cost_per_head: NonNegativeFloat
    roi: NonNegativeFloat
    participation: ShareFloat
    shares_per_work: NonNegativeFloat
    purchase_prob: ShareFloat
    order_value: NonNegativeFloat
    interest_boost: NonNegativeFloat
    duration_days: int = Field(ge=1)


class ActivityTypes(Strict):
    checkin: Checkin
    referral_lottery: ReferralLottery
    live_flash_sale: LiveFlashSale
    ugc: Ugc


class ScheduledActivity(Strict):
    type: Literal["checkin", "referral_lottery", "live_flash_sale", "ugc"]
    every_days: int = Field(ge=1)
    first_day: int = Field(ge=0)


class Activities(Strict):
    types: ActivityTypes
    schedule: list[ScheduledActivity]
    moments_ad_conversion_ratio: NonNegativeFloat
    depth_above_benchmark: NonNegativeFloat


class HealthThresholds(Strict):
    messages_per_100_members_per_day: NonNegativeFloat
    revisit_7d: ShareFloat
    activity_conversion: ShareFloat
    share_rate: ShareFloat


class AdminsRule(Strict):
    group_size_over: int = Field(ge=1)
    min_admins: int = Field(ge=1)


class Monitoring(Strict):
    health_thresholds: HealthThresholds
    admins_rule: AdminsRule
    admins: int = Field(ge=0, le=50)
    shift_start: str
    shift_end: str
    answer_minutes_mean: PositiveFloat
    admin_attention_minutes: NonNegativeFloat
    admin_hourly_wage: NonNegativeFloat
    admin_hours_per_day: NonNegativeFloat

    @field_validator("shift_start")
    @classmethod
    def _start(cls, value: str) -> str:
        return _check_time(value)

    @field_validator("shift_end")
    @classmethod
    def _end(cls, value: str) -> str:
        return _check_end_time(value)

    @model_validator(mode="after")
    def _shift(self) -> Monitoring:
        if time_to_minutes(self.shift_end) <= time_to_minutes(self.shift_start):
            raise ValueError(f"shift_end {self.shift_end} must be after shift_start {self.shift_start}")
        return self

    @property
    def shift_hours(self) -> float:
        return (time_to_minutes(self.shift_end) - time_to_minutes(self.shift_start)) / 60


class Tool(Strict):
    product: str
    function: str
    scene: str


class Automation(Strict):
    level: ShareFloat
    tools: dict[str, Tool]
    labour_cost_reduction: ShareFloat
    reach_accuracy_automated: ShareFloat
    reach_accuracy_manual: ShareFloat
    aversion_increase: NonNegativeFloat
    bot_answer_minutes: PositiveFloat
    bot_resolution_prob: ShareFloat
    tool_cost_per_month: NonNegativeFloat


class Mode(Strict):
    difficulty: int = Field(ge=1, le=5)
    conversion_range: tuple[float, float]
    acceptance: ShareFloat
    order_value: NonNegativeFloat

    @field_validator("conversion_range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        pair = isinstance(value, tuple) and len(value) == 2
        if not (pair and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ValueError(f"expected [low, high] shares, got {value!r}")
        low, high = (float(v) for v in value)
        if not 0 <= low <= high <= 1:
            raise ValueError(f"expected 0 ≤ low ≤ high ≤ 1, got {value!r}")
        return (low, high)

    @property
    def conversion_mid(self) -> float:
        return sum(self.conversion_range) / 2


class Monetization(Strict):
    commercial_share_cap: ShareFloat
    share_window_days: int = Field(ge=1)
    modes: dict[Literal["ecommerce", "paid_knowledge", "brand_deal", "membership"], Mode]
    commercial_posts_per_week: dict[Literal["ecommerce", "paid_knowledge", "brand_deal", "membership"], float]
    commercial_post_time: str
    acceptance_conversion_weight: NonNegativeFloat
    order_value_shape: PositiveFloat
    membership_renewal_prob: ShareFloat
    purchase_fatigue: NonNegativeFloat
    repurchase_multiplier_vs_platforms: tuple[float, float]

    @field_validator("commercial_post_time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_time(value)

    @field_validator("repurchase_multiplier_vs_platforms", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _rates(self) -> Monetization:
        for mode, rate in self.commercial_posts_per_week.items():
            if rate < 0 or rate > 28:
                raise ValueError(f"commercial_posts_per_week.{mode} = {rate}; expected 0–28 posts a week")
        return self


class RiskType(Strict):
    measure: str
    effect: ShareFloat
    incidents_per_year: NonNegativeFloat
    exit_shock: ShareFloat
    response: str | None = None
    response_hours: float | None = Field(default=None, ge=0.0)
    restore_success: float | None = Field(default=None, ge=0.0, le=1.0)


class Risk(Strict):
    warning_system: bool
    controls: bool
    types: dict[Literal["info_leak", "opinion_crisis", "data_loss", "violation"], RiskType]
    uncontrolled_response_hours: PositiveFloat
    major_crisis_prob: ShareFloat
    major_crisis_exit_multiplier: float = Field(ge=1.0)
    warning_escalation_reduction: ShareFloat
    major_crisis_per_year_target: NonNegativeFloat
    control_cost_per_month: NonNegativeFloat
    warning_cost_per_month: NonNegativeFloat


class CrossPlatform(Strict):
    platform_overlap: ShareFloat
    overlap_purchase_multiplier: NonNegativeFloat
    ltv_multiplier_closed_loop: NonNegativeFloat
    optimal_overlap: ShareFloat


class MetricsParams(Strict):
    ltv_horizon_months: int = Field(ge=1, le=120)
    residual_horizon_months: int = Field(ge=0, le=120)


class Community(Strict):
    """The operator's groups: what happens to newcomers when every open group is full."""

    overflow: Literal["new_group", "waitlist", "lost"]
    max_groups: int = Field(ge=1, le=200)
    group_opening_cost: NonNegativeFloat
    waitlist_patience_days: PositiveFloat


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
        merged = deep_merge(self.model_dump(mode="python"), _expand_dotted(overrides, source), source=source)
        return _validate(merged, source)


# --------------------------------------------------------------------------- entry points


def _expand_dotted(overrides: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """Turn {"tiering.enabled": True} into {"tiering": {"enabled": True}}."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ParamsError(
            f"{source}: overrides must be a mapping of keys to values, got {type(overrides).__name__}")
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


def _format_error(error: ValidationError, data: dict[str, Any], source: str) -> ParamsError:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    value = data
    for part in first["loc"]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            value = first.get("input")
            break
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    count = len(error.errors())
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return ParamsError(f"{source}: {location} = {value!r}: {message}{more}")


def _validate(data: dict[str, Any], source: str) -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as error:
        raise _format_error(error, data, source) from None


def load_defaults() -> dict[str, Any]:
    return read_yaml(DEFAULTS_FILE)


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
        merged = deep_merge(merged, scenario_data, source=str(path))
        merged.setdefault("name", path.stem)
        if "name" not in scenario_data:
            merged["name"] = path.stem
        source = str(path)
    _validate(merged, source)  # the scenario alone must be valid, so errors name the right file
    if overrides:
        merged = deep_merge(merged, _expand_dotted(overrides, "overrides"), source="overrides")
        source = "overrides"
    return _validate(merged, source)


def list_scenarios() -> list[str]:
    return sorted(path.stem for path in SCENARIOS_DIR.glob("*.yaml"))
