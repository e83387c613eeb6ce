"""Graph-core benchmarks on MetaQA: load time and peak memory, batch verification
throughput, and relation-path enumeration latency (with hub caps).

Run from the repository root:

    .venv/bin/python benchmarks/bench_graph.py [--data ../shared/datasets]

Targets (issue 2): load <= 1.5 s and <= 300 MB peak RSS; >= 1M verified hops/s in
batch; median enumeration of all relation paths of length <= 3 from a MetaQA
entity <= 5 ms. Each figure is printed beside a baseline measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

LOAD_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy
from kgdistill.readers import load_graph
t_import = time.perf_counter() - t0
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
if sys.argv[2] == "kgdistill":
    kg = load_graph(sys.argv[1])
    n = kg.num_triples
else:  # baseline: read and split every line into Python lists, nothing else
    with open(sys.argv[1], encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("|") for line in fh]
    n = len(rows)
t_load = time.perf_counter() - t1
print(json.dumps({"import_s": t_import, "load_s": t_load, "triples": n,
                  "rss_before_mb": rss_before / 1024,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_load(kb: Path, repeats: int = 3) -> dict:
    out = {}
    for mode in ("baseline", "kgdistill"):
        runs = [json.loads(subprocess.run([sys.executable, "-c", LOAD_CHILD, str(kb), mode], check=True,
                                          capture_output=True, text=True, cwd=ROOT).stdout)
                for _ in range(repeats)]
        out[mode] = {"load_s_median": statistics.median(r["load_s"] for r in runs),
                     "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
                     "rss_after_imports_mb": runs[0]["rss_before_mb"], "triples": runs[0]["triples"]}
    out["load_ratio_vs_split"] = out["kgdistill"]["load_s_median"] / out["baseline"]["load_s_median"]
    return out


def random_paths(kg, rng: random.Random, n: int, corrupt_share: float = 0.5):
    """Random walks of 1-3 hops (direction chosen at random), a share of them corrupted."""
    from kgdistill.paths import GroundedPath, Relation

    paths = []
    ents = kg.entity_labels_all()
    while len(paths) < n:
        cur = rng.randrange(kg.num_entities)
        hops = rng.randint(1, 3)
        chain, rels = [cur], []
        for _ in range(hops):
            _, drels, dst = kg.edges(np.array([cur]))
            if drels.size == 0:
                break
            j = rng.randrange(drels.size)
            rels.append(Relation(kg.relation_label(int(drels[j]) // 2), bool(drels[j] % 2)))
            cur = int(dst[j])
            chain.append(cur)
        if not rels:
            continue
        names = [ents[e] for e in chain]
        if rng.random() < corrupt_share:
            k = rng.randrange(len(rels))
            if rng.random() < 0.5:
                rels[k] = rels[k].reversed()
            else:
                names[k + 1] = ents[rng.randrange(kg.num_entities)]
        paths.append(GroundedPath(tuple(names), tuple(rels)))
    return paths


def naive_verify(triples: set, paths) -> list[bool]:
    """Baseline: a Python set of name triples, one look-up per hop."""
    out = []
    for p in paths:
        ok = True
        for h, r, t in p.hops():
            key = (t, r.name, h) if r.inverse else (h, r.name, t)
            if key not in triples:
                ok = False
                break
        out.append(ok)
    return out


def bench_verify(kg, n_paths: int = 300_000) -> dict:
    from kgdistill.verify import verify_paths

    rng = random.Random(0)
    paths = random_paths(kg, rng, n_paths)
    hops = sum(len(p) for p in paths)
    verify_paths(kg, paths[:1000])  # warm-up
    best = min(_timed(lambda: verify_paths(kg, paths)) for _ in range(3))
    batch = verify_paths(kg, paths)
    t0 = time.perf_counter()
    triples = set(kg.triples())
    t_set = time.perf_counter() - t0
    t_naive = min(_timed(lambda: naive_verify(triples, paths)) for _ in range(3))
    naive = naive_verify(triples, paths)
    assert naive == batch.valid.tolist(), "batch verifier disagrees with the naive baseline"
    # The core check on ids (what an id-level decoder hands over): names resolved beforehand.
    from kgdistill.verify import verify_id_paths
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    ents = kg.entity_ids([e for p in paths for e in p.entities])
    drels = np.array([2 * kg.relation_id(r.name) + r.inverse for p in paths for r in p.relations], dtype=np.int64)
    t_ids = min(_timed(lambda: verify_id_paths(kg, ents, drels, lengths)) for _ in range(3))
    assert (verify_id_paths(kg, ents, drels, lengths)[1] == batch.codes).all()
    texts = [str(p) for p in paths[:50_000]]
    from kgdistill.paths import GroundedPath
    t_parse = _timed(lambda: [GroundedPath.parse(t) for t in texts])
    return {"paths": len(paths), "hops": hops, "valid_share": float(batch.valid.mean()),
            "seconds": best, "hops_per_s": hops / best, "id_hops_per_s": hops / t_ids,
            "naive_set_hops_per_s": hops / t_naive, "naive_set_build_s": t_set,
            "speedup_vs_naive": t_naive / best,
            "parse_paths_per_s": len(texts) / t_parse}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_enumerate(kg, data: Path, n_entities: int = 500) -> dict:
    from kgdistill.datasets import load_questions
    from kgdistill.paths import EnumerationLimits, enumerate_relation_paths

    topics = []
    for hops in (1, 2, 3):
        topics += [q.topic_entities[0] for q in load_questions(data / "metaqa" / f"{hops}-hop" / "qa_valid.txt")]
    topics = [t for t in dict.fromkeys(topics) if kg.entity_id(t) is not None]
    rng = random.Random(0)
    sample = rng.sample(topics, min(n_entities, len(topics)))
    limits = EnumerationLimits(max_hops=3)
    for t in sample[:20]:
        enumerate_relation_paths(kg, t, limits)  # warm-up
    times, counts, capped = [], [], 0
    for t in sample:
        t0 = time.perf_counter()
        res = enumerate_relation_paths(kg, t, limits)
        times.append(time.perf_counter() - t0)
        counts.append(len(res))
        capped += bool(res.capped)
    ms = np.array(times) * 1000
    hubs = {}
    for hub in ("Drama", "Comedy"):
        for name, lim in (("default caps", limits),
                          ("max_frontier_edges=20000", EnumerationLimits(max_hops=3, max_frontier_edges=20_000))):
            t0 = time.perf_counter()
            res = enumerate_relation_paths(kg, hub, lim)
            hubs[f"{hub} ({name})"] = {"ms": (time.perf_counter() - t0) * 1000, "paths": len(res),
                                       "caps_hit": len(res.capped),
                                       "first_cap": res.capped[0] if res.capped else None}
    return {"entities": len(sample), "source": "topic entities of MetaQA 1/2/3-hop qa_valid",
            "median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
            "max_ms": float(ms.max()), "median_paths": float(np.median(counts)),
            "entities_with_caps_hit": capped, "hubs": hubs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    data = Path(args.data)
    kb = data / "metaqa" / "kb.txt"
    from kgdistill.readers import load_graph

    results = {"load": bench_load(kb)}
    kg = load_graph(kb)
    results["verify"] = bench_verify(kg)
    results["enumerate"] = bench_enumerate(kg, data)
    ld, vf, en = results["load"], results["verify"], results["enumerate"]
    print(f"load MetaQA kb.txt ({ld['kgdistill']['triples']:,} triples): "
          f"{ld['kgdistill']['load_s_median']:.3f} s (target <= 1.5), peak RSS "
          f"{ld['kgdistill']['peak_rss_mb_max']:.0f} MB (target <= 300); baseline read+split "
          f"{ld['baseline']['load_s_median']:.3f} s / {ld['baseline']['peak_rss_mb_max']:.0f} MB; "
          f"ratio {ld['load_ratio_vs_split']:.2f}x")
    print(f"verify: {vf['paths']:,} paths, {vf['hops']:,} hops ({100 * vf['valid_share']:.0f}% valid) in "
          f"{vf['seconds']:.3f} s = {vf['hops_per_s'] / 1e6:.2f} M hops/s from names, "
          f"{vf['id_hops_per_s'] / 1e6:.1f} M hops/s on ids (target >= 1); naive Python "
          f"set baseline {vf['naive_set_hops_per_s'] / 1e6:.2f} M hops/s (after {vf['naive_set_build_s']:.2f} s building the set); "
          f"speed-up {vf['speedup_vs_naive']:.1f}x; "
          f"parsing text paths {vf['parse_paths_per_s'] / 1e3:.0f} k paths/s")
    print(f"enumerate paths <= 3 hops from {en['entities']} MetaQA topic entities: median "
          f"{en['median_ms']:.2f} ms (target <= 5), p90 {en['p90_ms']:.2f} ms, max {en['max_ms']:.1f} ms, "
          f"median {en['median_paths']:.0f} paths, caps hit for {en['entities_with_caps_hit']}")
    for name, h in en["hubs"].items():
        print(f"  hub {name}: {h['ms']:.1f} ms, {h['paths']} paths, {h['caps_hit']} caps hit"
              + (f" (e.g. {h['first_cap']})" if h["first_cap"] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
