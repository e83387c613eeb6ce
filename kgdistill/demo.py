"""``kgdistill demo``: the whole system on the example graph (``graphs/`` in the source
tree, shipped inside the package as ``kgdistill/datasets/world``).

Trains the GNN teacher and the distilled student on the example questions (about a
minute on 2 CPU cores), answers questions with verified explanations, shows the
verifier rejecting paths with the failing hop, and writes pictures of one answer's
reasoning subgraph and of the training curves.
"""
from __future__ import annotations

import time
import logging
from pathlib import Path
from typing import Callable


logger = logging.getLogger(__name__)

DEMO_QUESTIONS = [
    ("What country is the city where Joe Biden was born in?", "Joe Biden"),
    ("Who is married to Michelle Obama?", "Michelle Obama"),
    ("What currency is used in the country where Marie Curie was born?", "Marie Curie"),
    ("In which country was the founder of Apple born?", "Apple"),
]

# Demo-sized training: small graph, few questions.
DEMO_TEACHER = {"epochs": 12, "patience": 4}
DEMO_STUDENT = {"epochs": 25, "patience": 6}


def run_demo(out: str | Path, graph_path: str | Path | None = None, retrain: bool = False,
             echo: Callable[[str], None] = logger.info) -> int:
    """Run the demo into ``out``; everything it shows goes to ``echo`` (the command line
    passes ``print``)."""
    import dataclasses

    from kgdistill.datasets import Question, world_dir
    from kgdistill.distill import STUDENT_TRAINING
    from kgdistill.paths import GroundedPath
    from kgdistill.plots import plot_reasoning
    from kgdistill.readers import load_graph
    from kgdistill.reasoner import Reasoner
    from kgdistill.runs import RunConfig, summary_line, train_run
    from kgdistill.teacher_training import TEACHER_TRAINING
    from kgdistill.verify import verify_path

    out = Path(out)
    if retrain and out.exists():
        import shutil

        if not (out / "config.json").exists():
            raise FileExistsError(f"{out} exists and is not a kgdistill run; choose another --out")
        shutil.rmtree(out)
    EXAMPLE_DIR = world_dir()
    graph_path = Path(graph_path or EXAMPLE_DIR / "world.ttl")
    kg = load_graph(graph_path)
    echo(f"== The example graph {graph_path.name}: {kg.num_entities:,} entities, {kg.num_relations} relations, "
          f"{kg.num_triples:,} triples")
    echo(f"\n== Training teacher and student into {out}/ "
          f"(questions: {EXAMPLE_DIR / 'world_train.jsonl'}, validation: world_valid.jsonl)")
    start = time.perf_counter()
    config = RunConfig(graph=str(graph_path), train=str(EXAMPLE_DIR / "world_train.jsonl"),
                       valid=str(EXAMPLE_DIR / "world_valid.jsonl"),
                       teacher_training=dataclasses.replace(TEACHER_TRAINING, **DEMO_TEACHER),
                       student_training=dataclasses.replace(STUDENT_TRAINING, **DEMO_STUDENT))
    metrics = train_run(config, out, progress=True, echo=lambda s: echo("  " + s))
    echo(f"  done in {time.perf_counter() - start:.0f} s")
    student_params = metrics["sizes"]["student_parameters"]
    echo(f"  validation ({metrics['valid']['questions']} questions), student {student_params / 1e6:.2f} M "
          f"parameters:")
    echo("  " + summary_line(metrics["valid"]).replace("\n", "\n  "))

    reasoner = Reasoner.from_run(out, kg)
    echo("\n== Questions answered by the student, each answer with the path that proves it")
    questions = [Question(f"demo-{i}", q, [t], []) for i, (q, t) in enumerate(DEMO_QUESTIONS)
                 if kg.entity_id(t) is not None]
    results = reasoner.answer(questions)
    for r in results:
        echo(r.explain(3) + "\n")

    echo("== The verifier rejects paths that the graph does not hold, naming the failing hop")
    for text in ("Joe Biden -> born_in -> Wilmington",
                 "Scranton -> born_in -> Joe Biden",
                 "Joe Biden -> born_in -> Scranton -> city_of -> Canada"):
        echo(verify_path(kg, text).explain())
    free = Reasoner(kg, reasoner.student, max_hops=reasoner.max_hops, constrained=False).answer(questions[:2])
    bad = [(r, p) for r in free for p in r.paths if not p["valid"]]
    if bad:
        r, p = bad[0]
        echo(f"\nWithout graph constraints the student also proposes '{p['path']}' for "
              f"\"{r.question}\": rejected at hop {p['failing_hop']} ({p['reason']}). "
              "Constrained decoding never emits such paths.")

    top = next((r for r in results if r.answers and r.answers[0].verified), None)
    if top is not None:
        grounded = GroundedPath.parse(top.answers[0].path)
        png = plot_reasoning(kg, grounded, out / "reasoning.png", title=f"{top.question}\n{grounded}")
        svg = plot_reasoning(kg, grounded, out / "reasoning.svg", title=f"{top.question}\n{grounded}")
        echo(f"\n== Pictures\n  reasoning subgraph of '{top.answers[0].entity}': {png} and {svg}")
    echo(f"  training curves: {out / 'curves.png'}")
    echo(f"\nNext: kgdistill query --run {out} \"Where was Angela Merkel born?\"\n"
         f"      kgdistill serve --run {out}     (web page and JSON API on http://127.0.0.1:8000/)")
    return 0
