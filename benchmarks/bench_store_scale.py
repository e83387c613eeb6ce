"""Scale of the triple-store backend: process memory and speed of verification and
graph-constrained decoding on a large graph in an Oxigraph store, against the same
graph loaded in memory (each measured in its own fresh process).

    .venv/bin/python benchmarks/gen_large_graph.py --out /work/large --tsv
    .venv/bin/kgdistill import /work/large/graph.nt --store /work/large/store
    .venv/bin/python benchmarks/bench_store_scale.py --store /work/large/store --tsv /work/large/graph.tsv

What is measured, per backend:

* ``open_s``, ``rss_mib`` after opening (the store) or loading (memory), and the peak
  (``VmHWM``) over the whole process;
* verification: 2-hop grounded paths sampled by random walks from random entities
  (``--paths``, half of them corrupted: a hop reversed or an end entity replaced), one
  :func:`kgdistill.verify.verify_paths` call; hops/s, first in a fresh process and
  again (for the store: a new graph object over the same open store, so every name is
  looked up again, with the store's caches warm);
* constrained decoding: a small student with *untrained* weights over the graph's
  relations (the work per step — model, graph queries for the beams' next relations
  and frontiers — does not depend on what the weights learnt), beam 5, 2 hops,
  ``--questions`` questions batched and ``--single`` one at a time; ms/question.

The same sampled paths and topics are used for both backends (drawn from the store in
a process of their own, so that the random walks' memory is not counted, written to a
file, read by both measuring processes).
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path


def status(field: str) -> float:
    """A ``/proc/self/status`` memory figure in MiB (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sample(graph, n_paths: int, seed: int) -> tuple[list[str], list[str]]:
    """Valid 2-hop grounded paths from random walks, and corrupted copies."""
    import numpy as np

    rng = random.Random(seed)
    paths, topics = [], []
    tries = 0
    while len(paths) < n_paths // 2 and tries < 20 * n_paths:
        tries += 1
        start = graph.entity_id(f"Entity {rng.randrange(2_000_000)}")
        if start is None:
            continue
        _, d1, m = graph.edges(np.array([start]))
        if not len(m):
            continue
        k = rng.randrange(len(m))
        _, d2, e = graph.edges(np.array([m[k]]))
        if not len(e):
            continue
        j = rng.randrange(len(e))
        names = graph.entity_labels([start, int(m[k]), int(e[j])]) if hasattr(graph, "entity_labels") \
            else [graph.entity_label(x) for x in (start, int(m[k]), int(e[j]))]
        paths.append(f"{names[0]} -> {graph.drel_label(int(d1[k]))} -> {names[1]} -> "
                     f"{graph.drel_label(int(d2[j]))} -> {names[2]}")
        topics.append(names[0])
    wrong = []
    for p in paths:
        parts = p.split(" -> ")
        if rng.random() < 0.5:
            r = parts[3]
            parts[3] = r[1:] if r.startswith("~") else "~" + r
        else:
            parts[4] = f"Entity {rng.randrange(2_000_000)}"
        wrong.append(" -> ".join(parts))
    return paths + wrong, topics


def worker(args) -> dict:
    import torch

    from kgdistill.decoding import decode_paths
    from kgdistill.readers import load_graph
    from kgdistill.student import Student, StudentConfig
    from kgdistill.verify import verify_paths
    from kgdistill.vocabulary import RelationVocabulary

    torch.manual_seed(0)
    if args.worker == "sample":
        paths, topics = sample(load_graph(f"oxigraph:{args.store}", None), args.paths, args.seed)
        Path(args.sample).write_text(json.dumps({"paths": paths, "topics": topics}), encoding="utf-8")
        return {"backend": "sample", "paths": len(paths)}
    out = {"backend": args.worker, "rss_mib_start": round(status("VmRSS"))}
    start = time.perf_counter()
    graph = load_graph(f"oxigraph:{args.store}" if args.worker == "store" else args.tsv,
                       None if args.worker == "store" else "tsv")
    out["open_s"] = round(time.perf_counter() - start, 2)
    out["rss_mib_open"] = round(status("VmRSS"))
    data = json.loads(Path(args.sample).read_text(encoding="utf-8"))
    paths, topics = data["paths"], data["topics"]
    start = time.perf_counter()
    batch = verify_paths(graph, paths)
    seconds = time.perf_counter() - start
    hops = 2 * len(paths)
    out.update(paths=len(paths), valid=int(batch.valid.sum()), verify_s=round(seconds, 3),
               verify_hops_per_s=round(hops / seconds), verdicts=batch.codes.tolist())
    out["rss_mib_verify"] = round(status("VmRSS"))
    # again, on a new graph object over the same open store (no remembered names, the
    # store's caches warm, as for a service that has been answering for a while)
    graph2 = graph
    if args.worker == "store":
        from kgdistill.sparql import SparqlGraph

        graph2 = SparqlGraph(graph.executor, graph.label_predicates, relations=graph.relation_keys,
                             has_search_keys=graph.has_search_keys, label_forms=graph.label_forms)
    start = time.perf_counter()
    verify_paths(graph2, paths)
    out["verify_hops_per_s_again"] = round(hops / (time.perf_counter() - start))
    vocab = RelationVocabulary.from_graph(graph)
    prompts = [f"question: what is linked to {t} path:" for t in topics[:args.questions]]
    student = Student.create(vocab, prompts, StudentConfig())
    ids = [[int(graph.entity_id(t))] for t in topics[:args.questions]]
    binding = vocab.bind(graph)
    decode_paths(student, prompts[:2], 5, 2, graph, ids[:2], binding)  # warm-up
    start = time.perf_counter()
    decoded = decode_paths(student, prompts, 5, 2, graph, ids, binding)
    out["decode_ms_per_question_batched"] = round((time.perf_counter() - start) / len(prompts) * 1000, 1)
    start = time.perf_counter()
    for n in range(args.single):
        decode_paths(student, prompts[n:n + 1], 5, 2, graph, ids[n:n + 1], binding)
    out["decode_ms_per_question_single"] = round((time.perf_counter() - start) / args.single * 1000, 1)
    out["decoded_paths"] = [[str(p.path) for p in d] for d in decoded[:20]]
    out["rss_mib_end"] = round(status("VmRSS"))
    out["rss_mib_peak"] = round(status("VmHWM"))
    out["rss_anon_mib_end"] = round(status("RssAnon"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--tsv", help="the same graph as TSV, for the in-memory comparison (skipped without)")
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--single", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample", default="/tmp/kgdistill-scale-sample.json")
    ap.add_argument("--keep-sample", action="store_true", help="reuse --sample if it exists")
    ap.add_argument("--out", default="runs/store-scale.json")
    ap.add_argument("--worker", choices=["sample", "store", "memory"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if not args.keep_sample:
        Path(args.sample).unlink(missing_ok=True)
    results = []
    for backend in (["sample"] if not Path(args.sample).is_file() else []) + ["store"] \
            + (["memory"] if args.tsv else []):
        cmd = [sys.executable, __file__, "--worker", backend, "--store", args.store, "--paths", str(args.paths),
               "--questions", str(args.questions), "--single", str(args.single), "--sample", args.sample]
        if args.tsv:
            cmd += ["--tsv", args.tsv]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{backend} worker failed")
        res = json.loads(done.stdout.strip().splitlines()[-1])
        if backend == "sample":
            continue
        results.append(res)
        print(json.dumps({k: v for k, v in res.items() if k not in ("verdicts", "decoded_paths")}), flush=True)
    if len(results) == 2:
        same = results[0]["verdicts"] == results[1]["verdicts"]
        print(f"verdicts identical on both backends: {same}; decoded paths identical: "
              f"{results[0]['decoded_paths'] == results[1]['decoded_paths']}")
        print(f"peak RSS memory / store: {results[1]['rss_mib_peak'] / results[0]['rss_mib_peak']:.1f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
