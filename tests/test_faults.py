"""The batch under faults: every fault leaves the right statuses, nothing at final paths for failed
runs, no process of the batch alive, and a re-run that executes exactly the runs that did not finish.

Faults inside runs (a cell error, a timeout, a kernel death, an output that cannot be written)
share one in-process batch; Ctrl-C and ``kill -9`` of the batch process hit one command-line batch
in turn (Ctrl-C first, then ``kill -9`` of its re-run, then a re-run that completes it). The fixture
notebook ``chaos.ipynb`` does what its scenario's ``description`` says, in about a second.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from test_batch import HOSTILE_LABEL, HOSTILE_NAME, dirs, make_tree, write_batch

from simlib import batch
from simlib.batch import loop, run_batch, store
from simlib.cli import main
from simlib.report_safety import active_content
from simlib.slug import safe_folder_name, slugify

REPO = Path(__file__).parents[1]
RUN_KEYS = {
    "notebook", "scenario", "scenario_slug", "params_hash", "notebook_hash", "seed", "versions",
    "git_commit", "status", "duration_s", "outputs", "error",
}


@pytest.fixture()
def tree(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """Fixture notebooks and scenarios under tmp_path; this process's temporary files go to
    tmp_path/tmp, so that every process of the batch can be recognised by that path."""
    folders = make_tree(tmp_path)
    folders["tmp"] = tmp_path / "tmp"
    folders["tmp"].mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folders["tmp"]))
    return folders


def _describes(process: psutil.Process, marker: str) -> bool:
    try:
        return marker in " ".join(process.cmdline()) or marker in process.environ().get("TMPDIR", "")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def batch_processes(marker: str) -> list[psutil.Process]:
    """Live processes that belong to a test's batch: this process's descendants (but for the
    multiprocessing fork server and resource tracker, which serve the whole test session), and any
    process whose command line or TMPDIR names the test's folder ``marker``."""
    me = psutil.Process()
    helpers = {child.pid for child in me.children() if "multiprocessing." in " ".join(child.cmdline())}
    found = [p for p in me.children(recursive=True) if p.pid not in helpers]
    found += [p for p in psutil.process_iter() if p.pid != me.pid and _describes(p, marker)]
    return [p for p in {p.pid: p for p in found}.values() if _alive(p)]


def assert_no_batch_process_survives(marker: str, wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while (left := batch_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], [" ".join(p.cmdline())[:200] for p in left if _alive(p)]


def final_runs(batch_dir: Path) -> set[str]:
    """The run folders present under runs/chaos (temporary folders excluded)."""
    folder = batch_dir / "runs" / "chaos"
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")} if folder.exists() else set()


def temporary_files(tree: dict[str, Path]) -> list[Path]:
    """What is left in the test's temporary folder, but for a fork server's socket folder (it
    serves this whole test session when the session started it)."""
    return [p for p in tree["tmp"].iterdir() if not p.name.startswith("pymp-")]


def executed_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r["status"] != "skipped"]


