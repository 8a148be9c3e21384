"""Loaders for personal-WeChat chat exports: WeChatMsg/MemoTrace CSV (v1 and v2) and PyWxDump CSV.

Each message of a member becomes a ``message`` event whose ``msg_kind`` column keeps the
mapped WeChat type (text, image, voice, video, sticker, link, file, mini_program, quote,
forward, transfer, red_packet, pat, location, card, call, announcement, solitaire, live).
System lines (Type 10000, and 10002 revoke notices) are parsed for joins, removals,
self-exits, recalls and pats; names in them are resolved to the sender ids seen in the same
file where possible (v1 has NickName/Remark/Sender, v2 has 昵称/备注/发送人), then
pseudonymized. PyWxDump CSVs carry no nicknames, so a member named in a system line there
cannot be linked to their messages and gets a pseudonym of the nickname.

Join channels: invited by a member (``"A"邀请"B"加入了群聊``, also ``你邀请…``) →
``referral`` with ``ref_id`` = the inviter; scanned a QR code shared by another member →
``referral`` with ``ref_id`` = the sharer; scanned the owner's own QR code (``你分享的``) or
joined with no inviter named → ``organic``.
"""

from __future__ import annotations

import re
from pathlib import Path

from simlib.io.common import (
    LoadError,
    Skips,
    bad_value,
    csv_records,
    decode,
    finish,
    parse_epoch,
    parse_int,
    parse_local_time,
    read_bytes,
)
from simlib.io.pseudonym import Pseudonymizer

V1_COLUMNS = [
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime",
    "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender",
]
V2_COLUMNS = ["消息ID", "类型", "发送人", "时间", "内容", "备注", "昵称", "更多信息"]
PYWXDUMP_COLUMNS = [
    "id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime",
]

SELF = "__self__"  # raw id standing for the account that made the export ("你", "我")
SYSTEM = "system"

# (Type, SubType) codes of the WeChat PC database; checked against PyWxDump's type table.
TYPE_CODES: dict[tuple[int, int | None], str] = {
    (1, None): "text",
    (3, None): "image",
    (34, None): "voice",
    (42, None): "card",
    (43, None): "video",
    (47, None): "sticker",
    (48, None): "location",
    (50, None): "call",
    (49, 0): "file",
    (49, 1): "text",
    (49, 4): "link",
    (49, 5): "link",
    (49, 6): "file",
    (49, 8): "sticker",
    (49, 19): "forward",
    (49, 33): "mini_program",
    (49, 36): "mini_program",
    (49, 53): "solitaire",
    (49, 57): "quote",
    (49, 63): "live",
    (49, 87): "announcement",
    (49, 88): "live",
    (49, 2000): "transfer",
    (49, 2001): "red_packet",
    (10000, None): SYSTEM,
    (10002, None): SYSTEM,
}

# Chinese type names used by WeChatMsg v2 (类型) and PyWxDump (type_name).
TYPE_NAMES: dict[str, str] = {
    "文本": "text", "文字": "text", "类似文字消息而不一样的消息": "text", "粘贴的文本": "text",
    "图片": "image",
    "语音": "voice",
    "视频": "video",
    "表情包": "sticker", "动画表情": "sticker", "表情": "sticker", "用户上传的GIF表情": "sticker",
    "链接": "link", "卡片式链接": "link", "(分享)卡片式链接": "link", "分享链接": "link",
    "文件": "file",
    "小程序": "mini_program", "分享的小程序": "mini_program", "(分享)小程序": "mini_program",
    "引用": "quote", "引用回复": "quote", "带有引用的文本消息": "quote", "引用消息": "quote",
    "合并转发的聊天记录": "forward", "聊天记录": "forward",
    "转账": "transfer", "转账消息": "transfer",
    "红包": "red_packet",
    "拍一拍": "pat",
    "位置": "location", "地图信息": "location",
    "名片": "card", "推荐公众号": "card",
    "语音通话": "call", "音视频通话": "call",
    "群公告": "announcement",
    "接龙": "solitaire",
    "视频号直播或直播回放等": "live", "视频号直播或直播回放": "live",
    "系统消息": SYSTEM, "系统通知": SYSTEM, "撤回消息": SYSTEM, "邀请加群": SYSTEM,
}

