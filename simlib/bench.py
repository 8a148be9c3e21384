"""Performance benchmark of the simulation engine: ``python -m simlib.bench``.

Figures (each the median of ``--repeats`` runs — at least eleven for the engine, after an
untimed warm-up — because the machine is shared and noisy):

* **engine** — one replication of a full, 500-member group over 365 days with every
  dimension's mechanics switched on (tiering, the content calendar, all four activity types,
  commercial posts of every mode, automation 0.5, risk controls and warnings), timed through
  the same :func:`simlib.model.run_replication` and :func:`simlib.runner.summarize` the
  notebooks call. Member-days are the sum of the daily present members.
* **naive** — the reference the design rejects: one SimPy process per member that wakes
  every day, draws the day's interactions (Poisson at the member's rate), updates its 7- and
  90-day windows, classifies its tier with :func:`simlib.tiering.classify` on 1-element arrays
  and draws its exit — the engine's daily close, one member at a time.
* **limit** — the practical limit: a vectorized NumPy step of a Markov chain over the five
  tiers plus ``left`` with a fixed transition matrix, sampled from cumulative probabilities
  and uniform draws, over the same members and days.
* **floor** — what a replication costs before any model logic, whatever the engine's code:
  the same random calls replayed alone, an empty SimPy calendar of as many steps, and the
  events table built from arrays already in order. Set beside the engine time the limit target
  allows, it shows how much time that target leaves for the model's own work.
* **sweep** — 10 scenarios × 30 replications × 500 members × 180 days through
  :func:`simlib.runner.sweep` (one process pool for all runs) with 2 workers and with 1,
  giving the speed-up and the peak memory of any process of the pool.
* **lab** — the strategy lab (:mod:`simlib.lab`): seconds per lever change, the median over
  several changes after an untimed one, with the baseline cached and one warm pool; each change
  runs 10 paired replications of the default baseline (``--lab-only`` runs it alone).
* **batch** — a 16-run notebook batch on the local default and on a 2-worker local Dask
  cluster: the Dask overhead and the wall time projected for N workers
  (:mod:`simlib.batch.benchmark`; ``--batch-only`` runs it alone, ``--no-batch`` skips it).

Each figure is measured in a forked child process, so its peak resident set size (``ru_maxrss``
of ``resource.getrusage``) belongs to that phase alone and earlier phases leave no noise.
The references and the recorded replication behind the floor are computed in
:mod:`simlib.bench_references`; this module times them and reports.
``--profile`` prints the top functions of one replication under cProfile; ``--json PATH``
writes every figure; ``--quick`` is a smoke run with tiny sizes (targets then do not apply).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy

from simlib.bench_child import in_child, maxrss_mib
from simlib.bench_lab import LAB_FULL, LAB_QUICK, format_lab, measure_lab
from simlib.bench_references import events_columns, naive_reference, numpy_limit, recorded_replication
from simlib.eventlog import events_frame
from simlib.model import run_replication
from simlib.params import Params, load_scenario
from simlib.runner import summarize, sweep
from simlib.schema import TZ

SEED = 20261125
MIB = 1024 * 1024

# Every activity type, on a rhythm that keeps several running at once.
ALL_ACTIVITIES = [
    {"type": "checkin", "every_days": 30, "first_day": 5},
    {"type": "referral_lottery", "every_days": 60, "first_day": 15},
    {"type": "live_flash_sale", "every_days": 45, "first_day": 20},
    {"type": "ugc", "every_days": 60, "first_day": 40},
]
# Commercial posts of every mode (0.8 a week beside the 5 calendar posts ≈ 14%).
ALL_COMMERCIAL = {"ecommerce": 0.4, "paid_knowledge": 0.2, "brand_deal": 0.1, "membership": 0.1}

# The 10 scenarios of the sweep: override sets on the benchmark's base scenario.
SWEEP_SCENARIOS: dict[str, dict[str, Any]] = {
    "full": {},
    "untiered": {"tiering": {"enabled": False}},
    "manual": {"automation": {"level": 0.0}},
    "automated": {"automation": {"level": 1.0}},
    "no_commercial": {"monetization": {"commercial_posts_per_week": {m: 0.0 for m in ALL_COMMERCIAL}}},
    "heavy_commercial": {"monetization": {"commercial_posts_per_week": {m: 1.0 for m in ALL_COMMERCIAL}}},
    "one_admin": {"monitoring": {"admins": 1}},
    "no_warning": {"risk": {"warning_system": False}},
    "no_controls": {"risk": {"controls": False}},
    "checkin_only": {"activities": {"schedule": [ALL_ACTIVITIES[0]]}},
}


@dataclass(frozen=True)
class Sizes:
    members: int = 500
    days: int = 365
    sweep_scenarios: int = 10
    sweep_replications: int = 30
    sweep_members: int = 500
    sweep_days: int = 180
    workers: int = 2
    repeats: int = 3
    sweep_repeats: int = 1


FULL = Sizes()
QUICK = Sizes(members=30, days=20, sweep_scenarios=10, sweep_replications=1, sweep_members=30, sweep_days=10,
              repeats=2, sweep_repeats=1)

# (figure key, target as text, check on the value, applies only at full size)
TARGETS: list[tuple[str, str, Callable[[float], bool]]] = [
    ("engine.replication_seconds", "≤ 0.25 s", lambda v: v <= 0.25),
    ("ratios.engine_over_naive", "≥ 10×", lambda v: v >= 10),
    ("ratios.engine_over_limit", "≥ 0.25 (within 4×)", lambda v: v >= 0.25),
    ("sweep.parallel_seconds", "≤ 30 s", lambda v: v <= 30),
    ("sweep.speedup", "≥ 1.8×", lambda v: v >= 1.8),
    ("sweep.peak_rss_mib", "≤ 1024 MiB", lambda v: v <= 1024),
]


def benchmark_params(members: int, days: int) -> Params:
    """The full playbook with every dimension's mechanics on, a full group of ``members``.

    The community keeps that one group (``overflow: lost``): arrivals a full group cannot seat
    are turned away, so the workload stays ``members`` × ``days`` member-days, as it was
    measured before the engine modelled communities of several groups."""
    return load_scenario("full_playbook", {
        "simulation": {"group_cap": members, "initial_members": members, "days": days},
        "community": {"overflow": "lost"},
        "tiering": {"enabled": True},
        "activities": {"schedule": ALL_ACTIVITIES},
        "monetization": {"commercial_posts_per_week": ALL_COMMERCIAL},
        "automation": {"level": 0.5},
        "risk": {"controls": True, "warning_system": True},
    })


# --------------------------------------------------------------------------- measurement helpers


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


# --------------------------------------------------------------------------- the engine


def measure_engine(members: int, days: int, repeats: int) -> dict[str, Any]:
    params = benchmark_params(members, days)
    # One untimed warm-up replication (first-call costs: pandas, the cached logit shifts, loading
    # the compiled kernels), then at least eleven timed ones: a replication is cheap and the VM is noisy.
    summarize(run_replication(params, SEED, repeats + 100))
    run_times, summary_times, member_days = [], [], []
    for replication in range(max(repeats, 11)):
        start = time.perf_counter()
        run = run_replication(params, SEED, replication)
        middle = time.perf_counter()
        summarize(run)
        end = time.perf_counter()
        run_times.append(middle - start)
        summary_times.append(end - middle)
        member_days.append(int(run.daily["present"].sum()))
        del run
    replication_seconds = _median(run_times)
    summary_seconds = _median(summary_times)
    days_per_run = _median(member_days)
    return {
        "members": members, "days": days, "repeats": len(run_times),
        "replication_seconds": replication_seconds,
        "summary_seconds": summary_seconds,
        "total_seconds": _median([a + b for a, b in zip(run_times, summary_times, strict=True)]),
        "replication_seconds_all": run_times,
        "summary_seconds_all": summary_times,
        "member_days": days_per_run,
        "member_days_per_second": days_per_run / replication_seconds,
        "member_days_per_second_with_summary": days_per_run / (replication_seconds + summary_seconds),
    }


def profile_replication(members: int, days: int, top: int = 10) -> dict[str, Any]:
    """cProfile one replication, after an untimed warm-up; the ``top`` functions by own time."""
    params = benchmark_params(members, days)
    # Without the warm-up the profile is dominated by loading the compiled kernels, once per process.
    run_replication(params, SEED, 1)
    profiler = cProfile.Profile()
    profiler.enable()
    run_replication(params, SEED, 0)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    entries = []
    for (filename, line, name), (primitive_calls, calls, tottime, cumtime, _callers) in rows:
        short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        entries.append({"function": f"{short}:{line}({name})", "ncalls": calls,
                        "primitive_calls": primitive_calls, "tottime": tottime, "cumtime": cumtime,
                        "share_of_total": tottime / total if total else math.nan})
    return {"total_seconds": total, "top": entries}


# --------------------------------------------------------------------------- the references


def measure_naive(members: int, days: int, repeats: int) -> dict[str, Any]:
    params = benchmark_params(members, days)
    times, member_days = [], 0
    for repeat in range(repeats):
        start = time.perf_counter()
        result = naive_reference(params, members, days, SEED + repeat)
        times.append(time.perf_counter() - start)
        member_days = result["member_days"]
    seconds = _median(times)
    return {"members": members, "days": days, "repeats": repeats, "seconds": seconds, "seconds_all": times,
            "member_days": member_days, "member_days_per_second": member_days / seconds}


def measure_limit(members: int, days: int, repeats: int) -> dict[str, Any]:
    times, member_days = [], 0
    for repeat in range(max(repeats, 5)):  # cheap: a few more repeats steady the median
        start = time.perf_counter()
        member_days = numpy_limit(members, days, SEED + repeat)["member_days"]
        times.append(time.perf_counter() - start)
    seconds = _median(times)
    return {"members": members, "days": days, "repeats": len(times), "seconds": seconds, "seconds_all": times,
            "member_days": member_days, "member_days_per_second": member_days / seconds}


def _median_time(function: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return _median(times)


def measure_floor(members: int, days: int, repeats: int) -> dict[str, Any]:
    """What one replication costs before any model logic runs: the parts DESIGN.md requires of
    every engine, whatever its code.

    One replication of the benchmark scenario is run with its random streams recorded and its
    SimPy steps counted; then, each on its own, are timed: replaying the same random calls
    (same methods and sizes, one generator), a SimPy calendar of as many steps whose processes
    do nothing but wait, and building an events table of the same rows and columns from
    arrays already in time order. Their sum is a floor: the model's own work (who opens,
    buys, answers, leaves; tiers; the log's assembly) comes on top.
    """
    params = benchmark_params(members, days)
    result, calls, steps, values = recorded_replication(params, SEED)
    events = result.tables["events"]
    repeats = max(repeats, 11)

    def replay_draws() -> None:
        generator = np.random.default_rng(SEED)
        for name, args, kwargs in calls:
            getattr(generator, name)(*args, **kwargs)

    def empty_calendar() -> None:
        env = simpy.Environment()
        processes = 8  # about as many as the model runs

        def waiting(timeouts: int, step_days: float):
            for _ in range(timeouts):
                yield env.timeout(step_days)

        for _ in range(processes):
            env.process(waiting(steps // processes, days / (steps // processes + 1)))
        env.run(until=days)

    columns = events_columns(events, pd.Timestamp(params.simulation.start_date, tz=TZ))

    def events_table() -> None:
        events_frame(*columns)

    parts = {"random_draws_seconds": _median_time(replay_draws, repeats),
             "empty_calendar_seconds": _median_time(empty_calendar, repeats),
             "events_table_seconds": _median_time(events_table, repeats)}
    return {"members": members, "days": days, "simpy_steps": steps, "random_calls": len(calls),
            "random_values": values,
            "event_rows": len(events), **parts, "floor_seconds": sum(parts.values())}


# --------------------------------------------------------------------------- the sweep


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def parallel_capacity(workers: int, loops: int = 3_000_000) -> float:
    """How many cores the machine gives us right now: the speed-up of ``workers`` processes
    over one on a pure-Python loop (other users' load shows up here, not as an engine cost)."""
    from concurrent.futures import ProcessPoolExecutor

    start = time.perf_counter()
    for _ in range(workers):
        _spin(loops)
    serial = time.perf_counter() - start
    with ProcessPoolExecutor(max_workers=workers) as pool:
        start = time.perf_counter()
        list(pool.map(_spin, [loops] * workers))
        parallel = time.perf_counter() - start
    return serial / parallel


def measure_sweep(sizes: Sizes) -> dict[str, Any]:
    """All runs of 10 scenarios in one pool with ``workers`` processes, then with one.

    Runs in a forked child of the benchmark: afterwards ``RUSAGE_SELF`` is the peak of the
    process that collected the summaries and ``RUSAGE_CHILDREN`` the peak of the largest
    pool worker (they have been joined when the pool shut down).
    """
    base = benchmark_params(sizes.sweep_members, sizes.sweep_days)
    scenarios = dict(list(SWEEP_SCENARIOS.items())[: sizes.sweep_scenarios])
    runs = len(scenarios) * sizes.sweep_replications

    def timed(workers: int) -> tuple[float, int]:
        start = time.perf_counter()
        results = sweep(scenarios, base=base, replications=sizes.sweep_replications, seed=SEED,
                        workers=workers)
        seconds = time.perf_counter() - start
        member_days = int(sum(result.daily["present"].sum() for result in results.values()))
        if sum(result.replications for result in results.values()) != runs:
            raise RuntimeError("the sweep returned the wrong number of replications")
        return seconds, member_days

    capacity = parallel_capacity(sizes.workers)
    parallel_times, member_days = [], 0
    for _ in range(sizes.sweep_repeats):
        seconds, member_days = timed(sizes.workers)
        parallel_times.append(seconds)
    parent_peak = maxrss_mib(resource.RUSAGE_SELF)
    worker_peak = maxrss_mib(resource.RUSAGE_CHILDREN)
    serial_times = [timed(1)[0] for _ in range(sizes.sweep_repeats)]
    parallel, serial = _median(parallel_times), _median(serial_times)
    return {
        "scenarios": len(scenarios), "replications": sizes.sweep_replications, "runs": runs,
        "members": sizes.sweep_members, "days": sizes.sweep_days, "workers": sizes.workers,
        "repeats": sizes.sweep_repeats,
        "parallel_seconds": parallel, "parallel_seconds_all": parallel_times,
        "serial_seconds": serial, "serial_seconds_all": serial_times,
        "speedup": serial / parallel,
        "machine_parallel_capacity": capacity,
        "seconds_per_run_serial": serial / runs,
        "member_days": member_days, "member_days_per_second": member_days / parallel,
        "parent_peak_rss_mib": parent_peak, "worker_peak_rss_mib": worker_peak,
        # Peak of any process during the parallel sweep (the serial run comes after).
        "peak_rss_mib": max(parent_peak, worker_peak),
        "serial_process_peak_rss_mib": maxrss_mib(resource.RUSAGE_SELF),
    }


def _lab_figure(quick: bool, workers: int) -> dict[str, Any]:
    scenario, replications = LAB_QUICK if quick else LAB_FULL
    return in_child(measure_lab, scenario, replications, workers)


# --------------------------------------------------------------------------- report


def _lookup(figures: dict[str, Any], key: str) -> float:
    section, name = key.split(".")
    return float(figures[section][name])


def check_targets(figures: dict[str, Any], applicable: bool) -> list[dict[str, Any]]:
    rows = []
    for key, text, check in TARGETS:
        value = _lookup(figures, key)
        met = bool(check(value)) if applicable else None
        rows.append({"figure": key, "value": value, "target": text, "met": met})
    return rows


def format_table(figures: dict[str, Any]) -> str:
    sections = ("engine", "naive", "limit", "ratios", "floor", "sweep")
    engine, naive, limit, ratios, floor, sweep_ = (figures[k] for k in sections)
    met = {row["figure"]: row for row in figures["targets"]}

    def status(key: str | None) -> tuple[str, str]:
        if key not in met:
            return "", ""
        row = met[key]
        return row["target"], "n/a" if row["met"] is None else ("yes" if row["met"] else "NO")

    size = f"{engine['members']} members × {engine['days']} days"
    sweep_size = (f"{sweep_['scenarios']} scenarios × {sweep_['replications']} reps"
                  f" × {sweep_['members']} members × {sweep_['days']} days")
    rows = [
        (f"engine ({size}): replication wall time", f"{engine['replication_seconds']:.3f} s",
         "engine.replication_seconds"),
        (f"engine: fastest of the {engine['repeats']} replications",
         f"{min(engine['replication_seconds_all']):.3f} s", None),
        ("engine: KPI summary (runner.summarize)", f"{engine['summary_seconds']:.3f} s", None),
        ("engine: member-days / s", f"{engine['member_days_per_second']:,.0f}", None),
        ("engine: member-days / s incl. summary", f"{engine['member_days_per_second_with_summary']:,.0f}",
         None),
        ("engine: peak RSS (MiB)", f"{engine['peak_rss_mib']:.0f}", None),
        (f"naive per-member SimPy ({naive['members']} × {naive['days']}): wall time",
         f"{naive['seconds']:.3f} s", None),
        ("naive: member-days / s", f"{naive['member_days_per_second']:,.0f}", None),
        ("naive: peak RSS (MiB)", f"{naive['peak_rss_mib']:.0f}", None),
        (f"NumPy Markov limit ({limit['members']} × {limit['days']}): wall time", f"{limit['seconds']:.4f} s",
         None),
        ("limit: member-days / s", f"{limit['member_days_per_second']:,.0f}", None),
        ("limit: peak RSS (MiB)", f"{limit['peak_rss_mib']:.0f}", None),
        ("ratio engine / naive (member-days/s)", f"{ratios['engine_over_naive']:.1f}×",
         "ratios.engine_over_naive"),
        ("ratio engine / limit (member-days/s)", f"{ratios['engine_over_limit']:.3f}",
         "ratios.engine_over_limit"),
        (f"floor: the random draws alone ({floor['random_calls']:,} calls,"
         f" {floor['random_values']:,} values)",
         f"{floor['random_draws_seconds']:.3f} s", None),
        (f"floor: an empty SimPy calendar of the same {floor['simpy_steps']:,} steps",
         f"{floor['empty_calendar_seconds']:.3f} s", None),
        (f"floor: the events table ({floor['event_rows']:,} rows) from sorted arrays",
         f"{floor['events_table_seconds']:.3f} s", None),
        ("floor: sum, before any model logic", f"{floor['floor_seconds']:.3f} s", None),
        ("engine time the limit target allows (its member-days at 0.25 × limit)",
         f"{floor['engine_seconds_allowed_by_limit_target']:.3f} s", None),
        ("model logic: now (replication − floor) / allowed by that target",
         f"{floor['logic_seconds_now']:.3f} / {floor['logic_seconds_allowed']:.3f} s", None),
        (f"sweep ({sweep_size}): {sweep_['workers']} workers", f"{sweep_['parallel_seconds']:.1f} s",
         "sweep.parallel_seconds"),
        ("sweep: 1 worker", f"{sweep_['serial_seconds']:.1f} s", None),
        ("sweep: speed-up", f"{sweep_['speedup']:.2f}×", "sweep.speedup"),
        ("sweep: member-days / s", f"{sweep_['member_days_per_second']:,.0f}", None),
        (f"machine: speed-up of {sweep_['workers']} pure-Python loops (cores free)",
         f"{sweep_['machine_parallel_capacity']:.2f}×", None),
        ("sweep: peak RSS of any process (MiB)", f"{sweep_['peak_rss_mib']:.0f}", "sweep.peak_rss_mib"),
    ]
    lines = [(name, value, *status(key)) for name, value, key in rows]
    widths = [max(len(line[i]) for line in [("figure", "value", "target", "met?"), *lines]) for i in range(4)]
    header = ("figure", "value", "target", "met?")
    out = ["  ".join(text.ljust(width) for text, width in zip(header, widths, strict=True)),
           "  ".join("-" * width for width in widths)]
    for line in lines:
        cells = [line[0].ljust(widths[0]), line[1].rjust(widths[1]), line[2].ljust(widths[2]), line[3]]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


# --------------------------------------------------------------------------- entry point


def run(sizes: Sizes, *, profile: bool = False, quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    config = {**asdict(sizes), "quick": quick, "seed": SEED, "python": sys.version.split()[0],
              "activities": [a["type"] for a in ALL_ACTIVITIES], "commercial_posts_per_week": ALL_COMMERCIAL,
              "sweep_scenarios": list(SWEEP_SCENARIOS)[: sizes.sweep_scenarios]}
    figures: dict[str, Any] = {"config": config}
    figures["engine"] = in_child(measure_engine, sizes.members, sizes.days, sizes.repeats)
    figures["naive"] = in_child(measure_naive, sizes.members, sizes.days, sizes.repeats)
    figures["limit"] = in_child(measure_limit, sizes.members, sizes.days, sizes.repeats)
    engine_speed = figures["engine"]["member_days_per_second"]
    figures["ratios"] = {
        "engine_over_naive": engine_speed / figures["naive"]["member_days_per_second"],
        "engine_over_limit": engine_speed / figures["limit"]["member_days_per_second"],
    }
    figures["floor"] = in_child(measure_floor, sizes.members, sizes.days, sizes.repeats)
    # The engine time the limit target allows, and what that leaves for the model's own logic.
    floor, limit = figures["floor"], figures["limit"]
    allowed = limit["seconds"] * figures["engine"]["member_days"] / limit["member_days"] / 0.25
    floor["engine_seconds_allowed_by_limit_target"] = allowed
    floor["logic_seconds_allowed"] = allowed - floor["floor_seconds"]
    floor["logic_seconds_now"] = figures["engine"]["replication_seconds"] - floor["floor_seconds"]
    figures["sweep"] = in_child(measure_sweep, sizes)
    if profile:
        figures["profile"] = in_child(profile_replication, sizes.members, sizes.days)
    applicable = _scale(sizes) == _scale(FULL)
    figures["targets"] = check_targets(figures, applicable)
    figures["all_targets_met"] = all(row["met"] for row in figures["targets"]) if applicable else None
    figures["bench_seconds"] = time.perf_counter() - started
    return figures


def _scale(sizes: Sizes) -> tuple:
    """What the targets depend on (not the number of repeats)."""
    return (sizes.members, sizes.days, sizes.sweep_scenarios, sizes.sweep_replications, sizes.sweep_members,
            sizes.sweep_days, sizes.workers)


def format_profile(profile: dict[str, Any]) -> str:
    entries = profile["top"]
    lines = [f"cProfile total {profile['total_seconds']:.3f} s",
             f"{'tottime':>9} {'share':>6} {'cumtime':>9} {'ncalls':>8}  function"]
    for entry in entries:
        lines.append(f"{entry['tottime']:9.3f} {entry['share_of_total']:6.1%} {entry['cumtime']:9.3f}"
                     f" {entry['ncalls']:8d}  {entry['function']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simlib.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run with tiny sizes (targets do not apply)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure as JSON to PATH")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one replication and print the top 10 functions")
    parser.add_argument("--repeats", type=int, help="repeats of each single-run figure (median reported)")
    parser.add_argument("--sweep-repeats", type=int, help="repeats of each sweep timing (median reported)")
    parser.add_argument("--workers", type=int, help="workers of the parallel sweep (default 2)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument("--batch-only", action="store_true",
                        help="only the batch figure: 16 notebook runs locally and on a 2-worker Dask cluster")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch figure (a few minutes)")
    parser.add_argument("--batch-repeats", type=int, default=1, help="repeats of each batch timing (median)")
    parser.add_argument("--lab-only", action="store_true",
                        help="only the strategy lab figure: seconds per lever change (target ≤ 2 s)")
    args = parser.parse_args(argv)
    if args.batch_only:
        return _batch_only(args)
    if args.lab_only:
        return _lab_only(args)
    sizes = QUICK if args.quick else FULL
    given = (("repeats", args.repeats), ("sweep_repeats", args.sweep_repeats), ("workers", args.workers))
    changes = {name: value for name, value in given if value is not None}
    if changes:
        sizes = Sizes(**{**asdict(sizes), **changes})
    figures = run(sizes, profile=args.profile, quick=args.quick)
    print(format_table(figures))
    figures["lab"] = _lab_figure(args.quick, sizes.workers)
    print("\n" + format_lab(figures["lab"], applicable=not args.quick))
    if not args.quick and _scale(sizes) != _scale(FULL):
        print("\n(targets apply only to the default sizes, repeats and workers)")
    if args.quick:
        print("\n(quick smoke run: tiny sizes, so the targets do not apply)")
    if not args.quick and not args.no_batch:
        from simlib.batch import benchmark

        figures["batch"] = benchmark.measure(args.batch_repeats)
        print("\n" + benchmark.format_figure(figures["batch"]))
    if "profile" in figures:
        print(f"\nTop 10 functions by own time, one replication"
              f" ({sizes.members} members × {sizes.days} days):")
        print(format_profile(figures["profile"]))
    print(f"\nbenchmark wall time: {figures['bench_seconds']:.1f} s")
    _write_json(args.json, figures)
    if args.strict and figures["all_targets_met"] is False:
        return 1
    return 0


def _batch_only(args: argparse.Namespace) -> int:
    """``--batch-only``: the batch figure alone (JSON under the key "batch")."""
    from simlib.batch import benchmark

    started = time.perf_counter()
    figure = benchmark.measure(args.batch_repeats)
    print(benchmark.format_figure(figure))
    print(f"\nbenchmark wall time: {time.perf_counter() - started:.1f} s")
    _write_json(args.json, {"batch": figure})
    return 1 if args.strict and figure["dask_overhead"] > benchmark.OVERHEAD_TARGET else 0


def _lab_only(args: argparse.Namespace) -> int:
    """``--lab-only``: the strategy lab figure alone (JSON under the key "lab")."""
    figure = _lab_figure(args.quick, args.workers or FULL.workers)
    print(format_lab(figure, applicable=not args.quick))
    _write_json(args.json, {"lab": figure})
    return 1 if args.strict and not args.quick and not figure["met"] else 0


def _write_json(path: Path | None, figures: dict[str, Any]) -> None:
    """``--json PATH``: every figure of the run as JSON."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"figures written to {path}")


if __name__ == "__main__":
    sys.exit(main())
