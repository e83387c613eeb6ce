"""The MCP server, driven by the mcp package's own client over stdio (a real
``kgdistill mcp`` subprocess)."""
import asyncio
import os
import sys

import pytest

pytest.importorskip("mcp")

from kgdistill.mcp_server import _tool_error  # noqa: E402  (after the skip: it needs mcp)

TOOL_ERROR = _tool_error()  # what an MCP client sees (mcp 2 also raises a subclass of it for a crash, whose
# message withholds the original text: the match= of each check then fails)


def _call(run, calls):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "kgdistill", "mcp", "--run", str(run)],
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})

    async def go():
        async with Client(params, read_timeout_seconds=120) as client:
            tools = await client.list_tools()
            results = [await client.call_tool(name, args) for name, args in calls]
            return tools, results

    return asyncio.run(asyncio.wait_for(go(), 300))


def test_mcp_tools_answer_verify_and_list_paths(world_run):
    tools, (ask, ask_topic, bad_topic, verify_bad, verify_rel, bad_path, paths, misspelt) = _call(world_run, [
        ("ask", {"question": "Where was Ada Lovelace born?"}),
        ("ask", {"question": "Where was X born?", "topic": "Ada Lovelace", "max_answers": 1}),
        ("ask", {"question": "Where was X born?", "topic": "Ada Lovelase"}),
        ("verify", {"path": "Ada Lovelace -> born_in -> Paris"}),
        ("verify", {"path": "born_in -> city_of", "topic": "Ada Lovelace"}),
        ("verify", {"path": "->->"}),
        ("paths", {"entity": "Ada Lovelace", "max_hops": 1}),
        ("ask", {"question": "Where was X born?", "topc": "Ada Lovelace"}),
    ])
    assert {t.name for t in tools.tools} == {"ask", "verify", "paths"}
    assert not ask.is_error
    a = ask.structured_content
    assert a["linking"]["entity"] == "Ada Lovelace"
    assert a["answers"][0]["entity"] == "London" and a["answers"][0]["verified"] is True
    assert a["answers"][0]["path"] == "Ada Lovelace -> born_in -> London"
    assert len(ask_topic.structured_content["answers"]) == 1
    assert bad_topic.is_error and "did you mean 'Ada Lovelace'" in bad_topic.content[0].text
    v = verify_bad.structured_content
    assert v["valid"] is False and v["failing_hop"] == 0 and v["reason"] == "no_such_edge"
    assert verify_rel.structured_content["valid"] is True
    assert verify_rel.structured_content["endpoints"] == ["United Kingdom"]
    assert bad_path.is_error and "expected 'entity -> relation -> entity" in bad_path.content[0].text
    assert {p["path"] for p in paths.structured_content["paths"]} >= {"born_in", "died_in"}
    assert misspelt.is_error and "ask has no argument 'topc'" in misspelt.content[0].text


def test_tool_numbers_are_strict_and_a_blank_topic_is_no_topic(world_run):
    """`true` and 2.0 were read as 1 and 2; an empty topic was ignored and a blank one
    refused (audit of 2026-12-07)."""
    from kgdistill.mcp_server import build_server
    from kgdistill.reasoner import Reasoner

    server = build_server(Reasoner.from_run(world_run))

    def call(name, args):
        return asyncio.run(server.call_tool(name, args))

    for bad, said in ((True, "boolean true"), (2.0, "number 2.0")):
        with pytest.raises(TOOL_ERROR, match=f"max_answers must be a whole number, got {said}"):
            call("ask", {"question": "Where was X born?", "topic": "Ada Lovelace", "max_answers": bad})
        with pytest.raises(TOOL_ERROR, match=f"max_hops must be a whole number, got {said}"):
            call("paths", {"entity": "Ada Lovelace", "max_hops": bad})
    for blank in ("", "   "):
        out = call("ask", {"question": "Where was Ada Lovelace born?", "topic": blank})
        assert "London" in str(out)  # linked from the question, as without a topic


def test_unknown_missing_and_mistyped_tool_arguments_are_refused(world_run):
    """A misspelt argument was ignored (`topc` meant no topic, answered from the linked
    entity); a missing or mistyped one was refused in pydantic's words (audit of
    2026-12-07)."""
    from kgdistill.mcp_server import build_server
    from kgdistill.reasoner import Reasoner

    server = build_server(Reasoner.from_run(world_run))

    def call(name, args):
        return asyncio.run(server.call_tool(name, args))

    with pytest.raises(TOOL_ERROR, match="ask has no argument 'topc'; its arguments are question, topic, max_answers"):
        call("ask", {"question": "Where was X born?", "topc": "Ada Lovelace"})
    with pytest.raises(TOOL_ERROR, match="verify needs 'path'"):
        call("verify", {"topic": "Ada Lovelace"})
    with pytest.raises(TOOL_ERROR, match="topic must be a string or null, got number 5"):
        call("ask", {"question": "Where was X born?", "topic": 5})
    with pytest.raises(TOOL_ERROR, match=r"entity must be a string, got list \["):
        call("paths", {"entity": ["Ada Lovelace"]})
    assert "London" in str(call("ask", {"question": "Where was X born?", "topic": "Ada Lovelace", "max_answers": 2}))
    assert "born_in" in str(call("paths", {"entity": "Ada Lovelace", "max_hops": 1, "limit": 5}))


def test_argument_check_leaves_unread_schema_forms_to_the_sdk():
    """Review of the check above: a schema without a type ($ref, Any) refused every
    value, and a list of types crashed it."""
    from kgdistill.mcp_server import check_arguments

    schema = {"properties": {"any": {}, "ref": {"$ref": "#/$defs/Colour"}, "both": {"type": ["string", "null"]},
                             "names": {"anyOf": [{"type": "array"}, {"type": "null"}]},
                             "flag": {"type": "boolean"}, "n": {"type": "integer"}}, "required": []}
    check_arguments("t", {"any": 1, "ref": "red", "both": None, "names": '["a"]', "flag": False, "n": 3}, schema)
    with pytest.raises(ValueError, match="both must be a string or null, got number 1"):
        check_arguments("t", {"both": 1}, schema)
    with pytest.raises(ValueError, match="flag must be true or false, got number 1"):
        check_arguments("t", {"flag": 1}, schema)
    with pytest.raises(ValueError, match="names must be a list or null, got number 7"):
        check_arguments("t", {"names": 7}, schema)
    with pytest.raises(ValueError, match="n must be a whole number, got string "):
        check_arguments("t", {"n": "3"}, schema)
    with pytest.raises(ValueError, match="t has no argument 'x'; it takes no arguments"):
        check_arguments("t", {"x": 1}, {"properties": {}})
