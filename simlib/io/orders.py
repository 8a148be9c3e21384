"""Orders CSV → ``purchase`` events.

Required columns (first matching alias wins):

* ``member_id`` — aliases ``buyer_id``, ``user_id``, ``userid``, ``wxid``, ``customer_id``
* ``time`` — aliases ``order_time``, ``paid_time``, ``pay_time``, ``created_at``, ``ts``
  ('YYYY-MM-DD HH:MM:SS' in Asia/Shanghai, or epoch seconds)
* ``amount`` — aliases ``paid_amount``, ``pay_amount``, ``order_amount``, ``price``
  (yuan, a non-negative number; a leading ¥ and thousands commas are accepted)

Optional: ``order_id`` (duplicated ids are dropped and counted; pseudonymized into
``ref_id`` because order numbers can be traced to a buyer) and ``group_id`` (the group's
raw id, pseudonymized the same way as chat room / WeCom chat ids so orders link to chats).
Use the same WeChat/WeCom ids as in the chat exports so purchases link to their members.
"""

from __future__ import annotations

import math

from simlib.io.common import (
    LoadError,
    Skips,
    bad_value,
    csv_records,
    decode,
    finish,
    parse_local_time,
    read_bytes,
)
from simlib.io.pseudonym import Pseudonymizer

ALIASES = {
    "member_id": ["member_id", "buyer_id", "user_id", "userid", "wxid", "customer_id"],
    "time": ["time", "order_time", "paid_time", "pay_time", "created_at", "ts"],
    "amount": ["amount", "paid_amount", "pay_amount", "order_amount", "price"],
    "order_id": ["order_id", "order_no", "orderid"],
    "group_id": ["group_id", "chat_id", "room_name"],
}
REQUIRED = ["member_id", "time", "amount"]


def _header(path, text: str) -> list[str]:
    first = text.splitlines()[0] if text.strip() else ""
    return [h.strip().strip('"') for h in first.split(",")]


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
    if not math.isfinite(amount) or amount < 0:
        raise bad_value(
            path, line, column, value, "a non-negative amount of yuan (refunds belong in a separate file)"
        )
    return amount


def load_orders(path, pseudonyms: Pseudonymizer, *, keep_text=False, group_id=None):
    text, encoding = decode(path, read_bytes(path))
    columns = resolve_columns(path, _header(path, text))
    skips = Skips(path)
    records = []
    seen_rows: dict[tuple, int] = {}
    seen_orders: dict[str, int] = {}
    for line, row in csv_records(path, text, [columns[n] for n in REQUIRED]):
        key = tuple(row.values())
        if key in seen_rows:
            skips.add(line, f"duplicate of line {seen_rows[key]}")
            continue
        seen_rows[key] = line
        order = row.get(columns.get("order_id", ""), "").strip() if "order_id" in columns else ""
        if order:
            if order in seen_orders:
                skips.add(line, f"duplicate order_id of line {seen_orders[order]}")
                continue
            seen_orders[order] = line
        member = row[columns["member_id"]].strip()
        if not member:
            raise bad_value(path, line, columns["member_id"], member, "the buyer's WeChat/WeCom id")
        ts = parse_local_time(path, line, columns["time"], row[columns["time"]])
        amount = parse_amount(path, line, columns["amount"], row[columns["amount"]])
        raw_group = row.get(columns["group_id"], "").strip() if "group_id" in columns else ""
        group = group_id or (pseudonyms.group(raw_group) if raw_group else None)
        records.append({
            "ts": ts, "group_id": group, "member_id": pseudonyms.member(member), "event": "purchase",
            "ref_id": pseudonyms.order(order) if order else None, "amount": amount, "msg_kind": None,
            "channel": None, **({"text": None} if keep_text else {}),
        })
    log = finish(
        records, keep_text=keep_text, skips=skips, source_format="orders", encoding=encoding, path=path
    )
    # Buyers are not necessarily group members: orders add no rows to the members table.
    log.members = log.members.iloc[0:0]
    return log
