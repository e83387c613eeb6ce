"""Load and fault benchmark of ``kgdistill serve`` (127.0.0.1 only, every loop bounded).

Starts the service on a run in a subprocess, then

* load: for each concurrency level, that many clients ask questions from a question
  file (topic marks removed: the service links the topic) back to back for
  ``--seconds``; prints requests/s, p50/p99 latency, errors, and the server's RSS
  at the start, end and peak of each level (flat memory = no leak);
* fuzz: malformed requests (wrong types, huge strings, unknown entities, invalid
  paths, bad JSON, random bytes, oversized bodies) against every endpoint; counts 5xx
  responses and checks that the server still answers afterwards.

    .venv/bin/python benchmarks/bench_service.py --run runs/mq2-small \\
        --questions ../shared/datasets/metaqa/2-hop/qa_valid.txt --clients 1 8 32 --seconds 60
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo += [int(k) for k in kids]
                out += [int(k) for k in kids]
        except OSError:
            pass
    return out


def rss_mib(pid: int) -> float:
    """Resident memory of the server and its model process (all descendants), MiB."""
    total = 0.0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total or float("nan")


def start_server(run: str, port: int, extra: list[str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "kgdistill", "serve", "--run", run, "--host", "127.0.0.1", "--port", str(port),
           *extra]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)


async def wait_ready(base: str, proc: subprocess.Popen, timeout_s: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with status {proc.returncode}")
            try:
                if (await c.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"the server did not start within {timeout_s:.0f} s")


async def load(base: str, questions: list[str], clients: int, seconds: float, pid: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    rss = [rss_mib(pid)]
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(k: int, c: httpx.AsyncClient) -> None:
        rng = random.Random(k)
        while time.monotonic() < stop:
            q = questions[rng.randrange(len(questions))]
            t0 = time.perf_counter()
            try:
                r = await c.post("/ask", json={"question": q})
                if r.status_code != 200:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                    continue
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(time.perf_counter() - t0)

    async def sample_memory() -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(1.0)
            rss.append(rss_mib(pid))

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as c:
        before = (await c.get("/health")).json()
        t0 = time.perf_counter()
        await asyncio.gather(sample_memory(), *(client(k, c) for k in range(clients)))
        wall = time.perf_counter() - t0
        after = (await c.get("/health")).json()
    batches = after["batches"] - before["batches"]
    answered = after["questions"] - before["questions"]
    model_s = after["model_seconds"] - before["model_seconds"]
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return 1000 * lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"clients": clients, "seconds": wall, "requests": len(lat), "rps": len(lat) / wall,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": 1000 * statistics.fmean(lat) if lat else None,
            "errors": errors, "rss_mib_start": rss[0], "rss_mib_end": rss[-1], "rss_mib_peak": max(rss),
            "mean_batch": answered / batches if batches else None,
            "model_ms_per_question": 1000 * model_s / answered if answered else None,
            "model_busy_share": model_s / wall}


def _ms(text: str) -> float:
    """wrk's '12.34ms' / '1.02s' / '850.00us' as milliseconds."""
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


async def load_wrk(base: str, questions: list[str], clients: int, seconds: float, pid: int, tmp: Path) -> dict:
    """The same load from ``wrk`` (C, one thread): a client that costs the machine far
    less CPU than Python's, so the server gets more of the 2 cores."""
    import re
    import shutil
    import threading

    import httpx

    if not shutil.which("wrk"):
        raise SystemExit("--client wrk needs wrk (apt-get install wrk)")
    bodies = [json.dumps({"question": q}) for q in questions]
    script = tmp / "ask.lua"
    script.write_text("local bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}\n"
                      "local i = 0\n"
                      "request = function()\n"
                      "  i = i % #bodies + 1\n"
                      "  return wrk.format('POST', '/ask', {['Content-Type'] = 'application/json'}, bodies[i])\n"
                      "end\n")
    rss = [rss_mib(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            rss.append(rss_mib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = httpx.get(base + "/health").json()
    t0 = time.perf_counter()
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "--timeout", "30s",
                          "-s", str(script), base], capture_output=True, text=True, timeout=seconds + 120).stdout
    wall = time.perf_counter() - t0
    done.set()
    after = httpx.get(base + "/health").json()
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = {"non-2xx": non2xx} if non2xx else {}
    if sock and sum(map(int, sock.groups())):
        errors["socket"] = sum(map(int, sock.groups()))
    answered = after["questions"] - before["questions"]
    batches = after["batches"] - before["batches"]
    model_s = after["model_seconds"] - before["model_seconds"]
    return {"clients": clients, "seconds": wall, "requests": total - non2xx,
            "rps": float(re.search(r"Requests/sec:\s+(\S+)", out).group(1)),
            "p50_ms": _ms(pct["50"]), "p99_ms": _ms(pct["99"]), "mean_ms": None, "errors": errors,
            "rss_mib_start": rss[0], "rss_mib_end": rss[-1], "rss_mib_peak": max(rss),
            "mean_batch": answered / batches if batches else None,
            "model_ms_per_question": 1000 * model_s / answered if answered else None,
            "model_busy_share": model_s / wall, "client": "wrk"}


def fuzz_requests(seed: int, n: int) -> list[tuple[str, str, dict]]:
    """``(method, path, httpx kwargs)`` of malformed or hostile requests."""
    rng = random.Random(seed)
    junk = [None, True, 3, -1, 1e308, float("inf"), "", " ", "x" * 5000, "\x00\x01", "[brackets]",
            "a -> b -> c", "~~", "->", "\ud7ff" * 10, ["list"], {"nested": {"deep": [1, 2]}}, "'; DROP TABLE x; --",
            "<script>alert(1)</script>", "Nobody Anywhere At All", "é" * 300]
    out: list[tuple[str, str, dict]] = []
    for _ in range(n):
        kind = rng.randrange(9)
        if kind == 0:
            body = {"question": rng.choice(junk)}
        elif kind == 1:
            body = {"question": "who directed it", "topic": rng.choice(junk), "beam": rng.choice(junk)}
        elif kind == 2:
            body = {rng.choice(["question", "q", "topic", ""]): rng.choice(junk), "max_answers": rng.choice(junk)}
        elif kind == 3:
            out.append(("POST", "/ask", {"content": bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))),
                                         "headers": {"Content-Type": "application/json"}}))
            continue
        elif kind == 4:
            out.append(("POST", "/ask", {"content": b"{\"question\": \"" + b"a" * 200_000 + b"\"}",
                                         "headers": {"Content-Type": "application/json"}}))
            continue
        elif kind == 5:
            out.append(("POST", "/verify", _json({"path": rng.choice(junk), "topic": rng.choice(junk)})))
            continue
        elif kind == 6:
            out.append(("GET", "/paths", {"params": {"entity": str(rng.choice(junk))[:3000],
                                                     "max_hops": str(rng.choice(junk))}}))
            continue
        elif kind == 7:
            out.append(("GET", "/picture.svg", {"params": {"path": str(rng.choice(junk))[:3000]}}))
            continue
        else:
            body = rng.choice(junk)
        out.append(("POST", "/ask", _json(body)))
    return out


