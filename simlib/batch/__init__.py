"""Batch runner: every (notebook × scenario) through Papermill, then the comparative report.

A batch file (YAML) lists scenarios, notebooks and the shared run settings::

    name: default
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

Each run executes in its own kernel inside a worker process and writes into a temporary
folder that is renamed to ``<reports>/<batch>/runs/<notebook>/<scenario-slug>/`` only when the
run both finished without error and left a valid ``results.json``. A failed run leaves its
partial notebook and ``error.txt`` under ``<reports>/<batch>/failed/<notebook>/<scenario-slug>/``.
Every attempt is appended to ``manifest.jsonl``; a re-run skips runs whose key
(notebook, scenario, parameters hash, notebook hash) is unchanged and last succeeded.
The folder's layout is :mod:`simlib.batch_folder`.

The work is split by concern: :mod:`simlib.batch.plan` (the batch file, validated, and the runs
it asks for), :mod:`simlib.batch.worker` (one run, in a worker process) and
:mod:`simlib.batch.loop` (the batch loop, the manifest, the report and the summary).
"""

from simlib.batch.loop import BatchSummary, run_batch
from simlib.batch.plan import BatchConfig, BatchFileError, load_batch, plan_batch
from simlib.batch_folder import read_manifest

__all__ = [
    "BatchConfig", "BatchFileError", "BatchSummary", "load_batch", "plan_batch", "read_manifest", "run_batch",
]