def executed(records: list[dict]) -> set[str]:
    return {r["scenario"] for r in executed_records(records)}


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_faults_inside_runs(tree, monkeypatch, capsys):
    """A cell error, a timeout, a kernel death, no results.json and a full disk while storing one
    run's outputs, in a batch of seven with a hostile scenario name and label: each recorded with
    its status, nothing at final paths for failures, the report still made, every user string
    escaped, no process left; the re-run executes exactly the runs that did not succeed, and when
    the manifest cannot be written the summary and the exit status say so."""
    (tree["scenarios"] / "full.yaml").write_text("description: ok\n", encoding="utf-8")
    path = write_batch(tree, f"""\
name: chaos <b>batch</b>
scenarios: [ok, raise, sleep, die, noresults, full, {json.dumps(str(tree["hostile"]))}]
notebooks: [chaos]
report_notebook: report
replications: 3
seed: 11
workers: 2
timeout_s: 10
start_timeout_s: 120
lang: en
overrides: {{tiering.enabled: true}}
""")
    full_slug = slugify("full")
    write_folder = store._write_folder

    def disk_full_for_one_run(target: Path, files, extra) -> None:
        if target.name == full_slug and target.parent.parent.name == "runs":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        write_folder(target, files, extra)

    monkeypatch.setattr(store, "_write_folder", disk_full_for_one_run)
    before = snapshot(tree["root"])
    previous_umask = os.umask(0o022)
    try:
        summary = run_batch(path, progress=False, **dirs(tree))
    finally:
        os.umask(previous_umask)

    statuses = {r["scenario"]: r["status"] for r in summary.records}
    assert statuses == {"ok": "ok", "raise": "failed", "sleep": "timeout", "die": "kernel_died",
                        "noresults": "failed", "full": "failed", HOSTILE_NAME: "ok"}
    errors = {r["scenario"]: r["error"] for r in summary.records}
    assert "No space left on device" in errors["full"] and full_slug in errors["full"]
    assert "wrote no results.json" in errors["noresults"]
    assert not summary.ok and summary.report_status == "ok"
    batch_dir = summary.batch_dir
    assert batch_dir == (tree["reports"] / safe_folder_name("chaos <b>batch</b>")).resolve()

    # final paths only for the successful runs, failures under failed/ with error.txt
    assert final_runs(batch_dir) == {slugify("ok"), slugify(HOSTILE_NAME)}
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
            assert (failed / "notebook.ipynb").is_file() and not (failed / "results.json").exists()
            error_text = (failed / "error.txt").read_text(encoding="utf-8")
            assert error_text.startswith(f"status: {record['status']}") and record["error"]
    assert "boom from the fixture notebook" in (
        batch_dir / "failed" / "chaos" / slugify("raise") / "error.txt").read_text(encoding="utf-8")

    # nothing outside the batch folder, nothing temporary left, no process of the batch alive,
    # every output as the umask (0o022) says: no owner-only files or folders
    latest = tree["reports"] / "latest"
    for new in snapshot(tree["root"]) - before:
        if new.is_relative_to(tree["tmp"]):
            continue  # checked below
        assert new in (tree["reports"], latest) or new.resolve().is_relative_to(batch_dir), new
        assert ".tmp-" not in new.name and ".old-" not in new.name, new
    assert latest.is_symlink() and latest.resolve() == batch_dir
    assert temporary_files(tree) == []
    assert_no_batch_process_survives(str(tree["root"]))
    for item in [batch_dir, *batch_dir.rglob("*")]:
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o755 if item.is_dir() else 0o644), (item, oct(mode))

    # the report: index.html without code, hostile names escaped in every page
    index = (batch_dir / "index.html").read_text(encoding="utf-8")
    assert "x&lt;img src=x onerror=alert(1)&gt;" in index
    assert "import json" not in index and "html_text(" not in index  # code cells excluded
    for html_file in tree["root"].rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert active_content(text) == [] and "<b>batch" not in text, html_file
    # the hostile run's notebook shows its label unescaped (as a careless notebook would); its page
    # is safe because the export sanitizes every output
    hostile_run = batch_dir / "runs" / "chaos" / slugify(HOSTILE_NAME)
    assert HOSTILE_LABEL in (hostile_run / "notebook.ipynb").read_text(encoding="utf-8")
    page = (hostile_run / "notebook.html").read_text(encoding="utf-8")
    assert "label: <strong>" in page and "alert(3)" not in page

    timing = json.loads((batch_dir / "timing.json").read_text(encoding="utf-8"))
    assert timing["runs_executed"] == 7 and timing["workers"] == 2
    assert 0 < timing["notebook_compute_sum_s"] < timing["run_time_sum_s"]

    # the re-run, through the command line, with room on the disk again but a manifest that cannot
    # be written: exactly the five failed runs execute, the report is made, the failure is told
    monkeypatch.setattr(store, "_write_folder", write_folder)
    attempted: list[dict] = []

    def read_only_manifest(folder, record) -> None:
        attempted.append(dict(record))
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(Path(folder) / "manifest.jsonl"))

    monkeypatch.setattr(loop, "append_manifest", read_only_manifest)
    (batch_dir / "index.html").unlink()
    capsys.readouterr()
    code = main(["batch", str(path), "--no-progress", "--notebooks-dir", str(tree["notebooks"]),
                 "--scenarios-dir", str(tree["scenarios"]), "--reports-dir", str(tree["reports"])])
    captured = capsys.readouterr()
    assert code == 1
    second = {r["scenario"]: r["status"] for r in attempted}
    assert second == {**statuses, "ok": "skipped", HOSTILE_NAME: "skipped", "full": "ok"}
    assert "4 run(s) failed" in captured.out and "[kernel_died] chaos × die" in captured.out
    assert "MANIFEST NOT WRITTEN" in captured.out and "7 run(s) of this batch are missing" in captured.out
    assert "the manifest could not be written" in captured.err and "Traceback" not in captured.err
    assert (batch_dir / "index.html").is_file()  # the report was still made
    assert final_runs(batch_dir) == {slugify("ok"), slugify(HOSTILE_NAME), full_slug}
    assert not (batch_dir / "failed" / "chaos" / full_slug).exists()
    assert len(batch.read_manifest(batch_dir)) == 7  # only the first batch's records


