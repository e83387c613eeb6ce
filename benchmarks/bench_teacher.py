"""Train and measure the GNN teacher on MetaQA 1/2/3-hop and PathQuestion PQ-2H/PQ-3H.

Run from the repository root (slow: a few minutes per dataset on 2 CPU cores):

    .venv/bin/python benchmarks/bench_teacher.py [--data ../shared/datasets] [--out runs/bench_teacher]
        [--only metaqa-1hop,pq-2h]

For each dataset it trains on the training file with early stopping on the validation
file (answers only; PathQuestion's gold paths are *not* used; every question of
these files is exactly k hops, so ``exact_hops`` is set), then prints strict
Hits@1, F1 (top path's endpoints), the share of questions whose top path reaches a gold
answer, the top path's expected calibration error, the reachability ceiling, training
time and peak RSS, and writes each teacher and its validation soft-target dump under
``--out``. Each dataset runs in a fresh process so peak RSS is per dataset.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from kgdistill.datasets.named import NAMED_DATASETS  # noqa: E402

DATASETS = {name: (d.graph, d.train, d.valid, d.hops) for name, d in NAMED_DATASETS.items() if not d.packaged}
"""``name -> (graph, train, valid, hops)`` relative to the data root: the library's named datasets."""


def run_one(name: str, data: Path, out: Path, epochs: int) -> dict:
    from kgdistill.datasets import load_questions
    from kgdistill.readers import load_graph, write_jsonl
    import dataclasses

    from kgdistill.teacher import TeacherConfig
    from kgdistill.teacher_training import TEACHER_TRAINING, score_predictions, train_teacher

    kb, train_f, valid_f, hops = DATASETS[name]
    kg = load_graph(data / kb)
    train, valid = load_questions(data / train_f), load_questions(data / valid_f)
    args = dataclasses.replace(TEACHER_TRAINING, epochs=epochs, max_minutes=9.0)  # the library's defaults otherwise
    t0 = time.perf_counter()
    teacher = train_teacher(kg, train, valid, TeacherConfig(), hops, True, args, progress=False)
    wall = time.perf_counter() - t0
    teacher.save(out / name / "teacher")
    t1 = time.perf_counter()
    preds = teacher.predict(kg, valid)
    predict_s = time.perf_counter() - t1
    write_jsonl(preds, out / name / "valid_soft_targets.jsonl")
    m = score_predictions(preds)
    m.update(reachable_ceiling=teacher.metrics["valid"]["reachable_ceiling"],
             train_seconds=teacher.metrics["train_seconds"], embed_seconds=teacher.metrics["embed_seconds"],
             wall_seconds_incl_embedding=wall, epochs=len(teacher.metrics["curve"]),
             predict_ms_per_question=1000 * predict_s / max(len(valid), 1),
             peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             train_questions=teacher.metrics["train_questions"])
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_teacher"))
    parser.add_argument("--only", default=",".join(DATASETS))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if args.child:
        (out / args.child).mkdir(parents=True, exist_ok=True)
        print(json.dumps(run_one(args.child, data, out, args.epochs)))
        return
    results = {}
    for name in args.only.split(","):
        proc = subprocess.run([sys.executable, __file__, "--child", name, "--data", str(data), "--out", str(out),
                               "--epochs", str(args.epochs)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(f"{name}: FAILED\n{proc.stderr[-2000:]}")
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name:<12} Hits@1 {100 * r['hits@1']:5.1f} (ceiling {100 * r['reachable_ceiling']:5.1f})  "
              f"F1 {100 * r['f1']:5.1f}  top path hit {100 * r['top_path_hit']:5.1f}  "
              f"ECE {r['top_path_ece']:.3f}  train {r['train_seconds']:5.0f} s ({r['epochs']} ep)  "
              f"peak RSS {r['peak_rss_mb']:5.0f} MB  predict {r['predict_ms_per_question']:.1f} ms/q", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
