"""Loaders for personal-WeChat chat exports: WeChatMsg/MemoTrace CSV (v1 and v2) and PyWxDump CSV.

Each message of a member becomes a ``message`` event whose ``msg_kind`` column keeps the
mapped WeChat type (text, image, voice, video, sticker, link, file, mini_program, quote,
forward, transfer, red_packet, pat, location, card, call, announcement, solitaire, live).
System lines (Type 10000, and 10002 revoke and template notices) are parsed for joins,
removals, self-exits, recalls and pats.

Who is who — one person, one member id:

* A person's raw id is their WeChat id where the file gives one (v1 ``Sender``, v2 ``发送人``,
  PyWxDump ``talker``), pseudonymized on load.
* System lines name people by display name. A name resolves to the id of the sender who
  uses it: from WeChat's own member list when the line is a template notice
  (``<sysmsg type="sysmsgtemplate">`` carries each name's wxid), else from the names seen
  beside sender ids in the same file (v1 ``NickName``/``Remark``, v2 ``昵称``/``备注``) or,
  for PyWxDump, in the ``users.json`` it writes next to its CSV files (wxid → nickname and
  remark). A name that resolves to no id stays a person of its own (the pseudonym of the name):
  without ``users.json`` a PyWxDump file cannot link a name to a wxid.
* The exporting account (``你`` in system lines, ``IsSender``/``is_sender`` = 1, PyWxDump's
  ``我``) is one person: its wxid when the file reveals it (v1: ``Sender`` of its own messages;
  PyWxDump: ``talker`` of its own messages when PyWxDump was given the account's wxid), else
  the fixed raw id ``__self__`` — the same pseudonym for the exporter in every file loaded with
  the same key. WeChatMsg v2 does not mark the exporter's messages, so there ``你`` cannot be
  linked to them.
* The members table lists the people the export shows taking part themselves: senders of a
  message or pat (the exporter included), people who join, leave, are removed or recall a
  message. Someone named only as the inviter, QR-code sharer or remover of another person is
  recorded as that event's ``ref_id`` (the same pseudonym their own events would carry) but is
  not added as a member: such a line shows who admitted someone, not that or when the actor was
  in the group (admissions and removals are often the owner's or an admin's account).
* PyWxDump rows whose sender PyWxDump could not tell (``talker`` empty, ``未知`` or ``系统``)
  are counted skips, not members.

Group id: see :class:`simlib.io.common.GroupIds` — ``group_id=`` as is, else the pseudonym of
the room id: ``room=``, else the file's own (PyWxDump ``room_name``; WeChatMsg ``TalkerId`` when it
is a chat id, else the ``(…@chatroom)`` of MemoTrace's export folder ``<chat name>(<chat id>)``,
else v1's ``TalkerId`` number — local to the exporting computer's database — or, for v2, the file
name; pass ``room=`` to link those with other files). The chat's name itself never reaches an
output, only its pseudonym.

Join channels: invited by a member (``"A"邀请"B"加入了群聊``, also ``你邀请…``) →
``referral`` with ``ref_id`` = the inviter; scanned a QR code shared by another member →
``referral`` with ``ref_id`` = the sharer; scanned the owner's own QR code (``你分享的``) or
joined with no inviter named → ``organic``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simlib.io.common import (
    CsvExport,
    FirstSeen,
    GroupIds,
    LoadError,
    bad_value,
    finish,
    open_csv,
    parse_epoch,
    parse_int,
    parse_local_time,
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


_TEMPLATE = re.compile(r"<sysmsg[^>]*>.*</sysmsg>", re.S)
_PLACEHOLDER = re.compile(r"\$(\w+)\$")


def expand_template(text: str) -> tuple[str, dict[str, str]]:
    """A template notice (``<sysmsg type="sysmsgtemplate">``, as WeChat stores most join and
    removal lines) as its plain line, with {display name: wxid} of the people it names.

    Text that is no template comes back unchanged, with no names.
    """
    found = _TEMPLATE.search(text)
    if not found or "sysmsgtemplate" not in found.group(0):
        return text, {}
    try:
        root = ET.fromstring(found.group(0))
    except ET.ParseError:
        return text, {}
    template = root.findtext(".//content_template/template")
    if not template:
        return text, {}
    ids: dict[str, str] = {}
    slots: dict[str, str] = {}
    for link in root.iter("link"):
        names = []
        for member in link.iter("member"):
            name = (member.findtext("nickname") or "").strip()
            wxid = (member.findtext("username") or "").strip()
            if name:
                names.append(name)
                if wxid:
                    ids[name] = wxid
        slots[link.get("name", "")] = "、".join(names)  # as parse_system_line splits them
    line = _PLACEHOLDER.sub(lambda m: slots.get(m.group(1), m.group(0)), template)
    return line, ids


def _names(match: re.Match, first_group: int) -> list[str]:
    """The names of one _NAME slot; several invitees are separated by 、."""
    you, quoted = match.group(first_group), match.group(first_group + 1)
    if you:
        return [SELF]
    return [name for name in quoted.split("、") if name]


def parse_system_line(text: str) -> tuple[str, list[str], list[str]] | None:
    """Parse a Chinese system line into (kind, actors, subjects) with raw display names.

    ``kind`` is join_invited, join_qr, join_plain, removed, leave, recall or pat; for a
    join the actor is the inviter or QR sharer and the subjects are who joined. Revoke notices
    and template notices (see :func:`expand_template`) are read as the line they display.
    """
    line = expand_template(text)[0].strip()
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


@dataclass
class ChatLine:
    """One row of a chat export, read by its format's reader: a member's message, or a system
    line (``kind`` == SYSTEM) whose ``text`` is parsed for joins, exits, recalls and pats."""

    ts: object
    group: str | None
    kind: str
    sender: str  # raw id of a message's sender; "" for system lines
    text: str


# A format's reader: (line, record) → a ChatLine, or the reason the row is skipped.
RowReader = Callable[[int, dict], "ChatLine | str"]


class _Builder:
    """Turns the rows of one chat file into event dicts, resolving and pseudonymizing names."""

    def __init__(self, export: CsvExport, pseudonyms: Pseudonymizer, keep_text: bool):
        self.export = export
        self.pseudonyms = pseudonyms
        self.keep_text = keep_text
        self.skips = export.skips
        self.name_to_id: dict[str, str] = {}
        self.records: list[dict] = []

    def learn(self, raw_id: str, *names: str) -> None:
        """Remember display names of a sender so system lines can be linked to them."""
        if raw_id:
            for name in names:
                if name and name.strip():
                    self.name_to_id.setdefault(name.strip(), raw_id)

    def member(self, raw: str) -> str:
        raw = raw.strip()
        return self.pseudonyms.member(self.name_to_id.get(raw, raw))

    def run(self, rows: list[tuple[int, dict]], read: RowReader, source_format: str):
        """Events of every row (a repeated row is a counted skip), then the LoadedLog."""
        repeats = FirstSeen()
        lines: list[tuple[int, ChatLine]] = []
        for line, row in rows:
            first = repeats.earlier(line, tuple(row.values()))
            parsed = f"duplicate of line {first}" if first is not None else read(line, row)
            if isinstance(parsed, str):
                self.skips.add(line, parsed)
            else:
                lines.append((line, parsed))
        # WeChat's template notices name people with their wxid: exact links, taken before any
        # system line is resolved so that plain lines naming the same people link too.
        for _, chat in lines:
            if chat.kind == SYSTEM:
                self.name_to_id.update(expand_template(chat.text)[1])
        for line, chat in lines:
            if chat.kind == SYSTEM:
                self.system(line, chat.ts, chat.group, chat.text)
            else:
                self._add(chat.ts, chat.group, self.member(chat.sender), "message", None, chat.kind, None,
                          chat.text)
        return finish(self.records, keep_text=self.keep_text, skips=self.skips, source_format=source_format,
                      encoding=self.export.encoding, path=self.export.path)

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
        line = expand_template(text)[0]
        revoke = _REPLACEMSG.search(line)
        line = revoke.group(1) if revoke else line
        for name in sorted({n for n in names if n != SELF}, key=len, reverse=True):
            line = line.replace(name, self.member(name))
        return line


_CHAT_ROOM = re.compile(r"\(([\w.-]+@chatroom)\)$")


def memotrace_room(path) -> str | None:
    """The chat id in the name of MemoTrace's export folder ``<chat name>(<id>@chatroom)``."""
    found = _CHAT_ROOM.search(Path(path).resolve().parent.name)
    return found.group(1) if found else None