# A name in a system line: "你" (the exporting account) or a quoted display name.
_NAME = r'(?:(你)|["“「](.+?)["”」])'
_SYSTEM_PATTERNS = [
    ("invite", re.compile(rf"^{_NAME}邀请{_NAME}加入了群聊")),
    ("qr", re.compile(rf"^{_NAME}通过扫描{_NAME}分享的二维码加入群聊")),
    ("removed", re.compile(rf"^{_NAME}将{_NAME}移出了群聊")),
    ("leave", re.compile(rf"^{_NAME}退出了群聊")),
    ("recall", re.compile(rf"^{_NAME}\s*撤回了一条消息")),
    ("pat", re.compile(rf"^{_NAME}\s*拍了拍\s*(?:(我|自己)|[\"“「](.+?)[\"”」]|(\S+?))(?:的|$)")),
    ("plain_join", re.compile(rf"^{_NAME}加入了群聊")),
]
_REPLACEMSG = re.compile(r"<replacemsg>\s*<!\[CDATA\[(.*?)\]\]>\s*</replacemsg>", re.S)


def _names(match: re.Match, first_group: int) -> list[str]:
    """The names of one _NAME slot; several invitees are separated by 、."""
    you, quoted = match.group(first_group), match.group(first_group + 1)
    if you:
        return [SELF]
    return [name for name in quoted.split("、") if name]


def parse_system_line(text: str) -> tuple[str, list[str], list[str]] | None:
    """Parse a Chinese system line into (kind, actors, subjects) with raw display names.

    ``kind`` is join_invited, join_qr, join_plain, removed, leave, recall or pat; for a
    join the actor is the inviter or QR sharer and the subjects are who joined.
    """
    line = text.strip()
    revoke = _REPLACEMSG.search(line)
    if revoke:
        line = revoke.group(1).strip()
    for kind, pattern in _SYSTEM_PATTERNS:
        match = pattern.match(line)
        if not match:
            continue
        if kind == "invite":
            return "join_invited", _names(match, 1), _names(match, 3)
        if kind == "qr":
            return "join_qr", _names(match, 3), _names(match, 1)
        if kind == "removed":
            return "removed", _names(match, 1), _names(match, 3)
        if kind == "leave":
            return "leave", [], _names(match, 1)
        if kind == "recall":
            return "recall", [], _names(match, 1)
        if kind == "plain_join":
            return "join_plain", [], _names(match, 1)
        if kind == "pat":
            return "pat", _names(match, 1), []
    return None