def _cli(tree: dict[str, Path], batch_file: Path) -> subprocess.Popen:
    """``simlib batch`` as its own process group (as a terminal runs it), temporary files in tree/tmp."""
    command = [sys.executable, "-m", "simlib.cli", "batch", str(batch_file), "--no-progress",
               "--notebooks-dir", str(tree["notebooks"]), "--scenarios-dir", str(tree["scenarios"]),
               "--reports-dir", str(tree["reports"])]
    env = dict(os.environ, TMPDIR=str(tree["tmp"]))
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _wait_for_runs(batch_dir: Path, count: int, process: subprocess.Popen, timeout_s: float = 120) -> None:
    """Wait until the manifest records ``count`` executed runs (skips not counted)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(executed_records(batch.read_manifest(batch_dir))) >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {count} executed run(s) in the manifest within {timeout_s} s")


def _recorded_ok(batch_dir: Path) -> set[str]:
    return {r["scenario"] for r in batch.read_manifest(batch_dir) if r["status"] == "ok"}


def test_ctrl_c_then_kill_9_then_a_rerun_that_does_exactly_the_rest(tree):
    """Ctrl-C stops the command-line batch at once, records what finished and says what remains;
    ``kill -9`` of its re-run leaves no process alive; the next re-run cleans what the killed one
    left and executes exactly the runs not recorded yet."""
    for number in range(1, 5):
        (tree["scenarios"] / f"slow{number}.yaml").write_text("description: slow\n", encoding="utf-8")
    path = write_batch(tree, """\
