"""Monetization (商业变现): the article's table 6, commercial-share sweeps, the share that
maximises the community's value, repurchase and the observed-data summary of notebook 06.

:func:`monetization_extra` is a module-level ``RunResult -> dict`` for ``simulate``/``sweep``
(``extra=``): the realised commercial share counted from the posts table, revenue from
commercial posts, buyers, the repurchase rate and the ranking value under a shorter and a longer
residual horizon, per replication. :func:`value_peak` finds the commercial share that maximises
the ranking value with a bootstrap interval across replications; :func:`sensitivity_overrides`
moves the assumptions that move it. The sentences the notebook states are chosen by the numbers
(:mod:`simlib.findings`; their words are in ``simlib/data/sentences/monetization.yaml``).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from simlib import findings, ltv, metrics, provenance
from simlib.analysis.choice import against, best_arm
from simlib.analysis.sentences import sentence
from simlib.findings import Check, Finding
from simlib.formatting import pct, pp, signed, yuan
from simlib.params import MODE_NAMES, Params

#: The key paths of table 6's cells, by column, for provenance marks ('{mode}' is the mode).
TABLE6_KEYS = {"difficulty": "monetization.modes.{mode}.difficulty",
               "conversion": "monetization.modes.{mode}.conversion_range",
               "acceptance": "monetization.modes.{mode}.acceptance",
               "order_value": "monetization.modes.{mode}.order_value"}


def stars(difficulty: int) -> str:
    """'★★★☆☆' for a difficulty of 3 out of 5."""
    whole = isinstance(difficulty, (int, np.integer)) and not isinstance(difficulty, bool)
    if not whole or not 1 <= difficulty <= 5:
        raise ValueError(f"difficulty={difficulty!r}: expected a whole number from 1 to 5")
    return "★" * int(difficulty) + "☆" * (5 - int(difficulty))


def article_table(params: Params) -> pd.DataFrame:
    """Table 6 of the article from the parameters: mode, difficulty, conversion range, acceptance
    and order value, as numbers and as text with provenance marks ('3%–6%*': an assumption, e.g.
    the membership conversion the article leaves blank; :func:`table6_footnote` explains them)."""
    rows = []
    for mode in MODE_NAMES:
        spec = params.monetization.modes[mode]
        low, high = spec.conversion_range
        keys = {column: key.format(mode=mode) for column, key in TABLE6_KEYS.items()}
        difficulty = provenance.mark(stars(spec.difficulty), keys["difficulty"])
        rows.append({"mode": mode, "difficulty": difficulty,
                     "conversion_low": low, "conversion_high": high,
                     "conversion": provenance.mark(f"{low:.0%}–{high:.0%}", keys["conversion"]),
                     "acceptance": provenance.mark(f"{spec.acceptance:.0%}", keys["acceptance"]),
                     "order_value": provenance.mark(f"¥{spec.order_value:g}", keys["order_value"]),
                     "conversion_assumed": provenance.source(keys["conversion"]).kind == "assumption"})
    return pd.DataFrame(rows)


def table6_footnote(lang: str = "zh") -> str:
    """The line under table 6 that explains its marks."""
    keys = [key.format(mode=mode) for key in TABLE6_KEYS.values() for mode in MODE_NAMES]
    return provenance.footnote(lang, keys)


def annoyance_weights(params: Params) -> dict[str, float]:
    """How much one post of each mode counts in the commercial share members perceive: rejection
    (1 − acceptance, T6) relative to the mean rejection — as in :class:`simlib.model.GroupModel`."""
    modes = params.monetization.modes
    mean_rejection = float(np.mean([1 - m.acceptance for m in modes.values()]))
    return {name: (1 - m.acceptance) / mean_rejection for name, m in modes.items()}


# --------------------------------------------------------------------------- commercial share


def calendar_posts_per_week(params: Params) -> int:
    """Non-commercial posts a week in the content calendar."""
    return len(params.content.calendar)


def posts_per_week_for_share(share: float, calendar_posts: float) -> float:
    """Commercial posts a week that make ``share`` of all posts: x / (calendar + x) = share."""
    if not (isinstance(share, (int, float)) and 0 <= share < 1):
        raise ValueError(f"share={share!r}: expected a commercial share in [0, 1)")
    if not calendar_posts > 0:
        raise ValueError(f"calendar_posts={calendar_posts!r}: expected a calendar with at least one post "
                         "a week")
    return share * calendar_posts / (1 - share)


def share_from_posts_per_week(per_week: float, calendar_posts: float) -> float:
    """The planned commercial share of ``per_week`` commercial posts beside the calendar."""
    if per_week < 0 or calendar_posts < 0 or per_week + calendar_posts == 0:
        raise ValueError(f"per_week={per_week!r}, calendar_posts={calendar_posts!r}: expected non-negative "
                         "counts, not both 0")
    return per_week / (per_week + calendar_posts)


def scenario_mix(params: Params) -> dict[str, float]:
    """The scenario's split of commercial posts between modes (e-commerce only if it has none)."""
    rates = {mode: float(params.monetization.commercial_posts_per_week.get(mode, 0.0)) for mode in MODE_NAMES}
    total = sum(rates.values())
    if total <= 0:
        return {mode: float(mode == "ecommerce") for mode in MODE_NAMES}
    return {mode: rate / total for mode, rate in rates.items()}


