"""Run one benchmark figure in a forked child process, so its peak memory is its own.

A forked child's ``ru_maxrss`` starts from its own resident size, not the parent's high-water mark,
so the peak resident set size each figure reports belongs to that phase alone (:mod:`simlib.bench`).
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from typing import Any


def maxrss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports kilobytes)."""
    return resource.getrusage(who).ru_maxrss / 1024


def in_child(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``function(*args)`` in a forked child and return its dict, plus the child's peak RSS.

    A forked child's ``ru_maxrss`` starts from its own resident size, not the parent's
    high-water mark, so the peak belongs to this phase.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def target() -> None:
        baseline = maxrss_mib()
        try:
            result = function(*args)
            result["process_peak_rss_mib"] = maxrss_mib()
            result.setdefault("peak_rss_mib", result["process_peak_rss_mib"])
            result["baseline_rss_mib"] = baseline
            send.send(("ok", result))
        except BaseException as error:  # report any failure to the parent
            send.send(("error", f"{type(error).__name__}: {error}"))
        finally:
            send.close()

    process = context.Process(target=target)
    process.start()
    send.close()
    try:
        status, payload = receive.recv()
    except EOFError:
        status, payload = "error", "the benchmark child exited without a result"
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(function, '__name__', function)} failed: {payload}")
    return payload
