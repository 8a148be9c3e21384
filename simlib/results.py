"""What a notebook run leaves for the comparative report.

A notebook executed with ``output_dir`` writes into that folder:

* ``results.json`` — ``{"notebook", "scenario", "seed", "replications", "lang",
  "metrics": {name: {"mean", "low", "high", "values": [per replication] | null, "unit"}},
  "kpis": {same shape, the scenario's headline KPIs}, "notes": [...]}``
* ``tables/<name>.csv`` — small tidy tables (one observation per row).

Replication values are stored so that the report can pair scenarios run with the same seed
(common random numbers) and compute paired differences. Nothing is written when
``output_dir`` is None.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

RESULTS_FILE = "results.json"
TABLES_DIR = "tables"


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean and Student-t confidence interval of independent replication values."""
    array = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if array.size == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    mean = float(array.mean())
    if array.size == 1 or np.allclose(array, array[0]):
        return {"mean": mean, "low": mean, "high": mean, "n": int(array.size)}
    half = float(
        stats.t.ppf(0.5 + confidence / 2, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size)
    )
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": int(array.size)}


def metric(values: Sequence[float], unit: str = "") -> dict[str, Any]:
    """A results-JSON metric entry from per-replication values."""
    values = [float(v) for v in values]
    entry = mean_ci(values)
    entry.pop("n")
    entry["values"] = values
    entry["unit"] = unit
    return entry


def observed(
    value: float, unit: str = "", low: float | None = None, high: float | None = None
) -> dict[str, Any]:
    """A metric measured once on real data (no replications); interval if the caller has one."""
    return {
        "mean": float(value),
        "low": float(value if low is None else low),
        "high": float(value if high is None else high),
        "values": None,
        "unit": unit,
    }


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_results(
    output_dir: str | os.PathLike | None,
    *,
    notebook: str,
    scenario: str,
    seed: int,
    replications: int,
    metrics: Mapping[str, Mapping[str, Any]],
    kpis: Mapping[str, Mapping[str, Any]] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    lang: str = "zh",
    notes: Sequence[str] = (),
    data_source: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path | None:
    """Write ``results.json`` and ``tables/*.csv`` under ``output_dir``; nothing if it is None.

    ``extra`` adds top-level keys (e.g. ``scenario_label``, ``description``).
    Tables are written first and the JSON last, each atomically, so a results.json present
    means the run's outputs are complete.
    """
    if output_dir is None:
        return None
    from simlib.report_safety import csv_safe

    folder = Path(output_dir)
    for name, table in (tables or {}).items():
        atomic_write_text(folder / TABLES_DIR / f"{name}.csv", csv_safe(table).to_csv(index=False))
    payload = {
        "notebook": notebook,
        "scenario": scenario,
        "seed": int(seed),
        "replications": int(replications),
        "lang": lang,
        "data_source": None if data_source is None else "real data",
        "metrics": _clean(dict(metrics)),
        "kpis": _clean(dict(kpis or {})),
        "tables": sorted((tables or {}).keys()),
        "notes": list(notes),
        **_clean(dict(extra or {})),
    }
    target = folder / RESULTS_FILE
    atomic_write_text(target, json.dumps(payload, ensure_ascii=False, indent=1, allow_nan=False))
    return target


def read_results(folder: str | os.PathLike) -> dict[str, Any]:
    """Read a run folder's results.json (raises FileNotFoundError naming the path)."""
    path = Path(folder) / RESULTS_FILE
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)
