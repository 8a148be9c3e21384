"""Replications and scenario sweeps: ``simulate`` and ``sweep``.

Workers return compact summaries (KPIs, daily snapshots, per-activity and per-question
rows), not raw event logs — unless ``keep_tables`` asks for the logs of some replications.
Replication r of every scenario uses the seed sequence (seed, r), so scenarios compared
under the same seed are paired (common random numbers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simlib import metrics
from simlib.model import RunResult, run_replication
from simlib.params import Params, load_scenario
from simlib.results import mean_ci, metric

Extra = Callable[[RunResult], dict[str, float]]


def window(params: Params) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(params.simulation.start_date, tz="Asia/Shanghai")
    return start, start + pd.Timedelta(days=params.simulation.days)


def summarize(run: RunResult, extra: Extra | None = None) -> dict[str, Any]:
    """What a worker sends back for one replication."""
    start, end = window(run.params)
    horizon = run.params.metrics
    values = metrics.kpis(run.tables, start, end, horizon.ltv_horizon_months, horizon.residual_horizon_months)
    counters = run.counters
    values["members_end"] = float(run.daily["present"].iloc[-1]) if len(run.daily) else np.nan
    values["final_members"] = values["members_end"]  # the older name, which notebooks 02 and 06 read
    values["groups"] = float(counters["groups"])
    values["overflow"] = float(counters["overflow"])  # turned away on arrival
    values["newcomers_lost"] = float(counters["overflow"] + counters["gave_up"])
    values["complaints"] = float((run.tables["events"]["event"] == "complaint").sum())
    if extra is not None:
        values.update(extra(run))
    return {
        "kpis": values,
        "daily": run.daily.assign(replication=run.replication),
        "activities": run.activities.assign(replication=run.replication),
        "questions": run.questions.assign(replication=run.replication),
        "incidents": run.incidents.assign(replication=run.replication),
    }


def _run_one(params: Params, seed: int, replication: int, keep: bool, extra: Extra | None) -> dict[str, Any]:
    run = run_replication(params, seed, replication)
    summary = summarize(run, extra)
    summary["run"] = run if keep else None
    return summary


@dataclass
class SimulationResult:
    """Replications of one scenario: per-replication KPIs and small tidy tables."""

    params: Params
    seed: int
    summaries: pd.DataFrame  # one row per replication
    daily: pd.DataFrame
    activities: pd.DataFrame
    questions: pd.DataFrame
    incidents: pd.DataFrame
    runs: list[RunResult] = field(default_factory=list)

    @property
    def replications(self) -> int:
        return len(self.summaries)

    def values(self, name: str) -> list[float]:
        return self.summaries[name].astype(float).tolist()

    def metric(self, name: str, unit: str | None = None) -> dict[str, Any]:
        """A results-JSON entry (mean, 95% interval, per-replication values)."""
        return metric(self.values(name), unit if unit is not None else metrics.KPI_UNITS.get(name, ""))

    def kpi_entries(self) -> dict[str, dict[str, Any]]:
        names = [*metrics.KPI_NAMES, *(name for name in metrics.COMMUNITY_KPIS if name in self.summaries)]
        return {name: self.metric(name) for name in names}

    def table(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean and 95% t interval of each metric, one row per metric."""
        rows = []
        for name in names or [c for c in self.summaries.columns if c != "replication"]:
            entry = mean_ci(self.summaries[name].astype(float).tolist())
            rows.append({"metric": name, "mean": entry["mean"], "low": entry["low"], "high": entry["high"],
                         "n": entry["n"]})
        return pd.DataFrame(rows)

    def tier_daily(self) -> pd.DataFrame:
        """Mean members per tier per day over replications (tidy: day, tier, members)."""
        from simlib.schema import TIERS

        mean = self.daily.groupby("day")[list(TIERS)].mean()
        tidy = mean.reset_index().melt(id_vars="day", var_name="tier", value_name="members")
        tidy["tier"] = pd.Categorical(tidy["tier"], categories=TIERS)
        return tidy


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def simulate(
    params: Params | str | None = None,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    keep_tables: bool | int = False,
    extra: Extra | None = None,
    overrides: dict[str, Any] | None = None,
) -> SimulationResult:
    """Run ``replications`` of a scenario and collect their summaries.

    ``params`` is a :class:`Params` or a scenario name/path. ``keep_tables`` keeps the full
    tables of every replication (True) or of the first ``n`` (an int). ``extra`` is a
    module-level function ``RunResult -> {name: value}`` evaluated in the worker, for metrics
    beyond the KPIs. ``workers`` > 1 runs replications in a process pool.
    """
    if params is None or isinstance(params, (str, os.PathLike)):
        params = load_scenario(params, overrides)
    elif overrides:
        params = params.with_overrides(overrides)
    replications = params.simulation.replications if replications is None else replications
    seed = params.simulation.seed if seed is None else seed
    if replications < 1:
        raise ValueError(f"replications must be ≥ 1, got {replications}")
    keep_count = replications if keep_tables is True else int(keep_tables or 0)
    jobs = [(params, seed, r, r < keep_count, extra) for r in range(replications)]
    summaries = _execute(jobs, workers)
    return _collect(params, seed, summaries)


