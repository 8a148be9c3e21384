"""Small synthetic sample files in every real export layout, shipped with the package.

The samples live in ``simlib/data/samples/`` and are regenerated with::

    python -m simlib.datasets --regenerate

from the tables returned by a *tables factory* — by default :func:`simulated_tables`: one
run of the SimPy simulator (a small group over 60 days), so the samples are honest synthetic
data with the simulation's behaviour. :func:`synthetic_tables` is a simpler seeded NumPy
process kept for tests of the loaders. Any callable returning ``{"members": ...,
"events": ...}`` schema tables can be passed as ``regenerate(tables_factory=...)``.

:func:`load_sample` loads a sample with :data:`DEMO_KEY`, a fixed pseudonymization key
that is published here on purpose: the samples contain no real people, so there is nothing
to protect. Never use it for real exports.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from simlib import schema

SAMPLES_DIR = Path(__file__).parent / "data" / "samples"

# Fixed, documented key for the synthetic demo data only.
DEMO_KEY = "simlib-demo-key--synthetic-data-only"

# name → (file name, loader format)
SAMPLES: dict[str, tuple[str, str]] = {
    "wechatmsg_v1": ("wechatmsg_v1.csv", "wechatmsg_v1"),
    "wechatmsg_v2": ("wechatmsg_v2.csv", "wechatmsg_v2"),
    "pywxdump": ("pywxdump.csv", "pywxdump"),
    "wecom_groupchat_get": ("wecom_groupchat_get.json", "wecom_groupchat_get"),
    "wecom_callback": ("wecom_callback.xml", "wecom_callback"),
    "wecom_statistic": ("wecom_statistic_group_by_day.json", "wecom_statistic"),
    "orders": ("orders.csv", "orders"),
}

MESSAGE_KINDS = [
    "text", "image", "sticker", "voice", "link", "quote", "mini_program", "red_packet", "video", "pat",
]
MESSAGE_WEIGHTS = [0.55, 0.12, 0.1, 0.05, 0.04, 0.06, 0.03, 0.02, 0.02, 0.01]


def synthetic_tables(seed: int = 20240301, members: int = 60, days: int = 60) -> dict[str, pd.DataFrame]:
    """Members and events of one group from a simple seeded process (not the simulator).

    Members arrive over the first two thirds of the period (organic or referred by an
    earlier member); each has its own message rate; some leave or are removed, some buy.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-03-01", tz=schema.TZ)
    group = "g_demo"
    ids = [f"u{i:03d}" for i in range(members)]
    join_day = np.sort(rng.integers(0, int(days * 2 / 3), size=members))
    join_day[:8] = 0  # the founding members
    events = []
    member_rows = []

    def moment(day: int) -> pd.Timestamp:
        # Chats cluster in the evening; seconds make times realistic.
        hour = int(rng.choice([8, 9, 12, 13, 19, 20, 21, 22]))
        return start + pd.Timedelta(days=int(day), hours=hour, minutes=int(rng.integers(60)),
                                    seconds=int(rng.integers(60)))

    for index, member in enumerate(ids):
        joined = moment(join_day[index])
        referral = index >= 8 and rng.random() < 0.45
        inviter = ids[int(rng.integers(0, index))] if referral else None
        events.append((joined, member, "join", inviter, np.nan, None))
        rate = rng.gamma(0.6, 0.25)
        exit_day = None
        if rng.random() < 0.18:
            exit_day = int(rng.integers(join_day[index] + 1, days + 1))
        last_day = days if exit_day is None else exit_day
        for day in range(int(join_day[index]) + 1, last_day):
            for _ in range(rng.poisson(rate)):
                kind = str(rng.choice(MESSAGE_KINDS, p=MESSAGE_WEIGHTS))
                events.append((moment(day), member, "message", None, np.nan, kind))
            if rng.random() < 0.004:
                events.append((moment(day), member, "recall", None, np.nan, None))
            if rng.random() < 0.012 + rate * 0.01:
                amount = float(rng.choice([19.9, 39.9, 59.0, 99.0, 168.0]))
                events.append((moment(day), member, "purchase", None, amount, None))
        left = pd.NaT
        if exit_day is not None and exit_day < days:
            left = moment(exit_day)
            removed = rng.random() < 0.25
            events.append((left, member, "removed" if removed else "leave", None, np.nan, None))
        member_rows.append((member, group, joined, "referral" if referral else "organic", left))
    frame = pd.DataFrame(events, columns=["ts", "member_id", "event", "ref_id", "amount", "msg_kind"])
    frame["group_id"] = group
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    member_frame = pd.DataFrame(member_rows, columns=schema.MEMBER_COLUMNS)
    member_frame["left_ts"] = pd.to_datetime(member_frame["left_ts"], utc=True).dt.tz_convert(schema.TZ)
    return {"members": schema.coerce("members", member_frame), "events": schema.coerce("events", frame)}