def _type_codes(path, line: int, row: dict) -> tuple[int, int]:
    """(Type, SubType) of a v1 row (an empty SubType is 0)."""
    sub = row["SubType"].strip()
    return parse_int(path, line, "Type", row["Type"]), parse_int(path, line, "SubType", sub) if sub else 0


def _is_sender(path, line: int, row: dict, column: str) -> bool:
    value = row[column].strip()
    if value not in ("0", "1"):
        raise bad_value(path, line, column, row[column], "0 or 1")
    return value == "1"


def load_wechatmsg_v1(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None, room=None):
    """WeChatMsg (MemoTrace) CSV, v1 header ``localId,TalkerId,Type,SubType,IsSender,…``."""
    export = open_csv(path)
    builder = _Builder(export, pseudonyms, keep_text)
    rows = list(export.records(V1_COLUMNS))
    self_id = next(
        (r["Sender"].strip() for _, r in rows if r["IsSender"].strip() == "1" and r["Sender"].strip()), SELF
    )
    builder.name_to_id[SELF] = self_id
    for _, row in rows:
        builder.learn(row["Sender"].strip(), row["NickName"], row["Remark"])
    groups, folder_room = GroupIds(pseudonyms, group_id, room), memotrace_room(path)

    def read(line: int, row: dict) -> ChatLine | str:
        code, sub = _type_codes(path, line, row)
        # Every Type 10000 row is a system line; 拍一拍 (SubType 4) lines are parsed as pats.
        kind = SYSTEM if code == 10000 else TYPE_CODES.get((code, sub)) or TYPE_CODES.get((code, None))
        if kind is None:
            return f"unknown message type Type={code} SubType={sub}"
        if row["CreateTime"].strip():
            ts = parse_epoch(path, line, "CreateTime", row["CreateTime"])
        else:
            ts = parse_local_time(path, line, "StrTime", row["StrTime"])
        own = _is_sender(path, line, row, "IsSender")
        talker = row["TalkerId"].strip()
        group = groups.of(talker if "@" in talker or not folder_room else folder_room)
        if group is None:
            raise bad_value(path, line, "TalkerId", row["TalkerId"], "the chat's id (or pass room=)")
        if kind == SYSTEM:
            return ChatLine(ts, group, SYSTEM, "", row["StrContent"])
        sender = SELF if own else (row["Sender"].strip() or row["NickName"].strip())
        if not sender:
            return "message without a sender (Sender and NickName empty)"
        return ChatLine(ts, group, kind, sender, row["StrContent"])

    return builder.run(rows, read, "wechatmsg_v1")