name: interrupted
scenarios: [ok, slow1, slow2, slow3, slow4]
notebooks: [chaos]
replications: 2
workers: 2
timeout_s: 60
lang: en
""")
    batch_dir = tree["reports"] / "interrupted"
    marker = str(tree["root"])
    every = {"ok", "slow1", "slow2", "slow3", "slow4"}

    # Ctrl-C (SIGINT to the process group, as a terminal sends it) once the first run is recorded
    first = _cli(tree, path)
    _wait_for_runs(batch_dir, 1, first)
    os.killpg(first.pid, signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    recorded = batch.read_manifest(batch_dir)
    assert f"interrupted: {len(recorded)} run(s) finished and are recorded" in err and "Traceback" not in err
    assert f"execute the {len(every) - len(recorded)} run(s) that remain" in err
    assert final_runs(batch_dir) == {slugify(name) for name in _recorded_ok(batch_dir)}
    assert_no_batch_process_survives(marker)
    assert list(tree["tmp"].iterdir()) == []  # a clean stop removes its temporary files

    # kill -9 of the re-run once it has executed a run: every process of it dies with it
    second = _cli(tree, path)
    _wait_for_runs(batch_dir, len(recorded) + 1, second)
    killed_tree = psutil.Process(second.pid).children(recursive=True)  # fork server, runs, kernels
    second.kill()
    second.communicate()
    assert len(killed_tree) >= 3
    _, alive = psutil.wait_procs(killed_tree, timeout=10)
    assert alive == [], [" ".join(p.cmdline())[:200] for p in alive]
    assert_no_batch_process_survives(marker)
    done = _recorded_ok(batch_dir)
    assert final_runs(batch_dir) == {slugify(name) for name in done}
    assert any(p.name.startswith("simlib-batch-") for p in tree["tmp"].iterdir())  # left by the killed batch
    # what a batch killed while writing leaves in the batch folder
    half_written = [batch_dir / "runs" / "chaos" / f".{slugify('slow4')}.tmp-1a2b3c4d",
                    batch_dir / "failed" / "chaos" / f".{slugify('slow4')}.old-5e6f7a8b"]
    for folder in half_written:
        folder.mkdir(parents=True)
        (folder / "notebook.ipynb").write_text("{}", encoding="utf-8")
    (batch_dir / ".index.html.0123456789ab.tmp").write_text("<p>half</p>", encoding="utf-8")

    # the re-run (in this process): exactly the runs not recorded yet; the leftovers are gone
    before = len(batch.read_manifest(batch_dir))
    summary = run_batch(path, progress=False, **dirs(tree))
    assert summary.ok
    rerun = batch.read_manifest(batch_dir)[before:]
    assert executed(rerun) == every - done
    assert {r["scenario"] for r in rerun if r["status"] == "skipped"} == done
    assert final_runs(batch_dir) == {slugify(name) for name in every}
    assert [p for p in batch_dir.rglob(".*") if p.name != ".lock"] == []
    assert temporary_files(tree) == []  # the killed batch's work folder and socket folder too
    assert_no_batch_process_survives(marker)


def test_a_batch_folder_in_use_is_refused(tree, capsys):
    from simlib.batch.lifeline import FolderLock

    path = write_batch(tree, "name: busy\nscenarios: [ok]\nnotebooks: [chaos]\nreplications: 1\n")
    folder = tree["reports"] / "busy"
    folder.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from simlib.batch.lifeline import FolderLock; "
        f"assert FolderLock(Path({str(folder / '.lock')!r})).acquire(); print('held', flush=True); "
        "time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(["batch", str(path), "--notebooks-dir", str(tree["notebooks"]),
                     "--scenarios-dir", str(tree["scenarios"]), "--reports-dir", str(tree["reports"])])
        err = capsys.readouterr().err
        assert code == 2 and f"another `simlib batch` (process {holder.pid})" in err
    finally:
        holder.kill()
        holder.wait()
    assert FolderLock(folder / ".lock").acquire()  # released with its holder


def test_bad_scenarios_overrides_and_names_are_refused_before_any_kernel(tree, capsys):
    """Everything about a batch is validated before the first kernel starts; exit status 2."""
    (tree["scenarios"] / "bad.yaml").write_text("simulation: {days: many}\n", encoding="utf-8")
    named = "name: checked\nscenarios: "
    cases = [
        (named + "[ok, bad]", ["scenarios[1]", "bad.yaml", "simulation.days", "'many'"]),
        (named + "[ok]\noverrides: {tiering.enabeld: true}", ["'overrides'", "scenario 'ok'", "enabeld"]),
        (named + "[ok]\noverrides: {simulation.days: -3}", ["'overrides'", "simulation.days", "-3"]),
        (named + "[../ok]", ["scenarios[0]", "'../ok'", "no '/'"]),
        (named + f"[{'n' * 101}]", ["scenarios[0]", "101 characters", "at most 100"]),
        (named + f"[{'情' * 90}.yaml]", ["scenarios[0]", "at most 255 bytes"]),
        ("name: \"a\\nb\"\nscenarios: [ok]", ["'name'", "printable"]),
        (f"name: {'b' * 120}\nscenarios: [ok]", ["'name'", "120 characters"]),
    ]
    for text, fragments in cases:
        path = write_batch(tree, f"notebooks: [chaos]\n{text}\n")
        code = main(["batch", str(path), "--notebooks-dir", str(tree["notebooks"]),
                     "--scenarios-dir", str(tree["scenarios"]), "--reports-dir", str(tree["reports"])])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err, (text, err)
        assert str(path) in err, (text, err)
        for fragment in fragments:
            assert fragment in err, (text, fragment, err)
    assert not tree["reports"].exists()
