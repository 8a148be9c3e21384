"""Refactorings change no result: every table and the KPIs of 7 default scenarios × 3
replications hash-equal to the fingerprints stored in ``tests/golden/hashes.json``.

A change meant to alter results regenerates them (``python -m tests.golden.hashes --write``)
in the same commit, saying why.
"""

import json

from golden.hashes import STORE, fingerprints


def test_engine_output_is_identical_to_the_stored_fingerprints():
    stored = json.loads(STORE.read_text(encoding="utf-8"))
    found = fingerprints()
    assert found.keys() == stored.keys()
    differing = {run: sorted(name for name in found[run] if found[run][name] != stored[run].get(name))
                 for run in found if found[run] != stored[run]}
    assert not differing, f"tables whose fingerprints changed: {differing}"
