"""Parity and speed of the graph backends on a trained run: the in-memory graph, the
embedded Oxigraph store (``oxigraph:DIR``) and a SPARQL endpoint over HTTP (an
``oxigraph serve-read-only`` on 127.0.0.1 over a copy of the store).

For each backend: Hits@1 of the run's student on the questions, its top relation path
per question, the verifier's verdicts (and failing hops) on the grounded proofs of the
answers plus corrupted copies of them (first hop reversed, last entity replaced), and
timings: ms/question batched end to end, ms/question one question at a time (first
``--single`` questions), verification hops/s. The memory backend is the reference:
the script prints how many questions / verdicts differ from it.

    .venv/bin/kgdistill import ../shared/datasets/metaqa/kb.txt --store runs/stores/metaqa
    .venv/bin/python benchmarks/bench_backends.py --run runs/mq2-small \\
        --questions ../shared/datasets/metaqa/2-hop/qa_valid.txt --store runs/stores/metaqa --out runs/backends
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from kgdistill.datasets import load_questions
from kgdistill.graph import INVERSE_PREFIX, PATH_ARROW
from kgdistill.readers import load_graph
from kgdistill.reasoner import Reasoner
from kgdistill.runs import read_run_config
from kgdistill.sparql import OxigraphServer, is_store_spec
from kgdistill.verify import verify_paths


def corrupted(path: str, topic: str) -> list[str]:
    """Wrong copies of a grounded path: its first hop reversed; its last entity the topic."""
    parts = [p.strip() for p in path.split(PATH_ARROW)]
    if len(parts) < 3:
        return []
    rel = parts[1]
    flipped = parts[:1] + [rel[1:] if rel.startswith(INVERSE_PREFIX) else INVERSE_PREFIX + rel] + parts[2:]
    out = [f" {PATH_ARROW} ".join(flipped)]
    if parts[-1] != topic:
        out.append(f" {PATH_ARROW} ".join(parts[:-1] + [topic]))
    return out


def measure(name: str, graph, run: Path, questions, single: int, paths: list[str] | None) -> dict:
    reasoner = Reasoner.from_run(run, graph)
    start = time.perf_counter()
    metrics, rows = reasoner.evaluate(questions, with_teacher=False, with_ceiling=False)
    batched = (time.perf_counter() - start) / len(questions) * 1000
    start = time.perf_counter()
    for q in questions[:single]:
        reasoner.answer([q])
    one = (time.perf_counter() - start) / max(1, min(single, len(questions))) * 1000
    if paths is None:  # the reference backend's proofs and their corruptions
        paths = []
        for row in rows:
            for a in row["answers"][:3]:
                if a["path"]:
                    paths.append(a["path"])
                    paths += corrupted(a["path"], row["topic_entities"][0])
    start = time.perf_counter()
    batch = verify_paths(graph, paths)
    seconds = time.perf_counter() - start
    hops = sum(len(p.split(PATH_ARROW)) // 2 for p in paths)
    out = {"backend": name, "hits@1": metrics["hits@1"], "questions": len(questions),
           "ms_per_question_batched": round(batched, 2), "ms_per_question_single": round(one, 2),
           "single_questions": min(single, len(questions)), "verified_paths": len(paths), "hops": hops,
           "verify_seconds": round(seconds, 3), "verify_hops_per_s": round(hops / seconds),
           "valid_paths": int(batch.valid.sum())}
    print(json.dumps(out), flush=True)
    top = [r["paths"][0]["path"] if r["paths"] else None for r in rows]
    first = [r["answers"][0]["entity"] if r["answers"] else None for r in rows]
    verdicts = list(zip(batch.failing_hop.tolist(), batch.codes.tolist()))
    return {"summary": out, "top": top, "first": first, "verdicts": verdicts, "paths": paths}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--store", required=True, help="the run's graph imported with kgdistill import")
    ap.add_argument("--limit", type=int, default=0, help="first N questions only (0: all)")
    ap.add_argument("--single", type=int, default=100, help="questions answered one at a time for latency")
    ap.add_argument("--backends", nargs="+", default=["memory", "oxigraph", "sparql"])
    ap.add_argument("--graph-file", help="the graph file loaded in memory (default: the run's graph, or, for a "
                    "run trained over a store, the file the store was imported from)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    run = Path(args.run)
    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[:args.limit]
    cfg = read_run_config(run)
    results = {}
    ref = None
    for name in args.backends:
        if name == "memory":
            source = args.graph_file
            if source is None and is_store_spec(cfg.graph):  # never measure the store as "memory"
                meta = Path(args.store) / "kgdistill-store.json"
                if not meta.is_file():
                    raise SystemExit(f"{run} was trained over {cfg.graph}: give --graph-file for the memory backend")
                source = json.loads(meta.read_text(encoding="utf-8"))["source"]
            graph = load_graph(source) if source else load_graph(cfg.graph, cfg.graph_format)
            print(f"memory backend: {graph!r}", flush=True)
            results[name] = measure(name, graph, run, questions, args.single, None)
        elif name == "oxigraph":
            graph = load_graph(f"oxigraph:{args.store}")
            results[name] = measure(name, graph, run, questions, args.single, ref and results[ref]["paths"])
        elif name == "sparql":
            copy = Path(tempfile.mkdtemp()) / "store"
            shutil.copytree(args.store, copy)
            with OxigraphServer(copy, read_only=True) as server:
                graph = load_graph(server.spec)
                results[name] = measure(name, graph, run, questions, args.single, ref and results[ref]["paths"])
            shutil.rmtree(copy.parent, ignore_errors=True)
        ref = ref or name
    summary = {"run": str(run), "questions_file": args.questions, "reference": ref, "backends": []}
    for name, res in results.items():
        s = dict(res["summary"])
        base = results[ref]
        s["top_path_differs"] = sum(a != b for a, b in zip(res["top"], base["top"]))
        s["first_answer_differs"] = sum(a != b for a, b in zip(res["first"], base["first"]))
        s["verdicts_differ"] = sum(a != b for a, b in zip(res["verdicts"], base["verdicts"]))
        summary["backends"].append(s)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "backends.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print("| backend | Hits@1 | top path differs | first answer differs | verdicts differ (of N) | "
          "ms/q batched | ms/q single | verify hops/s |")
    print("|---|---|---|---|---|---|---|---|")
    for s in summary["backends"]:
        print(f"| {s['backend']} | {100 * s['hits@1']:.1f} | {s['top_path_differs']} | {s['first_answer_differs']} | "
              f"{s['verdicts_differ']} (of {s['verified_paths']}) | {s['ms_per_question_batched']:.1f} | "
              f"{s['ms_per_question_single']:.1f} | {s['verify_hops_per_s']:,} |")


if __name__ == "__main__":
    main()