class _Builder:
    """Turns parsed rows of one chat file into event dicts, resolving and pseudonymizing names."""

    def __init__(self, path, pseudonyms: Pseudonymizer, keep_text: bool, skips: Skips):
        self.path = path
        self.pseudonyms = pseudonyms
        self.keep_text = keep_text
        self.skips = skips
        self.name_to_id: dict[str, str] = {}
        self.records: list[dict] = []
        self.seen: dict[tuple, int] = {}

    def learn(self, raw_id: str, *names: str) -> None:
        """Remember display names of a sender so system lines can be linked to them."""
        if raw_id:
            for name in names:
                if name and name.strip():
                    self.name_to_id.setdefault(name.strip(), raw_id)

    def duplicate(self, line: int, row: dict) -> bool:
        key = tuple(row.values())
        if key in self.seen:
            self.skips.add(line, f"duplicate of line {self.seen[key]}")
            return True
        self.seen[key] = line
        return False

    def member(self, raw: str) -> str:
        raw = raw.strip()
        return self.pseudonyms.member(self.name_to_id.get(raw, raw))

    def message(self, ts, group, sender_raw: str, kind: str, text: str) -> None:
        record = {
            "ts": ts, "group_id": group, "member_id": self.member(sender_raw), "event": "message",
            "ref_id": None, "amount": None, "msg_kind": kind, "channel": None,
        }
        if self.keep_text:
            record["text"] = text
        self.records.append(record)

    def system(self, line: int, ts, group, text: str) -> None:
        parsed = parse_system_line(text)
        if parsed is None:
            # Group renames, red-packet notices, "以下为新消息"…: nothing for the event log.
            self.skips.add(line, "system line that is not a join, exit, removal, recall or pat")
            return
        kind, actors, subjects = parsed
        actor = self.member(actors[0]) if actors else None
        pseudonymized = self._pseudonymize_line(text, actors + subjects) if self.keep_text else None
        if kind == "pat":
            self._add(ts, group, actor, "message", None, "pat", None, pseudonymized)
            return
        for subject in subjects:
            member = self.member(subject)
            if kind == "join_invited":
                self._add(ts, group, member, "join", actor, SYSTEM, "referral", pseudonymized)
            elif kind == "join_qr":
                by_owner = actors == [SELF]
                self._add(ts, group, member, "join", None if by_owner else actor, SYSTEM,
                          "organic" if by_owner else "referral", pseudonymized)
            elif kind == "join_plain":
                self._add(ts, group, member, "join", None, SYSTEM, "organic", pseudonymized)
            elif kind == "removed":
                self._add(ts, group, member, "removed", actor, SYSTEM, None, pseudonymized)
            else:  # leave, recall
                self._add(ts, group, member, kind, None, SYSTEM, None, pseudonymized)

    def _add(self, ts, group, member, event, ref, kind, channel, text) -> None:
        record = {
            "ts": ts, "group_id": group, "member_id": member, "event": event,
            "ref_id": ref, "amount": None, "msg_kind": kind, "channel": channel,
        }
        if self.keep_text:
            record["text"] = text
        self.records.append(record)

    def _pseudonymize_line(self, text: str, names: list[str]) -> str:
        revoke = _REPLACEMSG.search(text)
        line = revoke.group(1) if revoke else text
        for name in sorted({n for n in names if n != SELF}, key=len, reverse=True):
            line = line.replace(name, self.member(name))
        return line


def _group(pseudonyms: Pseudonymizer, group_id: str | None, raw: str) -> str:
    return group_id if group_id else pseudonyms.group(raw)


