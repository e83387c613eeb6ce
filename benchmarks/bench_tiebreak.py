"""How much strict Hits@1 depends on the tie-break between equally scored answers.

    .venv/bin/python benchmarks/bench_tiebreak.py runs/remeasure-metaqa-2hop

kgdistill breaks ties by label (the graph's file order must not change an answer); the
first release broke them by entity id (the order in which the file names entities).
This scores the same trained student and teacher on the run's validation file both
ways: entity ids are substituted for labels as the sort key, then the labels are put
back for scoring.
"""
from __future__ import annotations

import sys


def main(run: str) -> None:
    from kgdistill.datasets import load_questions
    from kgdistill.reasoner import Reasoner
    from kgdistill.teacher_training import score_predictions

    reasoner = Reasoner.from_run(run)
    graph, teacher = reasoner.graph, reasoner.teacher
    from kgdistill.runs import read_run_config

    valid = load_questions(read_run_config(run).valid)
    labels = list(graph.entity_labels_all())
    student_label = reasoner.evaluate(valid, with_teacher=False, with_ceiling=False)[0]["hits@1"]
    teacher_label = score_predictions(teacher.predict(graph, valid))["hits@1"]
    graph.entity_label = lambda e: f"{int(e):012d}"  # ids sort like labels now
    results = reasoner.answer(valid)
    preds = teacher.predict(graph, valid)
    del graph.entity_label
    for r in results:
        for a in r.answers:
            a.entity = labels[int(a.entity)]
    for p in preds:
        for a in p.ranked_answers:
            a["entity"] = labels[int(a["entity"])]
    student_id = sum(r.hit for r in results) / len(results)
    teacher_id = score_predictions(preds)["hits@1"]
    print(f"student Hits@1: ties by label {100 * student_label:.2f}, by id {100 * student_id:.2f}")
    print(f"teacher Hits@1: ties by label {100 * teacher_label:.2f}, by id {100 * teacher_id:.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
