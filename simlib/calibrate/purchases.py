"""The purchase estimator: purchases per member-day and the mean order value, when the log has
purchases (merge an orders file with :func:`simlib.io.load_many`). No parameter takes them
directly: conversion rates by monetization mode need orders linked to posts."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from simlib.calibrate.estimates import CONFIDENCE, Estimate, poisson_rate
from simlib.calibrate.window import Window, day_index


def estimate_purchases(window: Window) -> dict[str, Estimate]:
    """``purchase_rate`` and, with two amounts or more, ``order_value_mean`` (t interval)."""
    events = window.events
    purchases = events[(events["event"].astype(str) == "purchase").to_numpy()]
    p_day = day_index(purchases["ts"], window.first_day)
    purchases = purchases[(p_day >= 0) & (p_day < window.n_days)]
    estimates: dict[str, Estimate] = {}
    if len(purchases):
        estimates["purchase_rate"] = poisson_rate(len(purchases), window.member_days,
                                                  "purchases per member-day")
        amounts = purchases["amount"].dropna().to_numpy(dtype=float) if "amount" in purchases else np.empty(0)
        if amounts.size >= 2:
            mean = float(amounts.mean())
            t = sps.t.ppf(1 - (1 - CONFIDENCE) / 2, amounts.size - 1)
            half = float(t * amounts.std(ddof=1) / math.sqrt(amounts.size))
            estimates["order_value_mean"] = Estimate(mean, mean - half, mean + half, int(amounts.size), "CNY",
                                                     "mean order value, t interval")
    return estimates
