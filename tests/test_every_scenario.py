"""Every lesson notebook on every default scenario: it runs, and no sentence it states is
contradicted by its own numbers (slow: `make test-extended`).

The default batch's scenarios × the eight lessons run as one real batch (Papermill, own
kernels) with few replications. For each run: the status is ok; every finding recorded in
results.json (a sentence with the checks that make it true, see :mod:`simlib.findings`) holds
for its numbers; every metric the claims register names for that notebook is recorded, so
each claim gets its verdict; and the report is built.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from simlib import claims, findings
from simlib.batch_folder import read_manifest

REPO = Path(__file__).resolve().parents[1]
REPLICATIONS = 3


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("every_scenario")
    default = yaml.safe_load((REPO / "params" / "batches" / "default.yaml").read_text(encoding="utf-8"))
    batch = {**default, "name": "every scenario check", "replications": REPLICATIONS, "workers": 2}
    batch_file = root / "batch.yaml"
    batch_file.write_text(yaml.safe_dump(batch, allow_unicode=True, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "simlib.cli", "batch", str(batch_file), "--no-progress",
               "--reports-dir", str(root / "reports")]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, f"the batch failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    folders = [path for path in (root / "reports").iterdir() if path.is_dir() and not path.is_symlink()]
    assert len(folders) == 1, folders
    return folders[0]


def _results(batch_folder: Path) -> list[dict]:
    paths = sorted(batch_folder.glob("runs/*/*/results.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def test_every_run_succeeds(batch_folder: Path) -> None:
    default = yaml.safe_load((REPO / "params" / "batches" / "default.yaml").read_text(encoding="utf-8"))
    records = read_manifest(batch_folder)
    statuses = {(record["notebook"], record["scenario"]): record["status"] for record in records}
    expected = {(notebook, scenario) for notebook in default["notebooks"]
                for scenario in default["scenarios"]}
    assert expected <= statuses.keys()
    assert {key: status for key, status in statuses.items() if status != "ok"} == {}
    assert (batch_folder / "index.html").is_file()


def test_no_sentence_is_contradicted_by_its_own_numbers(batch_folder: Path) -> None:
    contradicted = {}
    for results in _results(batch_folder):
        stated = [findings.Finding.from_json(entry) for entry in results.get("findings", [])]
        if found := findings.problems(stated):
            contradicted[f"{results['notebook']} × {results['scenario']}"] = found
    assert contradicted == {}


def test_every_claim_of_a_notebook_is_measured(batch_folder: Path) -> None:
    missing = {}
    for results in _results(batch_folder):
        notebook_claims = claims.for_notebook(results["notebook"])
        named = [claim.metric.name for claim in notebook_claims if claim.metric is not None]
        absent = [name for name in named if name not in results["metrics"]]
        if absent:
            missing[f"{results['notebook']} × {results['scenario']}"] = absent
    assert missing == {}
