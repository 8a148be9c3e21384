"""Every playbook notebook runs under papermill on the smoke scenario and writes its results.

The notebooks are also run by nbval in `make test`; this test checks what the batch and the
comparative report rely on: the results JSON (named metrics with mean/low/high, the headline
KPIs) and the tidy tables, and that nothing is written when output_dir is None.
"""

import json
import math
from pathlib import Path

import nbformat
import papermill
import pytest

from simlib.metrics import KPI_NAMES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
REQUIRED_PARAMETERS = {"scenario", "overrides", "replications", "seed", "output_dir", "lang", "data_source"}


def test_there_are_eight_playbook_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"0{i}" for i in range(1, 9)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_clean_and_parameterized(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert REQUIRED_PARAMETERS <= set(papermill.inspect_notebook(str(path)))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "<details>" in text, "exercises need collapsible solutions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_smoke_and_writes_results(path, tmp_path):
    output_dir = tmp_path / "out"
    papermill.execute_notebook(
        str(path), str(tmp_path / path.name), parameters={"scenario": "smoke", "output_dir": str(output_dir)},
        kernel_name="python3", progress_bar=False, cwd=str(ROOT),
    )
    results = json.loads((output_dir / "results.json").read_text(encoding="utf-8"))
    assert results["notebook"] == path.stem and results["scenario"] == "smoke"
    assert results["metrics"], "a notebook must record its key metrics"
    for name, entry in {**results["metrics"], **results["kpis"]}.items():
        assert {"mean", "low", "high"} <= set(entry), name
        if entry["mean"] is not None and entry["low"] is not None:
            assert entry["low"] <= entry["mean"] + 1e-9 and entry["mean"] <= entry["high"] + 1e-9, name
    assert set(KPI_NAMES) <= set(results["kpis"])
    assert any(not math.isnan(results["kpis"][k]["mean"] or math.nan) for k in ("retention_d30", "revenue_per_member"))
    for table in results["tables"]:
        assert (output_dir / "tables" / f"{table}.csv").stat().st_size > 0


def _raw_identities() -> set[str]:
    """Ids and nicknames as they appear in the shipped sample exports (before pseudonymization)."""
    import pandas as pd

    from simlib import datasets

    found: set[str] = set()
    v1 = pd.read_csv(datasets.sample_path("wechatmsg_v1"), encoding="utf-8-sig", dtype=str)
    found |= set(v1["NickName"].dropna()) | set(v1["Sender"].dropna())
    orders = pd.read_csv(datasets.sample_path("orders"), dtype=str)
    found |= set(orders["member_id"].dropna())
    members = json.loads(datasets.sample_path("wecom_groupchat_get").read_text(encoding="utf-8"))["group_chat"]["member_list"]
    found |= {m["userid"] for m in members} | {m["name"] for m in members if m.get("name")}
    return {value for value in found if len(value) >= 2}


@pytest.mark.parametrize("stem", ["01_member_tiering", "04_kpi_monitoring"])
def test_real_data_run_leaks_no_raw_identity(stem, tmp_path):
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    if not path.exists():
        pytest.skip(f"{stem} not present")
    output_dir = tmp_path / "out"
    executed = tmp_path / path.name
    papermill.execute_notebook(
        str(path), str(executed), kernel_name="python3", progress_bar=False, cwd=str(ROOT),
        parameters={"scenario": "smoke", "output_dir": str(output_dir), "data_source": "sample:wechatmsg_v1"},
    )
    identities = _raw_identities()
    assert len(identities) > 20
    for file in [executed, *output_dir.rglob("*")]:
        if file.is_file():
            text = file.read_text(encoding="utf-8", errors="replace")
            leaked = sorted(value for value in identities if value in text)
            assert leaked == [], f"{file.name} contains raw identities {leaked[:5]}"
