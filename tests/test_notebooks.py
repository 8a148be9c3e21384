"""Every playbook notebook runs under papermill on the smoke scenario and writes its results.

The notebooks are also run by nbval in `make test`; this test checks what the batch and the
comparative report rely on: the results JSON (named metrics with mean/low/high, the headline
KPIs) and the tidy tables, and that nothing is written when output_dir is None.

``00_strategy_lab`` is not a lesson but the strategy lab (widgets over :mod:`simlib.lab`): it
has its own checks at the end of this file.
"""

import ast
import json
import math
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from simlib.metrics import KPI_NAMES

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "notebooks" / "00_strategy_lab.ipynb"
NOTEBOOKS = [path for path in sorted((ROOT / "notebooks").glob("0*.ipynb")) if path != LAB]  # the lessons
REQUIRED_PARAMETERS = {"scenario", "overrides", "replications", "seed", "output_dir", "lang", "data_source"}
# The lesson skeleton every playbook notebook follows, in this order; STEPS stands for the numbered
# model steps "## 1. …", "## 2. …" between how-to-run and the what-ifs.
STEPS = "## 1. … ## n."
SKELETON = ["## 概述 Overview", "## 学习目标 Learning goals", "## 前置知识 Prerequisites",
            "## 换参数运行 Running with other parameters", STEPS, "## 情景推演 What-if", "## 练习 Exercises",
            "## 小结 Summary", "## 记录结果 Results for the comparative report"]
STEP = re.compile(r"## (\d+)\. \S")
DOUBLED = re.compile(r"(\S+?)\s*[（(]\1[）)]")  # "学习目标（学习目标）"


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


def _sections(notebook) -> list[tuple[str, list]]:
    """(level-2 heading, the cells from it to the next level-2 heading), in order."""
    sections: list[tuple[str, list]] = []
    for cell in notebook.cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else []:
            if line.startswith("## "):
                sections.append((line.strip(), []))
        if sections:
            sections[-1][1].append(cell)
    return sections


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_skeleton(path):
    notebook = nbformat.read(path, as_version=4)
    sections = _sections(notebook)
    headings = [heading for heading, _ in sections]
    steps = [heading for heading in headings if STEP.match(heading)]
    assert steps, "the lesson needs numbered model steps"
    assert [int(STEP.match(h).group(1)) for h in steps] == list(range(1, len(steps) + 1)), steps
    shape = [STEPS if STEP.match(h) else h for h in headings]
    collapsed = [h for i, h in enumerate(shape) if not (h == STEPS and i and shape[i - 1] == STEPS)]
    assert collapsed == SKELETON, f"level-2 headings {headings}"
    first = notebook.cells[0].source.splitlines()[0]
    assert first.startswith("# ") and " · " in first, "the title: '# 中文 · English'"
    for cell in notebook.cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else []:
            if line.startswith("#") or line.startswith("**"):
                assert not DOUBLED.search(line), f"doubled heading: {line!r}"
    # the parameters cell sits between how-to-run and step 1, and the validating start() follows it
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    run_cell = next(i for i, c in enumerate(notebook.cells) if SKELETON[3] in c.source)
    step_cell = next(i for i, c in enumerate(notebook.cells) if STEP.match(c.source))
    assert run_cell < index < step_cell
    assert "simlib.notebook.start(" in notebook.cells[index + 1].source
    content = dict(sections)
    assert "<details><summary>" in "".join(c.source for c in content["## 练习 Exercises"])
    # the summary states effects only as computed in a code cell, never as fixed text
    assert any(c.cell_type == "code" for c in content["## 小结 Summary"]), (
        "the summary computes what it states"
    )
    assert notebook.cells[-1].source.strip() == "ctx.save()"


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
    assert any(
        not math.isnan(results["kpis"][k]["mean"] or math.nan)
        for k in ("retention_d30", "revenue_per_member")
    )
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
    members = json.loads(datasets.sample_path("wecom_groupchat_get").read_text(encoding="utf-8"))[
        "group_chat"
    ]["member_list"]
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


def test_the_lab_notebook_is_clean_and_its_parameters_are_literals():
    notebook = nbformat.read(LAB, as_version=4)
    assert notebook.cells[0].source.startswith("# 策略实验室 · Strategy lab")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    parameters = set(papermill.inspect_notebook(str(LAB)))
    assert {"scenario", "overrides", "replications", "seed", "lang"} <= parameters
    for statement in ast.parse(notebook.cells[index].source).body:
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        ast.literal_eval(statement.value)  # raises on anything but a literal
    assert "simlib.notebook.start(" in notebook.cells[index + 1].source


def test_the_lab_notebook_runs_on_smoke_with_its_defaults(tmp_path):
    executed = tmp_path / LAB.name
    papermill.execute_notebook(str(LAB), str(executed), parameters={"scenario": "smoke"},
                               kernel_name="python3", progress_bar=False, cwd=str(ROOT))
    outputs = [output for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    markdown = "\n".join(output.data.get("text/markdown", "") for output in outputs if "data" in output)
    assert "排序值" in markdown and "资格条件" in markdown  # the worked example's two findings
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs)
