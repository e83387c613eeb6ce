"""``kgdistill mcp``: the reasoner as a Model Context Protocol server (stdio).

Three tools, so that an AI assistant can answer from the graph with verified proofs
instead of from memory:

* ``ask(question, topic?, max_answers?)``: ranked answers, each with the grounded path
  that proves it, the path's probability and the verifier's verdict; the linked topic
  and its alternatives when no topic is given.
* ``verify(path, topic?)``: a grounded path (``A -> r -> B``), or a relation path from
  ``topic``, checked hop by hop; the failing hop and why.
* ``paths(entity, max_hops?, limit?)``: the relation paths leaving an entity.

Tool errors (an unknown entity, a malformed path) come back as MCP tool errors with a
message, never as a crashed server. stdout is the protocol channel: nothing else is
printed there.
"""


import sys
from typing import Any

from pydantic import StrictInt  # true or 2.0 for a number is refused, not read as 1 or 2

from kgdistill.api import PathSyntaxError, answer_payload, paths_payload, unknown_entity, verify_payload
from kgdistill.errors import KGDistillError

MAX_TEXT = 2000


def _tool_error():
    """The exception whose message an MCP client sees (mcp 2: ToolError; mcp 1 shows any)."""
    try:
        from mcp.server.mcpserver.exceptions import ToolError
        return ToolError
    except ImportError:
        try:
            from mcp.server.fastmcp.exceptions import ToolError
            return ToolError
        except ImportError:
            return ValueError


def _server_class():
    try:  # mcp 2.x
        from mcp.server.mcpserver import MCPServer
        return MCPServer
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP
        return FastMCP


_JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "null": type(None),
               "object": dict, "array": list}


def check_arguments(tool: str, arguments: dict, schema: dict, error=ValueError) -> None:
    """Refuse, in words that name the argument, what the MCP SDK ignores (an unknown
    argument: a misspelt ``topc`` silently meant no topic) or refuses in pydantic's
    words (a missing argument, a value of the wrong JSON type), checked against the
    tool's input schema. Schema forms this does not read ($ref, no type) are left to
    the SDK, and so is a string for a list or object (the SDK parses it as JSON)."""
    from kgdistill.readers import JSON_WORDS, json_type

    props = schema.get("properties", {})
    unknown = [k for k in arguments if k not in props]
    if unknown:
        takes = f"its arguments are {', '.join(props)}" if props else "it takes no arguments"
        raise error(f"{tool} has no argument {', '.join(map(repr, unknown))}; {takes}")
    missing = [k for k in schema.get("required", []) if k not in arguments]
    if missing:
        raise error(f"{tool} needs {', '.join(map(repr, missing))}")
    for key, value in arguments.items():
        prop = props[key]
        kind = prop.get("type")
        allowed = kind if isinstance(kind, list) else [kind] if kind else [t.get("type") for t in prop.get("anyOf", [])]
        if not allowed or None in allowed or any(not isinstance(t, str) for t in allowed):
            continue
        if isinstance(value, str) and {"array", "object"} & set(allowed):
            continue
        if not any(isinstance(value, _JSON_TYPES.get(t, object))
                   and not (t in ("integer", "number") and isinstance(value, bool)) for t in allowed):
            raise error(f"{key} must be {' or '.join(JSON_WORDS.get(t, t) for t in allowed)}, "
                        f"got {json_type(value)}")


def _checked(server_class, error):
    """``server_class`` whose tool calls are checked by :func:`check_arguments` first
    (its tool manager's ``get_tool(name).parameters``, in mcp 1.x and 2.x)."""

    class CheckedServer(server_class):
        async def call_tool(self, name, arguments, *args, **kwargs):
            arguments = arguments or {}
            tool = self._tool_manager.get_tool(name)
            if tool is not None:
                check_arguments(name, arguments, tool.parameters, error)
            return await super().call_tool(name, arguments, *args, **kwargs)

    return CheckedServer