# Event kinds that chat exports, WeCom member lists and order files can carry.
EXPORTED_EVENTS = ("join", "leave", "removed", "message", "purchase", "recall")


def simulated_tables(seed: int = 20240301, members: int = 40, days: int = 45) -> dict[str, pd.DataFrame]:
    """One replication of the SimPy model (tiered smoke scenario, a small group), reduced to
    what real exports contain, with a message kind drawn for each message."""
    from simlib.model import run_replication
    from simlib.params import load_scenario

    params = load_scenario("smoke", {
        "simulation.days": days,
        "simulation.initial_members": members,
        "simulation.group_cap": int(members * 1.5),
        "simulation.start_date": "2024-03-04",
        "community.overflow": "lost",  # one group, as one group's export shows it
    })
    run = run_replication(params, seed, 0)
    events = run.tables["events"]
    # An export starts on some day: members who joined before it appear without a join line.
    export_start = pd.Timestamp(params.simulation.start_date, tz=schema.TZ)
    keep = (
        events["event"].isin(EXPORTED_EVENTS) & events["member_id"].notna() & (events["ts"] >= export_start)
    )
    events = events[keep].copy()
    # Joins keep an inviter id ("m12") as ref_id; other refs (posts, activities) are internal.
    is_join = events["event"] == "join"
    ref = events["ref_id"].astype(object)
    events["ref_id"] = ref.where(is_join & ref.astype(str).str.startswith("m"), None)
    rng = np.random.default_rng(seed)
    kinds = rng.choice(MESSAGE_KINDS, size=len(events), p=MESSAGE_WEIGHTS)
    events["msg_kind"] = np.where(events["event"] == "message", kinds, None)
    events["member_id"] = events["member_id"].astype(str)
    events["group_id"] = "g_demo"
    members_table = run.tables["members"][schema.MEMBER_COLUMNS].copy()
    members_table["group_id"] = "g_demo"
    members_table["member_id"] = members_table["member_id"].astype(str)
    return {
        "members": schema.coerce("members", members_table),
        "events": schema.coerce("events", events.reset_index(drop=True)),
    }


def regenerate(
    folder: str | Path | None = None,
    tables_factory: Callable[[], Mapping[str, pd.DataFrame]] = simulated_tables,
) -> dict[str, Path]:
    """Write every sample layout from ``tables_factory()``; returns name → path."""
    from simlib.io import export

    tables = tables_factory()
    members, events = tables["members"], tables["events"]
    target = Path(folder) if folder is not None else SAMPLES_DIR
    target.mkdir(parents=True, exist_ok=True)
    paths = {name: target / filename for name, (filename, _) in SAMPLES.items()}
    export.export_wechatmsg_v1(events, paths["wechatmsg_v1"])
    export.export_wechatmsg_v2(events, paths["wechatmsg_v2"])
    export.export_pywxdump(events, paths["pywxdump"])
    export.export_groupchat_get(members, events, paths["wecom_groupchat_get"])
    export.export_callbacks(events, paths["wecom_callback"], fmt="xml")
    export.export_statistic(events, paths["wecom_statistic"])
    export.export_orders(events, paths["orders"])
    return paths


def sample_path(name: str) -> Path:
    """Path of a shipped sample (``name`` from :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise KeyError(f"unknown sample {name!r}; expected one of {sorted(SAMPLES)}")
    path = SAMPLES_DIR / SAMPLES[name][0]
    if not path.is_file():
        raise FileNotFoundError(
            f"sample file {path} is missing; run `python -m simlib.datasets --regenerate`"
        )
    return path


def load_sample(name: str, *, keep_text: bool = False):
    """Load a shipped sample with the demo key (synthetic data only)."""
    from simlib.io import load

    return load(sample_path(name), SAMPLES[name][1], key=DEMO_KEY, keep_text=keep_text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simlib.datasets", description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="rewrite simlib/data/samples/")
    parser.add_argument("--folder", default=None, help="write the samples here instead")
    args = parser.parse_args(argv)
    if not args.regenerate:
        for name, (filename, fmt) in SAMPLES.items():
            print(f"{name:22s} {filename:36s} {fmt}")
        return 0
    for name, path in regenerate(args.folder).items():
        print(f"{name:22s} {path} ({path.stat().st_size / 1024:.1f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
