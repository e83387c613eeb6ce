"""Decoding speed: graph-constrained beam search re-encoding the prompt at every step
against the KV-cache decoder, in fp32 and bf16, batched and one question at a time.

    .venv/bin/python benchmarks/bench_decoding.py [--student smollm2-135m|RUN/student] [--questions 64]

The student is SmolLM2-135M-Instruct with relation tokens for MetaQA's relations (its
path choices are untrained, which does not change the cost of a step) or a trained
student directory. Prompts are the first MetaQA 2-hop validation questions; beam 5,
at most 2 hops (3 decoding steps with the end token), constrained by MetaQA's graph.
Each figure is end-to-end decoding time per question (tokenising, model steps,
constraint look-ups), best of ``--repeat`` runs; a warm-up run comes first.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--student", default="smollm2-135m")
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--single", type=int, default=16, help="questions timed one at a time")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--softmax", default="full", choices=("full", "paths"),
                        help="StudentConfig.softmax of a --student given by name")
    args = parser.parse_args()

    from kgdistill.datasets import load_questions
    from kgdistill.decoding import decode_paths, decode_paths_cached
    from kgdistill.readers import load_graph
    from kgdistill.serializer import SerializerConfig, make_prompt
    from kgdistill.student import Student, StudentConfig
    from kgdistill.vocabulary import RelationVocabulary

    data = Path(args.data)
    kg = load_graph(data / "metaqa" / "kb.txt")
    qs = load_questions(data / "metaqa" / "2-hop" / "qa_valid.txt")[: args.questions]
    if Path(args.student).is_dir():
        student = Student.load(args.student)
    else:
        student = Student.create(RelationVocabulary.from_graph(kg), [],
                                 StudentConfig(base_model=args.student, softmax=args.softmax))
    binding = student.vocabulary.bind(kg)
    prompts = [make_prompt(q.text, q.topic_entities, SerializerConfig()) for q in qs]
    topics = [kg.entity_ids(q.topic_entities) for q in qs]
    params = sum(p.numel() for p in student.model.parameters())
    print(f"student {args.student} ({params / 1e6:.1f} M parameters, softmax {student.config.softmax}), "
          f"{len(qs)} questions, beam 5, 2 hops, "
          f"{torch.get_num_threads()} threads")
    rows = []
    for precision in ("fp32", "bf16"):
        student.model.to(torch.bfloat16 if precision == "bf16" else torch.float32)
        for name, fn in (("re-encode", decode_paths), ("kv-cache", decode_paths_cached)):
            batched = timed(lambda: fn(student, prompts, 5, 2, kg, topics, binding), args.repeat)
            single = timed(lambda: [fn(student, [p], 5, 2, kg, [t], binding)
                                    for p, t in zip(prompts[: args.single], topics[: args.single])], 1)
            rows.append((precision, name, 1000 * batched / len(prompts), 1000 * single / args.single))
            print(f"{precision}  {name:<10} {rows[-1][2]:8.1f} ms/question batched  {rows[-1][3]:8.1f} ms single",
                  flush=True)
    base = rows[0][2]
    print("speed-up over re-encoding fp32 (batched): " +
          ", ".join(f"{p} {n} {base / b:.1f}x" for p, n, b, _ in rows))


if __name__ == "__main__":
    main()