def _json(body) -> dict:
    """httpx arguments for a JSON body; NaN and Infinity are sent as Python writes them
    (not valid JSON: the server must refuse them cleanly)."""
    return {"content": json.dumps(body, allow_nan=True).encode(), "headers": {"Content-Type": "application/json"}}


async def fuzz(base: str, n: int, seed: int) -> dict:
    import httpx

    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        for method, path, kwargs in fuzz_requests(seed, n):
            try:
                r = await c.request(method, path, **kwargs)
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1
        alive = (await c.get("/health")).status_code == 200
    return {"requests": n, "statuses": statuses, "server_errors": sum(v for k, v in statuses.items()
                                                                      if k.startswith("5")),
            "transport_errors": sum(v for k, v in statuses.items() if not k.isdigit()), "alive_after": alive}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--questions", required=True, help="question file (topic marks are removed)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--fuzz", type=int, default=500, help="malformed requests sent (0: none)")
    ap.add_argument("--serve-args", default="", help="extra arguments for kgdistill serve, e.g. '--max-batch 64'")
    ap.add_argument("--client", choices=["python", "wrk"], default="python",
                    help="load generator: httpx coroutines in this process, or wrk (C; far less CPU per request)")
    ap.add_argument("--out", help="JSON file for the figures")
    args = ap.parse_args()

    from kgdistill.datasets import load_questions

    questions = [q.text for q in load_questions(args.questions)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(args.out).with_suffix(".server.log") if args.out else Path("/tmp/kgdistill-bench-server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = start_server(args.run, port, args.serve_args.split(), log)
    results: dict = {"run": args.run, "questions": args.questions, "serve_args": args.serve_args,
                     "cpu": os.cpu_count(), "client": args.client, "levels": []}
    try:
        asyncio.run(wait_ready(base, proc))
        asyncio.run(load(base, questions, 4, args.warmup, proc.pid))  # warm-up, not reported
        print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MiB start/end/peak':>24} "
              f"{'batch':>6} {'model ms/q':>10} {'model busy':>10}")
        for n in args.clients:
            if args.client == "wrk":
                r = asyncio.run(load_wrk(base, questions, n, args.seconds, proc.pid, log.parent))
            else:
                r = asyncio.run(load(base, questions, n, args.seconds, proc.pid))
            results["levels"].append(r)
            print(f"{n:>7} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {sum(r['errors'].values()):>7} "
                  f"{r['rss_mib_start']:>14.0f}/{r['rss_mib_end']:.0f}/{r['rss_mib_peak']:.0f} "
                  f"{r['mean_batch'] or 0:>6.1f} {r['model_ms_per_question'] or 0:>10.2f} "
                  f"{100 * r['model_busy_share']:>9.0f}%", flush=True)
        if len(results["levels"]) > 1:
            base_rps = results["levels"][0]["rps"]
            for r in results["levels"][1:]:
                print(f"throughput at {r['clients']} clients: {r['rps'] / base_rps:.1f}x the "
                      f"{results['levels'][0]['clients']}-client figure")
        if args.fuzz:
            f = asyncio.run(fuzz(base, args.fuzz, seed=0))
            results["fuzz"] = f
            print(f"fuzz: {f['requests']} malformed requests, statuses {f['statuses']}, 5xx {f['server_errors']}, "
                  f"server alive afterwards: {f['alive_after']}, exit status {proc.poll()}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
