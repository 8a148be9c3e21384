"""The community (``community:`` block): the operator's groups, their seats and the waitlist.

Newcomers take a seat in the lowest-numbered group with room (:func:`seat`); when every open
group is at ``simulation.group_cap`` the ``community.overflow`` policy decides (满员开新群):
``new_group`` opens the next group (:func:`open_group`, up to ``community.max_groups``, at
``community.group_opening_cost``), ``waitlist`` puts newcomers in line for the seats leavers
free (:func:`join_waitlist`, :func:`admit_waitlisted`; each gives up after a random patience),
``lost`` turns them away. Where a newcomer goes is decided by
:meth:`simlib.model.CommunityModel.admit`, the effect every arrival goes through.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from simlib.processes import monitoring, risk

if TYPE_CHECKING:
    from simlib.model import CommunityModel


def open_group(model: CommunityModel, ts: float) -> int:
    """Open the next group at ``ts``: its question queue, its admins and its risk incidents
    start; every later post goes to it too. Returns its number."""
    group = model.groups
    model.groups += 1
    model.queues.append(deque())
    model.question_posted.append(model.env.event())
    model.admin_busy_minutes.append(0.0)
    if group > 0:
        model.cost(ts, "group_opening", model.params.community.group_opening_cost, group)
    for admin in range(model.params.monitoring.admins):
        model.env.process(monitoring.admin(model, group, admin))
    for kind in model.params.risk.types:
        model.env.process(risk.risk_incidents(model, kind, group))
    return group


def free_seats(model: CommunityModel) -> int:
    """Seats left in the open groups."""
    return model.groups * model.params.simulation.group_cap - model.members.present_count


def can_seat(model: CommunityModel) -> bool:
    """Whether a newcomer arriving now could get a seat or a place in line."""
    return (free_seats(model) > 0 or model.groups < model.max_groups
            or model.params.community.overflow == "waitlist")


def seat(model: CommunityModel, count: int) -> tuple[int, int | np.ndarray]:
    """Seats for up to ``count`` newcomers now: free seats of the open groups, lowest-numbered
    group first, then (under ``new_group``) the seats of new groups up to ``model.max_groups``.
    Returns how many got a seat (fewer than ``count`` when the seats run out) and their group:
    one number when they all sit in one group, else one each."""
    cap = model.params.simulation.group_cap
    sizes = model.members.present_by_group
    groups, takes, needed = [], [], count
    for group in range(model.groups):
        take = min(needed, cap - int(sizes[group]))
        if take > 0:
            groups.append(group)
            takes.append(take)
            needed -= take
            if needed == 0:
                break
    while needed > 0 and model.groups < model.max_groups:
        groups.append(open_group(model, model.env.now))
        takes.append(min(needed, cap))
        needed -= takes[-1]
    if len(groups) <= 1:
        return count - needed, groups[0] if groups else 0
    return count - needed, np.repeat(np.array(groups, dtype=np.int64), takes)


def join_waitlist(model: CommunityModel, ts: np.ndarray, codes: np.ndarray,
                  inviter: np.ndarray | None) -> None:
    """Newcomers who found no seat wait in line, each for an exponential patience."""
    patience = model.rng["waitlist"].exponential(model.params.community.waitlist_patience_days, ts.size)
    inviters = np.full(ts.size, -1) if inviter is None else inviter
    model.waitlist.extend(zip(ts.tolist(), (ts + patience).tolist(), codes.tolist(), inviters.tolist(),
                              strict=True))


def admit_waitlisted(model: CommunityModel, now: float) -> None:
    """People in line take the seats free at ``now``, first come first served; those whose
    patience ran out before ``now`` have given up."""
    line, free = model.waitlist, free_seats(model)
    seated: list[tuple[int, int]] = []  # (channel code, inviter)
    while line and len(seated) < free:
        _, gives_up, code, inviter = line.popleft()
        if gives_up <= now:
            model.counters["gave_up"] += 1
        else:
            seated.append((code, inviter))
    if not seated:
        return
    codes = np.array([code for code, _ in seated], dtype=np.int8)
    inviters = np.array([inviter for _, inviter in seated], dtype=np.int64)
    admitted, group = seat(model, len(seated))  # the seats were free: all of them sit
    model.join(admitted, group, codes, np.full(admitted, now), inviters)


def close_waitlist(model: CommunityModel) -> None:
    """At the horizon: who in line had given up, and who is still waiting."""
    days = model.params.simulation.days
    gave_up = sum(1 for _, gives_up, _, _ in model.waitlist if gives_up < days)
    model.counters["gave_up"] += gave_up
    model.counters["waiting_at_end"] = len(model.waitlist) - gave_up
