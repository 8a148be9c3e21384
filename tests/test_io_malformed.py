"""Malformed inputs: a clear LoadError naming file, line or key, the value and the expectation."""

from __future__ import annotations

import pytest

from simlib.io import LoadError, load

KEY = "test-key-0123456789abcdef"
V1 = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
V1_ROW = '1,7,1,0,0,1709269200,3,大家好,2024-03-01 13:00:00,,李浩然,wxid_lhr001\n'
V2 = "消息ID,类型,发送人,时间,内容,备注,昵称,更多信息\n"
PY = "id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\n"
ORDERS = "member_id,time,amount\n"
GROUPCHAT = ('{"errcode":0,"errmsg":"ok","group_chat":{"chat_id":"wr1","member_list":['
             '{"userid":"wm1","type":2,"join_time":%s,"join_scene":%s}]}}')
STAT = '{"errcode":0,"errmsg":"ok","items":[{"stat_time":1709222400,"data":%s}]}'
STAT_DATA = ('{"new_chat_cnt":1,"chat_total":1,"chat_has_msg":1,"new_member_cnt":2,"member_total":2,'
             '"member_has_msg":1,"msg_total":%s}')
CALLBACK = ('<xml><CreateTime>1709280000</CreateTime><Event><![CDATA[change_external_chat]]></Event>'
            '<ChatId>wr1</ChatId><ChangeType>update</ChangeType><UpdateDetail>add_member</UpdateDetail>'
            '<JoinScene>%s</JoinScene><MemChangeList><Item>wm1</Item></MemChangeList></xml>')

