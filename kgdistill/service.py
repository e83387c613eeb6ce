"""The HTTP service: ``kgdistill serve`` (FastAPI on uvicorn).

Endpoints (JSON; the OpenAPI description is at ``/docs`` and ``/openapi.json``):

* ``POST /ask``: ``{"question", "topic"?, "beam"?, "max_answers"?}`` -> ranked answers,
  each with the grounded path that proves it, the path's probability and the
  verifier's verdict, the decoded relation paths, and the linked entity with its
  alternatives when no topic was given.
* ``POST /verify``: ``{"path"}`` (a grounded path) or ``{"path", "topic"}`` (a relation
  path from the topic) -> the verdict with the failing hop.
* ``GET /paths?entity=...&max_hops=2&limit=200``: relation paths leaving an entity.
* ``GET /picture.svg?path=...``: the reasoning-subgraph picture of a grounded path.
* ``GET /health``; ``GET /``: the web page.

The model is loaded once. Questions from concurrent requests are answered together:
a single worker takes every request waiting in the queue (up to ``max_batch``, waiting
at most ``max_wait_ms`` after the first for as many as the last batch had: a lone
client does not wait) and runs them through the reasoner
as one batch, in a thread, so the event loop keeps accepting requests. Request bodies
over ``max_body_bytes`` are refused with 413, out-of-range fields with 422 and a
message naming the field and what was expected; an error inside the reasoner becomes
a 500 for that request only.
"""


import asyncio
import gc
import io
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional

from kgdistill.asgi import AskLane, BodyLimit, is_json
from kgdistill.api import PathSyntaxError, answer_payload, paths_payload, unknown_entity, verify_payload
from kgdistill.configs import MAX_HOPS
from kgdistill.errors import KGDistillError
from kgdistill.readers import validation_words

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
MAX_NAME_CHARS = 500
MAX_PATH_CHARS = 4000
MAX_BEAM = 20
MAX_ANSWERS = 50


@dataclass
class ServiceConfig:
    """Limits and batching of the service."""

    max_batch: int = 32
    """Most questions answered in one batch."""
    max_wait_ms: float = 5.0
    """How long the batcher waits for more requests after the first one, at most: it
    waits only until as many requests as the last batch had are there (a lone client
    is answered without waiting)."""
    max_body_bytes: int = 64 * 1024
    request_timeout_s: float = 60.0
    """A request whose answer takes longer gets 503."""
    max_paths: int = 1000
    """Most relation paths ``/paths`` returns."""


class ModelFailed(RuntimeError):
    """The model thread or process failed on a whole batch (answered with 503)."""


class _Job:
    __slots__ = ("question", "topic", "beam", "max_answers", "future")

    def __init__(self, question: str, topic: Optional[str], beam: int, max_answers: int,
                 future: asyncio.Future) -> None:
        self.question, self.topic, self.beam, self.future = question, topic, beam, future
        self.max_answers = max_answers


def answer_jobs(reasoner, jobs: list[tuple]) -> list[Any]:
    """Answer ``(question, topic or None, beam, max_answers)`` jobs together: one
    result dict (:meth:`QueryResult.to_dict`) or exception per job."""
    from kgdistill.datasets import Question

    out: list[Any] = [None] * len(jobs)
    for beam in sorted({j[2] for j in jobs}):
        given = [i for i, j in enumerate(jobs) if j[2] == beam and j[1]]
        linked = [i for i, j in enumerate(jobs) if j[2] == beam and not j[1]]
        # answers are grounded and verified only as far as the batch asks for them
        most = max(j[3] for j in jobs if j[2] == beam)
        try:
            if given:
                qs = [Question("ask", jobs[i][0], [jobs[i][1]], []) for i in given]
                for i, r in zip(given, reasoner.answer(qs, beam_size=beam, max_answers=most)):
                    out[i] = r.to_dict()
            if linked:
                rs = reasoner.ask_linked([jobs[i][0] for i in linked], beam_size=beam, max_answers=most)
                for i, r in zip(linked, rs):
                    out[i] = r.to_dict()
        except Exception as exc:  # noqa: BLE001 - reported per request
            for i in given + linked:
                if out[i] is None:
                    out[i] = exc
    return out


