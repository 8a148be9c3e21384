"""Loaders for WeCom (企业微信) customer-group data.

* ``externalcontact/groupchat/get`` response → members and one ``join`` event per member.
  The API's ``join_scene``: 1 = invited directly by a member, 2 = invited via a link
  (both → ``referral``, ``ref_id`` = pseudonym of ``invitor.userid`` when given),
  3 = scanned the group QR code (→ ``organic``). The API lists current members only, so
  earlier leavers are absent.
* ``change_external_chat`` callback events (XML as pushed to the callback URL, or the same
  fields as JSON; one file may hold many) → ``join`` / ``leave`` / ``removed`` events.
  The callback codes scenes differently from the API: ``JoinScene`` 0 = invited by a member
  (→ ``referral``; the callback does not say by whom, so ``ref_id`` is empty), 3 = scanned
  the group QR code (→ ``organic``); ``QuitScene`` 0 = left on their own (→ ``leave``),
  1 = removed by the owner or an admin (→ ``removed``).
* ``externalcontact/groupchat/statistic_group_by_day`` response → aggregate figures, not
  events: returned as ``LoadedLog.daily`` (one row per ``stat_time`` day: date,
  new_chat_cnt, chat_total, chat_has_msg, new_member_cnt, member_total, member_has_msg,
  msg_total, migrate_trainee_chat_cnt) with the four event-log tables empty.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pandas as pd

from simlib import schema
from simlib.io.common import LoadError, Skips, decode, finish, parse_epoch, read_bytes
from simlib.io.pseudonym import Pseudonymizer

API_JOIN_SCENES = {1: "referral", 2: "referral", 3: "organic"}
CALLBACK_JOIN_SCENES = {0: "referral", 3: "organic"}
CALLBACK_QUIT_SCENES = {0: "leave", 1: "removed"}
STAT_FIELDS = ["new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total",
               "member_has_msg", "msg_total"]
STAT_OPTIONAL = ["migrate_trainee_chat_cnt"]
DAILY_COLUMNS = ["date"] + STAT_FIELDS + STAT_OPTIONAL


def read_json(path):
    """Parse a JSON file, turning syntax errors (also a file cut short) into LoadError with the line."""
    text, _ = decode(path, read_bytes(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # A complete document ends with its closing bracket; anything else was cut short.
        cut = " (the file looks truncated)" if not text.rstrip().endswith(("}", "]")) else ""
        raise LoadError(f"not valid JSON: {error.msg} at column {error.colno}{cut}", path=path,
                        line=error.lineno) from None


def check_errcode(path, payload, key_path: str = "") -> None:
    if not isinstance(payload, dict):
        raise LoadError(f"{key_path or 'top level'} is {type(payload).__name__}; expected a JSON object "
                        "(a WeCom API response)", path=path)
    if "errcode" in payload and payload["errcode"] not in (0, "0"):
        raise LoadError(
            f"{key_path + '.' if key_path else ''}errcode is {payload['errcode']!r} "
            f"(errmsg {str(payload.get('errmsg', ''))[:80]!r}); expected 0 — the API call failed, "
            "so this response holds no data",
            path=path,
        )


def _require(path, obj: dict, key: str, key_path: str, expected: str):
    if not isinstance(obj, dict) or key not in obj:
        raise LoadError(f"key {key_path}.{key} is missing; expected {expected}", path=path)
    return obj[key]


def _int(path, value, key_path: str, *, minimum: int | None = 0) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str))
        or not str(value).strip().lstrip("-").isdigit()
    ):
        raise LoadError(f"key {key_path} has value {value!r}; expected an integer", path=path)
    number = int(value)
    if minimum is not None and number < minimum:
        raise LoadError(f"key {key_path} has value {value!r}; expected an integer >= {minimum}", path=path)
    return number


def _epoch(path, value, key_path: str) -> pd.Timestamp:
    try:
        return parse_epoch(path, None, key_path, value)
    except LoadError:
        raise LoadError(
            f"key {key_path} has value {value!r}; expected Unix epoch seconds between 2000 and 2100",
            path=path,
        ) from None


# ---------------------------------------------------------------- groupchat/get


def load_groupchat_get(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    """One ``groupchat/get`` response, or a JSON array of them (several groups)."""
    payload = read_json(path)
    responses = payload if isinstance(payload, list) else [payload]
    skips = Skips(path)
    records: list[dict] = []
    for index, response in enumerate(responses):
        prefix = f"[{index}]" if isinstance(payload, list) else ""
        check_errcode(path, response, prefix)
        chat = _require(path, response, "group_chat", prefix or "top level", "the group_chat object")
        key = f"{prefix}group_chat" if prefix else "group_chat"
        chat_id = _require(path, chat, "chat_id", key, "the chat id string")
        group = group_id or pseudonyms.group(str(chat_id))
        members = _require(path, chat, "member_list", key, "a list of members")
        if not isinstance(members, list):
            raise LoadError(f"key {key}.member_list is {type(members).__name__}; expected a list", path=path)
        seen: set[str] = set()
        for position, member in enumerate(members):
            where = f"{key}.member_list[{position}]"
            userid = _require(path, member, "userid", where, "the member's userid")
            if not isinstance(userid, str) or not userid.strip():
                raise LoadError(
                    f"key {where}.userid has value {userid!r}; expected a non-empty string", path=path
                )
            if userid in seen:
                skips.add(position + 1, f"{where}: duplicate member entry")
                continue
            seen.add(userid)
            join_time = _require(path, member, "join_time", where, "epoch seconds")
            ts = _epoch(path, join_time, f"{where}.join_time")
            join_scene = _require(path, member, "join_scene", where, "1, 2 or 3")
            scene = _int(path, join_scene, f"{where}.join_scene")
            if scene not in API_JOIN_SCENES:
                skips.add(position + 1, f"{where}: unknown join_scene {scene} (expected 1, 2 or 3)")
                continue
            invitor = member.get("invitor")  # sic: the API's spelling
            inviter = invitor.get("userid") if isinstance(invitor, dict) else None
            channel = API_JOIN_SCENES[scene]
            records.append({
                "ts": ts, "group_id": group, "member_id": pseudonyms.member(userid), "event": "join",
                "ref_id": pseudonyms.member(inviter) if inviter and channel == "referral" else None,
                "amount": None, "msg_kind": "system", "channel": channel,
                **({"text": None} if keep_text else {}),
            })
    return finish(records, keep_text=keep_text, skips=skips, source_format="wecom_groupchat_get",
                  encoding="utf-8", path=path)


# ---------------------------------------------------------------- change_external_chat callbacks


def _xml_callbacks(path, text: str) -> list[dict]:
    body = re.sub(r"<\?xml[^>]*\?>", "", text)
    try:
        root = ET.fromstring(f"<callbacks>{body}</callbacks>")
    except ET.ParseError as error:
        line, column = error.position
        raise LoadError(f"not well-formed XML ({error.msg if hasattr(error, 'msg') else error}) "
                        f"at column {column}; the file may be truncated", path=path, line=line) from None
    callbacks = []
    for node in root:
        item: dict = {}
        for child in node:
            if child.tag == "MemChangeList":
                item["MemChangeList"] = [(i.text or "").strip() for i in child if i.tag == "Item"]
            else:
                item[child.tag] = (child.text or "").strip()
        callbacks.append(item)
    return callbacks


def _json_callbacks(path, text: str) -> list[dict]:
    try:
        payload = json.loads(text)
        return payload if isinstance(payload, list) else [payload]
    except json.JSONDecodeError as first_error:
        items = []
        lines = text.splitlines()
        for number, line in enumerate(lines, start=1):  # JSON lines: one callback per line
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError:
                if number == 1:
                    raise LoadError(f"not valid JSON or XML: {first_error.msg}", path=path,
                                    line=first_error.lineno) from None
                raise LoadError("not valid JSON (one callback object per line expected; the file may be "
                                "truncated)", path=path, line=number) from None
        return items


def load_callbacks(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    """``change_external_chat`` callbacks: XML documents (``<xml>…</xml>`` one after another) or JSON."""
    text, encoding = decode(path, read_bytes(path))
    callbacks = _xml_callbacks(path, text) if text.lstrip().startswith("<") else _json_callbacks(path, text)
    skips = Skips(path)
    records: list[dict] = []
    for number, callback in enumerate(callbacks, start=1):
        where = f"callback {number}"
        if not isinstance(callback, dict):
            raise LoadError(f"{where} is {type(callback).__name__}; expected an object", path=path)
        kind = callback.get("Event") or callback.get("InfoType")
        if kind != "change_external_chat":
            skips.add(number, f"{where}: not a change_external_chat event")
            continue
        detail = callback.get("UpdateDetail")
        if callback.get("ChangeType") != "update" or detail not in ("add_member", "del_member"):
            skips.add(number, f"{where}: not a member change (ChangeType/UpdateDetail)")
            continue
        chat_id = callback.get("ChatId")
        if not chat_id:
            raise LoadError(f"{where} lacks ChatId; expected the group's chat id", path=path, line=None)
        stamp = callback.get("CreateTime", callback.get("TimeStamp"))
        if stamp is None:
            raise LoadError(f"{where} lacks CreateTime (or TimeStamp); expected epoch seconds", path=path)
        ts = _epoch(path, stamp, f"{where}.CreateTime")
        members = callback.get("MemChangeList") or []
        if isinstance(members, dict):  # JSON mirroring the XML: {"Item": [...]}
            members = members.get("Item", [])
        if isinstance(members, str):
            members = [members]
        if not members or not all(isinstance(m, str) and m.strip() for m in members):
            raise LoadError(f"{where}.MemChangeList has value {members!r}; expected a list of member userids",
                            path=path)
        group = group_id or pseudonyms.group(str(chat_id))
        if callback["UpdateDetail"] == "add_member":
            scene = _int(path, callback.get("JoinScene", ""), f"{where}.JoinScene")
            if scene not in CALLBACK_JOIN_SCENES:
                skips.add(number, f"{where}: unknown JoinScene {scene} (expected 0 or 3)")
                continue
            event, channel = "join", CALLBACK_JOIN_SCENES[scene]
        else:
            scene = _int(path, callback.get("QuitScene", ""), f"{where}.QuitScene")
            if scene not in CALLBACK_QUIT_SCENES:
                skips.add(number, f"{where}: unknown QuitScene {scene} (expected 0 or 1)")
                continue
            event, channel = CALLBACK_QUIT_SCENES[scene], None
        for userid in members:
            records.append({
                "ts": ts, "group_id": group, "member_id": pseudonyms.member(userid.strip()), "event": event,
                "ref_id": None, "amount": None, "msg_kind": "system", "channel": channel,
                **({"text": None} if keep_text else {}),
            })
    return finish(records, keep_text=keep_text, skips=skips, source_format="wecom_callback",
                  encoding=encoding, path=path)


# ---------------------------------------------------------------- statistic_group_by_day


def load_statistic(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    """``statistic_group_by_day`` response → ``daily`` (dates are Asia/Shanghai midnights)."""
    payload = read_json(path)
    check_errcode(path, payload)
    items = _require(path, payload, "items", "top level", "the list of daily items")
    if not isinstance(items, list):
        raise LoadError(f"key items is {type(items).__name__}; expected a list", path=path)
    skips = Skips(path)
    rows = []
    seen: dict[int, int] = {}
    for index, item in enumerate(items):
        where = f"items[{index}]"
        stat_time = _require(path, item, "stat_time", where, "epoch seconds of the day")
        stamp = _int(path, stat_time, f"{where}.stat_time")
        if stamp in seen:
            skips.add(index + 1, f"{where}: duplicate stat_time of items[{seen[stamp]}]")
            continue
        seen[stamp] = index
        data = _require(path, item, "data", where, "the day's figures")
        row = {"date": _epoch(path, stamp, f"{where}.stat_time").normalize()}
        for name in STAT_FIELDS:
            row[name] = _int(path, _require(path, data, name, f"{where}.data", "a non-negative integer"),
                             f"{where}.data.{name}")
        for name in STAT_OPTIONAL:
            row[name] = _int(path, data[name], f"{where}.data.{name}") if name in data else 0
        rows.append(row)
    daily = pd.DataFrame(rows, columns=DAILY_COLUMNS)
    if not daily.empty:
        daily = daily.sort_values("date").reset_index(drop=True)
        daily[STAT_FIELDS + STAT_OPTIONAL] = daily[STAT_FIELDS + STAT_OPTIONAL].astype("int64")
    else:
        daily["date"] = pd.to_datetime(daily["date"]).dt.tz_localize(schema.TZ)
    return finish([], keep_text=keep_text, skips=skips, source_format="wecom_statistic",
                  encoding="utf-8", path=path, daily=daily)
