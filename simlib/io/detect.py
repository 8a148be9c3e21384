"""Recognize which real export a file is, from its CSV header or JSON/XML shape."""

from __future__ import annotations

import csv
import io

from simlib.io.common import UTF8_BOM, LoadError, decode, read_bytes
from simlib.io.orders import ALIASES, REQUIRED
from simlib.io.wechat import PYWXDUMP_COLUMNS, V1_COLUMNS, V2_COLUMNS

FORMATS = {
    "wechatmsg_v1": "WeChatMsg/MemoTrace CSV v1 (localId,TalkerId,Type,SubType,IsSender,CreateTime,…)",
    "wechatmsg_v2": "WeChatMsg/MemoTrace CSV v2 (消息ID,类型,发送人,时间,内容,备注,昵称,更多信息)",
    "pywxdump": "PyWxDump CSV (id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime)",
    "wecom_groupchat_get": "WeCom externalcontact/groupchat/get JSON",
    "wecom_callback": "WeCom change_external_chat callback events (XML or JSON)",
    "wecom_statistic": "WeCom externalcontact/groupchat/statistic_group_by_day JSON",
    "orders": "orders CSV (member_id,time,amount[,order_id,group_id])",
}


def detect_format(path) -> str:
    """The format name of ``path`` (a key of FORMATS); LoadError if it is none of them."""
    data = read_bytes(path)
    try:
        # Cut the sample at a line end so a multi-byte character is never split.
        text, _ = decode(path, data if len(data) <= 65536 else data[:65536].rsplit(b"\n", 1)[0])
    except LoadError:
        # Undecodable or mixed: detect on what is readable; the loader reports the problem.
        text = data[:65536].removeprefix(UTF8_BOM).decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        # Decide on keys found in the text so a truncated file still gets its own loader
        # (which then reports where it was cut).
        if '"change_external_chat"' in text or '"MemChangeList"' in text:
            return "wecom_callback"
        if '"group_chat"' in text:
            return "wecom_groupchat_get"
        if '"items"' in text or '"stat_time"' in text:
            return "wecom_statistic"
        if '"errcode"' in text:
            # An error response carries no shape of its own; let a loader report the errcode.
            return "wecom_statistic" if '"group_chat"' not in text else "wecom_groupchat_get"
        raise LoadError(
            "JSON of unknown shape; expected a WeCom groupchat/get or statistic_group_by_day response "
            "or change_external_chat callbacks",
            path=path,
        )
    if stripped.startswith("<"):
        return "wecom_callback"
    first_line = text.splitlines()[0] if text.splitlines() else ""
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(first_line)))]
    except (StopIteration, csv.Error):
        header = []
    for name, columns in (("wechatmsg_v1", V1_COLUMNS), ("wechatmsg_v2", V2_COLUMNS),
                          ("pywxdump", PYWXDUMP_COLUMNS)):
        if set(columns) <= set(header):
            return name
    if all(any(a in header for a in ALIASES[n]) for n in REQUIRED):
        return "orders"
    shown = first_line[:100] + ("…" if len(first_line) > 100 else "")
    raise LoadError(
        f"cannot tell the format from the first line {shown!r}; expected one of: "
        + "; ".join(FORMATS.values())
        + " — or pass format= by name",
        path=path,
        line=1,
    )
