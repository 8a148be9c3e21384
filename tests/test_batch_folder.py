"""The batch folder shared by the batch runner and the report: its manifest, the attempt that
decides each run, and the run folder's key."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from simlib import batch_folder
from simlib.batch_folder import Problem, append_manifest, last_attempts, read_manifest, read_run_info, run_key


def test_names_are_the_ones_both_sides_use():
    assert batch_folder.MANIFEST_FILE == "manifest.jsonl" and batch_folder.RUNS_DIR == "runs"
    assert batch_folder.RESULTS_FILE == "results.json" and batch_folder.RUN_HTML == "notebook.html"
    assert set(batch_folder.FAILED_STATUSES) < set(batch_folder.STATUSES)
    assert "ok" not in batch_folder.FAILED_STATUSES and "skipped" not in batch_folder.FAILED_STATUSES


def test_appended_records_read_back_in_order(tmp_path: Path):
    assert read_manifest(tmp_path) == []  # no manifest yet
    records = [{"notebook": "n", "scenario": "基线", "scenario_slug": "s", "status": status}
               for status in ("failed", "ok")]
    for record in records:
        append_manifest(tmp_path, record)
    assert read_manifest(tmp_path) == records
    assert (tmp_path / "manifest.jsonl").read_text(encoding="utf-8").count("\n") == 2


def test_a_torn_last_line_and_other_garbage_are_skipped_and_told(tmp_path: Path, caplog):
    good = {"notebook": "n", "scenario_slug": "s", "status": "ok"}
    lines = [json.dumps(good), "[1, 2]", "", json.dumps(good), '{"notebook": "n", "sta']
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines), encoding="utf-8")
    problems: list[Problem] = []
    assert read_manifest(tmp_path, problems) == [good, good]
    assert [p.where for p in problems] == ["manifest.jsonl:2", "manifest.jsonl:5"]
    assert problems[0].message == "not a JSON object" and problems[1].message.startswith("not JSON")
    with caplog.at_level(logging.WARNING, logger="simlib.batch_folder"):
        assert read_manifest(tmp_path) == [good, good]  # without a list: logged
    assert sum("ignored" in message for message in caplog.messages) == 2


def test_the_deciding_attempt_per_run():
    records = [
        {"notebook": "a", "scenario": "x", "scenario_slug": "x__1", "status": "failed"},
        {"notebook": "a", "scenario": "x", "scenario_slug": "x__1", "status": "ok", "duration_s": 3},
        {"notebook": "a", "scenario": "x", "scenario_slug": "x__1", "status": "skipped"},
        {"notebook": "b", "scenario": "y", "status": "skipped"},  # no slug: the scenario names the folder
        {"notebook": "b", "scenario": "y", "status": "skipped", "later": True},
    ]
    last = last_attempts(records)
    assert set(last) == {("a", "x__1"), ("b", "y")}
    assert last["a", "x__1"]["duration_s"] == 3  # the later skip does not hide the attempt that ran
    assert last["b", "y"]["status"] == "skipped" and "later" not in last["b", "y"]  # only ever skipped
    assert run_key(records[3]) == ("b", "y")


def test_run_info_is_read_or_none(tmp_path: Path):
    assert read_run_info(tmp_path) is None
    (tmp_path / "run.json").write_text('{"scenario": "tiered"}', encoding="utf-8")
    assert read_run_info(tmp_path) == {"scenario": "tiered"}
    (tmp_path / "run.json").write_text("[1]", encoding="utf-8")
    assert read_run_info(tmp_path) is None
    (tmp_path / "run.json").write_text("{torn", encoding="utf-8")
    assert read_run_info(tmp_path) is None
