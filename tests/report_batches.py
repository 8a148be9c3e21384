"""Batch folders with made-up per-replication values, for the tests of the comparative report
(tests/test_report*.py), and the report notebook run as the batch runs it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simlib import report
from simlib.batch.worker import export_html
from simlib.results import metric, write_results

NOISE = [-0.02, 0.01, 0.0, 0.015, -0.005]  # relative per-replication deviations (same for every scenario)
THRESHOLDS = report.load_health_thresholds()[0]
TIER_NAMES = ("active", "loyal")
HEALTHY = {"messages_per_100_members_per_day": 10.0, "revisit_7d": 0.50, "activity_conversion": 0.30,
           "share_rate": 0.20}


def community(net: float, residual: float) -> dict[str, float]:
    """The community's ranking value and its parts (net value + residual value)."""
    return {"ranking_value": net + residual, "net_value": net, "residual_value": residual}


def values(mean: float, scale: float = 1.0) -> list[float]:
    return [mean * (1 + scale * n) for n in NOISE]


def scenario_batch(root: Path, means: dict[str, dict[str, float]], labels: dict[str, str] | None = None,
                    notebooks: tuple[str, ...] = ("04_kpi_monitoring",)) -> Path:
    """A batch folder with one run per scenario and notebook: ``{scenario: {kpi: mean}}`` (values
    = mean × (1 + NOISE), one seed), optional labels (also the descriptions) and, for
    01_member_tiering, a tier table."""
    for index, (name, kpi_means) in enumerate(means.items()):
        extra = {"scenario_label": labels[name], "description": labels[name]} if labels else None
        kpis = {kpi: metric(values(mean), unit=report.KPIS.get(kpi, "")) for kpi, mean in kpi_means.items()}
        for notebook in notebooks:
            rows = [{"day": day, "tier": tier, "members": 100 + day}
                    for day in range(3) for tier in TIER_NAMES]
            tables = {"tier_daily": pd.DataFrame(rows)} if notebook == "01_member_tiering" else None
            write_results(root / "runs" / notebook / f"s{index}", notebook=notebook, scenario=name, seed=3,
                          replications=len(NOISE), metrics={"members": metric([1000.0] * len(NOISE))},
                          kpis=kpis, tables=tables, extra=extra)
    return root


def run_report_notebook(batch_dir: Path, tmp_path: Path, lang: str) -> str:
    """Execute the report notebook on ``batch_dir`` and export it to HTML without code."""
    nbformat = pytest.importorskip("nbformat")
    papermill = pytest.importorskip("papermill")

    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "strategy_report.ipynb"
    source = nbformat.read(notebook, as_version=4)
    assert all(not cell.get("outputs") for cell in source.cells if cell.cell_type == "code")
    tags = [cell.metadata.get("tags", []) for cell in source.cells]
    assert sum("parameters" in t for t in tags) == 1

    executed = tmp_path / "executed.ipynb"
    parameters = {"batch_dir": str(batch_dir), "lang": lang, "output_html": str(batch_dir / "index.html")}
    papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name="python3",
                               cwd=str(notebook.parent), progress_bar=False)
    # As simlib.batch exports the report: no code, no prompts, nothing loaded from the network.
    page = tmp_path / "index.html"
    export_html(executed, page, with_code=False, title=f"{report.text('title', lang)} · test")
    return page.read_text(encoding="utf-8")
