"""Batch runner: every (notebook × scenario) through Papermill, then the comparative report.

A batch file (YAML) lists scenarios, notebooks and the shared run settings::

    name: default
    baseline: null                         # optional: a calibrated group every scenario is applied to
                                           # (defaults ⊕ baseline ⊕ scenario; see simlib.batch.plan)
    scenarios: [baseline, tiered]          # params/scenarios/<name>.yaml, or paths to .yaml files
    notebooks: [01_member_tiering]         # notebooks/<name>.ipynb, or paths to .ipynb files
    report_notebook: strategy_report       # optional; run last with batch_dir, lang, output_html
    replications: 10
    seed: 20261125
    workers: null                          # null = all cores
    timeout_s: 900                         # whole-run execution limit
    start_timeout_s: 180                   # kernel start limit
    lang: zh
    overrides: {}                          # passed to each run's `overrides` parameter

Each run executes in its own kernel, in a process of this machine or on a Dask cluster
(``--scheduler``), and returns its files; the batch process writes them into a temporary folder
renamed to ``<reports>/<batch>/runs/<notebook>/<scenario-slug>/`` only when the run both
finished without error and left a valid ``results.json``. A failed run leaves its partial
notebook and ``error.txt`` under ``<reports>/<batch>/failed/<notebook>/<scenario-slug>/``.
Every attempt is appended to ``manifest.jsonl``; a re-run skips runs whose key
(notebook, scenario, parameters hash, notebook hash) is unchanged and last succeeded.
The folder's layout is :mod:`simlib.batch_folder`.

The work is split by concern: :mod:`simlib.batch.plan` (the batch file, validated, and the runs
it asks for), :mod:`simlib.batch.worker` (one run, where a worker is), :mod:`simlib.batch.executors`
(processes of this machine or a Dask cluster), :mod:`simlib.batch.store` (outcomes into the batch
folder), :mod:`simlib.batch.lifeline` (processes and temporary folders that end with their
owner), :mod:`simlib.batch.cluster` (Dask connections) and :mod:`simlib.batch.loop` (the batch
loop, the manifest, the report and the summary).

The names below are loaded on first use, so that importing one submodule (the runner uses
:mod:`simlib.batch.cluster`) does not load the whole batch machinery.
"""

import importlib
from typing import Any

_EXPORTS = {
    "BatchInterrupted": "simlib.batch.loop", "BatchStartError": "simlib.batch.loop",
    "BatchSummary": "simlib.batch.loop", "run_batch": "simlib.batch.loop",
    "BatchConfig": "simlib.batch.plan", "BatchFileError": "simlib.batch.plan",
    "load_batch": "simlib.batch.plan", "plan_batch": "simlib.batch.plan",
    "read_manifest": "simlib.batch_folder",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'simlib.batch' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
