"""Group members as agents stored in columns (NumPy arrays), one row per member ever joined.

Every event acts on all the members it touches in one vectorized step (see DESIGN.md: a
Python process per member per day is far too slow). Rows are never deleted: a member who
leaves keeps their row with ``present`` False, so member indices stay valid for the log.
"""

from __future__ import annotations

import numpy as np

from simlib.schema import CHANNELS

CHANNEL_CODES = {name: code for code, name in enumerate(CHANNELS)}

_FLOAT_COLUMNS = (
    "engagement", "open_z", "active_hour", "price_sensitivity", "ad_tolerance", "bot_tolerance",
    "share_propensity", "channel_exit_multiplier", "interest", "boost", "revenue",
)
_INT_COLUMNS = ("join_day", "left_day", "boost_until", "messages_total", "last_interaction_day",
                "today_interactions", "today_purchases", "purchases_total", "member_since_day",
                "interactions_window", "purchases_window")
_BOOL_COLUMNS = ("present", "overlap", "complaint_today", "subscriber")


class Members:
    """Column store of member traits and state, grown on demand."""

    def __init__(self, capacity: int, active_window: int, loyal_window: int):
        self.count = 0
        self.capacity = max(16, capacity)
        self.channel = np.zeros(self.capacity, dtype=np.int8)
        self.tier = np.zeros(self.capacity, dtype=np.int8)
        for name in _FLOAT_COLUMNS:
            setattr(self, name, np.zeros(self.capacity))
        for name in _INT_COLUMNS:
            setattr(self, name, np.zeros(self.capacity, dtype=np.int32))
        for name in _BOOL_COLUMNS:
            setattr(self, name, np.zeros(self.capacity, dtype=bool))
        # Rolling windows of daily counts, indexed by day modulo the window length.
        self.interaction_ring = np.zeros((self.capacity, active_window), dtype=np.int16)
        self.purchase_ring = np.zeros((self.capacity, loyal_window), dtype=np.int16)

    def _grow(self, needed: int) -> None:
        new_capacity = max(needed, 2 * self.capacity)
        for name in ("channel", "tier", *_FLOAT_COLUMNS, *_INT_COLUMNS, *_BOOL_COLUMNS):
            old = getattr(self, name)
            grown = np.zeros(new_capacity, dtype=old.dtype)
            grown[: self.capacity] = old
            setattr(self, name, grown)
        for name in ("interaction_ring", "purchase_ring"):
            old = getattr(self, name)
            grown = np.zeros((new_capacity, old.shape[1]), dtype=old.dtype)
            grown[: self.capacity] = old
            setattr(self, name, grown)
        self.capacity = new_capacity

    def add(self, count: int, *, day: int, channel: np.ndarray, params, rng: np.random.Generator) -> np.ndarray:
        """Add ``count`` new members who join on ``day`` through ``channel`` (codes); return their indices."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        if self.count + count > self.capacity:
            self._grow(self.count + count)
        rows = np.arange(self.count, self.count + count)
        self.count += count
        traits = params.members
        channel_params = [params.arrivals.channels[CHANNELS[code]] for code in channel]
        channel_engagement = np.array([c.engagement for c in channel_params])
        sigma = traits.engagement_sigma
        # Lognormal with mean 1 before the channel factor, so chat_rate_mean stays the mean rate.
        self.engagement[rows] = channel_engagement * rng.lognormal(-sigma**2 / 2, sigma, count)
        self.open_z[rows] = rng.standard_normal(count)
        self.active_hour[rows] = rng.normal(traits.active_hour_mean, traits.active_hour_sd, count) % 24
        shift = np.array([c.price_sensitivity_shift for c in channel_params])
        self.price_sensitivity[rows] = np.clip(rng.beta(traits.price_sensitivity.a, traits.price_sensitivity.b, count) + shift, 0, 1)
        self.ad_tolerance[rows] = rng.beta(traits.ad_tolerance.a, traits.ad_tolerance.b, count)
        self.bot_tolerance[rows] = rng.beta(traits.bot_tolerance.a, traits.bot_tolerance.b, count)
        self.share_propensity[rows] = rng.beta(traits.share_propensity.a, traits.share_propensity.b, count)
        self.channel_exit_multiplier[rows] = np.array([c.exit_hazard_multiplier for c in channel_params])
        self.overlap[rows] = rng.random(count) < params.cross_platform.platform_overlap
        self.channel[rows] = channel
        self.join_day[rows] = day
        self.member_since_day[rows] = day
        self.left_day[rows] = -1
        self.present[rows] = True
        self.interest[rows] = 1.0
        self.boost[rows] = 0.0
        self.boost_until[rows] = -1
        self.last_interaction_day[rows] = day
        self.tier[rows] = 0  # potential until the first daily classification
        return rows

    def present_rows(self) -> np.ndarray:
        return np.flatnonzero(self.present[: self.count])

    @property
    def present_count(self) -> int:
        return int(self.present[: self.count].sum())
