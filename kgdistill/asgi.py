"""ASGI plumbing of the HTTP service (:mod:`kgdistill.service`): a body-size limit, a
fast lane for ``POST /ask``, and JSON writing. Written against ASGI directly:
Starlette's ``@app.middleware("http")`` wraps every request in extra tasks and
streams, a measurable share of a batched question's cost."""
from __future__ import annotations

import json
import logging
from typing import Any, Optional

logger = logging.getLogger("kgdistill.service")


async def read_body(receive, limit: int) -> list[dict] | None:
    """The request's body messages, read until the last one or until more than
    ``limit`` bytes have come; ``None`` if the client disconnected."""
    messages, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        messages.append(message)
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > limit:
            return messages


def replaying(messages: list[dict], receive):
    """A ``receive`` that gives ``messages`` (already read) again, then the rest."""
    pending = iter(messages)

    async def replay():
        return next(pending, None) or await receive()

    return replay


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes (413) and a
    malformed Content-Length (400) before the application reads them; a body sent
    without a length (chunked) is read up to the limit and handed on."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, int(limit)

    async def _refuse(self, scope, receive, send, status: int, message: str) -> None:
        from starlette.responses import JSONResponse

        await JSONResponse(status_code=status, content={"error": message, "detail": None})(scope, receive, send)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not (length.isascii() and length.isdigit()):  # "²".isdigit() is true
                await self._refuse(scope, receive, send, 400, "bad Content-Length")
            elif int(length) > self.limit:
                await self._refuse(scope, receive, send, 413,
                                   f"request body of {int(length):,} bytes; the limit is {self.limit:,}")
            else:
                await self.app(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages = await read_body(receive, self.limit)
        if messages is None:  # the client went away
            return
        if sum(len(m.get("body", b"")) for m in messages) > self.limit:
            await self._refuse(scope, receive, send, 413, f"request body over the limit of {self.limit:,} bytes")
            return
        await self.app(scope, replaying(messages, receive), send)


def is_json(content_type: Optional[str], suffixed: bool = False) -> bool:
    """A JSON content type (FastAPI refuses a body without one: ``strict_content_type``);
    with ``suffixed``, also ``application/*+json`` (which FastAPI reads as JSON too)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (suffixed and media.startswith("application/") and media.endswith("+json"))


class AskLane:
    """ASGI middleware answering ``POST /ask`` straight from ASGI when its body is one
    the route would accept: a JSON object that the request model validates (the same
    model, validated the same way, as FastAPI validates it). Every other request, and
    every body the model refuses, goes on to the application unchanged, which answers it
    (or refuses it with its messages) exactly as before. The answer itself
    (``answer``: request -> ``(status, body)``) is the one the route gives.

    Why: on 2 cores under 32 clients, FastAPI's per-request work (routing, dependency
    solving, the request object, exception layers) was about 0.4 ms of a request's
    0.57 ms of HTTP work, and the model process waited while the HTTP process turned
    each batch's 32 answers and next 32 questions around (benchmarks/RESULTS.md)."""

    def __init__(self, app, model, answer, limit: int) -> None:
        self.app, self.model, self.answer, self.limit = app, model, answer, int(limit)
        self.answered = 0  # requests answered here (the rest went on to the application)

    def _takes(self, scope) -> bool:
        """Whether the request is one the lane may answer, from its headers alone."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # served under a prefix (uvicorn --root-path)
            path = path[len(root):]
        if path != "/ask":
            return False
        length = content_type = None
        for k, v in scope["headers"]:
            if k == b"content-length" or k == b"content-type":
                if (length if k == b"content-length" else content_type) is not None:
                    return False  # a repeated header: the application decides what it means
                if k == b"content-length":
                    length = v.decode("latin-1")
                else:
                    content_type = v.decode("latin-1")
        return (length is not None and length.isascii() and length.isdigit() and 0 < int(length) <= self.limit
                and is_json(content_type))

    async def __call__(self, scope, receive, send) -> None:
        if not self._takes(scope):
            await self.app(scope, receive, send)  # refused or answered there, as before
            return
        messages = await read_body(receive, self.limit)
        if messages is None:  # the client went away
            return
        size = sum(len(m.get("body", b"")) for m in messages)
        req = None
        if size <= self.limit and not messages[-1].get("more_body", False):
            try:
                data = json.loads(b"".join(m.get("body", b"") for m in messages))
                if isinstance(data, dict):
                    req = self.model.model_validate(data)
            except (ValueError, RecursionError):  # bad JSON (or too deep), a pydantic ValidationError
                req = None
        if req is None:  # the application answers it, reading the same messages
            await self.app(scope, replaying(messages, receive), send)
            return
        self.answered += 1
        try:
            status, payload = await self.answer(req)
            out = _json_bytes(payload)
        except Exception as exc:  # noqa: BLE001 - as the application's handler: never a traceback
            logger.exception("request failed")
            status, out = 500, _json_bytes({"error": f"internal error: {type(exc).__name__}", "detail": None})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(out)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})


def _finite(payload: Any) -> bool:
    """Whether every float in a JSON-like payload (dicts, lists, tuples, their
    subclasses) is finite."""
    stack = [payload]
    while stack:
        node = stack.pop()
        for v in node.values() if isinstance(node, dict) else node:
            if type(v) is float:
                if v - v != 0.0:  # NaN or an infinity
                    return False
            elif isinstance(v, (dict, list, tuple)):
                stack.append(v)
    return True


try:
    import orjson
except ImportError:  # the 'serve' extra installs it
    orjson = None


def _json_bytes(payload: Any) -> bytes:
    """The payload as JSON, with orjson where installed (an answer in about 25 us
    with the check below, against 80 us with the standard library, whose C encoder
    spends most of it writing floats). Like Starlette's ``JSONResponse`` (the
    standard library otherwise), a NaN or infinity is refused with ``ValueError``
    (orjson alone would write ``null``): a 500, never a silent wrong number. What
    orjson does not write (``numpy.float64``, integers over 64 bits) the standard
    library writes, as the route would."""
    if orjson is not None and _finite(payload):
        try:
            return orjson.dumps(payload)
        except TypeError:  # orjson.JSONEncodeError: a type it does not write
            pass
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")
