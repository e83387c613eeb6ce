"""Train a pretrained student on a run's teacher: the teacher, its soft targets and the
training set are copied from an existing run (so only the student trains), then
``kgdistill.runs.train_run`` does the rest, exactly as ``kgdistill train`` would.

    .venv/bin/python benchmarks/bench_pretrained.py --from runs/remeasure-pq-3h --out runs/smol-pq3h-lora \\
        [--base-model smollm2-135m|none] [--adaptation lora] [--lr 5e-4] [--valid FILE] [--softmax paths] [--precision auto] \\
        [--max-minutes 20] [--unlabeled FILE] [--alpha 0.5]

Then score it on any question file with ``kgdistill evaluate --run OUT --questions F``.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path


def pretrained_config(source: Path, out: Path, base_model: str = "smollm2-135m", adaptation: str = "lora",
                      lr: float | None = None, softmax: str = "paths", precision: str = "auto", max_minutes: float = 20.0,
                      patience: int = 2, alpha: float | None = None, unlabeled: str | None = None,
                      sample: int = 0, seed: int = 0, valid: str | None = None):
    """The run config of a pretrained student trained on ``source``'s teacher, with the
    teacher, its soft targets and the training records copied into ``out`` (with
    ``sample``, a seeded random sample of that many training records); ``valid``
    replaces the source run's validation file."""
    import random

    from kgdistill.configs import STUDENT_TRAINING, StudentConfig
    from kgdistill.runs import read_run_config

    base = read_run_config(source)
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("teacher", "soft_targets.jsonl", "train_set.jsonl"):
        if not (out / stage).exists():
            if stage == "train_set.jsonl" and sample:
                lines = (source / stage).read_text().splitlines(keepends=True)
                keep = sorted(random.Random(seed).sample(range(len(lines)), min(sample, len(lines))))
                (out / stage).write_text("".join(lines[i] for i in keep))
            else:
                (shutil.copytree if (source / stage).is_dir() else shutil.copy)(source / stage, out / stage)
    distill = base.distill if alpha is None else dataclasses.replace(base.distill, alpha=alpha)
    from kgdistill.configs import auto_precision, student_lr

    if base_model in (None, "none"):  # the small built student, for comparison, at its own defaults
        student, patience = StudentConfig(), STUDENT_TRAINING.patience
    else:
        student = StudentConfig(base_model=base_model, adaptation=adaptation, softmax=softmax, max_length=128)
    lr, precision = student_lr(student, lr), auto_precision(precision, student.base_model is not None)
    return dataclasses.replace(
        base, unlabeled=unlabeled, distill=distill, inferred={}, valid=valid or base.valid, student=student,
        student_training=dataclasses.replace(STUDENT_TRAINING, lr=lr, precision=precision,
                                             max_minutes=max_minutes, patience=patience))


def main() -> None:
    from kgdistill.runs import train_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True, help="a trained run whose teacher is reused")
    parser.add_argument("--out", required=True)
    parser.add_argument("--base-model", default="smollm2-135m",
                        help="'none': the small built student at its own defaults (lr, fp32), for comparison")
    parser.add_argument("--adaptation", default="lora")
    parser.add_argument("--lr", type=float, default=None, help="default: the adaptation mode's (kgdistill.configs.student_lr)")
    parser.add_argument("--valid", help="validation questions instead of the source run's")
    parser.add_argument("--softmax", default="paths", choices=("full", "paths"))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="auto: bf16 where the CPU computes it natively (AVX512-BF16/AMX), else fp32")
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=None, help="default: the source run's")
    parser.add_argument("--unlabeled", help="questions without answers for teacher soft targets")
    parser.add_argument("--sample", type=int, default=0, help="train on a seeded sample of this many records")
    args = parser.parse_args()
    out = Path(args.out)
    cfg = pretrained_config(Path(args.source), out, args.base_model, args.adaptation, args.lr, args.softmax,
                            args.precision, args.max_minutes, args.patience, args.alpha, args.unlabeled, args.sample,
                            valid=args.valid)
    t0 = time.time()
    metrics = train_run(cfg, out, progress=False, echo=print)
    v = metrics["valid"]
    print(f"wall {time.time() - t0:.0f} s; validation Hits@1 student {100 * v['hits@1']:.1f}, "
          f"teacher {100 * v['teacher']['hits@1']:.1f}; {v['ms_per_question']:.1f} ms/question")


if __name__ == "__main__":
    main()
