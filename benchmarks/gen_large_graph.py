"""Write a large synthetic knowledge graph for the scale figures of the triple-store
backends (nothing large is committed: the files go where --out says).

The graph: ``--entities`` entities named ``Entity <n>`` (rdfs:label), ``--relations``
relations ``rel_<k>``, ``--triples`` triples drawn at random (a repeat is rare, and a
store or the in-memory graph keeps it once; self loops are dropped). Heads are uniform; tails are
uniform for 90% of the triples and drawn from 1,000 hub entities for the rest (hubs
with tens of thousands of edges, as real KGs have). The same triples are written as
N-Triples (for ``kgdistill import``, which streams them) and, with ``--tsv``, as a
tab-separated file (for loading the same graph in memory).

    .venv/bin/python benchmarks/gen_large_graph.py --out /tmp/large --triples 20000000
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

BASE = "http://kgdistill.local/large/"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"


def triples(n_entities: int, n_relations: int, n_triples: int, seed: int, chunk: int = 1_000_000):
    """Chunks of ``(head, relation, tail)`` id arrays."""
    rng = np.random.default_rng(seed)
    hubs = rng.choice(n_entities, size=min(1000, n_entities), replace=False)
    seen = 0
    while seen < n_triples:
        n = min(chunk, n_triples - seen)
        h = rng.integers(0, n_entities, n)
        r = rng.integers(0, n_relations, n)
        t = np.where(rng.random(n) < 0.9, rng.integers(0, n_entities, n), hubs[rng.integers(0, hubs.size, n)])
        keep = h != t
        h, r, t = h[keep], r[keep], t[keep]
        seen += h.size
        yield h, r, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--entities", type=int, default=2_000_000)
    ap.add_argument("--relations", type=int, default=20)
    ap.add_argument("--triples", type=int, default=20_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tsv", action="store_true", help="also write graph.tsv (the same triples by name)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ent = np.array([f"<{BASE}e{i}>" for i in range(args.entities)], dtype=object)
    rel = np.array([f"<{BASE}rel_{k}>" for k in range(args.relations)], dtype=object)
    names = np.array([f"Entity {i}" for i in range(args.entities)], dtype=object)
    n = 0
    tsv = open(out / "graph.tsv", "w", encoding="utf-8") if args.tsv else None
    with open(out / "graph.nt", "w", encoding="utf-8") as nt:
        for k in range(args.relations):
            nt.write(f'{rel[k]} {LABEL} "rel_{k}" .\n')
        for a in range(0, args.entities, 500_000):
            nt.write("".join(f'{e} {LABEL} "{x}" .\n' for e, x in zip(ent[a:a + 500_000], names[a:a + 500_000])))
        for h, r, t in triples(args.entities, args.relations, args.triples, args.seed):
            nt.write("".join(f"{a} {b} {c} .\n" for a, b, c in zip(ent[h], rel[r], ent[t])))
            if tsv is not None:
                tsv.write("".join(f"{a}\trel_{b}\t{c}\n" for a, b, c in zip(names[h], r.tolist(), names[t])))
            n += h.size
            print(f"{n:,} triples written ({time.perf_counter() - start:.0f} s)", flush=True)
    if tsv is not None:
        tsv.close()
    print(f"wrote {out}/graph.nt{' and graph.tsv' if tsv else ''}: {n:,} triples, {args.entities:,} entities, "
          f"{args.relations} relations, in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
