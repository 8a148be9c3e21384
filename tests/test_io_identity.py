"""Who is who in a loaded export: one member id per person, one group id per room in every format,
and the chat's name (the file's name) in no output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from simlib import calibrate, datasets
from simlib.io import Pseudonymizer, export, load, load_many, write_tables

FIXTURES = Path(__file__).parent / "fixtures" / "io"
ROOM = "34567890123@chatroom"
PYWXDUMP_EXPORT = FIXTURES / "pywxdump_export" / f"{ROOM}_0_12.csv"  # with PyWxDump's users.json
KEY = "test-key-0123456789abcdef"
P = Pseudonymizer(KEY)


def names(ids) -> list[str]:
    """Raw identities behind pseudonyms (for readable assertions)."""
    known = ["wxid_owner99", "wxid_sjy003", "wxid_hjj003", "wxid_ls004", "王五", "周七", "赵六", "黄俊杰",
             "小黄", "__self__"]
    by_pseudonym = {P.member(raw): raw for raw in known}
    return sorted(by_pseudonym.get(i, i) for i in ids if isinstance(i, str))


# ------------------------------------------------------------------ members


def test_pywxdump_members_are_the_distinct_people():
    """The crafted export holds six people: the exporter (wxid_owner99, whom PyWxDump was given),
    孙佳怡 and 黄俊杰 (named in system lines, linked to their wxids by users.json; 黄俊杰 also as his
    remark 小黄), 李四 (a template notice carries his wxid; removed later by name), 王五 (joins and
    leaves, never writes) and 周七 (invited by the exporter). 赵六 only invites: a ref_id, not a
    member. A message whose sender PyWxDump could not tell (talker 未知) is skipped."""
    log = load(PYWXDUMP_EXPORT, key=KEY)
    assert names(log.members["member_id"]) == [
        "wxid_hjj003", "wxid_ls004", "wxid_owner99", "wxid_sjy003", "周七", "王五"]
    events = log.events.assign(who=lambda e: [names([m])[0] for m in e["member_id"]])
    by_kind = events.groupby("event", observed=True)["who"].apply(sorted).to_dict()
    assert by_kind["join"] == ["wxid_hjj003", "wxid_ls004", "周七", "王五"]
    assert by_kind["message"] == ["wxid_hjj003", "wxid_hjj003", "wxid_owner99", "wxid_sjy003"]  # pat by 小黄
    assert names(events.loc[events["event"] == "join", "ref_id"]) == [
        "wxid_owner99", "wxid_sjy003", "wxid_sjy003", "赵六"]
    # "你" (the removal and the last invitation) is the exporter's own id, as on their message.
    removal = events[events["event"] == "removed"].iloc[0]
    assert (removal["who"], names([removal["ref_id"]])) == ("wxid_ls004", ["wxid_owner99"])
    assert log.skipped["reason"].tolist() == ["message whose sender PyWxDump could not tell (talker '未知')"]


def test_pywxdump_without_users_json_cannot_link_names_to_wxids(tmp_path):
    """Without PyWxDump's users.json a name in a system line is a person of its own (documented);
    template notices still link, and the exporter keeps one id."""
    alone = tmp_path / PYWXDUMP_EXPORT.name
    shutil.copy(PYWXDUMP_EXPORT, alone)
    log = load(alone, key=KEY)
    assert names(log.members["member_id"]) == [
        "wxid_hjj003", "wxid_ls004", "wxid_owner99", "wxid_sjy003", "周七", "小黄", "王五", "黄俊杰"]
    assert len(log.notes) == 1 and "users.json" in log.notes[0]  # the loader says so
    assert load(PYWXDUMP_EXPORT, key=KEY).notes == []


def test_pywxdump_exporter_without_wxid_is_one_consistent_member(tmp_path):
    text = PYWXDUMP_EXPORT.read_text(encoding="utf-8").replace(",1,wxid_owner99,", ",1,我,")
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    log = load(path, key=KEY)
    own, members = P.member("__self__"), set(log.members["member_id"])
    assert own in members and P.member("wxid_owner99") not in members
    events = log.events
    assert events.loc[events["event"] == "removed", "ref_id"].tolist() == [own]  # 你将"李四"移出了群聊
    assert own in set(events.loc[events["event"] == "message", "member_id"])


def test_malformed_users_json_is_a_clear_error(tmp_path):
    shutil.copy(PYWXDUMP_EXPORT, tmp_path / PYWXDUMP_EXPORT.name)
    (tmp_path / "users.json").write_text('{"wxid_a": "阿杰"}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"users\.json: key 'wxid_a' has value '阿杰'; expected an object"):
        load(tmp_path / PYWXDUMP_EXPORT.name, key=KEY)


def test_template_notices_link_names_to_wxids_in_keep_text():
    log = load(PYWXDUMP_EXPORT, key=KEY, keep_text=True)
    line = log.events.loc[log.events["member_id"] == P.member("wxid_ls004"), "text"].iloc[0]
    assert line == f'"{P.member("wxid_sjy003")}"邀请"{P.member("wxid_ls004")}"加入了群聊'


# ------------------------------------------------------------------ group ids


def _v1_in(folder: Path, talker_id: str) -> Path:
    """The v1 fixture with another TalkerId, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (FIXTURES / "wechatmsg_v1.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    body = [line.replace(",7,", f",{talker_id},", 1) for line in lines[1:]]
    path = folder / "宝妈福利群.csv"
    path.write_text(lines[0] + "".join(body), encoding="utf-8")
    return path


def test_same_room_gets_the_same_group_id_in_every_format(tmp_path):
    expected = [P.group(ROOM)]
    # v1 whose TalkerId is the chat id, PyWxDump's room_name, an orders file's chat_id column.
    assert load(_v1_in(tmp_path / "v1", ROOM), key=KEY).group_ids == expected
    assert load(PYWXDUMP_EXPORT, key=KEY).group_ids == expected
    orders = load(FIXTURES / "orders.csv", key=KEY)
    assert orders.events["group_id"].dropna().unique().tolist() == expected
    # MemoTrace writes each chat into a folder "<chat name>(<chat id>)": v1 with its local
    # TalkerId number, and v2 (no group column at all), take the chat id from there.
    memotrace = tmp_path / f"宝妈福利群({ROOM})"
    assert load(_v1_in(memotrace, "7"), key=KEY).group_ids == expected
    v2 = memotrace / "宝妈福利群_v2.csv"
    shutil.copy(FIXTURES / "wechatmsg_v2_宝妈群.csv", v2)
    assert load(v2, key=KEY).group_ids == expected
    # Anywhere else, room= gives the room's id by hand.
    assert load(FIXTURES / "wechatmsg_v2_宝妈群.csv", key=KEY, room=ROOM).group_ids == expected
    assert load(_v1_in(tmp_path / "plain", "7"), key=KEY, room=ROOM).group_ids == expected
    merged = load_many([_v1_in(tmp_path / "v1", ROOM), PYWXDUMP_EXPORT, FIXTURES / "orders.csv"], key=KEY)
    assert merged.group_ids == expected and merged.events["group_id"].notna().all()
    # group_id= is a label used as is; the pseudonym of a different room differs.
    assert load(PYWXDUMP_EXPORT, key=KEY, group_id="g_mine").group_ids == ["g_mine"]
    assert load(_v1_in(tmp_path / "plain", "7"), key=KEY).group_ids != expected


def test_room_and_group_id_arguments_are_checked():
    with pytest.raises(ValueError, match="room = 42; expected a non-empty string"):
        load(PYWXDUMP_EXPORT, key=KEY, room=42)
    with pytest.raises(ValueError, match="group_id = ' '; expected a non-empty string"):
        load(PYWXDUMP_EXPORT, key=KEY, group_id=" ")


def test_skipped_rows_number_the_files_of_a_load():
    log = load_many([FIXTURES / "wechatmsg_v1.csv", FIXTURES / "pywxdump.csv"], key=KEY)
    assert log.skipped["file"].tolist() == [1, 1, 1, 2, 2]
    assert log.files == [str(FIXTURES / "wechatmsg_v1.csv"), str(FIXTURES / "pywxdump.csv")]
    twice = load_many([FIXTURES / "callbacks.xml", FIXTURES / "callbacks.json"], key=KEY)
    repeats = twice.skipped[twice.skipped["reason"] == "event also in file 1"]
    assert repeats["file"].tolist() == [2, 2]


# ------------------------------------------------------------------ the chat's name


def test_no_output_contains_the_chat_name(tmp_path):
    """MemoTrace names a v2 export after the chat; that name reaches no table, no skipped row,
    no written file and no calibrated scenario."""
    chat_name = "宝妈福利群"
    tables = datasets.synthetic_tables(seed=5, members=40, days=40)
    path = export.export_wechatmsg_v2(tables["events"], tmp_path / f"{chat_name}.csv")
    with path.open("a", encoding="utf-8") as stream:  # one row the loader skips, naming the file
        stream.write("99999,语音通话邀请,wxid_x,2024-03-02 09:10:00,,,阿杰,\r\n")
    log = load(path, key=KEY)
    assert len(log.skipped) == 1
    outputs = [frame.astype(str).to_csv() for frame in (log.members, log.events, log.skipped)]
    outputs += [p.read_text(encoding="utf-8") for p in write_tables(log, tmp_path / "tables")]
    result = calibrate.estimate(log, bootstrap=100)
    scenario = calibrate.write_scenario(result, tmp_path / "calibrated.yaml", base=None)
    outputs += [scenario.read_text(encoding="utf-8"), result.source, result.table().to_csv()]
    outputs += [str(calibrate.to_scenario(result, "mine", base=None))]
    for text in outputs:
        assert chat_name not in text
    assert result.source == "wechatmsg_v2 export (1 file)"
    assert pd.Series(log.group_ids).str.fullmatch(r"g_[0-9a-f]{16}").all()
