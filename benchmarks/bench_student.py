"""Distil students from trained teachers and measure them on the validation files.

Run from the repository root after ``benchmarks/bench_teacher.py`` (which saves the
teachers under ``runs/bench_teacher/<dataset>/teacher``):

    .venv/bin/python benchmarks/bench_student.py --only pq-2h,metaqa-1hop [--alphas 1.0,0.5,0.0]
        [--fractions 1.0,0.1] [--teachers runs/bench_teacher] [--out runs/bench_student]

Per dataset: the teacher dumps its path distribution on the training file, the
serializer writes the training set (temperature 1, top-5), and a default student
(2-layer GPT-2 style, built from a config) is distilled for each alpha and label
fraction. On the validation file it prints strict Hits@1, F1 of the top path, the share
of decoded paths that verify with graph-constrained decoding (and without), query
latency batched (64) and at batch size 1, and the teacher's Hits@1 and latency on the
same questions (batched, question encoding included; the cached-encoding figure too). ``--reuse`` re-measures students already in ``--out`` (training time
and epochs are then those recorded when they were trained).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
from bench_teacher import DATASETS  # noqa: E402


def run(name: str, data: Path, teachers: Path, out: Path, alphas, fractions, epochs: int, minutes: float,
        student_config=None, patience: int = 3, reuse: bool = False, soft_rest: bool = False) -> list[dict]:
    from kgdistill.datasets import load_questions
    from kgdistill.distill import DistillConfig, train_student
    from kgdistill.query import answer_questions, score_answers
    from kgdistill.readers import load_graph
    from kgdistill.serializer import SerializerConfig, build_training_set
    from kgdistill.student import Student, StudentConfig
    from kgdistill.encoder import SentenceEncoder
    from kgdistill.teacher_training import Teacher, score_predictions, seed_everything

    kb, train_f, valid_f, hops = DATASETS[name]
    kg = load_graph(data / kb)
    train, valid = load_questions(data / train_f), load_questions(data / valid_f)
    teacher = Teacher.load(teachers / name / "teacher")
    t0 = time.perf_counter()
    tpreds = teacher.predict(kg, valid)
    teacher_cached_ms = 1000 * (time.perf_counter() - t0) / len(valid)
    teacher_scores = score_predictions(tpreds)
    # At query time the teacher must also encode the question (MiniLM): time it without the cache.
    cold = Teacher.load(teachers / name / "teacher", encoder=SentenceEncoder(use_cache=False))
    t0 = time.perf_counter()
    cold.predict(kg, valid)
    teacher_ms = 1000 * (time.perf_counter() - t0) / len(valid)
    serializer = SerializerConfig(max_hops=hops)
    records, dump_s, serialize_s = None, None, None
    rows = []
    for fraction in fractions:
        for alpha in alphas:
            run_dir = out / name / f"alpha{alpha}_frac{fraction}"
            if reuse and (run_dir / "kgdistill.json").exists() and (run_dir / "metrics.json").exists():
                student, m = Student.load(run_dir), json.loads((run_dir / "metrics.json").read_text())
            else:
                if records is None:  # the teacher's soft targets on the training file, then the training set
                    t0 = time.perf_counter()
                    dump = [p.to_dict() for p in teacher.predict(kg, train)]
                    dump_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    records = build_training_set(kg, train, dump, serializer)
                    serialize_s = time.perf_counter() - t0
                seed_everything(0)
                student = Student.create(kg.relation_labels_all(), [r.prompt for r in records],
                                         student_config or StudentConfig())
                config = DistillConfig(alpha=alpha, epochs=epochs, max_hops=hops, label_fraction=fraction,
                                       max_train_minutes=minutes, patience=patience,
                                       soft_rest=soft_rest)
                m = train_student(student, kg, records, valid, config, out_dir=run_dir, progress=False,
                                  serializer=serializer)
            t0 = time.perf_counter()
            res = answer_questions(student, kg, valid, beam_size=5, max_hops=hops, batch_size=64)
            batched_ms = 1000 * (time.perf_counter() - t0) / len(valid)
            s = score_answers(res)
            un = score_answers(answer_questions(student, kg, valid, beam_size=5, max_hops=hops, constrained=False))
            sample = valid[:100]
            t0 = time.perf_counter()
            for q in sample:
                answer_questions(student, kg, [q], beam_size=5, max_hops=hops, batch_size=1)
            single_ms = 1000 * (time.perf_counter() - t0) / len(sample)
            size = sum(p.numel() for p in student.model.parameters())
            rows.append({"dataset": name, "alpha": alpha, "label_fraction": fraction, "soft_rest": soft_rest,
                         "hits@1": s["hits@1"],
                         "f1": s["f1"], "valid_paths_constrained": s["valid_path_share"],
                         "unconstrained_hits@1": un["hits@1"], "valid_paths_unconstrained": un["valid_path_share"],
                         "query_ms_batched": batched_ms, "query_ms_batch1": single_ms,
                         "train_seconds": m["train_seconds"], "epochs": len(m["curve"]), "parameters": size,
                         "teacher_hits@1": teacher_scores["hits@1"], "teacher_f1": teacher_scores["f1"],
                         "teacher_ms_per_question": teacher_ms, "teacher_ms_cached_encoding": teacher_cached_ms,
                         "dump_seconds": dump_s,
                         "serialize_seconds": serialize_s, "torch_threads": torch.get_num_threads()})
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--teachers", default=str(ROOT / "runs" / "bench_teacher"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_student"))
    parser.add_argument("--only", default=",".join(DATASETS))
    parser.add_argument("--alphas", default="0.5")
    parser.add_argument("--fractions", default="1.0")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--soft-rest", action=argparse.BooleanOptionalAction, default=False,
                        help="soft loss over the top k plus 'any other path' (DistillConfig.soft_rest; "
                             "the library default is on, this benchmark's default off, as in RESULTS.md)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure students already trained in --out again instead of retraining them")
    parser.add_argument("--n-layer", type=int, default=None, help="student layers (default: StudentConfig's)")
    parser.add_argument("--n-embd", type=int, default=None, help="student width (default: StudentConfig's)")
    args = parser.parse_args()
    out = Path(args.out)
    from kgdistill.student import StudentConfig

    sizes = {k: v for k, v in (("n_layer", args.n_layer), ("n_embd", args.n_embd)) if v is not None}
    rows = []
    for name in args.only.split(","):
        rows += run(name, Path(args.data), Path(args.teachers), out, [float(a) for a in args.alphas.split(",")],
                    [float(f) for f in args.fractions.split(",")], args.epochs, args.max_minutes,
                    StudentConfig(**sizes), args.patience, args.reuse, args.soft_rest)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results_{int(time.time())}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
