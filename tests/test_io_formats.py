"""Each real export layout loads into the schema with the right events, channels and pseudonyms."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simlib import schema
from simlib.io import LoadError, Pseudonymizer, PseudonymKeyError, detect_format, load, load_many
from simlib.io.wechat import parse_system_line

FIXTURES = Path(__file__).parent / "fixtures" / "io"
KEY = "test-key-0123456789abcdef"
P = Pseudonymizer(KEY)


def fixture(name: str) -> Path:
    return FIXTURES / name


def events_of(log, event):
    return log.events[log.events["event"] == event]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wechatmsg_v1.csv", "wechatmsg_v1"),
        ("wechatmsg_v2_宝妈群.csv", "wechatmsg_v2"),
        ("pywxdump.csv", "pywxdump"),
        ("groupchat_get.json", "wecom_groupchat_get"),
        ("callbacks.xml", "wecom_callback"),
        ("callbacks.json", "wecom_callback"),
        ("statistic_group_by_day.json", "wecom_statistic"),
        ("orders.csv", "orders"),
    ],
)
def test_detects_every_format(name, expected):
    assert detect_format(fixture(name)) == expected
    log = load(fixture(name), key=KEY)
    assert log.source_format == expected
    # Tables follow the schema (coerce is idempotent on them).
    for table in ("members", "events", "posts", "costs"):
        frame = getattr(log, table)
        assert list(frame.columns[: len(schema.TABLE_COLUMNS[table])]) == schema.TABLE_COLUMNS[table]
        pd.testing.assert_frame_equal(schema.coerce(table, frame), frame)


def test_wechatmsg_v1_system_lines_messages_and_skips():
    log = load(fixture("wechatmsg_v1.csv"), key=KEY)
    assert log.encoding == "utf-8-sig"  # the BOM was recognized
    assert log.counts() == {"message": 6, "join": 5, "recall": 2, "leave": 1, "removed": 1}
    joins = events_of(log, "join").set_index("member_id")
    # Names in system lines resolve to the wxid seen in the same file.
    haoran, xiaowen, xiaomei = P.member("wxid_lhr001"), P.member("wxid_mxw001"), P.member("wxid_wxm001")
    assert joins.loc[haoran, "ref_id"] == xiaomei
    assert joins.loc[xiaowen, "ref_id"] == xiaomei  # two invitees in one line, separated by 、
    members = log.members.set_index("member_id")
    assert members.loc[haoran, "channel"] == "referral"
    assert members.loc[P.member("赵一诺"), "channel"] == "organic"  # scanned the owner's QR code
    # A QR code shared by a member counts as that member's referral.
    assert members.loc[P.member("wxid_czh001"), "channel"] == "referral"
    assert joins.loc[P.member("wxid_czh001"), "ref_id"] == xiaomei
    # "你邀请" → the exporting account (IsSender=1 row's Sender) is the inviter.
    assert joins.loc[P.member("周思远"), "ref_id"] == P.member("wxid_owner99")
    assert members.loc[P.member("赵一诺"), "left_ts"] == pd.Timestamp("2024-03-01 13:07:00", tz=schema.TZ)
    assert pd.notna(members.loc[xiaowen, "left_ts"])
    removed = events_of(log, "removed").iloc[0]
    assert removed["ref_id"] == P.member("wxid_owner99")
    kinds = log.events.loc[log.events["event"] == "message", "msg_kind"].tolist()
    assert kinds == ["text", "image", "quote", "text", "pat", "red_packet"]
    # The 10002 revoke XML and the 10000 recall line both become recalls.
    assert set(events_of(log, "recall")["member_id"]) == {haoran, P.member("wxid_czh001")}
    reasons = log.skipped["reason"].tolist()
    assert log.skipped["row"].tolist() == [8, 15, 16]  # file line numbers (header is line 1)
    assert reasons[0] == "duplicate of line 7"
    assert "Type=9999" in reasons[2]
    # CreateTime is epoch seconds → Asia/Shanghai
    assert log.events["ts"].iloc[0] == pd.Timestamp("2024-03-01 10:00:00", tz=schema.TZ)
    assert "text" not in log.events.columns


def test_keep_text_keeps_messages_and_pseudonymizes_system_lines():
    log = load(fixture("wechatmsg_v1.csv"), key=KEY, keep_text=True)
    texts = log.events["text"].dropna().tolist()
    assert "大家好！新人报到" in texts
    system = log.events.loc[log.events["msg_kind"] == "system", "text"].tolist()
    assert f'"{P.member("wxid_mxw001")}"退出了群聊' in system
    assert not any("王小美" in t or "Momo晓雯" in t for t in system)


def test_wechatmsg_v2_group_from_file_name_and_type_names():
    log = load(fixture("wechatmsg_v2_宝妈群.csv"), key=KEY)
    assert log.group_ids == [P.group("file:wechatmsg_v2_宝妈群")]
    assert log.counts() == {"message": 4, "join": 1, "removed": 1}
    joined = events_of(log, "join").iloc[0]
    assert joined["member_id"] == P.member("wxid_lyt002")  # 昵称 → 发送人 link
    assert joined["ref_id"] == P.member("wxid_aj0001")
    kinds = log.events.loc[log.events["event"] == "message", "msg_kind"].tolist()
    assert kinds == ["text", "sticker", "mini_program", "pat"]
    assert log.skipped["row"].tolist() == [8]
    assert load(fixture("wechatmsg_v2_宝妈群.csv"), key=KEY, group_id="g_test").group_ids == ["g_test"]


def test_pywxdump_room_self_and_mixed_time_formats():
    log = load(fixture("pywxdump.csv"), key=KEY)
    assert log.group_ids == [P.group("34567890123@chatroom")]
    messages = events_of(log, "message")
    assert messages["msg_kind"].tolist() == ["text", "image", "text", "transfer"]
    assert P.member("__self__") in set(messages["member_id"])  # talker 我
    # Epoch CreateTime and local-time CreateTime agree on the timezone.
    assert messages["ts"].iloc[-1] == pd.Timestamp("2024-03-03 20:24:00", tz=schema.TZ)
    assert log.skipped["reason"].tolist() == ["duplicate of line 5", "unknown message type type_name='未知'"]


def test_groupchat_get_join_scene_api_coding():
    log = load(fixture("groupchat_get.json"), key=KEY)
    joins = events_of(log, "join").set_index("member_id")
    link_joiner = P.member("wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA")
    qr_joiner = P.member("wmOgQhDgAAuXFJGwbve4g4iXknfOBBBB")
    assert joins.loc[P.member("abel"), "ref_id"] == P.member("jack")  # scene 1: direct invite
    assert joins.loc[link_joiner, "ref_id"] == P.member("abel")  # scene 2: link
    assert pd.isna(joins.loc[qr_joiner, "ref_id"])  # scene 3: QR
    channels = log.members.set_index("member_id")["channel"]
    assert channels[P.member("abel")] == "referral"
    assert channels[link_joiner] == "referral"
    assert channels[qr_joiner] == "organic"
    assert log.skipped["reason"].tolist() == [
        "group_chat.member_list[3]: unknown join_scene 9 (expected 1, 2 or 3)"
    ]
    assert log.group_ids == [P.group("wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA")]


def test_callback_xml_join_scene_callback_coding_and_quit_scene():
    log = load(fixture("callbacks.xml"), key=KEY)
    assert log.counts() == {"join": 3, "leave": 1, "removed": 1}
    members = log.members.set_index("member_id")
    assert members.loc[P.member("wmJoinA0001"), "channel"] == "referral"  # JoinScene 0 = invited
    assert members.loc[P.member("wmJoinB0002"), "channel"] == "referral"
    assert members.loc[P.member("wmJoinC0003"), "channel"] == "organic"  # JoinScene 3 = QR code
    assert members.loc[P.member("wmJoinA0001"), "left_ts"] == pd.Timestamp(1709287200, unit="s", tz="UTC")
    removed = events_of(log, "removed")
    assert removed["member_id"].tolist() == [P.member("wmJoinC0003")]
    assert log.skipped["row"].tolist() == [5]
    # Same group pseudonym as the groupchat/get response of that chat.
    assert log.group_ids == load(fixture("groupchat_get.json"), key=KEY).group_ids


def test_callback_json_same_semantics_and_unknown_scene_skipped():
    log = load(fixture("callbacks.json"), key=KEY)
    channels = log.members.set_index("member_id")["channel"]
    assert channels[P.member("wmJoinA0001")] == "referral"
    assert channels[P.member("wmJoinC0003")] == "organic"
    assert log.skipped["reason"].tolist() == ["callback 3: unknown JoinScene 7 (expected 0 or 3)"]


def test_api_and_callback_codings_differ_for_the_same_code():
    # join_scene 3 (API) and JoinScene 3 (callback) both mean QR; but code 1 is only valid in the API
    # and code 0 only in the callback.
    from simlib.io.wecom import API_JOIN_SCENES, CALLBACK_JOIN_SCENES

    assert API_JOIN_SCENES[3] == CALLBACK_JOIN_SCENES[3] == "organic"
    assert API_JOIN_SCENES[1] == CALLBACK_JOIN_SCENES[0] == "referral"
    assert 0 not in API_JOIN_SCENES and 1 not in CALLBACK_JOIN_SCENES


def test_statistic_is_daily_aggregate_with_empty_event_tables():
    log = load(fixture("statistic_group_by_day.json"), key=KEY)
    assert log.events.empty and log.members.empty
    daily = log.daily
    assert daily["date"].tolist() == [
        pd.Timestamp("2024-03-01", tz=schema.TZ), pd.Timestamp("2024-03-02", tz=schema.TZ)
    ]
    assert daily["msg_total"].tolist() == [40, 25]
    assert daily["migrate_trainee_chat_cnt"].tolist() == [0, 0]
    assert len(log.skipped) == 1


def test_orders_aliases_amounts_and_duplicates():
    log = load(fixture("orders.csv"), key=KEY)
    purchases = events_of(log, "purchase")
    assert purchases["amount"].tolist() == [39.9, 1299.0, 0.0]
    assert purchases["member_id"].tolist()[0] == P.member("wxid_lhr001")
    assert purchases["ref_id"].iloc[0] == P.order("E2024030100001")
    assert purchases["ts"].iloc[1] == pd.Timestamp("2024-03-01 21:00:05", tz=schema.TZ)
    assert purchases["group_id"].iloc[0] == P.group("34567890123@chatroom")
    assert log.skipped["row"].tolist() == [4]


def test_load_many_links_orders_to_chat_members_and_fills_group():
    log = load_many([fixture("pywxdump.csv"), fixture("orders.csv")], key=KEY)
    assert log.source_format == "orders+pywxdump"
    assert log.events["group_id"].notna().all()  # the order without a group got the chat's group
    assert log.counts()["purchase"] == 3
    assert len(log.skipped) == 3


def test_load_many_drops_events_present_in_two_files():
    log = load_many([fixture("callbacks.xml"), fixture("callbacks.json")], key=KEY)
    assert log.counts()["join"] == 3  # callbacks 1 and 2 of the JSON repeat the XML ones
    assert log.skipped["reason"].str.startswith("event also in").sum() == 2


def test_gbk_export_is_detected_and_reported(tmp_path):
    text = (FIXTURES / "wechatmsg_v2_宝妈群.csv").read_text(encoding="utf-8").replace("🍀", "")
    target = tmp_path / "gbk.csv"
    target.write_bytes(text.encode("gbk"))
    log = load(target, key=KEY)
    assert log.encoding == "gb18030"
    assert log.counts()["message"] == 4


def test_system_line_parser():
    assert parse_system_line('"张三"邀请"李四"加入了群聊') == ("join_invited", ["张三"], ["李四"])
    assert parse_system_line('你邀请"李四"加入了群聊')[1] == ["__self__"]
    assert parse_system_line('"李四"通过扫描"张三"分享的二维码加入群聊') == ("join_qr", ["张三"], ["李四"])
    assert parse_system_line('"张三"将"李四"移出了群聊') == ("removed", ["张三"], ["李四"])
    assert parse_system_line('"张三" 撤回了一条消息') == ("recall", [], ["张三"])
    assert parse_system_line("“张三”退出了群聊") == ("leave", [], ["张三"])
    assert parse_system_line("你撤回了一条消息") == ("recall", [], ["__self__"])
    assert parse_system_line('群主修改群名为"福利群"') is None


def test_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("SIMLIB_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("SIMLIB_PSEUDONYM_KEY_FILE", raising=False)
    with pytest.raises(PseudonymKeyError, match="SIMLIB_PSEUDONYM_KEY"):
        load(fixture("orders.csv"))
    with pytest.raises(PseudonymKeyError, match="expected at least 16"):
        load(fixture("orders.csv"), key="short")
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("SIMLIB_PSEUDONYM_KEY_FILE", str(key_file))
    from_file = load(fixture("orders.csv"))
    with_key = load(fixture("orders.csv"), key=KEY)
    assert from_file.events["member_id"].tolist() == with_key.events["member_id"].tolist()
    monkeypatch.setenv("SIMLIB_PSEUDONYM_KEY_FILE", str(tmp_path / "absent.txt"))
    with pytest.raises(PseudonymKeyError, match="cannot read key file"):
        load(fixture("orders.csv"))
    monkeypatch.setenv("SIMLIB_PSEUDONYM_KEY", "another-key-0123456789")
    other = load(fixture("orders.csv"))  # the env var wins over the key file
    assert other.events["member_id"].iloc[0] != from_file.events["member_id"].iloc[0]
    assert "another-key" not in repr(Pseudonymizer())


def test_unknown_format_name():
    with pytest.raises(LoadError, match="unknown format 'qq'"):
        load(fixture("orders.csv"), "qq", key=KEY)