def load_wechatmsg_v2(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None, room=None):
    """WeChatMsg (MemoTrace) CSV, v2 header ``消息ID,类型,发送人,时间,内容,备注,昵称,更多信息``.

    The file has no group column: the room id comes from ``room=`` or MemoTrace's export
    folder ``<chat name>(<id>@chatroom)``; failing both, the group id is the pseudonym of the
    file name (MemoTrace names the file after the chat), which links to no other format.
    """
    export = open_csv(path)
    builder = _Builder(export, pseudonyms, keep_text)
    rows = list(export.records(V2_COLUMNS))
    for _, row in rows:
        builder.learn(row["发送人"].strip(), row["昵称"], row["备注"])
    group = GroupIds(pseudonyms, group_id, room).of(memotrace_room(path) or Path(path).stem)

    def read(line: int, row: dict) -> ChatLine | str:
        name = row["类型"].strip()
        kind = TYPE_NAMES.get(name)
        if kind is None:
            return f"unknown message type 类型={name[:20]!r}"
        ts = parse_local_time(path, line, "时间", row["时间"])
        if kind == SYSTEM or (kind == "pat" and not row["发送人"].strip()):
            return ChatLine(ts, group, SYSTEM, "", row["内容"])
        sender = row["发送人"].strip() or row["昵称"].strip()
        if not sender:
            return "message without a sender (发送人 and 昵称 empty)"
        return ChatLine(ts, group, kind, sender, row["内容"])

    return builder.run(rows, read, "wechatmsg_v2")


USERS_FILE = "users.json"  # PyWxDump writes it next to the CSV files of an export
UNKNOWN_TALKERS = ("", "未知", "系统")  # PyWxDump's talker when it cannot tell the sender


