"""Smoke test of the performance benchmark (``python -m simlib.bench --quick``).

The full benchmark is not part of ``make test`` (``make bench`` runs it); this only checks
that a tiny run prints every figure and writes the JSON keys.
"""

from __future__ import annotations

import json

from simlib import bench, bench_references

FIGURES = (
    "replication wall time", "KPI summary", "engine: member-days / s", "engine: peak RSS",
    "naive per-member SimPy", "naive: member-days / s", "naive: peak RSS",
    "NumPy Markov limit", "limit: member-days / s", "limit: peak RSS",
    "ratio engine / naive", "ratio engine / limit",
    "floor: the random draws alone", "floor: an empty SimPy calendar", "floor: the events table",
    "floor: sum", "limit target allows", "model logic: now",
    "2 workers", "sweep: 1 worker", "sweep: speed-up", "sweep: peak RSS of any process",
)


def test_quick_run_prints_every_figure_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert bench.main(["--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    for figure in FIGURES:
        assert figure in out, figure
    assert "met?" in out and "quick smoke run" in out

    figures = json.loads(path.read_text(encoding="utf-8"))
    sections = {"config", "engine", "naive", "limit", "ratios", "sweep", "targets", "all_targets_met"}
    assert sections <= set(figures)
    assert {"replication_seconds", "summary_seconds", "member_days", "member_days_per_second",
            "peak_rss_mib"} <= set(figures["engine"])
    for reference in ("naive", "limit"):
        assert {"seconds", "member_days", "member_days_per_second", "peak_rss_mib"} <= set(figures[reference])
    assert {"engine_over_naive", "engine_over_limit"} <= set(figures["ratios"])
    floor = figures["floor"]
    parts = ("random_draws_seconds", "empty_calendar_seconds", "events_table_seconds")
    assert abs(floor["floor_seconds"] - sum(floor[part] for part in parts)) < 1e-12
    assert floor["simpy_steps"] > 0 and floor["random_values"] >= floor["random_calls"] > 0
    assert {"parallel_seconds", "serial_seconds", "speedup", "peak_rss_mib", "worker_peak_rss_mib",
            "parent_peak_rss_mib", "runs"} <= set(figures["sweep"])
    assert figures["sweep"]["runs"] == 10
    # Member-days are what the run produced, and every figure is a positive number.
    assert figures["engine"]["member_days"] > 0
    assert figures["naive"]["member_days"] == 30 * 20
    for section in ("engine", "naive", "limit", "sweep"):
        assert figures[section]["peak_rss_mib"] > 0
    # Quick sizes: the targets are listed but not judged.
    assert {row["figure"] for row in figures["targets"]} == {key for key, _, _ in bench.TARGETS}
    assert all(row["met"] is None for row in figures["targets"])
    assert figures["all_targets_met"] is None


def test_naive_and_limit_references_count_member_days():
    params = bench.benchmark_params(12, 9)
    naive = bench_references.naive_reference(params, 12, 9, seed=1)
    assert naive["member_days"] == 12 * 9 and sum(naive["tier_days"]) == 12 * 9
    limit = bench_references.numpy_limit(12, 9, seed=1)
    assert sum(limit["state_days"]) == 12 * 9
    assert 0 < limit["member_days"] <= 12 * 9


def test_benchmark_params_switch_every_dimension_on():
    params = bench.benchmark_params(500, 365)
    assert params.simulation.group_cap == params.simulation.initial_members == 500
    assert params.simulation.days == 365
    assert params.tiering.enabled and params.risk.controls and params.risk.warning_system
    assert params.automation.level == 0.5
    activity_types = {entry.type for entry in params.activities.schedule}
    assert activity_types == {"checkin", "referral_lottery", "live_flash_sale", "ugc"}
    assert all(rate > 0 for rate in params.monetization.commercial_posts_per_week.values())


def test_floor_records_the_run_without_changing_it():
    """The floor's recording wrappers pass every draw through: the run is the plain one."""
    import pandas as pd

    from simlib import schema
    from simlib.eventlog import events_frame
    from simlib.model import run_replication

    params = bench.benchmark_params(40, 30)
    recorded, calls, steps, values = bench_references.recorded_replication(params, bench.SEED)
    plain = run_replication(params, bench.SEED, 0)
    for name, table in plain.tables.items():
        pd.testing.assert_frame_equal(recorded.tables[name], table)
    pd.testing.assert_frame_equal(recorded.daily, plain.daily)
    # The floor's events table is built by the model's own function from the same columns.
    start = pd.Timestamp(params.simulation.start_date, tz=schema.TZ)
    rebuilt = events_frame(*bench_references.events_columns(plain.tables["events"], start))
    pd.testing.assert_frame_equal(rebuilt, plain.tables["events"].reset_index(drop=True))
    # At least the daily close and the day's chat and exit draws.
    assert steps > 30 and values >= len(calls) > 30
