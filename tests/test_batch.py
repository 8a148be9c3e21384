"""Batch runner: batch-file validation, slugs, and real Papermill runs of tiny fixture notebooks.

Kernels are slow to start, so the failure modes (exception, timeout, dead kernel, missing
results.json) and the hostile scenario name share one batch run with 2 workers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from simlib import batch
from simlib.batch import BatchFileError, load_batch, loop, plan_batch, run_batch, worker
from simlib.cli import main
from simlib.slug import UnsafePathError, contained, safe_folder_name, slugify

FIXTURES = Path(__file__).parent / "fixtures" / "batch"
REPO = Path(__file__).parents[1]
XSS = "../../x<script>alert(1)</script>"
RUN_KEYS = {
    "notebook", "scenario", "scenario_slug", "params_hash", "notebook_hash", "seed", "versions",
    "git_commit", "status", "duration_s", "outputs", "error",
}


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    """Fixture notebooks and scenarios copied under tmp_path, plus the hostile scenario file."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES, notebooks, ignore=shutil.ignore_patterns("scenarios"))
    scenarios = tmp_path / "a" / "b" / "scenarios"
    shutil.copytree(FIXTURES / "scenarios", scenarios)
    hostile = scenarios / f"{XSS}.yaml"  # tmp_path/a/x<script>alert(1)</ + script>.yaml
    hostile.parent.mkdir(parents=True, exist_ok=True)
    hostile.write_text("behaviour: ok\n", encoding="utf-8")
    return {"root": tmp_path, "notebooks": notebooks, "scenarios": scenarios, "reports": tmp_path / "reports"}


def write_batch(tree: dict[str, Path], text: str, name: str = "batch.yaml") -> Path:
    path = tree["root"] / name
    path.write_text(text, encoding="utf-8")
    return path


def dirs(tree: dict[str, Path]) -> dict[str, str]:
    return {
        "reports_dir": str(tree["reports"]),
        "notebooks_dir": str(tree["notebooks"]),
        "scenarios_dir": str(tree["scenarios"]),
    }


GOOD = """\
name: 基线 batch
scenarios: [ok]
notebooks: [chaos]
replications: 2
seed: 5
workers: 1
timeout_s: 60
start_timeout_s: 120
lang: en
"""


# --------------------------------------------------------------------------- slugs


def test_slug_keeps_chinese_and_drops_path_characters():
    slug = slugify("基线 方案")
    assert slug.startswith("基线-方案__") and len(slug.split("__")[1]) == 6
    hostile = slugify(XSS)
    assert not set("/\\.<>()") & set(hostile)
    assert hostile.startswith("x-script-alert-1-script__")
    # names that reduce to the same body still get different folders
    assert slugify("a b") != slugify("a/b") != slugify("a.b")
    assert slugify("..").startswith("x__") and slugify("/") != slugify("..")
    assert safe_folder_name("default") == "default"
    assert safe_folder_name("my batch") == slugify("my batch")


def test_contained_rejects_paths_leaving_the_folder(tmp_path: Path):
    assert contained(tmp_path, "runs", "nb") == (tmp_path / "runs" / "nb").resolve()
    for parts in (("..",), ("runs", "../../x"), ("/etc",), (".",)):
        with pytest.raises(UnsafePathError):
            contained(tmp_path, *parts)


# --------------------------------------------------------------------------- batch files


