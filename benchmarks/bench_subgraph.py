"""Question-subgraph sizes and answer coverage on the validation files.

Run from the repository root:

    .venv/bin/python benchmarks/bench_subgraph.py [--data ../shared/datasets] [--caps 300,1000,5000]

For each dataset and hub cap (``max_expand_degree``) it prints the median / p90 / max
number of nodes and edges per question subgraph, the extraction time, and the share
of questions with a gold answer inside the subgraph, beside the share with an answer
within k hops of the topic in the whole graph (the ceiling).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from bench_teacher import DATASETS  # noqa: E402  (run from benchmarks/ or with it on sys.path)

FILES = {name: (kb, valid, hops) for name, (kb, _, valid, hops) in DATASETS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--caps", default="300,1000,5000")
    args = parser.parse_args()
    from kgdistill.datasets import answer_coverage, load_questions
    from kgdistill.readers import load_graph
    from kgdistill.subgraph import SubgraphConfig, extract_subgraph

    data = Path(args.data)
    graphs = {}
    for name, (kb, qfile, hops) in FILES.items():
        kg = graphs.setdefault(kb, load_graph(data / kb))
        qs = load_questions(data / qfile)
        ceiling = answer_coverage(kg, qs, hops).reachable_share
        for cap in (int(c) for c in args.caps.split(",")):
            cfg = SubgraphConfig(num_hops=hops, max_expand_degree=cap)
            nodes, edges, covered, t0 = [], [], 0, time.perf_counter()
            for q in qs:
                topics = kg.entity_ids(q.topic_entities)
                topics = topics[topics >= 0]
                if topics.size == 0:
                    continue
                sub = extract_subgraph(kg, topics, cfg)
                answers = kg.entity_ids(q.answers)
                covered += bool((sub.local_ids(answers[answers >= 0]) >= 0).any())
                nodes.append(sub.num_nodes)
                edges.append(sub.num_edges)
            ms = 1000 * (time.perf_counter() - t0) / len(qs)
            print(f"{name:<12} cap {cap:>5}: nodes median {np.median(nodes):>6.0f} p90 {np.percentile(nodes, 90):>6.0f} "
                  f"max {max(nodes):>6}; edges median {np.median(edges):>6.0f} max {max(edges):>6}; "
                  f"{ms:5.2f} ms/question; answer inside {100 * covered / len(qs):5.1f}% "
                  f"(ceiling {100 * ceiling:5.1f}%)", flush=True)


if __name__ == "__main__":
    main()
