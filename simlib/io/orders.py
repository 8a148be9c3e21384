"""Orders CSV → ``purchase`` events.

Required columns (first matching alias wins):

* ``member_id`` — aliases ``buyer_id``, ``user_id``, ``userid``, ``wxid``, ``customer_id``
* ``time`` — aliases ``order_time``, ``paid_time``, ``pay_time``, ``created_at``, ``ts``
  ('YYYY-MM-DD HH:MM:SS' in Asia/Shanghai, or epoch seconds)
* ``amount`` — aliases ``paid_amount``, ``pay_amount``, ``order_amount``, ``price``
  (yuan, a non-negative number; a leading ¥ and thousands commas are accepted)

Optional: ``order_id`` (duplicated ids are dropped and counted; pseudonymized into
``ref_id`` because order numbers can be traced to a buyer) and ``group_id`` (aliases
``chat_id``, ``room_name``: the room's id, e.g. ``123@chatroom``, pseudonymized by the same rule
as every chat format — :class:`simlib.io.common.GroupIds` — so orders link to their chat; an
empty cell leaves the group open, and :func:`simlib.io.load_many` fills it when the other files
hold one group). Use the same WeChat/WeCom ids as in the chat exports so purchases link to
their members.
"""

from __future__ import annotations

import math

from simlib.io.common import FirstSeen, GroupIds, LoadError, bad_value, finish, open_csv, parse_local_time
from simlib.io.pseudonym import Pseudonymizer

ALIASES = {
    "member_id": ["member_id", "buyer_id", "user_id", "userid", "wxid", "customer_id"],
    "time": ["time", "order_time", "paid_time", "pay_time", "created_at", "ts"],
    "amount": ["amount", "paid_amount", "pay_amount", "order_amount", "price"],
    "order_id": ["order_id", "order_no", "orderid"],
    "group_id": ["group_id", "chat_id", "room_name"],
}
REQUIRED = ["member_id", "time", "amount"]


def resolve_columns(path, header: list[str]) -> dict[str, str]:
    """Map canonical names to the file's column names; error naming the missing ones."""
    found = {}
    for name, aliases in ALIASES.items():
        match = next((a for a in aliases if a in header), None)
        if match:
            found[name] = match
    missing = [n for n in REQUIRED if n not in found]
    if missing:
        expected = "; ".join(f"{n} (or {', '.join(ALIASES[n][1:])})" for n in missing)
        raise LoadError(f"header lacks columns for {expected}; found {header}", path=path, line=1)
    return found


def parse_amount(path, line, column: str, value: str) -> float:
    text = str(value).strip().lstrip("¥￥").replace(",", "")
    try:
        amount = float(text)
    except ValueError:
        raise bad_value(path, line, column, value, "a number of yuan such as 39.90") from None
    if not math.isfinite(amount):
        raise bad_value(path, line, column, value, "a finite number of yuan such as 39.90")
    if amount < 0:
        raise bad_value(
            path, line, column, value, "a non-negative amount of yuan (refunds belong in a separate file)"
        )
    return amount


def load_orders(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None, room=None):
    export = open_csv(path)
    columns = resolve_columns(path, export.header)
    skips = export.skips
    groups = GroupIds(pseudonyms, group_id, room)
    records = []
    rows, orders = FirstSeen(), FirstSeen()
    for line, row in export.records([columns[n] for n in REQUIRED]):
        first = rows.earlier(line, tuple(row.values()))
        if first is not None:
            skips.add(line, f"duplicate of line {first}")
            continue
        order = row[columns["order_id"]].strip() if "order_id" in columns else ""
        first = orders.earlier(line, order) if order else None
        if first is not None:
            skips.add(line, f"duplicate order_id of line {first}")
            continue
        member = row[columns["member_id"]].strip()
        if not member:
            raise bad_value(path, line, columns["member_id"], member, "the buyer's WeChat/WeCom id")
        ts = parse_local_time(path, line, columns["time"], row[columns["time"]])
        amount = parse_amount(path, line, columns["amount"], row[columns["amount"]])
        raw_group = row[columns["group_id"]].strip() if "group_id" in columns else ""
        records.append({
            "ts": ts, "group_id": groups.of(raw_group), "member_id": pseudonyms.member(member),
            "event": "purchase", "ref_id": pseudonyms.order(order) if order else None, "amount": amount,
            "msg_kind": None, "channel": None, **({"text": None} if keep_text else {}),
        })
    log = finish(
        records, keep_text=keep_text, skips=skips, source_format="orders", encoding=export.encoding, path=path
    )
    # Buyers are not necessarily group members: orders add no rows to the members table.
    log.members = log.members.iloc[0:0]
    return log