def _execute(jobs: list, workers: int) -> list[dict[str, Any]]:
    return [summary for _, summary in sorted(_execute_tagged(jobs, workers), key=lambda item: item[0])]


def _collect(params: Params, seed: int, summaries: list[dict[str, Any]]) -> SimulationResult:
    kpis = pd.DataFrame([s["kpis"] for s in summaries])
    kpis.insert(0, "replication", range(len(summaries)))

    def stack(key: str) -> pd.DataFrame:
        frames = [s[key] for s in summaries if len(s[key])]
        return pd.concat(frames, ignore_index=True) if frames else summaries[0][key]

    return SimulationResult(
        params=params, seed=seed, summaries=kpis, daily=stack("daily"), activities=stack("activities"),
        questions=stack("questions"), incidents=stack("incidents"),
        runs=[s["run"] for s in summaries if s["run"] is not None],
    )


def sweep(
    scenarios: dict[str, Params | dict[str, Any]],
    *,
    base: Params | str | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    extra: Extra | None = None,
) -> dict[str, SimulationResult]:
    """Run several scenarios with the same seeds (paired). Values are Params or override dicts
    applied to ``base``. All replications of all scenarios share one process pool."""
    base_params = load_scenario(base) if base is None or isinstance(base, (str, os.PathLike)) else base
    resolved = {name: value if isinstance(value, Params)
                else base_params.with_overrides(value, source=f"sweep[{name}]")
                for name, value in scenarios.items()}
    seed = base_params.simulation.seed if seed is None else seed
    jobs, owners = [], []
    for name, params in resolved.items():
        count = params.simulation.replications if replications is None else replications
        for r in range(count):
            jobs.append((params, seed, r, False, extra))
            owners.append(name)
    grouped: dict[str, list] = {name: [] for name in resolved}
    for index, summary in sorted(_execute_tagged(jobs, workers), key=lambda item: item[0]):
        grouped[owners[index]].append(summary)
    return {name: _collect(resolved[name], seed, grouped[name]) for name in resolved}


def _run_tagged_chunk(tagged: list[tuple[int, tuple]]) -> list[tuple[int, dict[str, Any]]]:
    return [(index, _run_one(*job)) for index, job in tagged]


def _chunks(tagged: list[tuple[int, tuple]], count: int) -> list[list[tuple[int, tuple]]]:
    """``count`` interleaved chunks (long and short replications spread evenly), empty ones dropped."""
    return [chunk for chunk in (tagged[i::count] for i in range(count)) if chunk]


def _execute_tagged(jobs: list, workers: int) -> list[tuple[int, dict[str, Any]]]:
    """Run ``jobs`` and return (index, summary) pairs in any order.

    On the Dask cluster named by ``SIMLIB_DASK_SCHEDULER`` when it is set (``workers`` is then
    the cluster's business); else in this process (``workers`` = 1) or a process pool whose
    workers end with this process.
    """
    from simlib.batch.cluster import scheduler_from_env

    tagged = list(enumerate(jobs))
    if (address := scheduler_from_env()) is not None:
        return _execute_on_dask(tagged, address)
    workers = min(max(1, workers or _default_workers()), len(jobs))
    if workers == 1:
        return _run_tagged_chunk(tagged)
    from simlib.batch.lifeline import die_with_parent

    with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent) as pool:
        return [item for chunk in pool.map(_run_tagged_chunk, _chunks(tagged, workers * 4)) for item in chunk]


_dask_clients: dict[str, Any] = {}


def _execute_on_dask(tagged: list[tuple[int, tuple]], address: str) -> list[tuple[int, dict[str, Any]]]:
    """Replications as tasks on a Dask cluster; the summaries travel back to this process.

    One client per scheduler address is kept for the process's life, so that a notebook's
    repeated ``simulate`` calls do not reconnect.
    """
    from simlib.batch.cluster import connect, total_threads

    client = _dask_clients.get(address)
    if client is None or client.status != "running":
        client = _dask_clients[address] = connect(address)
    chunks = _chunks(tagged, total_threads(client) * 4)
    futures = client.map(_run_tagged_chunk, chunks, pure=False)
    return [item for chunk in client.gather(futures) for item in chunk]
