"""Group members as agents stored in columns (NumPy arrays), one row per member ever joined.

Every event acts on all the members it touches in one vectorized step (see DESIGN.md: a
Python process per member per day is far too slow). Rows are never deleted: a member who
leaves keeps their row with ``present`` False, so member indices stay valid for the log.
Each member belongs to one group of the community (``group``, 0 for the first group) for good.
"""

from __future__ import annotations

import numpy as np

from simlib import kernels
from simlib.schema import CHANNELS

CHANNEL_CODES = {name: code for code, name in enumerate(CHANNELS)}

_FLOAT_COLUMNS = (
    "engagement", "open_z", "active_hour", "price_sensitivity", "ad_tolerance", "bot_tolerance",
    "share_propensity", "channel_exit_multiplier", "static_exit_hazard", "interest", "novelty",
    "boost_factor", "revenue",
)
_INT_COLUMNS = ("group", "join_day", "left_day", "boost_until", "messages_total", "last_interaction_day",
                "today_interactions", "today_purchases", "purchases_total", "member_since_day",
                "interactions_window", "purchases_window", "complaint_until")
_BOOL_COLUMNS = ("present", "overlap", "subscriber")


class Members:
    """Column store of member traits and state, grown on demand."""

    _BLOCK = 256  # members' traits drawn ahead at a time

    def __init__(self, capacity: int, active_window: int, loyal_window: int, max_groups: int = 1):
        self.count = 0
        self.present_total = 0
        self.present_by_group = np.zeros(max_groups, dtype=np.int64)  # members in each group now
        self._present_rows: np.ndarray | None = None
        self._drawn = 0  # rows whose random traits are drawn (see _draw_traits)
        self._lookup: dict[str, np.ndarray] | None = None
        self.capacity = max(16, capacity)
        self.channel = np.zeros(self.capacity, dtype=np.int8)
        self.tier = np.zeros(self.capacity, dtype=np.int8)
        for name in _FLOAT_COLUMNS:
            setattr(self, name, np.zeros(self.capacity))
        for name in _INT_COLUMNS:
            setattr(self, name, np.zeros(self.capacity, dtype=np.int32))
        for name in _BOOL_COLUMNS:
            setattr(self, name, np.zeros(self.capacity, dtype=bool))
        # Rolling windows of daily counts: row ``day % window`` holds that day's counts, one
        # column per member (so a day's row is a contiguous slice).
        self.interaction_ring = np.zeros((active_window, self.capacity), dtype=np.int16)
        self.purchase_ring = np.zeros((loyal_window, self.capacity), dtype=np.int16)

    def _grow(self, needed: int) -> None:
        new_capacity = max(needed, 2 * self.capacity)
        for name in ("channel", "tier", *_FLOAT_COLUMNS, *_INT_COLUMNS, *_BOOL_COLUMNS):
            old = getattr(self, name)
            grown = np.zeros(new_capacity, dtype=old.dtype)
            grown[: self.capacity] = old
            setattr(self, name, grown)
        for name in ("interaction_ring", "purchase_ring"):
            old = getattr(self, name)
            grown = np.zeros((old.shape[0], new_capacity), dtype=old.dtype)
            grown[:, : self.capacity] = old
            setattr(self, name, grown)
        self.capacity = new_capacity

    def _draw_traits(self, needed: int, params, rng: np.random.Generator) -> None:
        """Draw the random traits of every row below ``needed`` that has none yet.

        Drawing a few hundred members' traits at once costs about what drawing one does, and a
        group admits members one or two at a time, so traits are drawn ahead in blocks of at
        least ``_BLOCK`` rows, straight into the columns (rows at or beyond ``count`` are not
        members yet). The parts that depend on the channel are applied in :meth:`add`. The
        blocks are a fixed function of the traits stream, so a seed still reproduces every member.
        """
        if needed <= self._drawn:
            return
        size = max(needed - self._drawn, self._BLOCK)
        if self._drawn + size > self.capacity:
            self._grow(self._drawn + size)
        block = slice(self._drawn, self._drawn + size)
        self._drawn += size
        traits, automation = params.members, params.automation
        sigma = traits.engagement_sigma
        # Lognormal with mean 1 before the channel factor, so chat_rate_mean stays the mean rate.
        self.engagement[block] = rng.lognormal(-sigma**2 / 2, sigma, size)
        self.open_z[block] = rng.standard_normal(size)
        self.active_hour[block] = rng.normal(traits.active_hour_mean, traits.active_hour_sd, size) % 24
        self.price_sensitivity[block] = rng.beta(traits.price_sensitivity.a, traits.price_sensitivity.b, size)
        self.ad_tolerance[block] = rng.beta(traits.ad_tolerance.a, traits.ad_tolerance.b, size)
        self.bot_tolerance[block] = rng.beta(traits.bot_tolerance.a, traits.bot_tolerance.b, size)
        self.share_propensity[block] = rng.beta(traits.share_propensity.a, traits.share_propensity.b, size)
        self.overlap[block] = rng.random(size) < params.cross_platform.platform_overlap
        # The part of the daily exit hazard fixed at joining, before the channel's factor: base ×
        # aversion to automation (members who dislike bots leave more when automation is high).
        dislike = (1 - self.bot_tolerance[block]) / (1 - traits.bot_tolerance.mean)
        aversion = 1 + automation.aversion_increase * automation.level * dislike
        self.static_exit_hazard[block] = traits.base_exit_hazard * aversion

    def add(self, count: int, *, day: int, channel: np.ndarray, params, rng: np.random.Generator,
            group: int | np.ndarray = 0) -> np.ndarray:
        """Add ``count`` new members who join ``group`` (one for all, or one each) on ``day``
        through ``channel`` (codes); return their indices."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        self._draw_traits(self.count + count, params, rng)
        start = self.count
        self.count += count
        self.group[start:self.count] = group
        self.complaint_until[start:self.count] = -1  # no complaint in force
        if isinstance(group, np.ndarray):
            self.present_by_group += np.bincount(group, minlength=self.present_by_group.size)
        else:
            self.present_by_group[group] += count
        lookup = self._channel_lookup(params)
        kernels.init_members(
            start, channel, day, params.members.novelty_boost, lookup["engagement"],
            lookup["price_sensitivity_shift"], lookup["exit_hazard_multiplier"], self.engagement,
            self.price_sensitivity, self.channel_exit_multiplier, self.static_exit_hazard, self.channel,
            self.join_day, self.member_since_day, self.left_day, self.present, self.interest, self.novelty,
            self.boost_factor, self.boost_until, self.last_interaction_day, self.tier)
        self.present_total += count
        self._present_rows = None
        return np.arange(start, start + count)

    def _channel_lookup(self, params) -> dict[str, np.ndarray]:
        """Per-channel constants as arrays indexed by channel code (built once)."""
        if self._lookup is None:
            specs = [params.arrivals.channels.get(name) for name in CHANNELS]
            self._lookup = {
                attribute: np.array([np.nan if spec is None else getattr(spec, attribute) for spec in specs])
                for attribute in ("engagement", "price_sensitivity_shift", "exit_hazard_multiplier")
            }
        return self._lookup

    def mark_left(self, rows: np.ndarray, day: int) -> None:
        """Members who leave (or are removed) on ``day``; rows not present are ignored."""
        rows = rows[self.present[rows]]
        self.present[rows] = False
        self.left_day[rows] = day
        self.subscriber[rows] = False
        self.present_total -= len(rows)
        if rows.size == 1:
            self.present_by_group[self.group[rows[0]]] -= 1
        elif rows.size:
            self.present_by_group -= np.bincount(self.group[rows], minlength=self.present_by_group.size)
        self._present_rows = None

    def set_boost(self, rows: np.ndarray, boost: float, until_day: int) -> None:
        """A temporary interest boost (welcome, active-member perks) until ``until_day``."""
        self.boost_factor[rows] = 1 + boost
        self.boost_until[rows] = until_day

    def end_of_day(self, day: int, novelty_decay: float, interest_floor: float,
                   interest_drift: float) -> None:
        """The night after ``day``: interest relaxes toward its floor (by the factor
        ``interest_drift``), newcomers' novelty fades, boosts that ran until ``day`` end, and
        today's interaction and purchase counts start again from zero."""
        kernels.overnight(day, self.count, self.interest, interest_floor, interest_drift, self.novelty,
                          novelty_decay, self.boost_factor, self.boost_until, self.today_interactions,
                          self.today_purchases)

    def interest_multiplier(self, rows: np.ndarray) -> np.ndarray:
        """Interest × novelty × temporary boost of the given members today."""
        return kernels.interest_multipliers(rows, self.interest, self.novelty, self.boost_factor)

    def present_rows(self) -> np.ndarray:
        """Indices of the members in the group now (read-only; cached until someone joins or leaves)."""
        if self._present_rows is None:
            self._present_rows = self.present[: self.count].nonzero()[0]
            self._present_rows.flags.writeable = False
        return self._present_rows

    @property
    def present_count(self) -> int:
        return self.present_total
