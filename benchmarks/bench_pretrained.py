"""Train a pretrained student on a run's teacher: the teacher, its soft targets and the
training set are copied from an existing run (so only the student trains), then
``kgdistill.runs.train_run`` does the rest, exactly as ``kgdistill train`` would.

    .venv/bin/python benchmarks/bench_pretrained.py --from runs/remeasure-pq-3h --out runs/smol-pq3h-lora \\
        [--base-model smollm2-135m] [--adaptation lora] [--lr 5e-4] [--softmax paths] [--precision bf16] \\
        [--max-minutes 20] [--unlabeled FILE] [--alpha 0.5]

Then score it on any question file with ``kgdistill evaluate --run OUT --questions F``.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path


def main() -> None:
    from kgdistill.configs import STUDENT_TRAINING, StudentConfig
    from kgdistill.runs import read_run_config, train_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True, help="a trained run whose teacher is reused")
    parser.add_argument("--out", required=True)
    parser.add_argument("--base-model", default="smollm2-135m")
    parser.add_argument("--adaptation", default="lora")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--softmax", default="paths", choices=("full", "paths"))
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"))
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=None, help="default: the source run's")
    parser.add_argument("--unlabeled", help="questions without answers for teacher soft targets")
    args = parser.parse_args()
    src, out = Path(args.source), Path(args.out)
    base = read_run_config(src)
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("teacher", "soft_targets.jsonl", "train_set.jsonl"):
        if not (out / stage).exists():
            (shutil.copytree if (src / stage).is_dir() else shutil.copy)(src / stage, out / stage)
    distill = base.distill if args.alpha is None else dataclasses.replace(base.distill, alpha=args.alpha)
    cfg = dataclasses.replace(
        base, unlabeled=args.unlabeled, distill=distill, inferred={},
        student=StudentConfig(base_model=args.base_model, adaptation=args.adaptation, softmax=args.softmax,
                              max_length=128),
        student_training=dataclasses.replace(STUDENT_TRAINING, lr=args.lr, precision=args.precision,
                                             max_minutes=args.max_minutes, patience=args.patience))
    t0 = time.time()
    metrics = train_run(cfg, out, progress=False, echo=print)
    v = metrics["valid"]
    print(f"wall {time.time() - t0:.0f} s; validation Hits@1 student {100 * v['hits@1']:.1f}, "
          f"teacher {100 * v['teacher']['hits@1']:.1f}; {v['ms_per_question']:.1f} ms/question")


if __name__ == "__main__":
    main()
