"""Fingerprints of the engine's output, to prove that a refactoring changes no result.

``python -m tests.golden.hashes --write`` stores, for each default scenario × the first three
replications, a SHA-256 of every table a replication produces (members, events, posts, costs,
daily, activities, questions, incidents) and of its KPI summary. ``test_golden`` recomputes
them and compares. When a change is *meant* to change results, regenerate the file in the same
commit and say why in the commit message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

SCENARIOS = ("baseline", "tiered", "content_optimized", "activity_heavy", "aggressive_monetization",
             "automation_heavy", "full_playbook")
REPLICATIONS = 3
SEED = 20261125
STORE = Path(__file__).with_name("hashes.json")


def frame_hash(frame: pd.DataFrame) -> str:
    """A hash of a table's columns, dtypes and values (row order included)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    if len(frame):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:20]


def kpi_hash(values: dict) -> str:
    clean = {
        key: (repr(float(value)) if isinstance(value, (int, float, np.floating, np.integer)) else repr(value))
        for key, value in sorted(values.items())
    }
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:20]


def fingerprints(scenarios=SCENARIOS, replications: int = REPLICATIONS) -> dict[str, dict[str, str]]:
    from simlib.model import run_replication
    from simlib.params import load_scenario
    from simlib.runner import summarize

    out = {}
    for scenario in scenarios:
        params = load_scenario(scenario)
        for replication in range(replications):
            run = run_replication(params, SEED, replication)
            entry = {name: frame_hash(table) for name, table in run.tables.items()}
            for name in ("daily", "activities", "questions", "incidents"):
                entry[name] = frame_hash(getattr(run, name))
            entry["kpis"] = kpi_hash(summarize(run)["kpis"])
            out[f"{scenario}/{replication}"] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="store the fingerprints in hashes.json")
    args = parser.parse_args()
    found = fingerprints()
    if args.write:
        STORE.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {STORE} ({len(found)} runs)")
    else:
        stored = json.loads(STORE.read_text(encoding="utf-8"))
        differing = sorted(key for key in found if found[key] != stored.get(key))
        print("identical" if not differing else f"differ: {differing}")


if __name__ == "__main__":
    main()