def load_wechatmsg_v1(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    """WeChatMsg (MemoTrace) CSV, v1 header ``localId,TalkerId,Type,SubType,IsSender,…``."""
    text, encoding = decode(path, read_bytes(path))
    skips = Skips(path)
    builder = _Builder(path, pseudonyms, keep_text, skips)
    rows = list(csv_records(path, text, V1_COLUMNS))
    self_id = next(
        (r["Sender"] for _, r in rows if r["IsSender"].strip() == "1" and r["Sender"].strip()), SELF
    )
    builder.name_to_id[SELF] = self_id
    for _, row in rows:
        if row["IsSender"].strip() != "1":
            builder.learn(row["Sender"].strip(), row["NickName"], row["Remark"])
    for line, row in rows:
        if builder.duplicate(line, row):
            continue
        code = parse_int(path, line, "Type", row["Type"])
        sub_text = row["SubType"].strip()
        sub = parse_int(path, line, "SubType", sub_text) if sub_text else 0
        kind = TYPE_CODES.get((code, sub)) or TYPE_CODES.get((code, None))
        if code == 10000 and sub == 4:
            kind = SYSTEM  # 拍一拍 lines are parsed as pats below
        if kind is None:
            skips.add(line, f"unknown message type Type={code} SubType={sub}")
            continue
        if row["CreateTime"].strip():
            ts = parse_epoch(path, line, "CreateTime", row["CreateTime"])
        else:
            ts = parse_local_time(path, line, "StrTime", row["StrTime"])
        is_sender = row["IsSender"].strip()
        if is_sender not in ("0", "1"):
            raise bad_value(path, line, "IsSender", row["IsSender"], "0 or 1")
        group = _group(pseudonyms, group_id, "talker:" + row["TalkerId"].strip())
        if kind == SYSTEM:
            builder.system(line, ts, group, row["StrContent"])
            continue
        sender = SELF if is_sender == "1" else (row["Sender"].strip() or row["NickName"].strip())
        if not sender:
            skips.add(line, "message without a sender (Sender and NickName empty)")
            continue
        builder.message(ts, group, sender, kind, row["StrContent"])
    return finish(builder.records, keep_text=keep_text, skips=skips, source_format="wechatmsg_v1",
                  encoding=encoding, path=path)


def load_wechatmsg_v2(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    """WeChatMsg (MemoTrace) CSV, v2 header ``消息ID,类型,发送人,时间,内容,备注,昵称,更多信息``.

    The file has no group column: the group is ``group_id`` if given, else a pseudonym of
    the file name (MemoTrace names the file after the chat).
    """
    text, encoding = decode(path, read_bytes(path))
    skips = Skips(path)
    builder = _Builder(path, pseudonyms, keep_text, skips)
    rows = list(csv_records(path, text, V2_COLUMNS))
    for _, row in rows:
        builder.learn(row["发送人"].strip(), row["昵称"], row["备注"])
    group = _group(pseudonyms, group_id, "file:" + Path(path).stem)
    for line, row in rows:
        if builder.duplicate(line, row):
            continue
        name = row["类型"].strip()
        kind = TYPE_NAMES.get(name)
        if kind is None:
            skips.add(line, f"unknown message type 类型={name[:20]!r}")
            continue
        ts = parse_local_time(path, line, "时间", row["时间"])
        if kind == SYSTEM or (kind == "pat" and not row["发送人"].strip()):
            builder.system(line, ts, group, row["内容"])
            continue
        sender = row["发送人"].strip() or row["昵称"].strip()
        if not sender:
            skips.add(line, "message without a sender (发送人 and 昵称 empty)")
            continue
        builder.message(ts, group, sender, kind, row["内容"])
    return finish(builder.records, keep_text=keep_text, skips=skips, source_format="wechatmsg_v2",
                  encoding=encoding, path=path)


def load_pywxdump(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    """PyWxDump CSV (``id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime``).

    ``talker`` is the sender's wxid in a group chat (``我`` or is_sender=1 for the exporting
    account) and ``room_name`` the chat room id. CreateTime may be epoch seconds or a local time.
    """
    text, encoding = decode(path, read_bytes(path))
    skips = Skips(path)
    builder = _Builder(path, pseudonyms, keep_text, skips)
    seen_ids: dict[str, int] = {}
    for line, row in csv_records(path, text, PYWXDUMP_COLUMNS):
        if builder.duplicate(line, row):
            continue
        server_id = row["MsgSvrID"].strip()
        if server_id and server_id != "0":
            if server_id in seen_ids:
                skips.add(line, f"duplicate MsgSvrID of line {seen_ids[server_id]}")
                continue
            seen_ids[server_id] = line
        name = row["type_name"].strip()
        kind = TYPE_NAMES.get(name)
        if kind is None:
            skips.add(line, f"unknown message type type_name={name[:20]!r}")
            continue
        ts = parse_local_time(path, line, "CreateTime", row["CreateTime"])
        is_sender = row["is_sender"].strip()
        if is_sender not in ("0", "1"):
            raise bad_value(path, line, "is_sender", row["is_sender"], "0 or 1")
        room = row["room_name"].strip()
        if not room and not group_id:
            raise bad_value(path, line, "room_name", row["room_name"], "the chat room id (e.g. 123@chatroom)")
        group = _group(pseudonyms, group_id, room)
        talker = row["talker"].strip()
        if kind == SYSTEM or (kind == "pat" and not talker):
            builder.system(line, ts, group, row["msg"])
            continue
        sender = SELF if is_sender == "1" or talker == "我" else talker
        if not sender:
            skips.add(line, "message without a sender (talker empty)")
            continue
        builder.message(ts, group, sender, kind, row["msg"])
    return finish(builder.records, keep_text=keep_text, skips=skips, source_format="pywxdump",
                  encoding=encoding, path=path)


__all__ = [
    "LoadError",
    "PYWXDUMP_COLUMNS",
    "TYPE_CODES",
    "TYPE_NAMES",
    "V1_COLUMNS",
    "V2_COLUMNS",
    "load_pywxdump",
    "load_wechatmsg_v1",
    "load_wechatmsg_v2",
    "parse_system_line",
]