def prepare_linker(reasoner) -> None:
    """Build or read the entity index, and build what its first misspelt question
    would otherwise wait for (the fuzzy fallback's index: about 0.1 s on MetaQA)."""
    linker = reasoner.linker
    if hasattr(linker, "prepare"):
        linker.prepare()


def freeze_heap() -> int:
    """Put every object alive now (the model, the graph, the entity index: about
    450,000 objects for MetaQA) out of the garbage collector's reach, once the service
    has loaded them, and return how many. Without this each full collection scanned
    them all: about 170 ms during which the whole process stood still, model thread
    included, and under load that pause was the p99 latency (benchmarks/RESULTS.md).
    Objects that die later are still freed by reference counting; new cycles are
    still collected."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# ---------------------------------------------------------------------- model process
_WORKER: dict = {}


def _worker_init(spec: dict) -> None:
    """Load the run's reasoner in the model process (once)."""
    import os

    if spec.get("threads"):
        import torch

        torch.set_num_threads(int(spec["threads"]))
    from kgdistill.reasoner import Reasoner

    reasoner = Reasoner.from_run(spec["run"], spec.get("graph"), beam_size=spec["beam"],
                                 batch_size=spec["max_batch"])
    reasoner.student.for_inference(spec.get("device", "cpu"), spec.get("precision", "fp32"))
    prepare_linker(reasoner)
    _WORKER["reasoner"] = reasoner
    _WORKER["pid"] = os.getpid()
    freeze_heap()


def _worker_answer(jobs: list[tuple]) -> tuple[list[Any], float]:
    t0 = time.perf_counter()
    out = answer_jobs(_WORKER["reasoner"], jobs)
    return out, time.perf_counter() - t0


def _worker_ping() -> int:
    return _WORKER["pid"]


class MicroBatcher:
    """Collects questions from concurrent requests and answers them in batches, on one
    model thread (``reasoner`` given) or in one model process (``process`` given: the
    settings of :func:`_worker_init`). A crash of a model process fails only the batch
    in flight: the next batch starts a new one. (Throughput was about the same either
    way on 2 cores, benchmarks/RESULTS.md; the process costs a second copy of torch and
    the graph.)"""

    def __init__(self, reasoner, config: ServiceConfig, process: dict | None = None) -> None:
        self.reasoner, self.config, self.process = reasoner, config, process
        self.queue: asyncio.Queue[_Job] | None = None
        self.executor = self._new_executor()
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.questions = 0
        self.model_seconds = 0.0
        """Time spent answering in the model thread or process (for /health and the load benchmark)."""

    def _new_executor(self):
        if self.process is None:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgdistill-model")
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(self.process,))

    async def warm(self) -> None:
        """Start the model process and load the model before the first request."""
        if self.process is not None:
            await asyncio.wrap_future(self.executor.submit(_worker_ping))

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=False, cancel_futures=True)

    def submit(self, question: str, topic: Optional[str], beam: int, max_answers: int = 10) -> asyncio.Future:
        """Queue a question; the future gets its result dict (or exception). Cancelling
        the future (e.g. a timeout) drops the question if its batch has not started."""
        if self.queue is None:
            raise RuntimeError("the batcher is not running")
        fut = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Job(question, topic, beam, max_answers, fut))  # the queue is unbounded
        return fut

    async def ask(self, question: str, topic: Optional[str], beam: int, max_answers: int = 10) -> dict:
        return await self.submit(question, topic, beam, max_answers)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        expect = 1  # requests the last batch had: as many clients are probably coming back
        while True:
            jobs = [await self.queue.get()]
            deadline = loop.time() + self.config.max_wait_ms / 1000
            # wait (at most max_wait_ms) only for as many requests as the last batch had: a
            # lone client is answered at once, a crowd is gathered into one batch
            while len(jobs) < min(expect, self.config.max_batch):
                timeout = deadline - loop.time()
                try:
                    jobs.append(self.queue.get_nowait() if timeout <= 0 else
                                await asyncio.wait_for(self.queue.get(), timeout))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            while len(jobs) < self.config.max_batch and not self.queue.empty():  # and all that is waiting
                jobs.append(self.queue.get_nowait())
            expect = len(jobs)
            jobs = [j for j in jobs if not j.future.cancelled()]
            if not jobs:
                continue
            work = [(j.question, j.topic, j.beam, j.max_answers) for j in jobs]
            try:
                if self.process is None:
                    results, seconds = await loop.run_in_executor(self.executor, self._answer, work)
                else:
                    results, seconds = await asyncio.wrap_future(self.executor.submit(_worker_answer, work))
                self.model_seconds += seconds
            except Exception as exc:  # the whole batch failed (e.g. the model process died)
                logger.exception("batch of %d failed", len(jobs))
                results = [ModelFailed(f"the model failed on this batch ({type(exc).__name__}); "
                                       "a new model process is started: retry")] * len(jobs)
                if self.process is not None:
                    from concurrent.futures.process import BrokenProcessPool

                    if isinstance(exc, BrokenProcessPool):  # start a new model process
                        self.executor.shutdown(wait=False, cancel_futures=True)
                        self.executor = self._new_executor()
            self.batches += 1
            self.questions += len(jobs)
            for job, res in zip(jobs, results):
                if job.future.done():
                    continue
                if isinstance(res, BaseException):
                    job.future.set_exception(res)
                else:
                    job.future.set_result(res)

    def _answer(self, work: list[tuple]) -> tuple[list[Any], float]:
        t0 = time.perf_counter()
        out = answer_jobs(self.reasoner, work)
        return out, time.perf_counter() - t0


