"""Write schema tables (e.g. from the simulator) out in the real export layouts.

The files look like real exports — Chinese nicknames (some with emoji), WeChat ids,
Chinese system lines — so the loaders, the notebooks and trainees can practise on them.
Identities are fake and derived deterministically from ``member_id``: the same member gets
the same wxid and nickname in every file, so a chat export and an orders file link up
after loading.

What each layout can express:

* chat logs (WeChatMsg v1/v2, PyWxDump): ``message`` (type from ``msg_kind`` if present),
  ``join`` (``"A"邀请"B"加入了群聊`` when ``ref_id`` names the inviter, otherwise
  ``"B"通过扫描你分享的二维码加入群聊``), ``leave`` (``"B"退出了群聊``), ``removed``
  (``你将"B"移出了群聊``), ``recall``. Other event types are not part of a chat log.
* WeCom ``groupchat/get``: the members still in the group (no exit after their last join).
* WeCom ``change_external_chat`` callbacks: joins, leaves and removals.
* WeCom ``statistic_group_by_day``: daily totals over all groups in the tables.
* orders CSV: ``purchase`` events, amounts rounded to the fen (0.01 yuan).

Times are written to the second, in Asia/Shanghai.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from simlib import schema
from simlib.io.wechat import PYWXDUMP_COLUMNS, V1_COLUMNS, V2_COLUMNS

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程")
GIVEN = [
    "小美", "晓雯", "子涵", "浩然", "梓萱", "一诺", "欣怡", "宇轩", "思远", "雨桐", "佳怡", "俊杰", "婷婷",
    "文博", "嘉怡", "明轩", "诗涵", "志强", "丽娟", "建国", "秀英", "海燕", "春梅", "立新", "静怡", "伟",
]
STYLES = [
    "{s}{g}", "{g}", "{s}{g}", "{g}妈妈", "{s}姐", "{g}🌸", "🍀{g}", "{s}{g}😊", "阿{g}", "{g}～", "{s}老师",
    "{g}的小店", "Momo{g}", "{g}🐱",
]
PHRASES = [
    "大家早上好！", "这个怎么买呀？", "收到，谢谢群主", "今天的活动几点开始？", "已下单～", "好用！回购了",
    "[强][强]", "有没有优惠券", "打卡第3天", "请问发货了吗", "哈哈哈哈", "明天见", "👍👍", "同问",
    "链接发一下", "刚看到，还来得及吗",
]

# msg_kind → (Type, SubType) for WeChatMsg v1, and the Chinese type names.
KIND_CODES = {
    "text": (1, 0), "image": (3, 0), "voice": (34, 0), "video": (43, 0), "sticker": (47, 0),
    "location": (48, 0), "card": (42, 0), "call": (50, 0), "file": (49, 6), "link": (49, 5),
    "forward": (49, 19), "mini_program": (49, 33), "solitaire": (49, 53), "quote": (49, 57),
    "live": (49, 63), "announcement": (49, 87), "transfer": (49, 2000), "red_packet": (49, 2001),
    "pat": (10000, 4),
}
V2_NAMES = {
    "text": "文本", "image": "图片", "voice": "语音", "video": "视频", "sticker": "表情包", "link": "链接",
    "file": "文件", "mini_program": "小程序", "quote": "引用", "forward": "合并转发的聊天记录",
    "transfer": "转账", "red_packet": "红包", "pat": "拍一拍", "location": "位置", "card": "名片",
    "call": "语音通话", "announcement": "群公告", "solitaire": "接龙", "live": "视频号直播或直播回放等",
}
PYWXDUMP_NAMES = {
    **V2_NAMES, "sticker": "动画表情", "link": "卡片式链接", "mini_program": "分享的小程序",
    "quote": "带有引用的文本消息", "transfer": "转账消息",
}
MEDIA_TEXT = {
    "image": "[图片]", "voice": "[语音]", "video": "[视频]", "sticker": "[动画表情]", "file": "[文件]",
    "link": "[链接]", "mini_program": "[小程序]", "transfer": "[转账]", "red_packet": "[红包]",
}
CHAT_EVENTS = ("message", "join", "leave", "removed", "recall")


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def fake_wxid(member_id: str) -> str:
    """A WeChat-like id derived from a member id (synthetic data only)."""
    return "wxid_" + _digest("wxid", str(member_id))[:14]


def fake_userid(member_id: str) -> str:
    """A WeCom external userid derived from a member id."""
    return "wm" + _digest("wecom", str(member_id))[:28]


def fake_room(group_id: str) -> str:
    return str(int(_digest("room", str(group_id))[:10], 16)) + "@chatroom"


def fake_chat_id(group_id: str) -> str:
    return "wr" + _digest("chat", str(group_id))[:28]


def fake_nickname(member_id: str) -> str:
    """A realistic Chinese nickname (about one in four with an emoji) from a member id."""
    number = int(_digest("nick", str(member_id))[:12], 16)
    style = STYLES[number % len(STYLES)]
    return style.format(s=SURNAMES[(number // 97) % len(SURNAMES)], g=GIVEN[(number // 7919) % len(GIVEN)])


class Identities:
    """Nicknames unique within an export (system lines name people by nickname)."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.used: set[str] = set()

    def nickname(self, member_id: str) -> str:
        if member_id not in self.names:
            base = name = fake_nickname(member_id)
            suffix = 2
            while name in self.used:
                name, suffix = f"{base}{suffix}", suffix + 1
            self.names[member_id] = name
            self.used.add(name)
        return self.names[member_id]


