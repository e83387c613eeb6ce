"""The ``kgdistill`` command line: a thin map from subcommands to library functions.

Run ``kgdistill --help`` or ``kgdistill SUBCOMMAND --help``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from kgdistill.paths import PathSyntaxError, UnknownNameError

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "graphs"

EPILOG = """\
paths and notation:
  grounded path   'Joe Biden -> born_in -> Scranton -> city_of -> United States'
  relation path   'born_in -> city_of'   or RoG's '<PATH> born_in <SEP> city_of </PATH>'
  inverse         '~born_in' walks born_in from tail to head: 'Scranton -> ~born_in -> Joe Biden'

graph formats (detected from extension and first line, or --format):
  metaqa  subject|relation|object         (MetaQA kb.txt)
  tsv     subject<TAB>relation<TAB>object (PathQuestion kb.txt)
  rdf     .ttl .nt .rdf .xml .owl .jsonld .n3 (labels from rdfs:label)
  rog     .jsonl/.json/.parquet question records with a 'graph' list of [h, r, t]

examples:
  kgdistill demo
  kgdistill stats -g ../shared/datasets/metaqa/kb.txt
  kgdistill paths -g ../shared/datasets/metaqa/kb.txt Kismet --max-hops 2
  kgdistill verify -g ../shared/datasets/metaqa/kb.txt "Kismet -> directed_by -> William Dieterle"
  kgdistill verify -g kb.txt --topic Kismet "directed_by -> ~directed_by"
  kgdistill questions ../shared/datasets/metaqa/2-hop/qa_valid.txt -g ../shared/datasets/metaqa/kb.txt
  kgdistill teacher train -g kb.txt --train qa_train.txt --valid qa_valid.txt --hops 2 --out runs/teacher
  kgdistill teacher dump -g kb.txt --teacher runs/teacher --questions qa_train.txt --out soft.jsonl
  kgdistill serialize -g kb.txt --questions qa_train.txt --teacher-dump soft.jsonl --out train_set.jsonl
  kgdistill distill -g kb.txt --train-set train_set.jsonl --valid qa_valid.txt --out runs/student
  kgdistill query -g kb.txt --student runs/student "who directed Kismet" --topic Kismet