def share_sweep_overrides(params: Params, shares: Sequence[float],
                          mix: Mapping[str, float] | None = None) -> dict[str, dict]:
    """Overrides for a commercial-share sweep: {"share_15": {"monetization.commercial_posts_per_week": …}}.

    Commercial posts are split between modes by ``mix`` (default: the scenario's own split).
    """
    mix = dict(mix) if mix is not None else scenario_mix(params)
    calendar = calendar_posts_per_week(params)
    out = {}
    for share in shares:
        per_week = posts_per_week_for_share(share, calendar)
        posts = {mode: per_week * mix.get(mode, 0.0) for mode in MODE_NAMES}
        out[f"share_{round(share * 100):02d}"] = {"monetization.commercial_posts_per_week": posts}
    return out


def mode_alone_overrides(per_week: float, modes: Sequence[str] = MODE_NAMES) -> dict[str, dict]:
    """One arm per mode, each the only commercial mode at ``per_week`` posts a week."""
    if not per_week > 0:
        raise ValueError(f"per_week={per_week!r}: expected commercial posts a week > 0")
    unknown = [m for m in modes if m not in MODE_NAMES]
    if unknown:
        raise ValueError(f"modes {unknown}: expected names from {list(MODE_NAMES)}")
    arms = {}
    for mode in modes:
        alone = {m: per_week if m == mode else 0.0 for m in MODE_NAMES}
        arms[mode] = {"monetization.commercial_posts_per_week": alone}
    return arms


# --------------------------------------------------------------------------- purchases


def purchases(events: pd.DataFrame) -> pd.DataFrame:
    """Purchase events: member_id, ts, amount, ref_id."""
    mask = (events["event"] == "purchase").to_numpy()
    columns = [c for c in ("ts", "member_id", "amount", "ref_id") if c in events.columns]
    return events.loc[mask, columns]


def repurchase_rate(events: pd.DataFrame) -> float:
    """Share of buyers with two or more purchases (NaN without purchases)."""
    bought = purchases(events)
    if bought.empty:
        return math.nan
    per_buyer = bought.groupby(bought["member_id"].astype(str)).size()
    return float((per_buyer >= 2).mean())


def monetization_extra(run: Any) -> dict[str, float]:
    """Per-replication monetization metrics for ``simulate``/``sweep`` (``extra=``).

    realised_share (commercial posts ÷ all posts, from the posts table), commercial_revenue
    (purchases whose ref_id is a commercial post), revenue, buyers, buyer_share (buyers ÷
    members seen), repurchase_rate, and ranking_value_residual_short / _long: the ranking value
    with the residual horizon of :func:`residual_horizons` (the run's own is the KPI
    ``ranking_value``).
    """
    from simlib.runner import window

    start, end = window(run.params)
    tables = run.tables
    posts, events = tables["posts"], tables["events"]
    bought = purchases(events)
    commercial_ids = set(posts.loc[posts["commercial"].astype(bool), "post_id"].astype(str))
    on_commercial = bought["ref_id"].astype(object).isin(commercial_ids)
    revenue = float(bought["amount"].sum())
    seen = metrics.members_seen(tables["members"], start, end)
    buyers = int(bought["member_id"].astype(str).nunique())
    values = {
        "realised_share": metrics.commercial_share(posts),
        "commercial_revenue": float(bought.loc[on_commercial, "amount"].sum()),
        "revenue": revenue,
        "buyers": float(buyers),
        "buyer_share": buyers / seen if seen else math.nan,
        "repurchase_rate": repurchase_rate(events),
    }
    for name, months in residual_horizons(run.params).items():
        values[f"ranking_value_residual_{name}"] = metrics.community_value(tables, start, end,
                                                                           months)["ranking_value"]
    return values


