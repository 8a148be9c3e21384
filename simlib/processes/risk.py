"""Risk (``risk:`` block): each group's incidents of each type at their yearly rate, their
escalation to a major crisis (less likely under a warning system), the controls' response time
and effect, the removal of an offender, and the members of the group an incident drives away."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simlib.eventlog import REF_INCIDENT

if TYPE_CHECKING:
    from simlib.model import GroupModel

LEAVE_SPREAD_DAYS = 0.5  # members driven away leave within this span after the response (timing only)


def risk_incidents(model: GroupModel, kind: str, group: int):
    """The incidents of one type in ``group`` from its opening to the horizon, at exponential
    intervals (from the group's own risk stream)."""
    p, rng, m, env = model.params.risk, model.group_rng("risk", group), model.members, model.env
    spec = p.types[kind]
    rate = spec.incidents_per_year / 365
    if rate <= 0:
        return
    while True:
        yield env.timeout(rng.exponential(1 / rate))
        if env.now >= model.params.simulation.days:
            return
        incident_id = model.next_incident_id
        model.next_incident_id += 1
        escalation = p.major_crisis_prob * ((1 - p.warning_escalation_reduction) if p.warning_system else 1.0)
        major = rng.random() < escalation
        if p.controls:
            response_hours = spec.response_hours if spec.response_hours is not None else 0.0
            residual = 1 - spec.effect
        else:
            response_hours, residual = p.uncontrolled_response_hours, 1.0
        shock = spec.exit_shock * residual * (p.major_crisis_exit_multiplier if major else 1.0)
        model.log.add("incident", env.now, None, REF_INCIDENT, incident_id)
        offender = -1
        rows = m.present_rows()
        if model.groups > 1:
            rows = rows[m.group[rows] == group]
        if kind == "violation" and rows.size:
            offender = int(rng.choice(rows))
            model.log.add("violation", env.now, offender)
            if p.controls and rng.random() < spec.effect:
                model.remove(np.array([offender]), env.now + response_hours / 24, "removed")
        leavers = rows[rng.random(rows.size) < shock]
        leavers = leavers[m.present[leavers]]
        leave_ts = env.now + response_hours / 24 + rng.random(leavers.size) * LEAVE_SPREAD_DAYS
        model.remove(leavers, leave_ts, "leave")
        model.incident_rows.append({"group": group, "incident_id": incident_id, "day": env.now, "type": kind,
                                    "major": major, "response_hours": response_hours,
                                    "exits": int(leavers.size), "offender": offender})
