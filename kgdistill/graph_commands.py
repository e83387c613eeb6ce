"""The ``kgdistill`` subcommands that need only a graph (import, stats, paths, verify,
questions); the others are in :mod:`kgdistill.commands`."""
from __future__ import annotations

import json
import time

from kgdistill.commands import CLIError, _load_graph
from kgdistill.paths import PathSyntaxError


# ---------------------------------------------------------------------- import
def cmd_import(args) -> int:
    from kgdistill.store_import import import_graph

    meta = import_graph(args.graph, args.store, args.format, base=args.base, replace=args.replace,
                        progress=True)
    print(f"imported {meta['triples']:,} triples ({len(meta['relations'])} relations, {meta['labels']:,} "
          f"names) from {args.graph} into {args.store} in {meta['seconds']:.1f} s")
    print(f"use it with: -g oxigraph:{args.store}")
    return 0


# ---------------------------------------------------------------------- stats
def cmd_stats(args) -> int:
    kg = _load_graph(args)
    stats = kg.statistics()
    if args.json or "entities" not in stats:  # a store reports what it knows without listing itself
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
                               max_frontier_edges=args.max_frontier_edges, shortest_first=True)
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
def cmd_verify(args) -> int:
    from kgdistill.paths import GroundedPath
    from kgdistill.verify import verify_paths, verify_relation_path

    if not args.paths and not args.file:
        raise CLIError("give a path to check, or --file with one path per line")
    items = [(args.topic, p, f"argument {i + 1}") for i, p in enumerate(args.paths)]
    if args.file:
        from kgdistill.verify import read_path_file

        from_file = read_path_file(args.file, default_topic=args.topic)  # for lines that name no topic
        if not from_file:
            raise CLIError(f"{args.file}: no paths in it (expected one path a line)")
        items += from_file
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
    out = {"file": args.file, "questions": len(questions), "with_gold_path": 0}
    if args.graph:
        from kgdistill.verify import check_gold_paths

        kg = _load_graph(args)
        check_gold_paths(kg, questions, args.file)  # drops a few that do not fit (counted without them)
        out["coverage"] = answer_coverage(kg, questions, args.max_hops, progress=True).to_dict()
    out["with_gold_path"] = sum(q.gold_path is not None for q in questions)
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