def _seconds(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts).dt.tz_convert(schema.TZ).dt.floor("s")


def _chat_events(events: pd.DataFrame) -> pd.DataFrame:
    chat = events[events["event"].astype(str).isin(CHAT_EVENTS)].copy()
    chat["ts"] = _seconds(chat["ts"])
    return chat.sort_values("ts", kind="stable").reset_index(drop=True)


def _kind(row) -> str:
    kind = row.get("msg_kind")
    return kind if isinstance(kind, str) and kind in KIND_CODES else "text"


def _message_text(row, kind: str, position: int, people: Identities | None = None) -> str:
    if kind == "pat" and people is not None:
        member = str(row["member_id"])
        return f'"{people.nickname(member)}" 拍了拍 "{people.nickname(member + "~")}"'
    text = row.get("text")
    if isinstance(text, str) and text:
        return text
    if kind in MEDIA_TEXT:
        return MEDIA_TEXT[kind]
    return PHRASES[int(_digest(str(row["member_id"]), str(position))[:6], 16) % len(PHRASES)]


def system_line(row, people: Identities) -> str:
    """The Chinese system line for a join/leave/removed/recall event."""
    name = people.nickname(str(row["member_id"]))
    event = str(row["event"])
    ref = row.get("ref_id")
    has_ref = isinstance(ref, str) and ref != ""
    if event == "join":
        if has_ref:
            return f'"{people.nickname(ref)}"邀请"{name}"加入了群聊'
        return f'"{name}"通过扫描你分享的二维码加入群聊'
    if event == "leave":
        return f'"{name}"退出了群聊'
    if event == "removed":
        actor = "你" if not has_ref else f'"{people.nickname(ref)}"'
        return f'{actor}将"{name}"移出了群聊'
    return f'"{name}" 撤回了一条消息'