class GraphOnly:
    """What the HTTP layer needs of a reasoner when a model process answers the
    questions: the graph, the default beam and the student's name."""

    def __init__(self, graph, beam_size: int, student_name: str) -> None:
        self.graph, self.beam_size, self.student_name = graph, beam_size, student_name


def _web_page() -> str:
    return resources.files("kgdistill.web").joinpath("index.html").read_text(encoding="utf-8")


def create_app(reasoner, config: ServiceConfig | None = None, title: str = "kgdistill", process: dict | None = None):
    """The FastAPI application answering with ``reasoner`` (see the module docstring).

    ``process``: answer questions in a separate model process that loads the run
    itself (``{"run", "graph", "beam", "max_batch", "device", "precision", "threads"}``);
    ``reasoner`` then serves the graph endpoints only (its student is not used)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, HTTPException, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException

    config = config or ServiceConfig()
    batcher = MicroBatcher(None if process else reasoner, config, process)
    graph = reasoner.graph
    started = time.time()

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        if process is not None:
            await batcher.warm()
        else:
            try:
                prepare_linker(reasoner)
            except Exception:  # noqa: BLE001 - linking then fails per request, with its message
                logger.exception("entity index not built")
        freeze_heap()
        yield
        await batcher.stop()
        gc.unfreeze()

    app = FastAPI(title=title, lifespan=lifespan, version=_version(),
                  description="Knowledge-graph question answering with verified reasoning paths.")

    class Strict(BaseModel):  # strict: "3", true or 2.0 for a number is refused, not coerced
        model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    class AskRequest(Strict):
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="the question")
        topic: Optional[str] = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                     description="topic entity (key or label); default: found by entity linking")
        beam: int = Field(reasoner.beam_size, ge=1, le=MAX_BEAM, description="relation paths decoded")
        max_answers: int = Field(5, ge=1, le=MAX_ANSWERS, description="answers returned")

    class Answer(BaseModel):
        entity: str
        key: str
        score: float
        path: str
        path_prob: float
        verified: bool

    class DecodedPathOut(BaseModel):
        path: str
        prob: float
        valid: bool
        num_endpoints: int
        failing_hop: Optional[int]
        reason: Optional[str]

    class Candidate(BaseModel):
        label: str
        key: str
        mention: str
        start: int
        end: int
        score: float
        method: str
        alias: Optional[str]
        path_score: Optional[float]

    class Linking(BaseModel):
        entity: Optional[str]
        key: Optional[str]
        mention: Optional[str]
        span: Optional[list[int]]
        method: Optional[str]
        score: Optional[float]
        path_score: Optional[float]
        alternatives: list[Candidate]

    class AskResponse(BaseModel):
        question: str
        topic_entities: list[str]
        answers: list[Answer]
        paths: list[DecodedPathOut]
        linking: Optional[Linking]
        note: Optional[str]
        ms: float

    class VerifyRequest(Strict):
        path: str = Field(min_length=1, max_length=MAX_PATH_CHARS,
                          description="a grounded path 'A -> r -> B', or with topic a relation path 'r1 -> ~r2'")
        topic: Optional[str] = Field(None, min_length=1, max_length=MAX_NAME_CHARS)

    class VerifyResponse(BaseModel):
        path: str
        topic: Optional[str]
        valid: bool
        failing_hop: Optional[int]
        reason: Optional[str]
        message: str
        suggestions: list[str]
        endpoints: list[str]
        num_endpoints: int
        groundings: list[str]

    class PathOut(BaseModel):
        path: str
        num_endpoints: int
        endpoints: list[str]

    class PathsResponse(BaseModel):
        entity: str
        paths: list[PathOut]
        capped: list[str]

    class Health(BaseModel):
        status: str
        graph: str
        entities: int
        relations: int
        student: str
        uptime_s: float
        batches: int
        questions: int
        model_seconds: float

    class ErrorOut(BaseModel):
        error: str
        detail: Any = None

    errors = {400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 500: {"model": ErrorOut},
              503: {"model": ErrorOut}}

    bodies = {"/ask": tuple(AskRequest.model_fields), "/verify": tuple(VerifyRequest.model_fields)}

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                problems.append("body: not valid JSON (expected an object such as {\"question\": \"...\"})")
                continue
            loc = tuple(e.get("loc", ()))
            where = ".".join(map(str, loc[1:] if loc[:1] in (("body",), ("query",)) else loc)) or "body"
            sent = request.headers.get("content-type")
            if where == "body" and request.method == "POST" and not is_json(sent, suffixed=True):
                said = ("body: expected a JSON object sent with Content-Type: application/json "
                        f"(got {sent or 'no Content-Type'})")
                if said not in problems:
                    problems.append(said)
                continue
            route = getattr(request.scope.get("route"), "path", None)  # without a root path the app sits under
            problems.append(validation_words(e, where, bodies.get(route, ()), raw=loc[:1] == ("query",)))
        return JSONResponse(status_code=422, content={"error": "; ".join(problems) or "invalid request",
                                                      "detail": [{"loc": list(map(str, e.get("loc", ()))),
                                                                  "msg": e.get("msg")} for e in exc.errors()]})

    @app.exception_handler(StarletteHTTPException)  # ours, and the router's own 404 / 405
    async def _http(request: Request, exc: StarletteHTTPException):
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no endpoint {request.url.path} (the endpoints are listed at /docs)"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (allowed: {(exc.headers or {}).get('Allow', '?')})"
        return JSONResponse(status_code=exc.status_code, content={"error": message, "detail": None},
                            headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):  # never a traceback to the client
        logger.exception("request failed")
        return JSONResponse(status_code=500, content={"error": f"internal error: {type(exc).__name__}", "detail": None})

    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    async def answer_ask(req: AskRequest) -> tuple[int, dict]:
        """``/ask``'s status and body (the route and :class:`AskLane` both answer with it)."""
        if req.topic is not None and graph.entity_id(req.topic) is None:
            return 422, {"error": str(unknown_entity(graph, req.topic)), "detail": None}
        t0 = time.perf_counter()
        try:
            res = await asyncio.wait_for(batcher.submit(req.question, req.topic, req.beam, req.max_answers),
                                         config.request_timeout_s)
        except asyncio.TimeoutError:
            return 503, {"error": f"no answer within {config.request_timeout_s:.0f} s: the service is overloaded",
                         "detail": None}
        except (KGDistillError, ModelFailed) as exc:
            return (422 if isinstance(exc, KGDistillError) else 503), {"error": str(exc), "detail": None}
        # built as a plain dict: FastAPI's per-request validation of the nested model
        # costs more than answering a batched question (the schema is AskResponse,
        # checked by the tests)
        return 200, {"question": req.question, **answer_payload(res, req.max_answers),
                     "ms": 1000 * (time.perf_counter() - t0)}

    app.add_middleware(AskLane, model=AskRequest, answer=answer_ask, limit=config.max_body_bytes)

    @app.post("/ask", response_model=AskResponse, responses=errors,
              summary="answer a question with verified reasoning paths")
    async def ask(req: AskRequest):
        status, body = await answer_ask(req)
        return JSONResponse(body, status_code=status)

    @app.post("/verify", response_model=VerifyResponse, responses=errors,
              summary="check a grounded path, or a relation path from a topic, hop by hop")
    async def verify(req: VerifyRequest):
        try:
            return verify_payload(graph, req.path, req.topic)
        except PathSyntaxError as exc:
            raise HTTPException(422, f"path: {exc}")

    @app.get("/paths", response_model=PathsResponse, responses=errors,
             summary="relation paths leaving an entity, with endpoint counts")
    async def paths(entity: str = Query(min_length=1, max_length=MAX_NAME_CHARS),
                    max_hops: int = Query(2, ge=1, le=min(MAX_HOPS, 3)),
                    limit: int = Query(200, ge=1, le=config.max_paths),
                    endpoints: int = Query(3, ge=0, le=20)):
        try:
            return paths_payload(graph, entity, max_hops, limit, endpoints)
        except KGDistillError as exc:
            raise HTTPException(422, str(exc))

    @app.get("/picture.svg", responses={**errors, 200: {"content": {"image/svg+xml": {}}}},
             summary="the reasoning subgraph around a grounded path (SVG)")
    async def picture(path: str = Query(min_length=1, max_length=MAX_PATH_CHARS)):
        from kgdistill.errors import PathSyntaxError
        from kgdistill.paths import GroundedPath
        from kgdistill.plots import plot_reasoning
        from kgdistill.verify import verify_paths

        try:
            grounded = GroundedPath.parse(path)
        except PathSyntaxError as exc:
            raise HTTPException(422, f"path: {exc}")
        verdict = verify_paths(graph, [grounded]).result(0)
        if not verdict.valid:
            raise HTTPException(422, f"the path does not verify: hop {verdict.failing_hop + 1}: {verdict.message}")

        def draw() -> bytes:
            buf = io.BytesIO()
            with _PLOT_LOCK:
                plot_reasoning(graph, grounded, buf, title=str(grounded))
            return buf.getvalue()

        svg = await asyncio.get_running_loop().run_in_executor(None, draw)
        return Response(content=svg, media_type="image/svg+xml")

    @app.get("/health", response_model=Health)
    async def health():
        if hasattr(reasoner, "student_name"):
            base = reasoner.student_name
        else:
            base = getattr(reasoner.student.config, "base_model", None) or "small (built)"
        return {"status": "ok", "graph": str(getattr(graph, "name", "graph")), "entities": graph.num_entities,
                "relations": graph.num_relations, "student": str(base), "uptime_s": time.time() - started,
                "batches": batcher.batches, "questions": batcher.questions,
                "model_seconds": batcher.model_seconds}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return _web_page()

    app.state.batcher = batcher
    return app


_PLOT_LOCK = threading.Lock()  # matplotlib's pyplot state is not thread-safe


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kgdistill")
    except Exception:  # noqa: BLE001
        return "unknown"


def serve(app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Run ``app`` with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, limit_concurrency=1024, timeout_keep_alive=30,
                proxy_headers=False)  # nothing here reads the client address a proxy would forward
