"""The batch figure of the benchmark (``python -m simlib.bench``, or ``--batch-only``).

The same 16-run batch (one generated notebook × 16 scenarios, each run simulating replications
of a 300-member group for 180 days) runs twice: on the local default (processes of this
machine, 2 at a time) and on a local Dask cluster of 2 single-thread workers started as
separate processes (:func:`simlib.batch.cluster.local_cluster`). The figure is the wall time of
the runs phase of each, the Dask overhead relative to the local default, and — from the measured
run times — the wall time projected for N workers (each run on a core of its own, scheduled
longest first).
"""

from __future__ import annotations

import heapq
import statistics
import tempfile
from pathlib import Path
from typing import Any

RUNS = 16
WORKERS = 2
OVERHEAD_TARGET = 0.05
PROJECTED_WORKERS = (1, 2, 4, 8, 16)

# The notebook every run executes: the parameters cell the batch requires, replications of the
# scenario through simlib.runner.simulate (one process: the run is the unit of parallelism), results.
_NOTEBOOK_CELLS = [
    ("code", 'scenario = None\noverrides = {}\nreplications = 4\nseed = 1\noutput_dir = None\nlang = "en"\n'
             "data_source = None", ["parameters"]),
    ("code", "from simlib.runner import simulate\n\n"
             "result = simulate(scenario, replications=replications, seed=seed, workers=1,\n"
             "                  overrides=overrides)",
     []),
    ("code", "from simlib.results import write_results\n\n"
             'write_results(output_dir, notebook="bench_batch", scenario=result.params.name, seed=seed,\n'
             "              replications=replications, metrics=result.kpi_entries(), lang=lang)", []),
]


def write_inputs(folder: Path, runs: int = RUNS, replications: int = 4) -> Path:
    """The benchmark's notebook, scenarios and batch file under ``folder``; returns the batch file."""
    import nbformat

    notebooks, scenarios = folder / "notebooks", folder / "scenarios"
    notebooks.mkdir(parents=True, exist_ok=True)
    scenarios.mkdir(parents=True, exist_ok=True)
    cells = []
    for kind, source, tags in _NOTEBOOK_CELLS:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell.metadata["tags"] = tags
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, notebooks / "bench_batch.ipynb")
    names = []
    for number in range(runs):
        name = f"s{number + 1:02d}"
        level = number / max(runs - 1, 1)
        scenario = f"simulation: {{days: 180, initial_members: 300}}\nautomation: {{level: {level:.3f}}}\n"
        (scenarios / f"{name}.yaml").write_text(scenario, encoding="utf-8")
        names.append(name)
    batch_file = folder / "bench.yaml"
    batch_file.write_text(
        f"name: bench\nscenarios: [{', '.join(names)}]\nnotebooks: [bench_batch]\n"
        f"replications: {replications}\nseed: 20261125\nworkers: {WORKERS}\ntimeout_s: 600\n"
        "start_timeout_s: 180\nlang: en\n", encoding="utf-8")
    return batch_file


def projected_wall(durations: list[float], workers: int) -> float:
    """Wall time of runs of these durations on ``workers`` workers, longest first to the least loaded."""
    loads = [0.0] * workers
    for duration in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + duration)
    return max(loads)


def _one_batch(batch_file: Path, folder: Path, scheduler: str | None) -> dict[str, Any]:
    from simlib.batch import run_batch

    summary = run_batch(batch_file, force=True, progress=False, reports_dir=folder / "reports",
                        notebooks_dir=folder / "notebooks", scenarios_dir=folder / "scenarios",
                        scheduler=scheduler)
    failed = [r for r in summary.records if r["status"] != "ok"]
    if failed:
        raise RuntimeError(f"benchmark batch run failed: {failed[0]['notebook']} × {failed[0]['scenario']}: "
                           f"{failed[0].get('error')}")
    return {"wall_s": summary.timing["runs_phase_wall_s"],
            "run_seconds": [r["duration_s"] for r in summary.records],
            "compute_seconds": [r["compute_s"] for r in summary.records]}


def measure(repeats: int = 1, runs: int = RUNS) -> dict[str, Any]:
    """Time the batch locally and on a 2-worker local Dask cluster, alternately, ``repeats`` times."""
    from simlib.batch.cluster import local_cluster
    from simlib.batch.executors import start_fork_server

    with tempfile.TemporaryDirectory(prefix="simlib-bench-batch-") as temporary:
        folder = Path(temporary)
        batch_file = write_inputs(folder, runs)
        local, dask = [], []
        start_fork_server()  # started once per process: not part of a batch's time
        with local_cluster(folder / "dask", workers=WORKERS, threads=1) as cluster:
            for number in range(repeats):  # alternate which goes first: the machine's speed drifts
                order = [(local, None), (dask, cluster.address)]
                for measured, scheduler in order if number % 2 == 0 else order[::-1]:
                    measured.append(_one_batch(batch_file, folder, scheduler))
    local_wall = statistics.median(m["wall_s"] for m in local)
    dask_wall = statistics.median(m["wall_s"] for m in dask)
    per_run = zip(*(m["run_seconds"] for m in local), strict=True)
    run_seconds = [statistics.median(values) for values in per_run]
    dask_runs = [seconds for m in dask for seconds in m["run_seconds"]]
    return {
        "runs": runs,
        "workers": WORKERS,
        "repeats": repeats,
        "local_wall_seconds": local_wall,
        "dask_wall_seconds": dask_wall,
        "dask_overhead": dask_wall / local_wall - 1,
        "local_wall_seconds_all": [m["wall_s"] for m in local],
        "dask_wall_seconds_all": [m["wall_s"] for m in dask],
        "run_seconds_median": statistics.median(run_seconds),
        "dask_run_seconds_median": statistics.median(dask_runs),
        "dask_compute_share_of_run": sum(sum(m["compute_seconds"]) for m in dask) / sum(dask_runs),
        "compute_share_of_run": sum(sum(m["compute_seconds"]) for m in local) / sum(
            sum(m["run_seconds"]) for m in local),
        "projected_wall_seconds": {n: projected_wall(run_seconds, n) for n in PROJECTED_WORKERS},
    }


def format_figure(figure: dict[str, Any]) -> str:
    """The batch figure as lines of text."""
    overhead = figure["dask_overhead"]
    met = "yes" if overhead <= OVERHEAD_TARGET else "NO"
    lines = [
        f"batch: {figure['runs']} runs, {figure['workers']} at a time (median of {figure['repeats']})",
        f"  local default (process pool)       {figure['local_wall_seconds']:8.1f} s",
        f"  local Dask cluster, 2 workers      {figure['dask_wall_seconds']:8.1f} s",
        f"  Dask overhead                      {overhead:+8.1%}   target ≤ {OVERHEAD_TARGET:.0%}: {met}",
        f"  one run, median (local / Dask)       {figure['run_seconds_median']:6.1f} / "
        f"{figure['dask_run_seconds_median']:.1f} s; {figure['compute_share_of_run']:.0%} of a local run "
        "in the notebook's cells",
        "  projected wall time from the measured run times, N workers each with a core:",
    ]
    for workers, seconds in figure["projected_wall_seconds"].items():
        lines.append(f"    N = {workers:>2}: {seconds:7.1f} s")
    return "\n".join(lines)