def _write_atomic(path, text: str, *, bom: bool = False) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _csv_text(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def export_wechatmsg_v1(events: pd.DataFrame, path, *, bom: bool = True) -> Path:
    """WeChatMsg v1 CSV (UTF-8 with BOM by default, as the tool writes for Excel)."""
    people = Identities()
    talkers = {g: i + 1 for i, g in enumerate(sorted(events["group_id"].dropna().astype(str).unique()))}
    rows = []
    for position, row in enumerate(_chat_events(events).to_dict("records"), start=1):
        ts = row["ts"]
        epoch, local = int(ts.timestamp()), ts.strftime("%Y-%m-%d %H:%M:%S")
        talker = talkers[str(row["group_id"])]
        if row["event"] == "message":
            kind = _kind(row)
            code, sub = KIND_CODES[kind]
            member = str(row["member_id"])
            if kind == "pat":  # a 10000 system line naming the patter, no sender columns
                text = _message_text(row, kind, position, people)
                rows.append([position, talker, code, sub, 0, epoch, 4, text, local, "", "", ""])
                continue
            rows.append([position, talker, code, sub, 0, epoch, 3, _message_text(row, kind, position), local,
                         "", people.nickname(member), fake_wxid(member)])
        else:
            text = system_line(row, people)
            rows.append([position, talker, 10000, 0, 0, epoch, 4, text, local, "", "", ""])
    return _write_atomic(path, _csv_text(V1_COLUMNS, rows), bom=bom)


def export_wechatmsg_v2(events: pd.DataFrame, path, *, bom: bool = True) -> Path:
    """WeChatMsg v2 CSV; one group per file (v2 has no group column)."""
    groups = events["group_id"].dropna().astype(str).unique()
    if len(groups) > 1:
        raise ValueError(f"WeChatMsg v2 holds one group per file; events have {len(groups)} groups — "
                         "export each group to its own file")
    people = Identities()
    rows = []
    for position, row in enumerate(_chat_events(events).to_dict("records"), start=1):
        local = row["ts"].strftime("%Y-%m-%d %H:%M:%S")
        if row["event"] == "message":
            kind = _kind(row)
            member = str(row["member_id"])
            text = _message_text(row, kind, position, people)
            rows.append([position, V2_NAMES[kind], fake_wxid(member), local, text,
                         "", people.nickname(member), ""])
        else:
            rows.append([position, "系统消息", "", local, system_line(row, people), "", "", ""])
    return _write_atomic(path, _csv_text(V2_COLUMNS, rows), bom=bom)


def export_pywxdump(events: pd.DataFrame, path) -> Path:
    """PyWxDump CSV (plain UTF-8, CreateTime as local time)."""
    people = Identities()
    rows = []
    for position, row in enumerate(_chat_events(events).to_dict("records"), start=1):
        local = row["ts"].strftime("%Y-%m-%d %H:%M:%S")
        server_id = int(_digest("svr", str(position), local)[:15], 16)
        room = fake_room(str(row["group_id"]))
        if row["event"] == "message":
            kind = _kind(row)
            member = str(row["member_id"])
            rows.append([position, server_id, PYWXDUMP_NAMES[kind], 0, fake_wxid(member), room,
                         _message_text(row, kind, position, people), "", local])
        else:
            rows.append([position, server_id, "系统通知", 0, "", room, system_line(row, people), "", local])
    return _write_atomic(path, _csv_text(PYWXDUMP_COLUMNS, rows))


def _current_members(members: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    still = members[members["left_ts"].isna()].copy()
    joins = events[events["event"].astype(str) == "join"].sort_values("ts")
    inviters = joins.drop_duplicates(["member_id", "group_id"]).set_index(["member_id", "group_id"])["ref_id"]
    still["inviter"] = [
        inviters.get((m, g)) for m, g in zip(still["member_id"], still["group_id"], strict=True)
    ]
    still["join_ts"] = _seconds(still["join_ts"])
    return still.sort_values("join_ts", kind="stable")


def export_groupchat_get(members: pd.DataFrame, events: pd.DataFrame, path) -> Path:
    """WeCom ``groupchat/get`` response (a JSON array of responses if several groups)."""
    people = Identities()
    current = _current_members(members, events)
    responses = []
    for group in sorted(members["group_id"].dropna().astype(str).unique()):
        own = current[current["group_id"].astype(str) == group]
        first = members.loc[members["group_id"].astype(str) == group, "join_ts"].min()
        member_list = []
        for row in own.to_dict("records"):
            inviter = row["inviter"] if isinstance(row["inviter"], str) and row["inviter"] else None
            referral = str(row["channel"]) == "referral"
            entry = {
                "userid": fake_userid(str(row["member_id"])),
                "type": 2,
                "join_time": int(row["join_ts"].timestamp()),
                "join_scene": 1 if inviter else (2 if referral else 3),
                "group_nickname": "",
                "name": people.nickname(str(row["member_id"])),
            }
            if inviter:
                entry["invitor"] = {"userid": fake_userid(inviter)}
            member_list.append(entry)
        responses.append({
            "errcode": 0,
            "errmsg": "ok",
            "group_chat": {
                "chat_id": fake_chat_id(group),
                "name": "会员福利群",
                "owner": "zhangsan",
                "create_time": int(pd.Timestamp(first).timestamp()) - 3600,
                "notice": "欢迎加入！每周三晚8点直播。",
                "member_list": member_list,
                "admin_list": [{"userid": "lisi"}],
            },
        })
    payload = responses[0] if len(responses) == 1 else responses
    return _write_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1))


