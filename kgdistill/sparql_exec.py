"""Talking to triple stores: the query executors behind
:class:`kgdistill.sparql.SparqlGraph` (an embedded Oxigraph store, a SPARQL 1.1
endpoint over HTTP), the terms they return, and a local ``oxigraph serve`` for tests,
benchmarks and users without an endpoint of their own.
"""
from __future__ import annotations

import http.client
import json
import re
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from kgdistill.errors import ConfigError, KGDistillError


class StoreError(KGDistillError):
    """A triple store could not be opened or answered with an error."""


class Literal(str):
    """A literal from a query result: its lexical form, with ``lang`` (or ``None``)."""

    lang: str | None = None

    def __new__(cls, value: str, lang: str | None = None) -> "Literal":
        obj = super().__new__(cls, value)
        obj.lang = lang.lower() if lang else None
        return obj


# ---------------------------------------------------------------------- executors
class SparqlExecutor(ABC):
    """Runs a SPARQL SELECT query; rows hold ``str`` IRIs, :class:`Literal` literals
    and ``None`` for unbound variables."""

    name: str

    @abstractmethod
    def select(self, query: str) -> list[list]:
        """The result rows of a SELECT query, in the order of its variables."""


_NT_ESCAPE = re.compile(r'\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))', re.S)
_NT_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _nt_unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def sub(m):
        if m.group(1) or m.group(2):
            return chr(int(m.group(1) or m.group(2), 16))
        return _NT_SIMPLE.get(m.group(3), m.group(3))
    return _NT_ESCAPE.sub(sub, text)


def _tsv_term(cell: str):
    """One cell of SPARQL TSV results (N-Triples-like terms)."""
    if not cell:
        return None
    if cell[0] == "<":
        return cell[1:-1]
    if cell[0] == '"':
        end = cell.rfind('"')
        tail = cell[end + 1:]
        return Literal(_nt_unescape(cell[1:end]), tail[1:] if tail.startswith("@") else None)
    if cell.startswith("_:"):
        return cell
    return Literal(cell)  # bare numbers and booleans


class EmbeddedExecutor(SparqlExecutor):
    """Queries an on-disk Oxigraph store in this process (``pyoxigraph``)."""

    def __init__(self, directory: str | Path) -> None:
        try:
            import pyoxigraph
        except ImportError:  # pragma: no cover - depends on the installation
            raise ConfigError("an Oxigraph store needs pyoxigraph: pip install 'kgdistill[store]'") from None
        path = Path(directory)
        if not path.is_dir():
            raise ConfigError(f"{path}: no Oxigraph store there (make one with: kgdistill import GRAPH --store {path})")
        try:
            self.store = pyoxigraph.Store.read_only(str(path))
        except OSError as exc:
            raise StoreError(f"{path}: cannot open as an Oxigraph store ({exc})") from None
        self._tsv = pyoxigraph.QueryResultsFormat.TSV
        self.name = f"oxigraph:{path}"
        self.directory = path

    def select(self, query: str) -> list[list]:
        try:
            data = self.store.query(query).serialize(format=self._tsv)
        except (SyntaxError, OSError, ValueError) as exc:
            raise StoreError(f"{self.name}: query failed ({exc})") from None
        lines = data.decode("utf-8").split("\n")
        return [[_tsv_term(c) for c in line.split("\t")] for line in lines[1:] if line]


class HttpExecutor(SparqlExecutor):
    """Queries a SPARQL 1.1 endpoint over HTTP (POST, form-encoded, SPARQL JSON
    results), one kept-alive connection per thread; connection failures are retried
    (queries only read), timeouts and HTTP errors raise :class:`StoreError`."""

    def __init__(self, url: str, timeout: float = 60.0, retries: int = 3) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not a SPARQL endpoint URL: {url!r} (expected http://HOST:PORT/PATH)")
        self.url, self.parts = url, parts
        self.timeout, self.retries = timeout, retries
        self.name = f"sparql+{url}"
        self._local = threading.local()

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            cls = http.client.HTTPSConnection if self.parts.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.parts.hostname, self.parts.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def select(self, query: str) -> list[list]:
        body = urlencode({"query": query}).encode()
        path = self.parts.path or "/"
        if self.parts.query:
            path += "?" + self.parts.query
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/sparql-results+json"}
        for attempt in range(self.retries + 1):
            try:
                conn = self._connection(fresh=attempt > 0)
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except TimeoutError:
                self._connection(fresh=True)
                raise StoreError(f"{self.url}: no answer within {self.timeout:g} s") from None
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                if attempt == self.retries:
                    raise StoreError(f"{self.url}: cannot reach the SPARQL endpoint "
                                     f"({type(exc).__name__}: {exc}; tried {attempt + 1} times)") from None
                time.sleep(0.2 * 2 ** attempt)
        if resp.status != 200:
            text = data.decode("utf-8", "replace").strip().replace("\n", " ")
            raise StoreError(f"{self.url}: HTTP {resp.status} {resp.reason}: {text[:300]}")
        try:
            doc = json.loads(data)
            names = doc["head"]["vars"]
            bindings = doc["results"]["bindings"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self.url}: not a SPARQL JSON result ({exc})") from None
        return [[_json_term(b.get(v)) for v in names] for b in bindings]


def _json_term(term):
    if term is None:
        return None
    kind = term.get("type")
    if kind == "uri":
        return term["value"]
    if kind == "bnode":
        return "_:" + term["value"]
    return Literal(term["value"], term.get("xml:lang"))


# ---------------------------------------------------------------------- a local endpoint
def oxigraph_binary() -> str | None:
    """The ``oxigraph`` server binary (PyPI ``oxigraph``) beside this Python or on PATH."""
    import shutil
    import sys

    here = Path(sys.executable).parent / "oxigraph"
    return str(here) if here.is_file() else shutil.which("oxigraph")


class OxigraphServer:
    """``oxigraph serve`` on 127.0.0.1 (a free port) over ``location`` (in memory if
    ``None``), as a context manager; waits (at most ``timeout`` s) until it answers.
    ``url`` is its SPARQL query endpoint, ``spec`` the ``-g`` value for it."""

    def __init__(self, location: str | Path | None = None, read_only: bool = False, timeout: float = 30.0) -> None:
        import socket

        binary = oxigraph_binary()
        if binary is None:
            raise ConfigError("no oxigraph server binary: pip install oxigraph")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.binary, self.location, self.read_only, self.timeout = binary, location, read_only, timeout
        self.url = f"http://127.0.0.1:{self.port}/query"
        self.spec = "sparql+" + self.url
        self.process = None

    def __enter__(self) -> "OxigraphServer":
        import subprocess
        import urllib.request

        cmd = [self.binary, "serve-read-only" if self.read_only else "serve", "--bind", f"127.0.0.1:{self.port}"]
        if self.location is not None:
            cmd += ["--location", str(self.location)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:  # bounded wait for the port
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode("utf-8", "replace")[-500:]
                raise StoreError(f"oxigraph serve exited with {self.process.returncode}: {err}")
            try:
                urllib.request.urlopen(self.url + "?query=ASK%7B%7D", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise StoreError(f"oxigraph serve did not answer on port {self.port} within {self.timeout:g} s")

    def update(self, update: str) -> None:
        """Run a SPARQL update (``INSERT DATA``, ``DROP ALL``) on a read-write server."""
        import urllib.request

        req = urllib.request.Request(self.url.replace("/query", "/update"), data=update.encode("utf-8"),
                                     headers={"Content-Type": "application/sparql-update"})
        urllib.request.urlopen(req, timeout=self.timeout).read()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
        self.process = None