def _learn_pywxdump_users(path, builder: _Builder) -> bool:
    """Learn wxid ↔ nickname/remark from PyWxDump's ``users.json`` beside ``path``; False if absent."""
    users_path = Path(path).parent / USERS_FILE
    if not users_path.is_file():
        return False
    try:
        users = json.loads(users_path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LoadError(f"not valid UTF-8 JSON ({error}); expected PyWxDump's {USERS_FILE} "
                        "(wxid → nickname, remark)", path=users_path) from None
    if not isinstance(users, dict):
        raise LoadError(f"top level is {type(users).__name__}; expected an object mapping wxid to "
                        "{nickname, remark}", path=users_path)
    for wxid, user in users.items():
        if not isinstance(user, dict):
            raise LoadError(f"key {wxid!r} has value {user!r:.60}; expected an object with nickname and "
                            "remark", path=users_path)
        names = [user.get(key) for key in ("nickname", "remark")]
        if not all(name is None or isinstance(name, str) for name in names):
            raise LoadError(f"key {wxid!r}: nickname/remark {names!r:.80}; expected strings",
                            path=users_path)
        builder.learn(str(user.get("wxid") or wxid).strip(), *[n for n in names if n])
    return True


def load_pywxdump(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None, room=None):
    """PyWxDump CSV (``id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime``).

    ``talker`` is the sender's wxid in a group chat (``我`` — or the account's wxid, if
    PyWxDump was given it — for the exporting account, is_sender=1) and ``room_name`` the chat
    room id. CreateTime may be epoch seconds or a local time. Names in system lines are linked
    to wxids through the ``users.json`` PyWxDump writes beside the CSV (see the module docstring).
    """
    export = open_csv(path)
    builder = _Builder(export, pseudonyms, keep_text)
    has_users = _learn_pywxdump_users(path, builder)
    rows = list(export.records(PYWXDUMP_COLUMNS))
    own_ids = (r["talker"].strip() for _, r in rows if r["is_sender"].strip() == "1")
    builder.name_to_id[SELF] = builder.name_to_id["我"] = next(
        (talker for talker in own_ids if talker not in UNKNOWN_TALKERS + ("我",)), SELF)
    groups = GroupIds(pseudonyms, group_id, room)
    server_ids = FirstSeen()

    def read(line: int, row: dict) -> ChatLine | str:
        server_id = row["MsgSvrID"].strip()
        first = server_ids.earlier(line, server_id) if server_id not in ("", "0") else None
        if first is not None:
            return f"duplicate MsgSvrID of line {first}"
        name = row["type_name"].strip()
        kind = TYPE_NAMES.get(name)
        if kind is None:
            return f"unknown message type type_name={name[:20]!r}"
        ts = parse_local_time(path, line, "CreateTime", row["CreateTime"])
        own = _is_sender(path, line, row, "is_sender")
        room_id = row["room_name"].strip()
        if not room_id and not (group_id or room):
            raise bad_value(path, line, "room_name", row["room_name"], "the chat room id (e.g. 123@chatroom)")
        talker = row["talker"].strip()
        if kind == SYSTEM or (kind == "pat" and not talker):
            return ChatLine(ts, groups.of(room_id), SYSTEM, "", row["msg"])
        sender = SELF if own else talker
        if sender in UNKNOWN_TALKERS:
            return f"message whose sender PyWxDump could not tell (talker {talker!r})"
        return ChatLine(ts, groups.of(room_id), kind, sender, row["msg"])

    log = builder.run(rows, read, "pywxdump")
    named = log.events["msg_kind"].eq(SYSTEM) & log.events["event"].ne("message")
    if not has_users and named.any():
        log.notes.append(f"no {USERS_FILE} beside the PyWxDump file: the people named in its system lines "
                         "(joins, exits, removals) cannot be linked to the wxids of their messages, so a "
                         f"member who both writes and is named counts twice; put PyWxDump's {USERS_FILE} "
                         "next to the CSV")
    return log


__all__ = [
    "LoadError",
    "PYWXDUMP_COLUMNS",
    "TYPE_CODES",
    "ChatLine",
    "TYPE_NAMES",
    "V1_COLUMNS",
    "V2_COLUMNS",
    "expand_template",
    "load_pywxdump",
    "load_wechatmsg_v1",
    "load_wechatmsg_v2",
    "parse_system_line",
]
