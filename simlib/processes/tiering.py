"""Tier interventions (``tiering:`` block, when ``tiering.enabled``): the welcome of each
newcomer (potential tier), weekly perks for active members, monthly service for loyal ones and
periodic recall campaigns for silent ones. The tier rules themselves, shared with the analysis
of real data, are in :mod:`simlib.tiering`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simlib.eventlog import REF_TIER
from simlib.tiering import ACTIVE, LOYAL, POTENTIAL, SILENT

if TYPE_CHECKING:
    from simlib.model import GroupModel

CAMPAIGN_HOUR = 11  # campaigns go out at 11:00
RECALL_SPREAD_DAYS = 0.4  # recalled members speak within this span of the campaign (timing only)


def welcome_newcomers(model: GroupModel, rows: np.ndarray, ts: np.ndarray) -> None:
    """The potential tier's welcome: an interest boost for the newcomers ``rows`` who joined at ``ts``."""
    welcome = model.params.tiering.interventions.potential
    model.members.set_boost(rows, welcome.interest_boost, model.day + welcome.boost_days)
    model.log.add("intervention", ts, rows, REF_TIER, POTENTIAL)
    model.cost_by_group(float(ts[0]), "tier_intervention", rows, welcome.cost_per_member)


def tier_interventions(model: GroupModel):
    """Weekly (active), monthly (loyal) and periodic (silent) campaigns by tier."""
    p = model.params.tiering.interventions
    m, rng, env, log = model.members, model.rng["interventions"], model.env, model.log
    days = [day for day in range(1, model.params.simulation.days)
            if day % 7 == 0 or day % 30 == 0 or day % p.silent.every_days == 0]
    for day in days:  # wake only on campaign days
        yield env.timeout(max(0.0, day + CAMPAIGN_HOUR / 24 - env.now))
        rows = m.present_rows()
        if day % 7 == 0:
            active = rows[m.tier[rows] == ACTIVE]
            m.set_boost(active, p.active.interest_boost, day + 7)
            log.add("intervention", env.now, active, REF_TIER, ACTIVE)
            model.cost_by_group(env.now, "tier_intervention", active, p.active.cost_per_member_week)
        if day % 30 == 0:
            loyal = rows[m.tier[rows] == LOYAL]
            log.add("intervention", env.now, loyal, REF_TIER, LOYAL)
            model.cost_by_group(env.now, "tier_intervention", loyal, p.loyal.cost_per_member_month)
        if day % p.silent.every_days == 0:
            silent = rows[m.tier[rows] == SILENT]
            log.add("intervention", env.now, silent, REF_TIER, SILENT)
            model.cost_by_group(env.now, "tier_intervention", silent, p.silent.cost_per_target)
            recalled = silent[rng.random(silent.size) < p.silent.recall_prob]
            m.interest[recalled] = np.maximum(m.interest[recalled], p.silent.interest_reset)
            spoke = env.now + rng.random(recalled.size) * RECALL_SPREAD_DAYS
            log.add("message", spoke, recalled, REF_TIER, SILENT)
            model.record_interactions(recalled, messages=True)
