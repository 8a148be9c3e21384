"""The chat estimator (``members:`` block): the chat rate (``chat_rate_mean``) and the spread of
engagement between members (``engagement_sigma``) by maximum likelihood of the engine's chat
model (:mod:`simlib.calibrate.engagement`); the members' usual hour (``active_hour_mean``) and
its spread between members (``active_hour_sd``, separated from the within-member scatter of
message times by a one-way variance decomposition); and the hourly profile.

The hour estimates' intervals are BCa bootstraps over members (members are the independent
units, their messages are not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from simlib.calibrate.engagement import fit_chat
from simlib.calibrate.estimates import CONFIDENCE, Estimate
from simlib.calibrate.window import Window

MESSAGE_NOISE_NOTE = "the model scatters each message ±2 h (sd) around the member's usual hour"
JACKKNIFE_BLOCK = 500  # leave-one-member-out replicates computed at a time


@dataclass
class ChatEstimates:
    estimates: dict[str, Estimate]
    hourly_profile: pd.DataFrame  # hour, messages, per_member_day, share
    notes: list[str] = field(default_factory=list)


def estimate_chat(window: Window, bootstrap: int, seed: int) -> ChatEstimates:
    """Chat rate, usual hour and its spreads, engagement sigma (``bootstrap`` replicates, ``seed``)."""
    messages, n_members = window.messages, window.n_members
    rows = pd.Index(window.spells.ids).get_indexer(messages["member_id"].astype(str))
    ts = messages["ts"].dt
    hours = (ts.hour + ts.minute / 60 + ts.second / 3600).to_numpy()
    angle = hours / 24 * 2 * np.pi
    centre = float((np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi) * 24) % 24)
    x = (hours - centre + 12) % 24 - 12
    y = np.bincount(rows, minlength=n_members).astype(float)
    sx = np.bincount(rows, weights=x, minlength=n_members)
    sxx = np.bincount(rows, weights=x * x, minlength=n_members)
    sx2_over_y = np.divide(sx**2, y, out=np.zeros(n_members), where=y > 0)

    def chat(weights: np.ndarray) -> dict[str, np.ndarray]:
        return _hour_statistics(weights, y, sx, sxx, sx2_over_y)

    point = {k: float(v[0]) for k, v in chat(np.ones((1, n_members))).items()}
    boot = _bootstrap(chat, n_members, bootstrap, np.random.default_rng(seed))
    jack: dict[str, list[np.ndarray]] = {}
    for first in range(0, n_members, JACKKNIFE_BLOCK):  # leave-one-member-out replicates, in blocks
        block = np.ones((min(JACKKNIFE_BLOCK, n_members - first), n_members))
        block[np.arange(block.shape[0]), first + np.arange(block.shape[0])] = 0.0
        for key, values in chat(block).items():
            jack.setdefault(key, []).append(values)
    jk = {key: np.concatenate(values) for key, values in jack.items()}

    def interval(key: str) -> tuple[float, float]:
        return _interval(point[key], boot[key], jk[key])

    fit = fit_chat(y, window.exposure)
    estimates: dict[str, Estimate] = {"chat_rate_mean": fit.rate}
    n_messages = len(messages)
    hour = (centre + point["hour_shift"]) % 24
    low, high = interval("hour_shift")
    estimates["active_hour_mean"] = Estimate(hour, hour - (point["hour_shift"] - low),
                                             hour + (high - point["hour_shift"]), n_messages, "hour",
                                             "circular mean of message hours, bootstrap over members")
    estimates["active_hour_sd"] = Estimate(
        point["hour_sd"], *interval("hour_sd"), int((y > 0).sum()), "hours",
        "between-member sd of usual hours (variance decomposition), bootstrap")
    estimates["message_hour_noise_sd"] = Estimate(point["noise_sd"], *interval("noise_sd"), n_messages,
                                                  "hours",
                                                  f"within-member sd of message times; {MESSAGE_NOISE_NOTE}")
    estimates["engagement_sigma"] = fit.sigma
    counts = np.bincount(np.floor(hours).astype(int) % 24, minlength=24)
    hourly = pd.DataFrame({"hour": np.arange(24), "messages": counts,
                           "per_member_day": counts / window.member_days, "share": counts / counts.sum()})
    notes = [f"only {n_messages} messages: the chat estimates are imprecise"] if n_messages < 200 else []
    return ChatEstimates(estimates, hourly, notes)


def _hour_statistics(weights: np.ndarray, y: np.ndarray, sx: np.ndarray, sxx: np.ndarray,
                     sx2_over_y: np.ndarray) -> dict[str, np.ndarray]:
    """Hour estimates for each row of ``weights`` (members × replicate weights), vectorized.

    y: messages per member; sx, sxx: sums of centred message hours and of their squares;
    sx2_over_y: sx²/y (0 for members without messages).
    """
    w = weights
    total_messages = w @ y
    # Hours: one-way variance decomposition (members as groups) of the centred hours.
    talkers = w * (y > 0)
    k = talkers.sum(axis=1)
    mean_x = (w @ sx) / total_messages
    ss_within = w @ (sxx - sx2_over_y)
    ss_between = w @ sx2_over_y - total_messages * mean_x**2
    ms_within = ss_within / np.maximum(total_messages - k, 1)
    ms_between = ss_between / np.maximum(k - 1, 1)
    n0 = (total_messages - (w @ y**2) / total_messages) / np.maximum(k - 1, 1)
    between_var = (ms_between - ms_within) / n0
    hour_sd = np.sqrt(np.maximum(between_var, 0.0))
    return {"hour_shift": mean_x, "hour_sd": hour_sd, "noise_sd": np.sqrt(ms_within)}


def _bootstrap(stat_fn, n_units: int, replicates: int, rng: np.random.Generator,
               chunk: int = 250) -> dict[str, np.ndarray]:
    """Bootstrap replicates: resample units (members) with replacement."""
    out: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < replicates:
        size = min(chunk, replicates - done)
        weights = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=size).astype(float)
        for key, values in stat_fn(weights).items():
            out.setdefault(key, []).append(values)
        done += size
    return {key: np.concatenate(values) for key, values in out.items()}


def _interval(point: float, replicates: np.ndarray, jackknife: np.ndarray) -> tuple[float, float]:
    """BCa (bias-corrected and accelerated) bootstrap interval.

    BCa corrects the median bias (z0) and the skewness (acceleration from the
    leave-one-member-out jackknife) of the bootstrap distribution.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 10 or not np.isfinite(point):
        return math.nan, math.nan
    alpha = 1 - CONFIDENCE
    below = (np.sum(finite < point) + 0.5 * np.sum(finite == point)) / finite.size
    z0 = float(sps.norm.ppf(min(max(below, 1 / finite.size), 1 - 1 / finite.size)))
    jack = jackknife[np.isfinite(jackknife)]
    spread = jack.mean() - jack
    denominator = 6 * float(np.sum(spread**2)) ** 1.5
    acceleration = float(np.sum(spread**3)) / denominator if denominator > 0 else 0.0
    quantiles = []
    for z in sps.norm.ppf([alpha / 2, 1 - alpha / 2]):
        quantiles.append(float(sps.norm.cdf(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))))
    low, high = np.quantile(finite, quantiles)
    return float(low), float(high)
