"""Schema tables → real layouts → loaders: same counts, times and amounts; no identifiers leak."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from simlib import datasets
from simlib.io import Pseudonymizer, load, load_many, write_tables
from simlib.io import export as ex

KEY = "test-key-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "io"


@pytest.fixture(scope="module")
def tables():
    return datasets.synthetic_tables(seed=7, members=40, days=30)


def counts(events: pd.DataFrame, kinds=("join", "message", "leave", "removed", "recall", "purchase")) -> dict:
    values = events["event"].astype(str).value_counts()
    return {k: int(values.get(k, 0)) for k in kinds}


def seconds(events: pd.DataFrame, kind: str) -> list[pd.Timestamp]:
    chosen = events[events["event"].astype(str) == kind]["ts"]
    return sorted(chosen.dt.floor("s").dt.tz_convert("Asia/Shanghai"))


def message_kinds(events: pd.DataFrame) -> pd.Series:
    """Number of messages of each msg_kind, sorted by kind."""
    kinds = events.loc[events["event"] == "message", "msg_kind"]
    return kinds.astype(str).value_counts().sort_index()


@pytest.mark.parametrize(
    ("writer", "filename"),
    [(ex.export_wechatmsg_v1, "v1.csv"), (ex.export_wechatmsg_v2, "v2.csv"), (ex.export_pywxdump, "py.csv")],
)
def test_chat_layouts_round_trip(tables, tmp_path, writer, filename):
    events = tables["events"]
    path = writer(events, tmp_path / filename)
    log = load(path, key=KEY)
    expected = counts(events, ("join", "message", "leave", "removed", "recall"))
    assert counts(log.events, expected) == expected
    assert len(log.skipped) == 0
    for kind in ("join", "message", "leave", "removed"):
        assert seconds(log.events, kind) == seconds(events, kind)
    pd.testing.assert_series_equal(message_kinds(events), message_kinds(log.events), check_names=False)


def test_v1_round_trip_keeps_referrers_and_channels(tables, tmp_path):
    log = load(ex.export_wechatmsg_v1(tables["events"], tmp_path / "v1.csv"), key=KEY)
    assert len(log.members) == len(tables["members"])
    channels = tables["members"]["channel"].astype(str).value_counts().sort_index()
    loaded = log.members["channel"].astype(str).value_counts().sort_index()
    pd.testing.assert_series_equal(channels[channels > 0], loaded[loaded > 0], check_names=False)
    # Exits survive as left_ts.
    assert log.members["left_ts"].notna().sum() == tables["members"]["left_ts"].notna().sum()


def test_groupchat_get_round_trip_lists_current_members(tables, tmp_path):
    members, events = tables["members"], tables["events"]
    log = load(ex.export_groupchat_get(members, events, tmp_path / "g.json"), key=KEY)
    current = members[members["left_ts"].isna()]
    assert counts(log.events)["join"] == len(current)
    assert sorted(log.members["join_ts"]) == sorted(current["join_ts"].dt.floor("s"))
    assert (log.members["channel"].astype(str).value_counts().to_dict()
            == current["channel"].astype(str).value_counts()[lambda s: s > 0].to_dict())


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_callbacks_round_trip(tables, tmp_path, fmt):
    events = tables["events"]
    log = load(ex.export_callbacks(events, tmp_path / f"cb.{fmt}", fmt=fmt), key=KEY)
    expected = counts(events, ("join", "leave", "removed"))
    assert counts(log.events, expected) == expected
    for kind in expected:
        assert seconds(log.events, kind) == seconds(events, kind)
    assert (log.members["channel"].astype(str).value_counts().to_dict()
            == tables["members"]["channel"].astype(str).value_counts()[lambda s: s > 0].to_dict())


def test_statistic_round_trip(tables, tmp_path):
    events = tables["events"]
    log = load(ex.export_statistic(events, tmp_path / "s.json"), key=KEY)
    daily = log.daily
    assert daily["new_member_cnt"].sum() == counts(events)["join"]
    assert daily["msg_total"].sum() == counts(events)["message"]
    exits = counts(events)["leave"] + counts(events)["removed"]
    assert daily["member_total"].iloc[-1] == counts(events)["join"] - exits
    assert daily["date"].min() == events["ts"].min().normalize()


def test_orders_round_trip_and_link_to_chat(tables, tmp_path):
    events = tables["events"]
    orders = load(ex.export_orders(events, tmp_path / "orders.csv"), key=KEY)
    purchases = events[events["event"] == "purchase"].sort_values("ts")
    got = orders.events.sort_values("ts")
    assert len(got) == len(purchases)
    assert got["amount"].round(2).tolist() == purchases["amount"].round(2).tolist()
    assert seconds(orders.events, "purchase") == seconds(events, "purchase")
    # Same wxids in chat and orders → purchases belong to chat members after loading both.
    both = load_many([ex.export_pywxdump(events, tmp_path / "chat.csv"), tmp_path / "orders.csv"], key=KEY)
    buyers = set(both.events.loc[both.events["event"] == "purchase", "member_id"])
    talkers = set(both.events.loc[both.events["event"] == "message", "member_id"])
    assert buyers & talkers
    assert set(both.events["group_id"]) == set(both.group_ids)


def test_exported_files_look_real(tables, tmp_path):
    path = ex.export_wechatmsg_v1(tables["events"], tmp_path / "v1.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "加入了群聊" in text and "wxid_" in text
    assert re.search(r"[\U0001F300-\U0001FAFF]", text), "some nicknames carry emoji"
    names = {ex.fake_nickname(f"u{i:03d}") for i in range(200)}
    assert len(names) > 100


def test_v2_refuses_several_groups(tables, tmp_path):
    events = tables["events"].copy()
    events.loc[events.index[:5], "group_id"] = "g_other"
    with pytest.raises(ValueError, match="one group per file"):
        ex.export_wechatmsg_v2(events, tmp_path / "v2.csv")


# ------------------------------------------------------------------ personal data

RAW_IDS = [
    "wxid_lhr001", "wxid_wxm001", "wxid_mxw001", "wxid_czh001", "wxid_owner99", "wxid_lyt002", "wxid_aj0001",
    "wxid_hjj003", "wxid_sjy003", "abel", "jack", "sam", "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "wmJoinA0001",
    "wmJoinC0003", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", "34567890123@chatroom", "E2024030100001",
]
NICKNAMES = [
    "王小美", "李浩然", "Momo晓雯", "陈子涵", "赵一诺", "周思远", "群主阿杰", "林雨桐", "阿杰", "孙佳怡",
    "黄俊杰", "张三丰", "客服小张", "顾客🐼", "李四🌟", "王五", "小美",
]


def _all_text(log) -> str:
    frames = [log.members, log.events, log.posts, log.costs, log.skipped.drop(columns="file")]
    if log.daily is not None:
        frames.append(log.daily)
    return "\n".join(frame.astype(str).to_csv(index=False) for frame in frames)


def test_no_raw_identifier_survives_loading_or_writing(tmp_path):
    files = sorted(p for p in FIXTURES.iterdir() if p.is_file())
    written = []
    for index, path in enumerate(files):
        for keep_text in (False, True):
            log = load(path, key=KEY, keep_text=keep_text)
            text = _all_text(log)
            for needle in RAW_IDS + (NICKNAMES if not keep_text else []):
                assert needle not in text, f"{needle!r} survived loading {path.name}"
            if keep_text:
                system = log.events.loc[log.events["msg_kind"] == "system", "text"].dropna()
                for needle in NICKNAMES:
                    assert not system.str.contains(needle, regex=False).any(), (needle, path.name)
            folder = tmp_path / f"{index}-{keep_text}"
            written += write_tables(log, folder)
    assert written
    for path in written:
        content = path.read_text(encoding="utf-8")
        for needle in RAW_IDS:
            assert needle not in content, f"{needle!r} in {path}"
        assert KEY not in content


def test_pseudonyms_depend_on_the_key():
    a, b = Pseudonymizer(KEY), Pseudonymizer("another-key-0123456789")
    assert re.fullmatch(r"m_[0-9a-f]{16}", a.member("wxid_x"))
    assert a.member("wxid_x") == Pseudonymizer(KEY).member("wxid_x")
    assert a.member("wxid_x") != b.member("wxid_x")
    assert a.member("wxid_x") != a.member("wxid_y")


def test_write_tables_is_safe_and_complete(tmp_path):
    log = load(FIXTURES / "wechatmsg_v1.csv", key=KEY, keep_text=True)
    log.events.loc[0, "text"] = "=HYPERLINK(\"http://x\")"
    paths = write_tables(log, tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "costs.csv", "events.csv", "members.csv", "posts.csv", "skipped.csv"
    ]
    events = pd.read_csv(tmp_path / "out" / "events.csv")
    assert events.loc[0, "text"].startswith("'=")
    assert len(events) == len(log.events)
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_write_tables_leaves_nothing_on_failure(tmp_path, monkeypatch):
    import simlib.report_safety as safety

    log = load(FIXTURES / "orders.csv", key=KEY)
    calls = {"n": 0}
    original = safety.csv_safe

    def failing(frame):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return original(frame)

    monkeypatch.setattr(safety, "csv_safe", failing)
    with pytest.raises(OSError, match="disk full"):
        write_tables(log, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


# ------------------------------------------------------------------ shipped samples


def test_samples_ship_small_and_load():
    total = sum(datasets.sample_path(name).stat().st_size for name in datasets.SAMPLES)
    assert total < 300 * 1024
    v1 = datasets.load_sample("wechatmsg_v1")
    assert 50 <= len(v1.members) <= 70
    assert v1.events["ts"].dt.normalize().nunique() > 40
    assert datasets.load_sample("wecom_statistic").daily is not None
    assert datasets.load_sample("orders").counts()["purchase"] > 0
    with pytest.raises(KeyError, match="unknown sample"):
        datasets.sample_path("nope")


def test_shipped_samples_match_regeneration(tmp_path):
    paths = datasets.regenerate(tmp_path)
    for name, path in paths.items():
        assert path.read_bytes() == datasets.sample_path(name).read_bytes(), name


def test_regenerate_takes_any_tables_factory(tmp_path):
    small = datasets.regenerate(
        tmp_path, tables_factory=lambda: datasets.synthetic_tables(seed=1, members=10, days=5)
    )
    log = load(small["wechatmsg_v1"], key=KEY)
    assert counts(log.events)["join"] == 10
    payload = json.loads(small["wecom_statistic"].read_text(encoding="utf-8"))
    assert payload["errcode"] == 0 and len(payload["items"]) <= 6