def residual_horizons(params: Params) -> dict[str, int]:
    """The shorter and longer residual horizons (months) of the sensitivity check: half and twice
    ``metrics.residual_horizon_months``."""
    months = params.metrics.residual_horizon_months
    return {"short": max(1, months // 2), "long": 2 * months}


# --------------------------------------------------------------------------- the value peak


def value_peak(values: Mapping[float, Sequence[float]], *, resamples: int = 2000,
               seed: int = 0) -> dict[str, Any]:
    """The commercial share whose mean ranking value is highest, with a 95% bootstrap interval.

    ``values`` maps each swept share to its per-replication ranking values; replication r of
    every share ran with the same seeds (paired). The peak is the share maximising the mean
    curve (ties: the smaller share). Its interval: resample the replications with replacement —
    the same draw for every share, so the pairing is kept — take the peak of each resampled mean
    curve, and keep the 2.5th and 97.5th percentiles of those peaks. The peak can only be a swept
    share, so the interval is as coarse as the grid. Returns a results-JSON entry
    (``mean``, ``low``, ``high``, ``unit`` "share", ``method``, ``n``) whose ``per_replication``
    holds each replication's own peak (noisier: one curve each).
    """
    shares = sorted(values)
    if len(shares) < 2:
        raise ValueError(f"value_peak: expected at least two shares, got {shares}")
    table = np.array([np.asarray(values[share], dtype=float) for share in shares])  # shares × replications
    if table.ndim != 2 or np.isnan(table).all(axis=0).any():
        raise ValueError("value_peak: expected the same replications for every share, each with a value")
    grid = np.asarray(shares, dtype=float)

    def peak_of(columns: np.ndarray) -> float:
        return float(grid[int(np.argmax(np.nanmean(table[:, columns], axis=1)))])

    replications = table.shape[1]
    draws = np.random.default_rng(seed).integers(0, replications, size=(resamples, replications))
    peaks = np.array([peak_of(draw) for draw in draws])
    return {"mean": peak_of(np.arange(replications)),
            "low": float(np.quantile(peaks, 0.025, method="lower")),
            "high": float(np.quantile(peaks, 0.975, method="higher")), "values": None, "unit": "share",
            "method": "bootstrap", "n": replications,
            "per_replication": [float(grid[int(np.nanargmax(table[:, r]))]) for r in range(replications)]}


#: The assumptions whose low and high values the notebook moves to see the peak move.
SENSITIVITY_KEYS = ("members.ad_exit_slope", "monetization.purchase_fatigue")


def sensitivity_values(params: Params) -> dict[str, dict[str, float]]:
    """Low and high values of each :data:`SENSITIVITY_KEYS` assumption: half and twice the
    scenario's value (a fatigue of 0, none, has 0 and 1 — a sale halves after one recent purchase)."""
    slope, fatigue = params.members.ad_exit_slope, params.monetization.purchase_fatigue
    return {"members.ad_exit_slope": {"low": slope / 2, "high": slope * 2},
            "monetization.purchase_fatigue": ({"low": fatigue / 2, "high": fatigue * 2} if fatigue > 0
                                              else {"low": 0.0, "high": 1.0})}


def sensitivity_overrides(params: Params, shares: Sequence[float]) -> dict[str, dict[str, Any]]:
    """Sweep entries of the share sweep under each low / high assumption value:
    ``{"members.ad_exit_slope=low|share_15": {…}}`` (parse the names with :func:`sensitivity_arm`)."""
    out = {}
    for key, sides in sensitivity_values(params).items():
        for side, value in sides.items():
            for name, overrides in share_sweep_overrides(params, shares).items():
                out[f"{key}={side}|{name}"] = {**overrides, key: value}
    return out


def sensitivity_arm(name: str) -> tuple[str, str, str]:
    """(key path, "low" | "high", share arm) of a :func:`sensitivity_overrides` entry name."""
    setting, share = name.split("|")
    key, side = setting.split("=")
    return key, side, share


def share_of(name: str) -> float:
    """The planned share of a share-sweep arm: "share_15" → 0.15."""
    return int(name.rsplit("_", 1)[1]) / 100


def fit_ltv_penalized(summary: pd.DataFrame,
                      penalizers: Sequence[float] = (0.0, 0.001, 0.01, 0.1)) -> tuple[Any, float]:
    """Fit BG/NBD + Gamma-Gamma (:func:`simlib.ltv.fit_ltv`) with the smallest penalizer that
    converges; returns (fit, penalizer). Short simulated histories with few dropouts often need
    a small penalizer. The optimizer's printout of failed attempts is swallowed; raises the
    last error if none converges."""
    if not penalizers:
        raise ValueError("penalizers is empty: expected at least one penalizer value")
    error: Exception | None = None
    for penalizer in penalizers:
        try:
            # The optimizer probes parameter values whose log is undefined; numpy's warnings about
            # that (and its printout of failed attempts) are part of the search, not of the result.
            quiet = np.errstate(invalid="ignore", divide="ignore", over="ignore")
            with contextlib.redirect_stdout(io.StringIO()), quiet:
                return ltv.fit_ltv(summary, penalizer=penalizer), float(penalizer)
        except ltv.LtvInputError:
            raise
        except Exception as failure:  # lifetimes' ConvergenceError and numerical failures
            error = failure
    assert error is not None
    raise error


# --------------------------------------------------------------------------- observed data


def observed_summary(log: Any) -> dict[str, float]:
    """Purchases, buyers, revenue, revenue per member and repurchase rate of a loaded log.

    Revenue per member divides by the members table when it has rows (a chat or member
    export), otherwise by the buyers (an orders file knows only its buyers) — ``per`` says which.
    """
    events = log.events
    bought = purchases(events)
    members = log.members
    buyers = int(bought["member_id"].astype(str).nunique()) if len(bought) else 0
    base, per = (len(members), "member") if len(members) else (buyers, "buyer")
    revenue = float(bought["amount"].sum()) if len(bought) else 0.0
    return {"purchases": float(len(bought)), "buyers": float(buyers), "revenue": revenue,
            "revenue_per_member": revenue / base if base else math.nan, "per": per,
            "repurchase_rate": repurchase_rate(events)}


# --------------------------------------------------------------------------- sentences


def say(key: str, lang: str, **values: Any) -> str:
    """A sentence of ``simlib/data/sentences/monetization.yaml``."""
    return sentence("monetization", key, lang, **values)




def best_mode_finding(values: Mapping[str, Sequence[float]], per_week: float, lang: str = "zh") -> Finding:
    """The monetization mode with the highest mean ranking value when each is the only mode at the
    same number of commercial posts a week (``values``: mode → per-replication ranking values)."""
    best = best_arm(values, "ranking_value")
    text = say(f"best_mode.{'separated' if best.separated else 'close'}", lang, per_week=f"{per_week:.2f}",
               best=say(f"modes.{best.arm}", lang), second=say(f"modes.{best.runner_up}", lang),
               value=f"¥{best.mean:,.0f}", lead=yuan(best.lead, lang=lang))
    return Finding(text, best.checks)


def mode_exits_finding(difference: Mapping[str, float], mode: str, lang: str = "zh") -> Finding:
    """A mode's exits against e-commerce at the same posts a week (paired difference)."""
    subject = say("subjects.mode_exits", lang, mode=say(f"modes.{mode}", lang))
    return findings.effect(f"exits: {mode} − ecommerce", difference, subject=subject, lang=lang,
                           up=say("verbs.more", lang), down=say("verbs.fewer", lang),
                           fmt=lambda entry: signed(entry, 1) + say("units.members", lang))


def holdout_finding(predicted_total: float, actual_total: float, lang: str = "zh") -> Finding:
    """BG/NBD's holdout purchases against the actual ones: close (within 5%), under or over."""
    deviation = predicted_total / actual_total - 1
    if abs(deviation) < 0.05:
        way, check = "close", Check("|predicted / actual − 1|", "<", abs(deviation), bound=0.05)
    else:
        way = "under" if deviation < 0 else "over"
        check = Check("predicted / actual − 1", "<" if deviation < 0 else ">", deviation, bound=0.0)
    text = say(f"holdout.{way}", lang, actual=f"{actual_total:,.0f}", predicted=f"{predicted_total:,.0f}",
               deviation=f"{deviation:+.1%}", size=f"{abs(deviation):.1%}")
    return Finding(text, (check,))


def peak_finding(peak: Mapping[str, Any], cap: float, shares: Sequence[float], lang: str = "zh") -> Finding:
    """The headline ``best_commercial_share``: the share maximising the ranking value, with its
    bootstrap interval, against the article's cap (below / above / around it) and the sweep's edges."""
    way, check = against(peak, cap, "value peak share")
    checks: tuple[Check, ...] = (check,)
    text = say(f"peak.{way}", lang, peak=pct(peak["mean"], 0), low=pct(peak["low"], 0),
               high=pct(peak["high"], 0), cap=pct(cap, 0))
    if peak["mean"] >= max(shares):
        text += say("peak.upper_edge", lang, edge=pct(max(shares), 0))
        checks += (Check("value peak share", ">=", peak["mean"], bound=max(shares)),)
    elif peak["mean"] <= min(shares):
        text += say("peak.lower_edge", lang, edge=pct(min(shares), 0))
        checks += (Check("value peak share", "<=", peak["mean"], bound=min(shares)),)
    return Finding(text, checks, "best_commercial_share", True)


def step_findings(differences: Mapping[str, Mapping[str, float]], step: str,
                  lang: str = "zh") -> list[Finding]:
    """Sentences for raising the commercial share (``step``, e.g. "15% → 20%"): the paired
    differences of ranking_value, exits and retention_d90 / retention_d30 present in ``differences``."""
    formats = {"ranking_value": partial(yuan, lang=lang),
               "exits": lambda entry: signed(entry, 1) + say("units.members", lang),
               "retention_d90": lambda entry: pp(entry, lang=lang),
               "retention_d30": lambda entry: pp(entry, lang=lang)}
    out = []
    for name, fmt in formats.items():
        if name in differences:
            subject = say("subjects.step", lang, step=step, what=say(f"subjects.{name}", lang))
            verbs = {"up": say("verbs.more", lang), "down": say("verbs.fewer", lang)}
            verbs = verbs if name == "exits" else {}
            out.append(findings.effect(f"{name}: {step}", differences[name], subject=subject, lang=lang,
                                       fmt=fmt, **verbs))
    return out


def sensitivity_finding(key: str, low: tuple[float, Mapping[str, Any]],
                        high: tuple[float, Mapping[str, Any]], lang: str = "zh") -> Finding:
    """How the value peak's point estimate moves between a low and a high value of the assumption
    ``key`` (``low`` / ``high``: (value, value_peak entry)); the intervals are stated beside it."""
    (low_value, low_peak), (high_value, high_peak) = low, high
    shift = high_peak["mean"] - low_peak["mean"]
    way = "lower" if shift < 0 else "higher" if shift > 0 else "same"
    relations = {"lower": ("<",), "higher": (">",), "same": ("<=", ">=")}[way]
    checks = tuple(Check(f"value peak: {key} high − low", relation, shift, bound=0.0)
                   for relation in relations)

    def peak_text(entry: Mapping[str, Any]) -> str:
        return f"{pct(entry['mean'], 0)} [{pct(entry['low'], 0)}, {pct(entry['high'], 0)}]"
    text = say(f"sensitivity.{way}", lang, name=key, low=f"{low_value:g}", high=f"{high_value:g}",
               low_peak=peak_text(low_peak), high_peak=peak_text(high_peak))
    return Finding(text, checks)


def repurchase_note(claim_why: str, figure: tuple[float, float], repurchase: Mapping[str, float],
                    lang: str = "zh") -> str:
    """The repurchase paragraph: the simulated rate, what the article's multiple would imply for the
    platforms, and why the claim is untestable here (the register's reason, ``claim_why``)."""
    low_multiple, high_multiple = figure
    return say("repurchase", lang, rate=pct(repurchase, 1), low=f"{low_multiple:g}",
               high=f"{high_multiple:g}",
               platform_low=pct(repurchase["mean"] / high_multiple, 0),
               platform_high=pct(repurchase["mean"] / low_multiple, 0), why=claim_why)

