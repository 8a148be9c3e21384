"""The typed blocks of a scenario's parameters: one pydantic model per block of
``params/defaults.yaml`` (and of its parts), with the field bounds and the checks across keys.

:class:`simlib.params.Params` assembles them; :mod:`simlib.params` loads, merges and validates
the files (every name here stays importable from there). Models are strict, frozen and refuse
unknown keys; times are ``"HH:MM"`` strings (:data:`Time`, :func:`time_to_minutes`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
CONTENT_TYPE_NAMES = ("knowledge", "flash_deal", "discussion", "live_preview")
ACTIVITY_TYPE_NAMES = ("checkin", "referral_lottery", "live_flash_sale", "ugc")
MODE_NAMES = ("ecommerce", "paid_knowledge", "brand_deal", "membership")
RISK_TYPE_NAMES = ("info_leak", "opinion_crisis", "data_loss", "violation")
CHANNEL_NAMES = ("organic", "douyin", "xiaohongshu", "referral")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
END_OF_DAY = "24:00"  # allowed as a shift end only: a shift that runs to midnight


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


Time = Annotated[str, AfterValidator(_check_time)]
EndTime = Annotated[str, AfterValidator(_check_end_time)]  # a shift may end at midnight, "24:00"


def time_to_minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _ends_after(start_field: str, end_field: str) -> Any:
    """A model check: the time window from ``start_field`` to ``end_field`` ends after it starts."""

    def check(model: BaseModel) -> BaseModel:
        start, end = getattr(model, start_field), getattr(model, end_field)
        if time_to_minutes(end) <= time_to_minutes(start):
            raise ValueError(f"{end_field} {end} must be after {start_field} {start}")
        return model

    return model_validator(mode="after")(check)


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
    # People that members' shares and invitations can bring in over the horizon; None: no limit.
    referral_audience: Annotated[int, Field(ge=1)] | None
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
        weights = self.initial_channel_mix
        if any(v < 0 for v in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(
                f"initial_channel_mix must be non-negative weights with a positive sum, got {weights}"
            )
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
    start: Time
    end: Time
    _order = _ends_after("start", "end")

    def contains(self, weekday: int, minute: int) -> bool:
        in_window = time_to_minutes(self.start) <= minute <= time_to_minutes(self.end)
        return WEEKDAYS.index(self.weekday) == weekday and in_window


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
    time: Time

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
    participation: ShareFloat
    final_purchase_prob: ShareFloat
    order_value: NonNegativeFloat
    interest_boost: NonNegativeFloat
    duration_days: int = Field(ge=1)


class Ugc(Strict):
    threshold: str
    cost_per_head: NonNegativeFloat
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


class HealthThresholds(Strict):
    messages_per_100_members_per_day: NonNegativeFloat
    revisit_7d: ShareFloat
    activity_conversion: ShareFloat
    share_rate: ShareFloat


class Monitoring(Strict):
    health_thresholds: HealthThresholds
    admins: int = Field(ge=0, le=50)
    shift_start: Time
    shift_end: EndTime
    answer_minutes_mean: PositiveFloat
    admin_attention_minutes: NonNegativeFloat
    admin_hourly_wage: NonNegativeFloat
    admin_hours_per_day: NonNegativeFloat

    _shift = _ends_after("shift_start", "shift_end")

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
        is_pair = isinstance(value, tuple) and len(value) == 2
        if not (is_pair and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
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
    commercial_post_time: Time
    acceptance_conversion_weight: NonNegativeFloat
    order_value_shape: PositiveFloat
    membership_renewal_prob: ShareFloat
    purchase_fatigue: NonNegativeFloat

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


class Risk(Strict):
    warning_system: bool
    controls: bool
    types: dict[Literal["info_leak", "opinion_crisis", "data_loss", "violation"], RiskType]
    uncontrolled_response_hours: PositiveFloat
    major_crisis_prob: ShareFloat
    major_crisis_exit_multiplier: float = Field(ge=1.0)
    warning_escalation_reduction: ShareFloat
    control_cost_per_month: NonNegativeFloat
    warning_cost_per_month: NonNegativeFloat


class CrossPlatform(Strict):
    platform_overlap: ShareFloat
    overlap_purchase_multiplier: NonNegativeFloat


class MetricsParams(Strict):
    ltv_horizon_months: int = Field(ge=1, le=120)
    residual_horizon_months: int = Field(ge=0, le=120)


class Community(Strict):
    """The operator's groups: what happens to newcomers when every open group is full."""

    overflow: Literal["new_group", "waitlist", "lost"]
    max_groups: int = Field(ge=1, le=200)
    group_opening_cost: NonNegativeFloat
    waitlist_patience_days: PositiveFloat