"""


class CLIError(Exception):
    """A user-facing error: printed as ``error: ...`` with exit code 2."""


def _load_graph(args):
    from kgdistill.readers import load_graph

    start = time.perf_counter()
    kg = load_graph(args.graph, args.format)
    logging.getLogger("kgdistill").info("loaded %s in %.2f s", kg, time.perf_counter() - start)
    return kg


def _add_graph_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("-g", "--graph", required=required, help="knowledge-graph file")
    p.add_argument("--format", choices=["metaqa", "tsv", "rdf", "rog"],
                   help="graph format (default: detect from extension and content)")


# ---------------------------------------------------------------------- stats
def cmd_stats(args) -> int:
    kg = _load_graph(args)
    stats = kg.statistics()
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
        return 0
    print(f"graph      {stats['name']}")
    print(f"entities   {stats['entities']:,}")
    print(f"relations  {stats['relations']:,}")
    print(f"triples    {stats['triples']:,}")
    print(f"degree     mean {stats['degree_mean']:.2f}, median {stats['degree_median']:.0f}, "
          f"max {stats['degree_max']:,}")
    print("hubs       " + ", ".join(f"{k} ({v:,})" for k, v in stats["top_degree_entities"].items()))
    print(f"entity pairs joined by several relations: {stats['entity_pairs_with_several_relations']:,}")
    print("triples per relation:")
    for rel, count in sorted(stats["triples_per_relation"].items(), key=lambda kv: -kv[1]):
        print(f"  {count:>10,}  {rel}")
    return 0


# ---------------------------------------------------------------------- paths
def cmd_paths(args) -> int:
    from kgdistill.paths import EnumerationLimits, enumerate_relation_paths

    kg = _load_graph(args)
    limits = EnumerationLimits(max_hops=args.max_hops, max_paths=args.max_paths,
                               max_frontier_edges=args.max_frontier_edges)
    start = time.perf_counter()
    result = enumerate_relation_paths(kg, args.entity, limits)
    elapsed = time.perf_counter() - start
    rows = [(p, result.paths[p]) for p in result.paths]
    if args.json:
        print(json.dumps({"entity": args.entity, "seconds": elapsed, "capped": result.capped,
                          "paths": [{"path": str(p), "num_endpoints": int(e.size),
                                     "endpoints": result.endpoints(p)[:args.show_endpoints]}
                                    for p, e in rows]}, indent=2, ensure_ascii=False))
        return 0
    print(f"{len(rows)} relation paths of length <= {args.max_hops} from {args.entity!r} "
          f"({elapsed * 1000:.1f} ms)")
    for p, ends in rows:
        names = result.endpoints(p)
        shown = ", ".join(names[:args.show_endpoints]) + (" ..." if len(names) > args.show_endpoints else "")
        print(f"  {str(p):<55} {ends.size:>7,}  {shown}")
    for note in result.capped:
        print(f"cap hit: {note}")
    return 0


# ---------------------------------------------------------------------- verify
def _read_path_file(path: str) -> list[tuple[str | None, str, str]]:
    """``(topic or None, path text, where)`` from a text or JSONL file."""
    from kgdistill.readers import KGFormatError, iter_lines

    items = []
    for lineno, line in iter_lines(path):
        where = f"{path}:{lineno}"
        if line.lstrip().startswith("{"):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise KGFormatError(path, lineno, f"invalid JSON: {err.msg}") from None
            if "path" not in rec:
                raise KGFormatError(path, lineno, "JSON record has no 'path' field")
            items.append((rec.get("topic"), rec["path"], where))
        elif "\t" in line:
            topic, _, text = line.partition("\t")
            items.append((topic, text, where))
        else:
            items.append((None, line, where))
    return items


def cmd_verify(args) -> int:
    from kgdistill.paths import GroundedPath
    from kgdistill.verify import verify_paths, verify_relation_path

    if not args.paths and not args.file:
        raise CLIError("give a path to check, or --file with one path per line")
    items = [(args.topic, p, f"argument {i + 1}") for i, p in enumerate(args.paths)]
    if args.file:
        items += _read_path_file(args.file)
    kg = _load_graph(args)
    grounded, relational = [], []
    for topic, text, where in items:
        try:
            if topic is not None:
                relational.append((len(grounded) + len(relational), topic, text))
            else:
                grounded.append((len(grounded) + len(relational), GroundedPath.parse(text)))
        except PathSyntaxError as err:
            raise CLIError(f"{where}: {err}") from None
    results: list = [None] * len(items)
    if grounded:
        batch = verify_paths(kg, [p for _, p in grounded])
        for j, (i, _) in enumerate(grounded):
            results[i] = batch.result(j)
    for i, topic, text in relational:
        try:
            results[i] = verify_relation_path(kg, topic, text, max_groundings=args.groundings)
        except PathSyntaxError as err:
            raise CLIError(f"{items[i][2]}: {err}") from None
    n_valid = sum(r.valid for r in results)
    if args.json:
        for r in results:
            print(json.dumps(r.to_dict(), ensure_ascii=False))
    else:
        for r in results:
            print(r.explain())
        if len(results) > 1:
            print(f"{n_valid}/{len(results)} paths valid")
    return 0 if n_valid == len(results) else 1


# ---------------------------------------------------------------------- questions
def cmd_questions(args) -> int:
    from kgdistill.datasets import answer_coverage, load_questions

    questions = load_questions(args.file, args.question_format)
    out = {"file": args.file, "questions": len(questions),
           "with_gold_path": sum(q.gold_path is not None for q in questions)}
    if args.graph:
        kg = _load_graph(args)
        out["coverage"] = answer_coverage(kg, questions, args.max_hops, progress=True).to_dict()
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"{out['questions']:,} questions in {args.file} ({out['with_gold_path']:,} with gold paths)")
    for q in questions[:args.show]:
        gold = f"   gold: {q.gold_path}" if q.gold_path else ""
        print(f"  [{', '.join(q.topic_entities)}] {q.text} -> {' | '.join(q.answers[:5])}{gold}")
    if "coverage" in out:
        c = out["coverage"]
        print(f"topic entity found: {c['topic_found']:,}/{c['total']:,}; an answer within "
              f"{c['max_hops']} hop(s): {c['reachable']:,} ({100 * c['reachable_share']:.1f}%, "
              "the Hits@1 ceiling on this graph)")
        if c["missing_topics"]:
            print("  topics not in the graph: " + ", ".join(c["missing_topics"][:10]))
    return 0



# ---------------------------------------------------------------------- teacher
def _print_teacher_metrics(metrics: dict) -> None:
    if not metrics:
        return
    line = (f"Hits@1 {100 * metrics['hits@1']:.1f}  F1 {100 * metrics['f1']:.1f}  "
            f"top path reaches an answer {100 * metrics['top_path_hit']:.1f}  "
            f"top-path ECE {metrics['top_path_ece']:.3f}")
    if "reachable_ceiling" in metrics:
        line += f"  (ceiling: answer within reach {100 * metrics['reachable_ceiling']:.1f})"
    print(f"{metrics['questions']:,} questions: {line}")


def cmd_teacher_train(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.encoder import SentenceEncoder
    from kgdistill.teacher import TeacherConfig
    from kgdistill.teacher_training import train_teacher

    kg = _load_graph(args)
    train = load_questions(args.train, args.question_format)
    valid = load_questions(args.valid, args.question_format) if args.valid else []
    config = TeacherConfig(num_steps=args.hops, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                           hidden_dim=args.hidden_dim, max_expand_degree=args.max_expand_degree,
                           seed=args.seed, patience=args.patience, max_train_minutes=args.max_minutes,
                           exact_hops=args.exact_hops)
    teacher = train_teacher(kg, train, valid, config, SentenceEncoder(args.encoder))
    out = teacher.save(args.out)
    m = teacher.metrics
    print(f"teacher saved to {out} (trained {m['train_seconds']:.0f} s on {m['train_questions']:,} questions, "
          f"{len(m['curve'])} epochs)")
    _print_teacher_metrics(m.get("valid", {}))
    return 0


def cmd_teacher_dump(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.teacher_training import Teacher, score_predictions

    teacher = Teacher.load(args.teacher)
    kg = _load_graph(args)
    questions = load_questions(args.questions, args.question_format)
    preds = teacher.predict(kg, questions, top_k=args.top_k, progress=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    print(f"wrote {len(preds):,} soft-target records to {args.out}")
    if any(q.answers for q in questions):
        _print_teacher_metrics(score_predictions(preds))
    return 0


# ---------------------------------------------------------------------- student
def cmd_serialize(args) -> int:
    from dataclasses import asdict

    from kgdistill.datasets import load_questions
    from kgdistill.serializer import SerializerConfig, build_training_set, load_teacher_dump, save_records

    kg = _load_graph(args)
    questions = load_questions(args.questions, args.question_format)
    dump = load_teacher_dump(args.teacher_dump) if args.teacher_dump else None
    config = SerializerConfig(template=args.template, temperature=args.temperature, top_k=args.top_k,
                              max_hops=args.max_hops, mask_topic=not args.keep_topic_name)
    records = build_training_set(kg, questions, dump, config, progress=True)
    save_records(records, args.out)
    Path(args.out + ".serializer.json").write_text(json.dumps(asdict(config), indent=2))
    sources = {s: sum(r.hard_source == s for r in records) for s in ("gold", "best_f1", "none")}
    print(f"wrote {len(records):,} training records to {args.out} (hard targets: {sources['gold']:,} gold, "
          f"{sources['best_f1']:,} best-F1, {sources['none']:,} none; "
          f"{sum(bool(r.soft) for r in records):,} with teacher soft targets)")
    return 0


def cmd_distill(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.distill import DistillConfig, train_student
    from kgdistill.serializer import SerializerConfig, load_records
    from kgdistill.student import Student, StudentConfig, adapt

    kg = _load_graph(args)
    records = load_records(args.train_set)
    side = Path(args.train_set + ".serializer.json")
    serializer = SerializerConfig(**json.loads(side.read_text())) if side.exists() else SerializerConfig()
    valid = load_questions(args.valid, args.question_format) if args.valid else []
    student = Student.create(kg.relation_labels_all(), [r.prompt for r in records],
                             StudentConfig(base_model=args.base_model, n_layer=args.layers, n_embd=args.dim,
                                           n_head=args.heads))
    if args.adaptation != "full" and not args.base_model:
        raise CLIError("--adaptation other than 'full' needs --base-model (a pretrained checkpoint)")
    adapt(student, args.adaptation)
    config = DistillConfig(alpha=args.alpha, temperature=args.temperature, epochs=args.epochs,
                           batch_size=args.batch_size, lr=args.lr, seed=args.seed, label_fraction=args.label_fraction,
                           max_hops=args.max_hops, max_train_minutes=args.max_minutes)
    metrics = train_student(student, kg, records, valid, config, out_dir=args.out, serializer=serializer)
    print(f"student saved to {args.out} ({metrics['train_seconds']:.0f} s, {len(metrics['curve'])} epochs, "
          f"best validation Hits@1 {metrics['best_valid_hits@1']:.3f})")
    return 0


def cmd_query(args) -> int:
    from kgdistill.datasets import Question, load_questions
    from kgdistill.query import answer_questions, score_answers
    from kgdistill.student import Student

    student = Student.load(args.student)
    kg = _load_graph(args)
    if args.file:
        questions = load_questions(args.file, args.question_format)
    elif args.question and args.topic:
        questions = [Question("query", args.question, list(args.topic), [])]
    else:
        raise CLIError("give a QUESTION with --topic, or --file with questions")
    for q in questions:
        for t in q.topic_entities:
            if kg.entity_id(t) is None and not args.file:
                raise UnknownNameError(f"unknown topic entity {t!r}")
    start = time.perf_counter()
    results = answer_questions(student, kg, questions, beam_size=args.beam, max_hops=args.max_hops,
                               constrained=not args.unconstrained)
    elapsed = time.perf_counter() - start
    for r in results:
        print(json.dumps(r.to_dict(), ensure_ascii=False) if args.json else r.explain(args.show) + "\n")
    if len(results) > 1 and not args.json:
        m = score_answers(results)
        print(f"{len(results):,} questions in {elapsed:.1f} s ({1000 * elapsed / len(results):.1f} ms each); "
              f"Hits@1 {100 * m['hits@1']:.1f}, decoded paths that verify {100 * m['valid_path_share']:.1f}%")
    return 0

# ---------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from kgdistill.datasets import answer_coverage, load_questions
    from kgdistill.paths import EnumerationLimits, enumerate_relation_paths
    from kgdistill.verify import verify_path, verify_relation_path

    args.format = None
    if args.graph is None:
        args.graph = str(EXAMPLE_DIR / "world.ttl")
    kg = _load_graph(args)
    print(f"== The example graph: {args.graph}")
    cmd_stats_args = argparse.Namespace(graph=args.graph, format=None, json=False)
    cmd_stats(cmd_stats_args)
    print("\n== Checking grounded paths against the graph")
    examples = [
        "Joe Biden -> born_in -> Scranton -> city_of -> United States",
        "Marie Curie -> award -> Nobel Prize in Physics -> conferred_by -> Royal Swedish Academy of Sciences",
        "Scranton -> born_in -> Joe Biden",
        "Joe Biden -> born_in -> Wilmington",
        "Joe Biden -> educated_at -> Syracuse Univ",
        "Jill Biden -> spouse_of -> Joe Biden",
        "Jill Biden -> ~spouse_of -> Joe Biden -> member_of -> Democratic Party",
    ]
    for text in examples:
        print(verify_path(kg, text).explain())
    print("\n== Checking relation paths from a topic entity")
    for topic, rel_path in [("Joe Biden", "born_in -> city_of -> currency"),
                            ("Albert Einstein", "educated_at -> located_in -> city_of"),
                            ("Joe Biden", "~born_in -> city_of")]:
        print(verify_relation_path(kg, topic, rel_path, max_groundings=3).explain())
    print("\n== All relation paths of length <= 2 from Joe Biden")
    found = enumerate_relation_paths(kg, "Joe Biden", EnumerationLimits(max_hops=2))
    for p, ends in list(found.paths.items())[:12]:
        print(f"  {str(p):<40} -> {', '.join(found.endpoints(p)[:4])}")
    print(f"  ... {len(found)} paths in all")
    questions = load_questions(EXAMPLE_DIR / "world_questions.jsonl")
    cov = answer_coverage(kg, questions, 3)
    gold_ok = sum(verify_path(kg, q.gold_path).valid for q in questions if q.gold_path is not None)
    print(f"\n== {len(questions)} example questions: {gold_ok} gold paths verify, "
          f"{cov.reachable} have an answer within 3 hops")
    print("(Teacher, student and query arrive with the next releases; see README.md.)")
    return 0


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kgdistill", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Knowledge-graph reasoning paths: load a KG, enumerate relation paths, "
                    "and verify paths hop by hop in the right direction.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and timings")
    parser.add_argument("--version", action="version", version=f"kgdistill {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("stats", help="print a graph's size, relations and hubs",
                       description="Load a knowledge graph and print its statistics.")
    _add_graph_args(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("paths", help="enumerate relation paths from an entity",
                       description="All relation paths (with inverse relations ~r) of length up to "
                                   "--max-hops that leave ENTITY, with their endpoint counts. Hub "
                                   "entities are bounded by the caps below, reported when hit.")
    _add_graph_args(p)
    p.add_argument("entity", help="start entity (key or label)")
    p.add_argument("--max-hops", type=int, default=2, help="longest path (default 2)")
    p.add_argument("--max-paths", type=int, default=10_000, help="stop after this many paths")
    p.add_argument("--max-frontier-edges", type=int, default=500_000,
                   help="do not expand a frontier with more edges than this")
    p.add_argument("--show-endpoints", type=int, default=3, help="endpoints shown per path")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_paths)

    p = sub.add_parser("verify", help="check paths against the graph, naming the failing hop",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Check grounded paths hop by hop (entity exists, relation exists, "
                                   "edge exists in the stated direction) or, with --topic, whether "
                                   "a relation path can be instantiated from the topic entity.",
                       epilog="exit status: 0 all paths valid, 1 some invalid, 2 bad input\n"
                              "--file: one path a line; 'topic<TAB>relation path' lines or JSONL "
                              "{\"path\": ..., \"topic\": ...} for relation paths")
    _add_graph_args(p)
    p.add_argument("paths", nargs="*", help="paths in arrow form")
    p.add_argument("--file", help="file of paths to check")
    p.add_argument("--topic", help="treat the PATHS arguments as relation paths from this entity")
    p.add_argument("--groundings", type=int, default=5, help="groundings listed per relation path")
    p.add_argument("--json", action="store_true", help="one JSON verdict per line")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("questions", help="read a KGQA question file; with -g, its answer coverage",
                       description="Read a question file (MetaQA, PathQuestion, RoG or kgdistill "
                                   "JSONL) and, given a graph, count questions whose topic is in "
                                   "the graph and whose answers lie within --max-hops.")
    p.add_argument("file", help="question file")
    p.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"])
    _add_graph_args(p, required=False)
    p.add_argument("--max-hops", type=int, default=3, help="hops for the coverage count")
    p.add_argument("--show", type=int, default=3, help="questions printed")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_questions)

    p = sub.add_parser("teacher", help="train the GNN teacher; dump its path distributions",
                       description="The GNN teacher scores relation paths for a question over the "
                                   "question's subgraph. 'train' learns it from answers; 'dump' writes "
                                   "its top-k paths with probabilities (soft targets) as JSONL.")
    tsub = p.add_subparsers(dest="teacher_command", metavar="ACTION", required=True)
    t = tsub.add_parser("train", help="train a teacher on a question file",
                        description="Train from answers only (weak supervision) with early stopping on "
                                    "validation Hits@1; writes config.json, model.safetensors, metrics.json.")
    _add_graph_args(t)
    t.add_argument("--train", required=True, help="training questions")
    t.add_argument("--valid", help="validation questions (early stopping and metrics)")
    t.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"])
    t.add_argument("--out", required=True, help="directory to write the teacher to")
    t.add_argument("--hops", type=int, default=2, help="reasoning steps = longest path (default 2)")
    t.add_argument("--exact-hops", action="store_true",
                   help="every answer is exactly --hops away (MetaQA k-hop, PQ-kH); default: learn the hop count")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--hidden-dim", type=int, default=128)
    t.add_argument("--patience", type=int, default=2, help="epochs without improvement before stopping")
    t.add_argument("--max-expand-degree", type=int, default=1000,
                   help="subgraph hub cap: entities with more edges are not expanded")
    t.add_argument("--max-minutes", type=float, default=0.0, help="wall-time limit for training (0: none)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--encoder", help="local sentence-encoder directory (default: packaged all-MiniLM-L6-v2)")
    t.set_defaults(func=cmd_teacher_train)
    t = tsub.add_parser("dump", help="write the teacher's path distribution per question (JSONL)",
                        description="One JSON record per question: top-k relation paths with "
                                    "probabilities and endpoints, and the ranked answers.")
    _add_graph_args(t)
    t.add_argument("--teacher", required=True, help="teacher directory")
    t.add_argument("--questions", required=True, help="question file")
    t.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"])
    t.add_argument("--out", required=True, help="output JSONL")
    t.add_argument("--top-k", type=int, default=10, help="paths per question")
    t.set_defaults(func=cmd_teacher_dump)

    p = sub.add_parser("serialize", help="write the student's training set from questions and a teacher dump",
                       description="Per question: the prompt, hard targets (gold paths, else the best-F1 "
                                   "relation paths in the graph) and the teacher's top-k paths with "
                                   "probabilities re-tempered by --temperature.")
    _add_graph_args(p)
    p.add_argument("--questions", required=True, help="training question file")
    p.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"])
    p.add_argument("--teacher-dump", help="JSONL from 'kgdistill teacher dump' (omit: hard targets only)")
    p.add_argument("--out", required=True, help="output JSONL (a .serializer.json is written beside it)")
    p.add_argument("--template", default="question: {question} path:", help="prompt with {question} and {topic}")
    p.add_argument("--keep-topic-name", action="store_true", help="do not replace the topic's name by X")
    p.add_argument("--temperature", type=float, default=1.0, help="re-tempering of teacher probabilities")
    p.add_argument("--top-k", type=int, default=5, help="teacher paths kept per question")
    p.add_argument("--max-hops", type=int, default=3, help="hop limit of the best-F1 search")
    p.set_defaults(func=cmd_serialize)

    p = sub.add_parser("distill", help="train the student from a serialized training set",
                       description="L = alpha * CE(hard) + (1 - alpha) * T^2 * KL(teacher || student), "
                                   "sequence-level over the teacher's top-k paths. Validation Hits@1 each "
                                   "epoch (graph-constrained decoding), early stopping, resumable.")
    _add_graph_args(p)
    p.add_argument("--train-set", required=True, help="JSONL from 'kgdistill serialize'")
    p.add_argument("--valid", help="validation questions")
    p.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"])
    p.add_argument("--out", required=True, help="student directory (loads with AutoModelForCausalLM)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the hard loss (1 = plain fine-tuning)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--label-fraction", type=float, default=1.0, help="share of questions whose hard labels are used")
    p.add_argument("--max-hops", type=int, default=3, help="longest decoded path")
    p.add_argument("--max-minutes", type=float, default=0.0, help="wall-time limit (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--base-model", help="local Hugging Face causal-LM checkpoint (default: build a small one)")
    p.add_argument("--adaptation", default="full", choices=["full", "lora", "prompt_tuning", "prefix_tuning", "p_tuning"])
    p.add_argument("--layers", type=int, default=2, help="layers of the built student")
    p.add_argument("--dim", type=int, default=128, help="width of the built student")
    p.add_argument("--heads", type=int, default=4, help="attention heads of the built student")
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("query", help="answer questions with verified reasoning paths",
                       description="Decode relation paths with the student (graph-constrained unless "
                                   "--unconstrained), run them from the topic entity, and print ranked "
                                   "answers with the grounded path that proves each and its verdict.")
    _add_graph_args(p)
    p.add_argument("question", nargs="?", help="the question")
    p.add_argument("--topic", action="append", help="topic entity (repeat for several)")
    p.add_argument("--file", help="question file (any supported format) for batch queries")
    p.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"])
    p.add_argument("--student", required=True, help="student directory")
    p.add_argument("--beam", type=int, default=5, help="paths decoded per question")
    p.add_argument("--max-hops", type=int, default=3)
    p.add_argument("--unconstrained", action="store_true", help="do not constrain decoding by the graph")
    p.add_argument("--show", type=int, default=5, help="answers shown per question")
    p.add_argument("--json", action="store_true", help="one JSON result per line")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("demo", help="walk through the example graph in graphs/",
                       description="Load the example world graph, print its statistics, verify and "
                                   "explain example paths, and enumerate paths from an entity.")
    p.add_argument("-g", "--graph", help="graph file (default: graphs/world.ttl)")
    p.set_defaults(func=cmd_demo)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kgdistill")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    from kgdistill.readers import KGFormatError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (CLIError, KGFormatError, UnknownNameError, PathSyntaxError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
