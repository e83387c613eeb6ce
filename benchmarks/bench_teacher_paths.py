"""The teacher's relation-path accuracy on a JSONL question file with gold paths (e.g.
the twins of ``benchmarks/reword.py --jsonl``), and the wordings it gets wrong most.

    .venv/bin/python benchmarks/bench_teacher_paths.py --run runs/remeasure-metaqa-1hop \\
        --questions runs/reworded/metaqa-1hop-valid-reworded.jsonl \\
        [--wordings runs/reworded/metaqa-1hop-valid-reworded.txt] [--show 10]

``kgdistill evaluate`` reports relation-path accuracy for the student only; this script
scores the teacher's top path (the one its soft targets put most mass on) against each
question's gold path. With ``--wordings`` (the MetaQA-format file the JSONL twin was
made from, line for line) errors are grouped by template: the question with its
``[topic]`` replaced by ``{X}``.
"""
from __future__ import annotations

import argparse
import collections
import re


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a run directory with teacher/")
    p.add_argument("--questions", required=True, help="kgdistill JSONL with gold_path per question")
    p.add_argument("--wordings", help="the MetaQA-format twin, to group errors by template")
    p.add_argument("--show", type=int, default=10, help="templates and confusions shown")
    args = p.parse_args()

    from kgdistill.datasets import load_questions
    from kgdistill.readers import load_graph
    from kgdistill.runs import read_run_config
    from kgdistill.teacher_training import Teacher

    cfg = read_run_config(args.run)
    graph = load_graph(cfg.graph, cfg.graph_format)
    questions = load_questions(args.questions, format="jsonl")
    if any(q.gold_path is None for q in questions):
        raise SystemExit(f"{args.questions}: every question needs a gold_path")
    preds = Teacher.load(f"{args.run}/teacher").predict(graph, questions, top_k=1)
    templates = None
    if args.wordings:
        lines = open(args.wordings, encoding="utf-8").read().splitlines()
        if len(lines) != len(questions):
            raise SystemExit(f"{args.wordings}: {len(lines)} lines for {len(questions)} questions")
        templates = [re.sub(r"\[[^\]]*\]", "{X}", line.split("\t")[0]) for line in lines]
    wrong, total, confusions = collections.Counter(), collections.Counter(), collections.Counter()
    for i, (q, pr) in enumerate(zip(questions, preds)):
        d = pr if isinstance(pr, dict) else pr.to_dict()
        top = d["paths"][0]["path"] if d["paths"] else None
        key = (str(q.gold_path), templates[i] if templates else "")
        total[key] += 1
        if top != str(q.gold_path):
            wrong[key] += 1
            confusions[(str(q.gold_path), top)] += 1
    n_wrong = sum(wrong.values())
    print(f"{args.run} teacher on {args.questions}: relation-path accuracy "
          f"{100 * (1 - n_wrong / len(questions)):.1f}% ({n_wrong} of {len(questions)} wrong)")
    if templates:
        print("most missed templates (wrong / questions, gold path, template):")
        for key, v in wrong.most_common(args.show):
            print(f"  {v} / {total[key]}  {key[0]}  {key[1]!r}")
    print("confusions (count, gold -> teacher's top):")
    for (gold, top), v in confusions.most_common(args.show):
        print(f"  {v}  {gold} -> {top}")


if __name__ == "__main__":
    main()