@pytest.mark.parametrize("path", sorted((REPO / "params" / "batches").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_batch_files_are_valid(path: Path):
    config = load_batch(path)
    assert config.scenarios and config.notebooks and config.report_notebook == "strategy_report"


BAD_BATCHES = [
    ("unknown key", GOOD + "colour: blue\n", ["'colour'", "unknown key", "'blue'"]),
    ("workers text", GOOD.replace("workers: 1", 'workers: "two"'), ["workers = 'two'", "integer"]),
    ("negative timeout", GOOD.replace("timeout_s: 60", "timeout_s: -5"),
     ["timeout_s = -5", "greater than 0"]),
    ("missing scenario", GOOD.replace("[ok]", "[ok, nowhere]"),
     ["'scenarios[1]'", "'nowhere'", "nowhere.yaml"]),
    ("missing notebook", GOOD.replace("[chaos]", "[chaos, 09_nothing]"), ["'notebooks[1]'", "'09_nothing'"]),
    ("missing report", GOOD + "report_notebook: nope\n", ["'report_notebook'", "'nope'"]),
    ("octal seed", GOOD.replace("seed: 5", "seed: 0123"), ["seed = '0123'", "integer", "YAML 1.1"]),
    ("yes as text", GOOD.replace("lang: en", "lang: no"), ["lang = 'no'", "'zh' or 'en'", "boolean"]),
    ("missing name", GOOD.replace("name: 基线 batch\n", ""), ["name: required key is missing"]),
    ("duplicate scenario", GOOD.replace("[ok]", "[ok, ok]"), ["'scenarios'", "'ok' twice"]),
    ("reserved name", GOOD.replace("基线 batch", "latest"), ["'name'", "'latest'"]),
    ("bad lang", GOOD.replace("lang: en", "lang: fr"), ["lang = 'fr'", "'zh' or 'en'"]),
    ("not a mapping", "- just\n- a list\n", ["expected a mapping"]),
    ("date in overrides", GOOD + "overrides: {start: 2026-01-01}\n", ["overrides.start", "json", "quote it"]),
]


@pytest.mark.parametrize("label, text, expected", BAD_BATCHES, ids=[b[0] for b in BAD_BATCHES])
def test_bad_batch_files_give_clear_errors(tree, label, text, expected):
    path = write_batch(tree, text)
    with pytest.raises(BatchFileError) as caught:
        run_batch(path, progress=False, **dirs(tree))
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment.lower() in message.lower(), (fragment, message)
    assert not tree["reports"].exists()  # nothing written before validation passed


def test_notebook_lacking_a_parameter_is_refused_before_running(tree):
    path = write_batch(tree, GOOD.replace("[chaos]", "[chaos, lacking_parameter]"))
    with pytest.raises(BatchFileError, match=r"lacking_parameter\.ipynb.*lacks data_source"):
        run_batch(path, progress=False, **dirs(tree))
    report_lacks = write_batch(tree, GOOD + "report_notebook: chaos\n", "report.yaml")
    with pytest.raises(BatchFileError, match="lacks batch_dir, output_html"):
        run_batch(report_lacks, progress=False, **dirs(tree))
    assert not tree["reports"].exists()


def test_cli_reports_bad_input_without_traceback(tree, capsys):
    path = write_batch(tree, GOOD.replace("workers: 1", "workers: two"))
    assert main(["batch", str(path), "--reports-dir", str(tree["reports"])]) == 2
    err = capsys.readouterr().err
    assert "simlib batch: error:" in err and "workers = 'two'" in err and "Traceback" not in err
    good = write_batch(tree, GOOD, "good.yaml")
    code = main(["batch", str(good), "--only-notebooks", "nope", "--notebooks-dir", str(tree["notebooks"]),
                 "--scenarios-dir", str(tree["scenarios"]), "--reports-dir", str(tree["reports"])])
    assert code == 2 and "--only-notebooks: got 'nope'" in capsys.readouterr().err


def test_params_hash_follows_scenario_content_and_notebook(tree):
    path = write_batch(tree, GOOD)
    first = plan_batch(path, **dirs(tree)).runs[0]
    batch_dir = tree["reports"].resolve() / safe_folder_name("基线 batch")
    assert first.final_dir == batch_dir / "runs" / "chaos" / slugify("ok")
    (tree["scenarios"] / "ok.yaml").write_text("behaviour: ok\n# edited\n", encoding="utf-8")
    second = plan_batch(path, **dirs(tree)).runs[0]
    assert second.params_hash != first.params_hash and second.notebook.sha256 == first.notebook.sha256
    write_batch(tree, GOOD.replace("seed: 5", "seed: 6"))
    assert plan_batch(path, **dirs(tree)).runs[0].params_hash not in (first.params_hash, second.params_hash)


def test_deadline_counts_from_the_first_cell(monkeypatch):
    clock = iter([100.0, 103.0, 109.5])
    monkeypatch.setattr(worker.time, "monotonic", lambda: next(clock))
    deadline = worker._Deadline(8)
    assert deadline(None) == 8 and deadline(None) == 5 and deadline(None) == 0.01


def test_broken_notebook_file_is_a_clear_error(tree):
    (tree["notebooks"] / "broken.ipynb").write_text("{not json", encoding="utf-8")
    path = write_batch(tree, GOOD.replace("[chaos]", "[broken]"))
    with pytest.raises(BatchFileError, match=r"broken\.ipynb: cannot read the notebook's parameters"):
        run_batch(path, progress=False, **dirs(tree))


def test_manifest_reader_and_failure_listing_survive_hostile_content(tmp_path: Path):
    record = {"notebook": "chaos", "scenario": XSS + "\x1b[31m\nsecond line", "scenario_slug": slugify(XSS),
              "status": "failed", "error": "boom\x07", "outputs": {"error_file": "failed/chaos/x/error.txt"}}
    lines = [json.dumps(record), "{truncated line", "", json.dumps(dict(record, status="ok"))]
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = batch.read_manifest(tmp_path)
    assert [r["status"] for r in records] == ["failed", "ok"]
    summary = batch.BatchSummary(name="n<i>", batch_dir=tmp_path, records=[records[0]])
    text = summary.format()
    assert "1 run(s) failed" in text and "alert(1)" in text
    assert "\x1b" not in text and "\x07" not in text and "second line" in text
    assert len(text.splitlines()) == 7 and not summary.ok


def test_latest_falls_back_to_a_copy_without_symlinks(tmp_path: Path, monkeypatch):
    batch_dir = tmp_path / "b1"
    batch_dir.mkdir()
    (batch_dir / "index.html").write_text("<p>one</p>", encoding="utf-8")
    loop._point_latest(tmp_path, batch_dir, batch_dir / "index.html")
    assert (tmp_path / "latest").is_symlink()
    assert (tmp_path / "latest" / "index.html").read_text() == "<p>one</p>"

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not permitted")

    monkeypatch.setattr(loop.os, "symlink", no_symlinks)
    (batch_dir / "index.html").write_text("<p>two</p>", encoding="utf-8")
    loop._point_latest(tmp_path, batch_dir, batch_dir / "index.html")
    latest = tmp_path / "latest"
    assert not latest.is_symlink() and (latest / "index.html").read_text() == "<p>two</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1", "latest"]  # no temporary left


# --------------------------------------------------------------------------- real runs


def snapshot(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failures_are_isolated_recorded_and_rerun(tree, capsys):
    path = write_batch(tree, f"""\
name: chaos <b>batch</b>
scenarios: [ok, raise, sleep, die, noresults, "{XSS}"]
notebooks: [chaos]
report_notebook: report
replications: 3
seed: 11
workers: 2
timeout_s: 10
start_timeout_s: 120
lang: en
overrides: {{speed: 2}}
""")
    before = snapshot(tree["root"])
    summary = run_batch(path, progress=False, **dirs(tree))

    statuses = {r["scenario"]: r["status"] for r in summary.records}
    hostile_name = XSS  # a name, not a path: listed as written
    assert statuses == {"ok": "ok", "raise": "failed", "sleep": "timeout", "die": "kernel_died",
                        "noresults": "failed", hostile_name: "ok"}
    assert not summary.ok
    batch_dir = summary.batch_dir
    assert batch_dir == (tree["reports"] / safe_folder_name("chaos <b>batch</b>")).resolve()

    # final paths only for the successful runs, failures under failed/ with error.txt
    for record in summary.records:
        final = batch_dir / "runs" / "chaos" / record["scenario_slug"]
        failed = batch_dir / "failed" / "chaos" / record["scenario_slug"]
        assert RUN_KEYS <= record.keys()
        assert record["notebook_hash"] == sha256(tree["notebooks"] / "chaos.ipynb")
        assert len(record["params_hash"]) == 64 and record["seed"] == 11
        assert set(record["versions"]) == {"python", *loop.VERSIONED_PACKAGES}
        if record["status"] == "ok":
            assert sorted(p.name for p in final.iterdir()) == [
                "notebook.html", "notebook.ipynb", "results.json", "run.json", "tables"]
            results = json.loads((final / "results.json").read_text(encoding="utf-8"))
            assert results["seed"] == 11 and results["replications"] == 3
            assert not failed.exists()
        else:
            assert not final.exists()
            assert (failed / "notebook.ipynb").is_file() and not (failed / "results.json").exists()
            error_text = (failed / "error.txt").read_text(encoding="utf-8")
            assert error_text.startswith(f"status: {record['status']}")
            assert record["error"]
    assert "boom from the fixture notebook" in (
        batch_dir / "failed" / "chaos" / slugify("raise") / "error.txt").read_text(encoding="utf-8")
    assert "wrote no results.json" in {r["scenario"]: r["error"] for r in summary.records}["noresults"]

    # nothing outside the batch folder, no temporary folders left behind
    created = snapshot(tree["root"]) - before
    latest = tree["reports"] / "latest"
    for new in created:
        assert new == tree["reports"] or new == latest or new.resolve().is_relative_to(batch_dir), new
        assert ".tmp-" not in new.name and ".old-" not in new.name, new
    assert latest.is_symlink() and latest.resolve() == batch_dir

    # the report: index.html without code, hostile names escaped everywhere in HTML
    index = (batch_dir / "index.html").read_text(encoding="utf-8")
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "import json" not in index and "html_text(" not in index  # code cells excluded
    for html_file in tree["root"].rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<b>batch" not in text, html_file

    timing = json.loads((batch_dir / "timing.json").read_text(encoding="utf-8"))
    assert timing["runs_executed"] == 6 and timing["workers"] == 2
    assert 0 < timing["notebook_compute_sum_s"] < timing["run_time_sum_s"]
    assert 0 < timing["share_outside_compute_of_run_time"] < 1
    capsys.readouterr()

    # re-run through the CLI: exactly the failed runs execute again, the ok ones are skipped
    code = main(["batch", str(path), "--no-progress", "--notebooks-dir", str(tree["notebooks"]),
                 "--scenarios-dir", str(tree["scenarios"]), "--reports-dir", str(tree["reports"])])
    out = capsys.readouterr().out
    assert code == 1
    assert "4 run(s) failed" in out and "[kernel_died] chaos × die" in out
    manifest = batch.read_manifest(batch_dir)
    assert len(manifest) == 12
    second = {r["scenario"]: r["status"] for r in manifest[6:]}
    assert second == {**statuses, "ok": "skipped", hostile_name: "skipped"}
    assert (batch_dir / "index.html").is_file()


def test_rerun_follows_changes_and_force(tree):
    path = write_batch(tree, GOOD)
    first = run_batch(path, progress=False, **dirs(tree))
    assert [r["status"] for r in first.records] == ["ok"] and first.ok
    final = first.batch_dir / "runs" / "chaos" / slugify("ok")
    assert (final / "results.json").is_file()
    assert not (tree["reports"] / "latest").exists()  # no report notebook in this batch

    # the scenario file changes and the run now fails: re-executed, stale output removed
    (tree["scenarios"] / "ok.yaml").write_text("behaviour: raise\n", encoding="utf-8")
    broken = run_batch(path, progress=False, **dirs(tree))
    assert [r["status"] for r in broken.records] == ["failed"]
    assert not final.exists()
    assert (first.batch_dir / "failed" / "chaos" / slugify("ok") / "error.txt").exists()

    (tree["scenarios"] / "ok.yaml").write_text("behaviour: ok\n", encoding="utf-8")
    fixed = run_batch(path, progress=False, **dirs(tree))
    assert [r["status"] for r in fixed.records] == ["ok"]
    assert final.is_dir() and not (first.batch_dir / "failed" / "chaos" / slugify("ok")).exists()

    assert [r["status"] for r in run_batch(path, progress=False, **dirs(tree)).records] == ["skipped"]
    forced = run_batch(path, force=True, progress=False, **dirs(tree))
    assert [r["status"] for r in forced.records] == ["ok"]
    statuses = [r["status"] for r in batch.read_manifest(first.batch_dir)]
    assert statuses == ["ok", "failed", "ok", "skipped", "ok"]

    # a failing report notebook: recorded under failed/, no index.html, no latest link
    with_report = write_batch(tree, GOOD + "report_notebook: report_fails\n")
    reported = run_batch(with_report, progress=False, **dirs(tree))
    assert [r["status"] for r in reported.records] == ["skipped"]
    assert reported.report_status == "failed" and "the report cannot be built" in reported.report_error
    assert not reported.ok and reported.index_html is None
    assert (first.batch_dir / "failed" / "report_fails" / "report.ipynb").is_file()
    assert "report FAILED" in reported.format()
    assert not (first.batch_dir / "index.html").exists() and not (tree["reports"] / "latest").exists()
    assert not list(first.batch_dir.glob(".report.tmp-*"))


def test_warnings_in_outputs_are_recorded_and_listed(tree):
    """A run that prints a warning still succeeds, but the manifest and the summary name it."""
    path = write_batch(tree, GOOD.replace("scenarios: [ok]", "scenarios: [ok, warn]"))
    summary = run_batch(path, progress=False, **dirs(tree))
    records = {r["scenario"]: r for r in summary.records}
    assert records["ok"]["status"] == records["warn"]["status"] == "ok"
    assert records["ok"]["warnings"] == []
    assert any("fixture warning: check me" in text for text in records["warn"]["warnings"])
    text = summary.format()
    assert "1 run(s) show warnings" in text and "fixture warning" in text