# (case id, file name, content (str → UTF-8, bytes as is), format or None, expected message fragments)
CASES = [
    ("empty file", "a.csv", "", None, ["a.csv", "file is empty"]),
    ("only whitespace and BOM", "a.csv", b"\xef\xbb\xbf \n\n", None, ["file is empty"]),
    ("unknown header", "a.csv", "foo,bar\n1,2\n", None, ["line 1", "cannot tell the format", "'foo,bar'"]),
    ("v1 missing column", "a.csv", V1.replace(",Sender", "") + V1_ROW[:-13] + "\n", "wechatmsg_v1",
     ["line 1", "lacks columns ['Sender']"]),
    ("v1 bad CreateTime", "a.csv", V1 + V1_ROW.replace("1709269200", "yesterday"), None,
     ["line 2", "'CreateTime'", "'yesterday'", "epoch seconds"]),
    ("v1 CreateTime in milliseconds", "a.csv", V1 + V1_ROW.replace("1709269200", "1709269200000"), None,
     ["line 2", "'1709269200000'", "between 2000 and 2100"]),
    ("v1 non-integer Type", "a.csv", V1 + V1_ROW.replace(",1,0,0,", ",text,0,0,"), None,
     ["line 2", "'Type'", "'text'", "an integer"]),
    ("v1 bad IsSender", "a.csv", V1 + V1_ROW.replace(",1,0,0,", ",1,0,yes,"), None,
     ["line 2", "'IsSender'", "'yes'", "0 or 1"]),
    ("v1 truncated mid-row", "a.csv", V1 + V1_ROW + V1_ROW[:30], None,
     ["line 3", "record has 9 fields; expected 12", "truncated"]),
    ("v1 truncated inside quotes", "a.csv", V1 + V1_ROW + '2,7,1,0,0,1709269200,3,"未写完', None,
     ["line 3", "unclosed quote"]),
    ("v1 extra field mid-file", "a.csv", V1 + V1_ROW.replace("大家好", "大家,好") + V1_ROW, None,
     ["line 2", "record has 13 fields; expected 12"]),
    ("mixed encodings", "a.csv",
     (V1 + V1_ROW).encode("utf-8") + V1_ROW.replace("李浩然", "王五").encode("gbk"),
     "wechatmsg_v1", ["mixed encodings", "line 2 is UTF-8", "line 3"]),
    ("not text at all", "a.csv", (V1).encode() + b"\x81\x30\xff\xfe\x00\n", "wechatmsg_v1",
     ["line 2", "neither UTF-8 nor GBK"]),
    ("v2 bad time", "b.csv", V2 + "1,文本,wxid_a,03/01/2024,你好,,阿杰,\n", None,
     ["b.csv, line 2", "'时间'", "'03/01/2024'", "2024-03-01 20:15:00"]),
    ("pywxdump missing room", "c.csv", PY + "1,11,文本,0,wxid_a,,你好,,2024-03-01 10:00:00\n", None,
     ["line 2", "'room_name'", "chat room id"]),
    ("orders negative amount", "o.csv", ORDERS + "wxid_a,2024-03-01 10:00:00,-5\n", None,
     ["o.csv, line 2", "'amount'", "'-5'", "non-negative"]),
    ("orders non-numeric amount", "o.csv", ORDERS + "wxid_a,2024-03-01 10:00:00,free\n", None,
     ["line 2", "'amount'", "'free'", "a number of yuan"]),
    ("orders bad date", "o.csv", ORDERS + "wxid_a,2024-02-30 10:00:00,5\n", None,
     ["line 2", "'time'", "'2024-02-30 10:00:00'"]),
    ("orders missing amount column", "o.csv", "member_id,time\nwxid_a,2024-03-01 10:00:00\n", "orders",
     ["line 1", "amount (or paid_amount", "found ['member_id', 'time']"]),
    ("orders empty buyer", "o.csv", ORDERS + ",2024-03-01 10:00:00,5\n", None,
     ["line 2", "'member_id'", "buyer"]),
    ("non-JSON with json content type", "g.json", "{not json", "wecom_groupchat_get",
     ["g.json, line 1", "not valid JSON"]),
    ("JSON cut short", "g.json", (GROUPCHAT % (1572505491, 1))[:80], None,
     ["line 1", "not valid JSON", "truncated"]),
    ("errcode not zero", "g.json", '{"errcode": 40003, "errmsg": "invalid external_userid"}',
     "wecom_groupchat_get", ["errcode is 40003", "invalid external_userid", "expected 0"]),
    ("statistic errcode", "s.json", '{"errcode": 84061, "errmsg": "not exist relationship"}', None,
     ["errcode is 84061"]),
    ("groupchat join_time text", "g.json", GROUPCHAT % ('"yesterday"', 1), None,
     ["group_chat.member_list[0].join_time", "'yesterday'", "epoch seconds"]),
    ("groupchat join_scene text", "g.json", GROUPCHAT % (1572505491, '"qr"'), None,
     ["group_chat.member_list[0].join_scene", "'qr'", "an integer"]),
    ("groupchat missing member_list", "g.json", '{"errcode":0,"group_chat":{"chat_id":"wr1"}}', None,
     ["group_chat.member_list is missing"]),
    ("JSON of unknown shape", "x.json", '{"hello": 1}', None, ["JSON of unknown shape"]),
    ("statistic negative count", "s.json", STAT % (STAT_DATA % -3), None,
     ["items[0].data.msg_total", "-3", ">= 0"]),
    ("statistic missing field", "s.json", STAT % '{"chat_total": 1}', None,
     ["items[0].data.new_chat_cnt is missing"]),
    ("callback XML cut short", "cb.xml", (CALLBACK % 0)[:150], None,
     ["line 1", "not well-formed XML", "truncated"]),
    ("callback JoinScene text", "cb.xml", CALLBACK % "abc", None,
     ["callback 1.JoinScene", "'abc'", "an integer"]),
    ("callback empty member list", "cb.json",
     '[{"Event":"change_external_chat","CreateTime":1709280000,"ChatId":"wr1","ChangeType":"update",'
     '"UpdateDetail":"add_member","JoinScene":0,"MemChangeList":[]}]', None,
     ["callback 1.MemChangeList", "list of member userids"]),
]


@pytest.mark.parametrize(
    ("name", "content", "fmt", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_input_gives_clear_error(tmp_path, name, content, fmt, fragments):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(LoadError) as caught:
        load(path, fmt, key=KEY)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert isinstance(caught.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match="file not found"):
        load(tmp_path / "absent.csv", key=KEY)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (V1 + V1_ROW + V1_ROW, "duplicate of line 2"),
        (V1 + V1_ROW.replace(",1,0,0,", ",49,99,0,"), "unknown message type Type=49 SubType=99"),
        (V1 + '2,7,10000,0,0,1709269200,4,"以下为新消息",2024-03-01 13:00:00,,,\n',
         "system line that is not a join, exit, removal, recall or pat"),
    ],
    ids=["duplicate row", "unknown type code", "unrecognised system line"],
)
def test_counted_skips(tmp_path, content, reason):
    path = tmp_path / "skips.csv"
    path.write_text(content, encoding="utf-8")
    log = load(path, key=KEY)
    assert log.skipped["reason"].tolist()[-1] == reason
    assert log.skipped["file"].iloc[-1] == str(path)
