"""A throw-away Virtuoso (Debian ``virtuoso-opensource``) on 127.0.0.1 for the SPARQL
backend tests: its own database in a temporary directory, free ports, a bounded wait;
data loaded into one named graph, which the endpoint URL names as the default graph
(Virtuoso's own system graphs stay out of the queries)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

GRAPH = "http://kgdistill.test/graph"
INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql}
DirsAllowed = ., {d}
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
CheckpointInterval = 0
ThreadsPerQuery = 1
MaxClientConnections = 10

[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 10
ServerThreads = 10

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 120
MaxQueryCostEstimationTime = 0
"""


def available() -> bool:
    return shutil.which("virtuoso-t") is not None and shutil.which("isql-vt") is not None


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VirtuosoServer:
    def __init__(self, timeout: float = 60.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kgdistill-virtuoso-"))
        self.sql, self.http, self.timeout = _port(), _port(), timeout
        self.url = f"http://127.0.0.1:{self.http}/sparql?default-graph-uri={GRAPH}"
        self.process = None

    def __enter__(self) -> "VirtuosoServer":
        (self.dir / "virtuoso.ini").write_text(INI.format(d=self.dir, sql=self.sql, http=self.http))
        self.process = subprocess.Popen(["virtuoso-t", "+foreground", "+configfile", str(self.dir / "virtuoso.ini")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:  # bounded wait for the HTTP port
            if self.process.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited: {(self.dir / 'virtuoso.log').read_text()[-500:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.http}/sparql?query=ASK%7B%7D", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"virtuoso did not answer within {self.timeout:g} s")

    def load(self, ntriples: str) -> None:
        """Replace the graph's content with these N-Triples."""
        data = self.dir / "data.nt"
        data.write_text(ntriples + "\n", encoding="utf-8")
        sql = (f"SPARQL CLEAR GRAPH <{GRAPH}>; DB.DBA.TTLP_MT(file_to_string_output('{data}'), '', '{GRAPH}', 0); "
               "checkpoint;")
        done = subprocess.run(["isql-vt", f"127.0.0.1:{self.sql}", "dba", "dba", f"exec={sql}"],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or "Error" in done.stdout + done.stderr:
            raise RuntimeError(f"isql-vt failed: {done.stdout[-500:]} {done.stderr[-500:]}")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)