def export_callbacks(events: pd.DataFrame, path, *, fmt: str = "xml") -> Path:
    """WeCom ``change_external_chat`` callbacks, one per join/leave/removed event.

    ``fmt="xml"`` writes the XML documents one after another (as logged from the callback
    URL); ``fmt="json"`` writes a JSON array of objects with the same field names.
    """
    if fmt not in ("xml", "json"):
        raise ValueError(f"fmt is {fmt!r}; expected 'xml' or 'json'")
    changes = events[events["event"].astype(str).isin(["join", "leave", "removed"])].copy()
    changes["ts"] = _seconds(changes["ts"])
    changes = changes.sort_values("ts", kind="stable")
    callbacks = []
    for row in changes.to_dict("records"):
        event = str(row["event"])
        item = {
            "ToUserName": "ww0123456789abcdef", "FromUserName": "sys",
            "CreateTime": int(row["ts"].timestamp()), "MsgType": "event", "Event": "change_external_chat",
            "ChatId": fake_chat_id(str(row["group_id"])),
            "ChangeType": "update", "UpdateDetail": "add_member" if event == "join" else "del_member",
        }
        if event == "join":
            item["JoinScene"] = 0 if isinstance(row.get("ref_id"), str) and row["ref_id"] else 3
        else:
            item["QuitScene"] = 0 if event == "leave" else 1
        item["MemChangeCnt"] = 1
        item["MemChangeList"] = [fake_userid(str(row["member_id"]))]
        callbacks.append(item)
    if fmt == "json":
        return _write_atomic(path, json.dumps(callbacks, ensure_ascii=False, indent=1))
    documents = []
    for item in callbacks:
        parts = []
        for name, value in item.items():
            if name == "MemChangeList":
                inner = "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value)
                parts.append(f"<MemChangeList>{inner}</MemChangeList>")
            elif isinstance(value, int):
                parts.append(f"<{name}>{value}</{name}>")
            else:
                parts.append(f"<{name}><![CDATA[{escape(value)}]]></{name}>")
        documents.append("<xml>" + "".join(parts) + "</xml>")
    return _write_atomic(path, "\n".join(documents) + "\n")


def daily_statistics(events: pd.DataFrame) -> pd.DataFrame:
    """What ``statistic_group_by_day`` would report for these events, one row per day."""
    frame = events.copy()
    frame["ts"] = _seconds(frame["ts"])
    frame["day"] = frame["ts"].dt.normalize()
    days = pd.date_range(frame["day"].min(), frame["day"].max(), freq="D")
    kinds = frame["event"].astype(str)
    joins = frame[kinds == "join"].groupby("day").size()
    exits = frame[kinds.isin(["leave", "removed"])].groupby("day").size()
    messages = frame[kinds == "message"]
    first_day = frame.groupby("group_id", observed=True)["day"].min()
    present = (joins.reindex(days, fill_value=0) - exits.reindex(days, fill_value=0)).cumsum()
    rows = []
    for day in days:
        today = messages[messages["day"] == day]
        rows.append({
            "date": day,
            "new_chat_cnt": int((first_day == day).sum()),
            "chat_total": int((first_day <= day).sum()),
            "chat_has_msg": int(today["group_id"].nunique()),
            "new_member_cnt": int(joins.get(day, 0)),
            "member_total": int(max(present[day], 0)),
            "member_has_msg": int(today["member_id"].nunique()),
            "msg_total": int(len(today)),
            "migrate_trainee_chat_cnt": 0,
        })
    return pd.DataFrame(rows)


def export_statistic(events: pd.DataFrame, path) -> Path:
    """WeCom ``statistic_group_by_day`` response for all groups in ``events``."""
    items = []
    for row in daily_statistics(events).to_dict("records"):
        date = row.pop("date")
        items.append({"stat_time": int(date.timestamp()), "data": row})
    payload = {"errcode": 0, "errmsg": "ok", "items": items}
    return _write_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1))


def export_orders(events: pd.DataFrame, path) -> Path:
    """Orders CSV (member_id = the member's wxid, so orders link to chat exports)."""
    purchases = events[events["event"].astype(str) == "purchase"].copy()
    purchases["ts"] = _seconds(purchases["ts"])
    purchases = purchases.sort_values("ts", kind="stable")
    rows = []
    for position, row in enumerate(purchases.to_dict("records"), start=1):
        order_id = f"E{row['ts'].strftime('%Y%m%d')}{position:06d}"
        group = fake_room(str(row["group_id"])) if isinstance(row["group_id"], str) else ""
        rows.append([order_id, fake_wxid(str(row["member_id"])), row["ts"].strftime("%Y-%m-%d %H:%M:%S"),
                     f"{float(row['amount']):.2f}", group])
    return _write_atomic(path, _csv_text(["order_id", "member_id", "time", "amount", "group_id"], rows))
