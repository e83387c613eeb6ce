"""Train runs with the library's pipeline and measure the students on the validation files.

Run from the repository root (slow: minutes to tens of minutes per dataset on 2 CPU cores):

    .venv/bin/python benchmarks/bench_student.py --only pq-2h,metaqa-1hop [--alphas 1.0,0.5,0.0]
        [--fractions 1.0,0.1] [--soft-loss rest] [--out runs/bench_student]

Per dataset and (alpha, label fraction) it builds the library's :class:`RunConfig` (every
setting at its default unless given here) and calls :func:`kgdistill.runs.train_run`,
exactly what ``kgdistill train`` does. The teacher, its soft targets and the training
set of the first run are copied into the others (they do not depend on alpha), so each
dataset trains one teacher. On the validation file it prints strict Hits@1, F1 of the
top path, the share of decoded paths that verify with graph-constrained decoding (and
without), query latency batched (64) and at batch size 1 (through the
:class:`~kgdistill.reasoner.Reasoner`), and the teacher's Hits@1 and latency on the
same questions (question encoding included, no cache). ``--reuse`` re-measures runs
already in ``--out``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
from bench_teacher import DATASETS  # noqa: E402

SHARED_STAGES = ("teacher", "soft_targets.jsonl", "train_set.jsonl")


def run(name: str, data: Path, out: Path, alphas, fractions, args) -> list[dict]:
    from kgdistill.datasets import load_questions
    from kgdistill.distill import STUDENT_TRAINING, DistillConfig
    from kgdistill.encoder import SentenceEncoder
    from kgdistill.reasoner import Reasoner, score_answers
    from kgdistill.runs import RunConfig, train_run
    from kgdistill.teacher_training import Teacher, score_predictions

    kb, train_f, valid_f, hops = DATASETS[name]
    rows, first = [], None
    for fraction in fractions:
        for alpha in alphas:
            run_dir = out / name / f"alpha{alpha}_frac{fraction}_{args.soft_loss}"
            training = dataclasses.replace(STUDENT_TRAINING, epochs=args.epochs, max_minutes=args.max_minutes,
                                           patience=args.patience)
            config = RunConfig(graph=str(data / kb), train=str(data / train_f), valid=str(data / valid_f),
                               hops=hops, exact_hops=True, student_training=training,
                               distill=DistillConfig(alpha=alpha, label_fraction=fraction,
                                                     soft_loss=args.soft_loss))
            if not (args.reuse and (run_dir / "metrics.json").exists()):
                if first is not None and not (run_dir / "teacher").exists():
                    run_dir.mkdir(parents=True, exist_ok=True)
                    for stage in SHARED_STAGES:
                        src = first / stage
                        (shutil.copytree if src.is_dir() else shutil.copy)(src, run_dir / stage)
                train_run(config, run_dir, progress=False)
            first = first or run_dir
            reasoner = Reasoner.from_run(run_dir, beam_size=5)
            kg, student = reasoner.graph, reasoner.student
            valid = load_questions(data / valid_f)
            t0 = time.perf_counter()
            res = reasoner.answer(valid)
            batched_ms = 1000 * (time.perf_counter() - t0) / len(valid)
            s = score_answers(res)
            un = score_answers(Reasoner(kg, student, max_hops=hops, constrained=False).answer(valid))
            single = Reasoner(kg, student, max_hops=hops, batch_size=1)
            sample = valid[:100]
            t0 = time.perf_counter()
            single.answer(sample)
            single_ms = 1000 * (time.perf_counter() - t0) / len(sample)
            cold = Teacher.load(run_dir / "teacher", encoder=SentenceEncoder(use_cache=False))
            t0 = time.perf_counter()
            tscores = score_predictions(cold.predict(kg, valid))
            teacher_ms = 1000 * (time.perf_counter() - t0) / len(valid)
            m = json.loads((run_dir / "student" / "metrics.json").read_text())
            rows.append({"dataset": name, "alpha": alpha, "label_fraction": fraction, "soft_loss": args.soft_loss,
                         "hits@1": s["hits@1"], "f1": s["f1"], "valid_paths_constrained": s["valid_path_share"],
                         "unconstrained_hits@1": un["hits@1"], "valid_paths_unconstrained": un["valid_path_share"],
                         "query_ms_batched": batched_ms, "query_ms_batch1": single_ms,
                         "train_seconds": m["train_seconds"], "epochs": len(m["curve"]), "stopped": m.get("stopped"),
                         "parameters": sum(p.numel() for p in student.model.parameters()),
                         "teacher_hits@1": tscores["hits@1"], "teacher_f1": tscores["f1"],
                         "teacher_ms_per_question": teacher_ms, "torch_threads": torch.get_num_threads()})
            r = rows[-1]
            print(f"{name:<12} alpha {alpha:.1f} labels {fraction:>4.0%}: Hits@1 {100 * r['hits@1']:5.1f} "
                  f"(teacher {100 * r['teacher_hits@1']:5.1f})  F1 {100 * r['f1']:5.1f} (teacher "
                  f"{100 * r['teacher_f1']:5.1f})  valid paths {100 * r['valid_paths_constrained']:5.1f}% "
                  f"(unconstrained {100 * r['valid_paths_unconstrained']:5.1f}%, Hits@1 "
                  f"{100 * r['unconstrained_hits@1']:5.1f})  query {r['query_ms_batched']:.1f} ms batched / "
                  f"{r['query_ms_batch1']:.1f} ms single (teacher {r['teacher_ms_per_question']:.1f} ms)  "
                  f"train {r['train_seconds']:.0f} s, {r['parameters'] / 1e6:.2f} M params", flush=True)
    return rows


def main() -> None:
    from kgdistill.distill import STUDENT_TRAINING
    from kgdistill.losses import SOFT_LOSSES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_student"))
    parser.add_argument("--only", default=",".join(DATASETS))
    parser.add_argument("--alphas", default="0.5")
    parser.add_argument("--fractions", default="1.0")
    parser.add_argument("--epochs", type=int, default=STUDENT_TRAINING.epochs)
    parser.add_argument("--max-minutes", type=float, default=0.0)
    parser.add_argument("--patience", type=int, default=STUDENT_TRAINING.patience)
    parser.add_argument("--soft-loss", choices=sorted(SOFT_LOSSES), default="rest")
    parser.add_argument("--reuse", action="store_true",
                        help="measure runs already trained in --out again instead of retraining them")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for name in args.only.split(","):
        rows += run(name, Path(args.data), out, [float(a) for a in args.alphas.split(",")],
                    [float(f) for f in args.fractions.split(",")], args)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results_{int(time.time())}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
