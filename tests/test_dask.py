"""Beyond one machine: replications and batch runs on a real Dask cluster.

One scheduler and two workers run as separate processes on 127.0.0.1 over TCP (ports chosen by the
system) for the whole module, and are torn down at its end even when a test fails. The workers share
no folder with the batch: runs return their files and the batch process writes them.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import psutil
import pytest
from test_batch import dirs, make_tree, write_batch

from simlib import batch
from simlib.batch import run_batch
from simlib.batch.cluster import ENV_SCHEDULER, ClusterError, connect, local_cluster
from simlib.params import load_scenario
from simlib.runner import simulate, sweep
from simlib.slug import slugify


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with local_cluster(tmp_path_factory.mktemp("dask"), workers=2, threads=1) as processes:
        yield processes


def small_params():
    return load_scenario("smoke", {"simulation.days": 21, "simulation.initial_members": 40})


def test_same_seed_gives_the_same_kpis_locally_and_on_dask(cluster, monkeypatch):
    params = small_params()
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    local = simulate(params, replications=3, seed=7, workers=1)
    local_sweep = sweep({"base": {}, "untiered": {"tiering": {"enabled": False}}}, base=params,
                        replications=2, seed=7, workers=1)
    monkeypatch.setenv(ENV_SCHEDULER, cluster.address)
    remote = simulate(params, replications=3, seed=7, workers=1)
    remote_sweep = sweep({"base": {}, "untiered": {"tiering": {"enabled": False}}}, base=params,
                         replications=2, seed=7, workers=1)
    pd.testing.assert_frame_equal(local.summaries, remote.summaries)
    pd.testing.assert_frame_equal(local.daily, remote.daily)
    for name in ("base", "untiered"):
        pd.testing.assert_frame_equal(local_sweep[name].summaries, remote_sweep[name].summaries)


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"):
        connect("tcp://127.0.0.1:9", timeout_s=2)


def _kernel_on(worker: psutil.Process) -> bool:
    try:
        return any("ipykernel" in " ".join(child.cmdline()) for child in worker.children())
    except psutil.NoSuchProcess:
        return False


def test_a_batch_on_dask_survives_a_killed_worker_and_a_rerun_completes_it(cluster, tmp_path):
    tree = make_tree(tmp_path)
    for number in range(1, 4):
        (tree["scenarios"] / f"slow{number}.yaml").write_text("description: slow\n", encoding="utf-8")
    path = write_batch(tree, """\
name: on dask
scenarios: [ok, slow1, slow2, slow3]
notebooks: [chaos]
report_notebook: report
replications: 2
timeout_s: 60
lang: en
""")
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(summary=run_batch(
        path, progress=False, scheduler=cluster.address, **dirs(tree))), daemon=True)
    thread.start()
    workers = [psutil.Process(process.pid) for process in cluster.workers]
    deadline = time.monotonic() + 120
    while not any(_kernel_on(worker) for worker in workers):
        assert time.monotonic() < deadline and thread.is_alive(), "no run started on the cluster"
        time.sleep(0.05)
    victim = next(worker for worker in workers if _kernel_on(worker))
    orphans = victim.children(recursive=True)
    victim.kill()  # a worker dies mid-run: the scheduler hands its task to the other worker
    # reaped, as a shell would (a zombie would count as alive)
    next(process for process in cluster.workers if process.pid == victim.pid).wait()
    thread.join(timeout=240)
    assert not thread.is_alive(), "the batch did not end"
    _, alive = psutil.wait_procs(orphans, timeout=10)
    assert alive == []  # the dead worker's kernel died with it

    summary = outcome["summary"]
    statuses = {r["scenario"]: r["status"] for r in summary.records}
    assert set(statuses) == {"ok", "slow1", "slow2", "slow3"}
    assert set(statuses.values()) <= {"ok", "failed"}  # retried, or recorded as failed
    assert summary.report_status == "ok" and summary.scheduler == cluster.address
    assert {r["host"] for r in summary.records} and all(r["host"] for r in summary.records)
    batch_dir = summary.batch_dir
    for name, status in statuses.items():
        assert (batch_dir / "runs" / "chaos" / slugify(name) / "notebook.html").exists() == (status == "ok")

    # the re-run executes exactly what did not succeed, and completes the batch
    before = len(batch.read_manifest(batch_dir))
    again = run_batch(path, progress=False, scheduler=cluster.address, **dirs(tree))
    rerun = batch.read_manifest(batch_dir)[before:]
    assert {r["scenario"] for r in rerun if r["status"] != "skipped"} == {
        name for name, status in statuses.items() if status != "ok"}
    assert again.ok and all(status in ("ok", "skipped") for status in (r["status"] for r in rerun))
    assert list((cluster.folder / "tmp").glob("simlib-run-*")) == []  # the killed worker's too
