"""Light fuzzing of every loader: the fixtures with cells, JSON values or bytes replaced by awkward
ones either load or fail with a LoadError that names the file — never another exception.

A seeded generator (no extra dependency), so every run checks the same cases. Paths it found,
now covered by tests/test_io_malformed.py: an infinite or overflowing epoch (``1e400``), WeCom
counts beyond 64 bits, non-ASCII digits (``²``, which ``str.isdigit`` accepts and ``int`` does
not), integers past Python's 4,300-digit conversion limit, a member list that is a number, and
ids given as numbers.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import re
from pathlib import Path

import pytest

from simlib.io import LoadError, load

FIXTURES = Path(__file__).parent / "fixtures" / "io"
KEY = "test-key-0123456789abcdef"
CASES_PER_FILE = 50
TEMPLATE = ('<sysmsg type="sysmsgtemplate"><sysmsgtemplate><content_template><template>'
            '"$a$"邀请"$b$"加入了群聊</template></content_template></sysmsgtemplate></sysmsg>')
CELLS = ["", " ", "\u3000", "1e400", "-1e400", "99999999999999999999", "nan", "inf", "-1", "0", "1.5", "٣",
         "²", "０１", '"', "🙂" * 50, "<xml>", "1709269200.7", "2024-13-45 25:61:00", "0001-01-01 00:00:00",
         "9999-12-31 23:59:59", "None", "[]", "{}", "10000", "10002", "1", "我", "未知", "1" * 5000,
         TEMPLATE, '<sysmsg type="sysmsgtemplate"><broken', '"x"邀请"y"加入了群聊', '你将"x"移出了群聊']
VALUES = [None, True, [], {}, "", "x", 1e308, -1, 0, 99999999999999999999, "1e400", float("inf"),
          float("nan"), [1, 2], {"userid": 1}, {"userid": []}, "1709280000", 1709280000.5, "٣",
          {"a": {"b": 1}}, "1" * 5000]
INSERTS = [b'"', b",", b"\n", b"\r", b"\x00", b"{", b"]", b"<", "你".encode(), b"\xff\xfe"]


def loads_or_fails_cleanly(path: Path, fmt: str | None) -> None:
    try:
        load(path, fmt, key=KEY)
    except LoadError as error:
        assert str(error).startswith(str(path)), str(error)


def csv_cases(name: str, rng: random.Random):
    rows = list(csv.reader(io.StringIO((FIXTURES / name).read_text(encoding="utf-8-sig"), newline="")))
    for _ in range(CASES_PER_FILE):
        mutated = copy.deepcopy(rows)
        for _ in range(rng.randint(1, 3)):
            row = mutated[rng.randrange(1, len(mutated))]
            row[rng.randrange(len(row))] = rng.choice(CELLS)
        buffer = io.StringIO()
        csv.writer(buffer).writerows(mutated)
        yield buffer.getvalue().encode("utf-8")


def _replace_somewhere(node, rng: random.Random, depth: int = 0) -> None:
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if not keys:
        return
    key = rng.choice(keys)
    if depth > 4 or rng.random() < 0.5 or not isinstance(node[key], (dict, list)):
        node[key] = copy.deepcopy(rng.choice(VALUES))
    else:
        _replace_somewhere(node[key], rng, depth + 1)


def json_cases(name: str, rng: random.Random):
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    for _ in range(CASES_PER_FILE):
        mutated = copy.deepcopy(document)
        for _ in range(rng.randint(1, 3)):
            _replace_somewhere(mutated, rng)
        yield json.dumps(mutated, ensure_ascii=False).encode("utf-8")


def xml_cases(name: str, rng: random.Random):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    values = [v for v in re.findall(r">([^<>]+)<", text) if v.strip()]
    for _ in range(CASES_PER_FILE):
        mutated = text
        for _ in range(rng.randint(1, 3)):
            new = rng.choice(CELLS).replace("&", "&amp;").replace("<", "&lt;")
            mutated = mutated.replace(">" + rng.choice(values) + "<", ">" + new + "<", 1)
        yield mutated.encode("utf-8")


def byte_cases(name: str, rng: random.Random):
    data = (FIXTURES / name).read_bytes()
    for _ in range(CASES_PER_FILE):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at, kind = rng.randrange(len(mutated)), rng.random()
            if kind < 0.4:
                mutated[at] = rng.randrange(256)
            elif kind < 0.7:
                del mutated[at:at + rng.randint(1, 40)]
            else:
                mutated[at:at] = rng.choice(INSERTS)
        yield bytes(mutated)


FILES = {
    "wechatmsg_v1.csv": ("wechatmsg_v1", csv_cases),
    "wechatmsg_v2_宝妈群.csv": ("wechatmsg_v2", csv_cases),
    "pywxdump.csv": ("pywxdump", csv_cases),
    "orders.csv": ("orders", csv_cases),
    "groupchat_get.json": ("wecom_groupchat_get", json_cases),
    "statistic_group_by_day.json": ("wecom_statistic", json_cases),
    "callbacks.json": ("wecom_callback", json_cases),
    "callbacks.xml": ("wecom_callback", xml_cases),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_awkward_values_load_or_fail_with_a_load_error(tmp_path, name):
    fmt, cases = FILES[name]
    path = tmp_path / f"case{Path(name).suffix}"
    for content in cases(name, random.Random(name)):
        path.write_bytes(content)
        loads_or_fails_cleanly(path, fmt)


@pytest.mark.parametrize("name", sorted(FILES))
def test_corrupt_bytes_are_detected_or_fail_with_a_load_error(tmp_path, name):
    path = tmp_path / f"case{Path(name).suffix}"
    for content in byte_cases(name, random.Random("bytes" + name)):
        path.write_bytes(content)
        loads_or_fails_cleanly(path, None)  # format detection included