class Loader:
    """Loads the reasoner in a background thread so that the server answers the
    client's handshake at once (clients give up on a silent server after seconds);
    tool calls wait for it."""

    def __init__(self, load, timeout_s: float = 600.0) -> None:
        import threading

        self._load, self.timeout_s = load, timeout_s
        self._done = threading.Event()
        self._value = self._error = None
        threading.Thread(target=self._run, daemon=True, name="kgdistill-load").start()

    def _run(self) -> None:
        try:
            self._value = self._load()
        except BaseException as exc:  # noqa: BLE001 - reported to every tool call, and at once on stderr
            self._error = exc
            print(f"kgdistill: the run could not be loaded: {exc}", file=sys.stderr, flush=True)
        finally:
            self._done.set()

    def get(self):
        if not self._done.wait(self.timeout_s):
            raise TimeoutError(f"the model is still loading after {self.timeout_s:.0f} s")
        if self._error is not None:
            raise self._error
        return self._value


def build_server(reasoner, name: str = "kgdistill"):
    """The MCP server answering with ``reasoner`` (a Reasoner, or a :class:`Loader` of one)."""
    ToolError = _tool_error()

    def _reasoner():
        if not isinstance(reasoner, Loader):
            return reasoner
        try:
            return reasoner.get()
        except KGDistillError as exc:
            raise ToolError(f"the run could not be loaded: {exc}") from None

    def _graph():  # the graph of the (possibly still loading) reasoner
        return _reasoner().graph

    server = _checked(_server_class(), ToolError)(
        name, instructions="Answers questions over a knowledge graph with reasoning paths that are checked "
                           "hop by hop against the graph. Prefer 'ask'; use 'verify' to check a path you "
                           "were given and 'paths' to see which relations leave an entity.")

    def _check_text(value, what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ToolError(f"{what} must be a non-empty string")
        if len(value) > MAX_TEXT:
            raise ToolError(f"{what} is {len(value):,} characters; at most {MAX_TEXT:,}")
        return value.strip()

    @server.tool(structured_output=True, description="Answer a question from the knowledge graph. Returns ranked answers, each with the "
                             "grounded reasoning path that proves it (entity -> relation -> entity ...), the "
                             "path's probability and whether the path verifies in the graph. Without 'topic' the "
                             "question's topic entity is found in the text (the chosen entity and alternatives "
                             "are returned under 'linking').")
    def ask(question: str, topic: str | None = None, max_answers: StrictInt = 5) -> dict[str, Any]:
        question = _check_text(question, "question")
        if not 1 <= int(max_answers) <= 50:
            raise ToolError("max_answers must be between 1 and 50")
        topic = topic if topic is None or topic.strip() else None  # blank: none, found in the question
        try:
            if topic:
                topic = _check_text(topic, "topic")
                if _graph().entity_id(topic) is None:
                    raise unknown_entity(_graph(), topic)
            res = _reasoner().ask(question, [topic] if topic else None)
        except KGDistillError as exc:
            raise ToolError(str(exc)) from None
        return {"question": question, **answer_payload(res.to_dict(), int(max_answers))}

    @server.tool(structured_output=True, description="Check a reasoning path against the knowledge graph, hop by "
                 "hop and in the stated direction. 'path' is a grounded path 'Entity -> relation -> Entity -> ...' "
                 "(a leading '~' on a relation walks it backwards), or, with 'topic', a relation path "
                 "'relation -> relation' from that entity. Returns valid, the failing hop (0-based) and why, and "
                 "suggestions.")
    def verify(path: str, topic: str | None = None) -> dict[str, Any]:
        path = _check_text(path, "path")
        topic = _check_text(topic, "topic") if topic and topic.strip() else None  # blank: a grounded path
        try:
            return verify_payload(_graph(), path, topic, max_groundings=5, max_endpoints=50)
        except KGDistillError as exc:
            raise ToolError(f"path: {exc}" if isinstance(exc, PathSyntaxError) else str(exc)) from None

    @server.tool(structured_output=True, description="List the relation paths (up to max_hops, at most 3) that "
                 "leave an entity of the knowledge graph, with how many entities each reaches and a few of them.")
    def paths(entity: str, max_hops: StrictInt = 2, limit: StrictInt = 100) -> dict[str, Any]:
        entity = _check_text(entity, "entity")
        if not 1 <= int(max_hops) <= 3:
            raise ToolError("max_hops must be 1, 2 or 3")
        if not 1 <= int(limit) <= 1000:
            raise ToolError("limit must be between 1 and 1000")
        try:
            return paths_payload(_graph(), entity, int(max_hops), int(limit))
        except KGDistillError as exc:
            raise ToolError(str(exc)) from None

    return server


def run_stdio(server) -> None:
    """Serve over stdin/stdout until the client closes the stream."""
    server.run("stdio")
