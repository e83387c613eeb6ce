"""Training throughput of a pretrained student: the naive way (every hard and teacher
path re-encodes its prompt) against each prompt encoded once with its paths scored
against the prompt's KV cache, in fp32 and with bf16 autocast, in one run.

    .venv/bin/python benchmarks/bench_training.py --run runs/remeasure-metaqa-2hop [--base-model smollm2-135m]
        [--adaptation lora] [--batch 32] [--top-k 10] [--batches 3]

Records: the run's first training questions with the run's teacher's top-k paths
(re-dumped with ``--top-k``) as soft targets, alpha 0.5. Each setting runs one warm-up
batch and then ``--batches`` timed batches (forward, backward, AdamW step); the figure
is questions per second and minutes per epoch of the run's training set.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a trained run (its graph, questions and teacher are used)")
    parser.add_argument("--base-model", default="smollm2-135m")
    parser.add_argument("--adaptation", default="lora")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--settings", default="naive-fp32,shared-fp32,shared-bf16")
    parser.add_argument("--softmax", default="full", choices=("full", "paths"),
                        help="StudentConfig.softmax: paths computes only the path vocabulary's logits")
    args = parser.parse_args()

    from kgdistill.datasets import load_questions
    from kgdistill.distill import DistillConfig, batch_loss
    from kgdistill.readers import load_graph
    from kgdistill.runs import read_run_config
    from kgdistill.serializer import SerializerConfig, build_training_set
    from kgdistill.student import Student, StudentConfig, adapt
    from kgdistill.teacher_training import Teacher
    from kgdistill.training import autocast
    from kgdistill.vocabulary import RelationVocabulary

    cfg = read_run_config(args.run)
    kg = load_graph(cfg.graph, cfg.graph_format)
    train = load_questions(cfg.train, cfg.question_format)
    n_needed = args.batch * (args.batches + 1)
    questions = train[:n_needed]
    teacher = Teacher.load(Path(args.run) / "teacher")
    dump = [p.to_dict() for p in teacher.predict(kg, questions, top_k=args.top_k)]
    records = build_training_set(kg, questions, dump, SerializerConfig(top_k=args.top_k), cfg.hops)
    paths = sum(len(r.hard) + len(r.soft) for r in records) / len(records)
    torch.manual_seed(0)
    student = Student.create(RelationVocabulary.from_graph(kg), [r.prompt for r in records],
                             StudentConfig(base_model=args.base_model, adaptation=args.adaptation,
                                           softmax=args.softmax))
    adapt(student, args.adaptation)
    params = [p for p in student.model.parameters() if p.requires_grad]
    print(f"{args.base_model} {args.adaptation} (softmax {args.softmax}): {sum(p.numel() for p in params) / 1e6:.2f} M trainable of "
          f"{sum(p.numel() for p in student.model.parameters()) / 1e6:.1f} M; batches of {args.batch} questions, "
          f"{paths:.1f} paths per question (hard + teacher top-{args.top_k}); {torch.get_num_threads()} threads; "
          f"training set {len(train):,} questions")
    config = DistillConfig(alpha=0.5)
    results = {}
    for setting in args.settings.split(","):
        way, precision = setting.split("-")
        opt = torch.optim.AdamW(params, lr=1e-4)
        student.model.train()
        seconds = []
        for b in range(args.batches + 1):
            chunk = records[b * args.batch:(b + 1) * args.batch]
            t0 = time.perf_counter()
            with autocast(torch.device("cpu"), precision):
                loss = batch_loss(student, chunk, config, [True] * len(chunk), shared_prompts=way == "shared")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if b:  # the first batch warms up
                seconds.append(time.perf_counter() - t0)
        qps = args.batch * len(seconds) / sum(seconds)
        results[setting] = qps
        print(f"{setting:<12} {qps:6.2f} questions/s   {len(train) / qps / 60:7.1f} min/epoch   "
              f"({qps / results[args.settings.split(',')[0]]:.1f}x the first setting)", flush=True)


if __name__ == "__main__":
    main()
