"""Fuzz every file reader and path parser with generated input.

Each target is fed two kinds of input: *valid* input built from names that follow the
rules (the reader must accept it and give back exactly what was written) and *any*
input, random and deliberately nasty (separators, markers, control characters, bytes
that are not UTF-8, JSON values of every type). For both it checks that the only
exceptions are :class:`~kgdistill.errors.KGDistillError` subclasses (anything else
escaping is a bug) and, where the reader succeeds, a real property: every loaded name
passes :func:`~kgdistill.graph.check_name`, a parsed path prints and parses back to an
equal value, question ids are unique, ...

Runs: ``pytest tests/test_fuzz.py`` runs every target briefly (``FAST`` inputs each,
seconds in all). ``KGDISTILL_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` runs that
many per target; ``pytest -m slow tests/test_fuzz.py`` runs the long variant (``LONG``
inputs per target, or the variable's value). With ``KGDISTILL_FUZZ_REPORT=file.jsonl``
each target appends how many inputs were generated, accepted and rejected.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kgdistill.datasets import Question, load_questions
from kgdistill.errors import KGDistillError
from kgdistill.graph import check_name
from kgdistill.paths import GroundedPath, Relation, RelationPath, parse_path
from kgdistill.readers import load_graph
from kgdistill.verify import read_path_file

FAST = 100
LONG = 3_200  # x 15 targets: about 48,000 inputs
EXAMPLES = int(os.environ.get("KGDISTILL_FUZZ_EXAMPLES", "0"))

_DIR = Path(tempfile.mkdtemp(prefix="kgdistill-fuzz-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


# ---------------------------------------------------------------------- strategies
ATOMS = ["a", "b", "Joe Biden", "born_in", "city_of", "m.04469y8", "people.person.nationality",
         "~", "~r", "->", " -> ", "-", ">", "<PATH>", "<SEP>", "</PATH>", "<", ",", "|", "\t", " ", "  ",
         "#", "<end>", "\r", "\n", "\r\n", "{", "}", "[", "]", '"', ":", "\\", "(", ")", "/", "()",
         "\x00", "\x0b", "\x1f", "\x7f", "\x85", "\xa0", "\u2028", "\ufeff", "\ud800", "é", "Å\x82",
         "null", "5", "true", "@prefix", "<http://e/a>", "ex:a", ".", ";", "_:b", "'"]
"""Pieces that each touch a rule of some format: separators, markers, whitespace,
control characters, a lone surrogate (written as bytes that are not UTF-8) ..."""

nasty = st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=4)), max_size=7).map("".join)

# Valid names: none of the characters any format uses as a separator or marker.
_SAFE = "abcxyzABC0189 ._'-éÅ\x82ß"
valid_entities = st.one_of(st.sampled_from(["Joe Biden", "Scranton", "m.04469y8", "~Joe"]),
                           st.text(_SAFE, min_size=1, max_size=8).map(str.strip).filter(bool))
valid_relations = st.one_of(st.sampled_from(["born_in", "directed by", "people.person.nationality"]),
                            st.text(_SAFE, min_size=1, max_size=8).map(str.strip).filter(bool))
any_entities = st.one_of(valid_entities, nasty)
any_relations = st.one_of(valid_relations, nasty)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty, valid_entities)
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                                st.dictionaries(nasty, kids, max_size=4)),
                           max_leaves=8)


def maybe(valid, other=json_values):
    """Mostly ``valid``, sometimes any JSON value."""
    return st.one_of(valid, valid, valid, other)


def modes(valid, anything):
    """``("valid", x)`` from ``valid`` or ``("any", x)`` from ``anything``."""
    return st.one_of(valid.map(lambda v: ("valid", v)), anything.map(lambda v: ("any", v)))


# ---------------------------------------------------------------------- harness
def write(text: str | bytes, name: str) -> Path:
    """``text`` in a file (lone surrogates become bytes that are not UTF-8)."""
    path = _DIR / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogatepass"))
    return path


class Rejected(Exception):
    """``call`` refused an ``any`` input with a :class:`KGDistillError`: a valid answer.
    Only this counts as a rejection, so a KGDistillError raised by a target's later
    checks (a printed path its own parser refuses) fails the test."""


def call(mode: str, fn, *args, **kwargs):
    """``fn(*args)``; for valid input a rejection is a failure, not an answer."""
    try:
        return fn(*args, **kwargs)
    except KGDistillError as err:
        if mode == "valid":
            raise AssertionError(f"valid input rejected: {err}") from err
        raise Rejected(str(err)) from err


def assert_names_ok(kg) -> None:
    for label in kg.entity_labels_all():
        assert check_name(label, "entity") is None, label
    for label in kg.relation_labels_all():
        assert check_name(label, "relation") is None, label


def assert_questions_ok(qs: list[Question]) -> None:
    assert qs and len({q.id for q in qs}) == len(qs)
    for q in qs:
        assert isinstance(q.id, str) and isinstance(q.text, str) and q.text.strip() and q.topic_entities
        for name in q.topic_entities + q.answers:
            assert check_name(name, "entity") is None, name
        if isinstance(q.gold_path, GroundedPath):
            assert GroundedPath.parse(str(q.gold_path)) == q.gold_path
        elif isinstance(q.gold_path, RelationPath):
            assert RelationPath.parse(str(q.gold_path)) == q.gold_path


TARGETS: dict = {}


def target(strategy):
    """Register ``check(mode, value)`` as a fuzz target fed by ``strategy``."""
    def register(check):
        TARGETS[check.__name__] = (strategy, check)
        return check
    return register


def run_target(name: str, examples: int) -> Counter:
    """Run one target on up to ``examples`` inputs; a KGDistillError from the call under
    test (:func:`call`) is a valid answer to ``any`` input. Returns the counts of inputs
    generated, accepted and rejected."""
    strategy, check = TARGETS[name]
    counts: Counter = Counter()

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def fuzz(case):
        counts["generated"] += 1
        try:
            check(*case)
        except Rejected:
            counts["rejected"] += 1
        else:
            counts["accepted"] += 1

    try:
        fuzz()
    finally:
        report = os.environ.get("KGDISTILL_FUZZ_REPORT")
        if report:
            with open(report, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"target": name, "examples": examples, **counts}) + "\n")
    return counts


# ---------------------------------------------------------------------- graph files
def triples_of(entities=valid_entities, relations=valid_relations):
    return st.lists(st.tuples(entities, relations, entities), min_size=1, max_size=5)


def delimited(sep: str):
    padded = st.tuples(st.sampled_from(["", " ", "  "]), valid_entities, st.sampled_from(["", " "])).map("".join)
    valid = st.lists(st.tuples(padded, valid_relations, padded).map(sep.join), min_size=1, max_size=5)
    field = st.one_of(any_entities, any_relations, st.sampled_from(["", " ", " a ", "~r"]))
    line = st.one_of(st.lists(field, min_size=3, max_size=3).map(sep.join), st.lists(field, max_size=5).map(sep.join),
                     nasty)
    return modes(valid, st.lists(line, max_size=6))


def check_delimited(mode: str, lines: list[str], sep: str, fmt: str) -> None:
    text = "\n".join(lines) + "\n"
    kg = call(mode, load_graph, write(text, "kb.txt"), format=fmt)
    assert_names_ok(kg)
    read = [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]
    assert set(kg.triples()) == {tuple(f.strip() for f in line.split(sep)) for line in read if line.strip()}


@target(delimited("|"))
def metaqa_graph(mode, lines):
    check_delimited(mode, lines, "|", "metaqa")


@target(delimited("\t"))
def tsv_graph(mode, lines):
    check_delimited(mode, lines, "\t", "tsv")


@target(modes(triples_of().map(lambda ts: "\n".join("|".join(t) for t in ts)),
              st.one_of(delimited("|").map(lambda m: "\n".join(m[1])), delimited("\t").map(lambda m: "\n".join(m[1])),
                        nasty, st.binary(max_size=40))))
def any_graph_file(mode, text):
    """No format given: detection, then whichever reader it picks."""
    assert_names_ok(call(mode, load_graph, write(text, "graph.txt")))


def rdf_text(ext: str, lines: list[str]) -> str:
    return "@prefix ex: <http://e/> .\n" * (ext == "ttl") + "\n".join(lines) + "\n"


_VALID_IRI = st.text("abcxyz019_", min_size=1, max_size=6).map(lambda s: f"<http://e/{s}>")
iri = st.one_of(_VALID_IRI, st.sampled_from(["<http://e/~r>", "<http://e/a%20b>", "<http://e/a%2C>", "ex:a", "_:b1"]),
                nasty.map(lambda s: f"<http://e/{s}>"))
rdf_object = st.one_of(iri, nasty.map(json.dumps), nasty.map(lambda s: f'"""{s}"""'),
                       nasty.map(lambda s: f'"{s}"@en'), st.sampled_from(['""', '"  "', "42", '"x"^^<http://e/t>']))
rdf_label = st.tuples(iri, nasty).map(lambda t: f"{t[0]} <http://www.w3.org/2000/01/rdf-schema#label> {json.dumps(t[1])} .")
rdf_line = st.one_of(st.tuples(iri, iri, rdf_object).map(lambda t: f"{t[0]} {t[1]} {t[2]} ."), rdf_label, nasty)
valid_rdf = st.lists(st.tuples(_VALID_IRI, _VALID_IRI, st.one_of(_VALID_IRI, valid_entities.map(json.dumps))).map(
    lambda t: f"{t[0]} {t[1]} {t[2]} ."), min_size=1, max_size=5)


@target(modes(st.tuples(valid_rdf, st.sampled_from(["ttl", "nt"])),
              st.tuples(st.lists(rdf_line, max_size=5), st.sampled_from(["ttl", "nt"]))))
def rdf_graph(mode, args):
    lines, ext = args
    kg = call(mode, load_graph, write(rdf_text(ext, lines), f"graph.{ext}"))
    assert_names_ok(kg)
    if mode == "valid":
        assert kg.num_triples == len(set(lines))


def rog_graph_records():
    triple = maybe(st.tuples(any_entities, any_relations, any_entities).map(list),
                   st.one_of(json_values, st.lists(any_entities, max_size=4)))
    record = maybe(st.fixed_dictionaries({"graph": maybe(st.lists(triple, max_size=4))},
                                         optional={"question": json_values, "q_entity": json_values}))
    return st.lists(record, max_size=4)


def json_file(records: list, form: str) -> str:
    if form == "json":
        return json.dumps(records, indent=1)
    return "\n".join(json.dumps(r) for r in records) + "\n"


valid_rog_graphs = st.lists(triples_of().map(lambda ts: {"graph": [list(t) for t in ts]}), min_size=1, max_size=3)


@target(st.tuples(modes(valid_rog_graphs, rog_graph_records()), st.sampled_from(["jsonl", "json"])).map(
    lambda t: (t[0][0], (t[0][1], t[1]))))
def rog_graph(mode, args):
    records, form = args
    kg = call(mode, load_graph, write(json_file(records, form), f"rog.{form}"), format="rog")
    assert_names_ok(kg)
    assert set(kg.triples()) == {tuple(t) for r in records for t in r["graph"]}


# ---------------------------------------------------------------------- question files
def name_field(names):
    return st.one_of(st.lists(names, min_size=1, max_size=3), names)


def rog_question_records(names=any_entities, wrap=maybe):
    record = wrap(st.fixed_dictionaries(
        {"question": wrap(st.sampled_from(["where was joe biden born?", "who?"])), "q_entity": wrap(name_field(names))},
        optional={"answer": wrap(name_field(names)), "a_entity": wrap(name_field(names)), "graph": json_values}))
    return st.lists(record, min_size=int(wrap is not maybe), max_size=4)


def _plain(strategy, *_):
    return strategy


@target(st.tuples(modes(rog_question_records(valid_entities, _plain), rog_question_records()),
                  st.sampled_from(["jsonl", "json"])).map(lambda t: (t[0][0], (t[0][1], t[1]))))
def rog_questions(mode, args):
    records, form = args
    qs = call(mode, load_questions, write(json_file(records, form), f"rog.{form}"), format="rog")
    assert_questions_ok(qs)
    if mode == "valid":
        assert [q.topic_entities for q in qs] == [[r["q_entity"]] if isinstance(r["q_entity"], str)
                                                  else r["q_entity"] for r in records]


def gold_paths(entities=any_entities, relations=any_relations):
    return st.one_of(
        st.lists(st.one_of(entities, relations), min_size=1, max_size=5).map(" -> ".join),
        st.lists(relations, max_size=3).map(lambda rs: f"<PATH> {' <SEP> '.join(rs)} </PATH>"),
        nasty if entities is any_entities else relations)


def _jsonl_record(n: int, topics: list[str], answers: list[str], hops: list[tuple[str, str]], grounded: bool) -> dict:
    rec = {"id": f"q{n}", "question": "q?", "topic_entities": topics, "answers": answers}
    if hops and grounded:
        rec["gold_path"] = " -> ".join([topics[0]] + [x for hop in hops for x in hop])
    elif hops:
        rec["gold_path"] = " -> ".join(r for r, _ in hops)
    return rec


def valid_jsonl_records():
    """Records with unique ids and gold paths, grounded from a topic or relation paths."""
    record = st.tuples(st.lists(valid_entities, min_size=1, max_size=2), st.lists(valid_entities, max_size=2),
                       st.lists(st.tuples(valid_relations, valid_entities), max_size=3), st.booleans())
    return st.lists(record, min_size=1, max_size=4).map(
        lambda recs: [_jsonl_record(i, *rec) for i, rec in enumerate(recs)])


def any_jsonl_records():
    record = maybe(st.fixed_dictionaries(
        {"question": maybe(st.just("q?")), "topic_entities": maybe(name_field(any_entities))},
        optional={"id": maybe(st.sampled_from(["q1", "q2", "q:1"])), "answers": maybe(name_field(any_entities)),
                  "gold_path": maybe(st.one_of(st.none(), gold_paths())), "topic": json_values}))
    return st.lists(record, max_size=4)


@target(modes(valid_jsonl_records(), any_jsonl_records()))
def jsonl_questions(mode, records):
    qs = call(mode, load_questions, write("\n".join(json.dumps(r) for r in records) + "\n", "q.jsonl"), format="jsonl")
    assert_questions_ok(qs)
    for q, rec in zip(qs, records):
        if isinstance(q.gold_path, GroundedPath):  # grounded only from a topic entity
            assert q.gold_path.start in q.topic_entities
        if mode == "valid" and "gold_path" in rec:
            assert str(q.gold_path) == rec["gold_path"]


def metaqa_line(entities, text):
    return st.tuples(text, entities, text, st.lists(entities, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]}[{t[1]}]{t[2]}\t{'|'.join(t[3])}")


@target(modes(st.lists(metaqa_line(valid_entities, st.sampled_from(["what did ", "who ", ""])), min_size=1, max_size=4),
              st.lists(st.one_of(metaqa_line(any_entities, nasty), nasty), max_size=4)))
def metaqa_questions(mode, lines):
    qs = call(mode, load_questions, write("\n".join(lines) + "\n", "qa.txt"), format="metaqa")
    assert_questions_ok(qs)
    assert all(q.answers for q in qs)


def pq_line(entities, relations, text, grounded_only):
    hops = st.lists(st.tuples(relations, entities), min_size=1, max_size=3)
    path = st.tuples(entities, hops, st.booleans()).map(
        lambda t: "#".join([t[0]] + [x for hop in t[1] for x in hop]) + (f"#<end>#{t[1][-1][1]}" if t[2] else ""))
    if not grounded_only:
        path = st.one_of(path, st.lists(st.one_of(entities, relations), max_size=5).map("#".join), nasty)
    answers = st.tuples(entities, st.lists(entities, max_size=3)).map(
        lambda t: f"{t[0]}({''.join(a + '/' for a in t[1])})")
    return st.tuples(text, answers if grounded_only else st.one_of(answers, nasty), path).map("\t".join)


@target(modes(st.lists(pq_line(valid_entities, valid_relations, st.just("q ?"), True), min_size=1, max_size=4),
              st.lists(st.one_of(pq_line(any_entities, any_relations, nasty, False), nasty), max_size=4)))
def pathquestion_questions(mode, lines):
    qs = call(mode, load_questions, write("\n".join(lines) + "\n", "pq.txt"), format="pathquestion")
    assert_questions_ok(qs)
    for q in qs:
        assert q.answers and q.topic_entities == [q.gold_path.start]


@target(modes(st.one_of(st.lists(metaqa_line(valid_entities, st.just("who ")), min_size=1, max_size=3).map("\n".join),
                        st.lists(pq_line(valid_entities, valid_relations, st.just("q ?"), True), min_size=1, max_size=3).map("\n".join)),
              st.one_of(st.lists(st.one_of(metaqa_line(any_entities, nasty),
                                           pq_line(any_entities, any_relations, nasty, False)), max_size=3).map("\n".join),
                        any_jsonl_records().map(lambda rs: "\n".join(map(json.dumps, rs))),
                        rog_question_records().map(json.dumps), st.binary(max_size=40))))
def any_question_file(mode, text):
    """No format given: detection, then whichever reader it picks."""
    assert_questions_ok(call(mode, load_questions, write(text, "questions.txt")))


# ---------------------------------------------------------------------- path files
def path_file_lines(entities, relations, anything):
    grounded = st.tuples(entities, st.lists(st.tuples(relations, entities), max_size=3)).map(
        lambda t: " -> ".join([t[0]] + [x for hop in t[1] for x in hop]))
    relational = st.lists(relations, min_size=1, max_size=3).map(" -> ".join)
    lines = [grounded, st.tuples(entities, relational).map("\t".join),
             st.tuples(relational, entities).map(lambda t: json.dumps({"path": t[0], "topic": t[1]})),
             grounded.map(lambda g: json.dumps({"path": g}))]
    if anything:
        lines += [gold_paths(), st.tuples(any_entities, gold_paths()).map("\t".join),
                  st.fixed_dictionaries({"path": maybe(gold_paths())}, optional={"topic": maybe(any_entities)}).map(json.dumps),
                  json_values.map(json.dumps), nasty]
    return st.lists(st.one_of(*lines), min_size=int(not anything), max_size=4)


@target(modes(path_file_lines(valid_entities, valid_relations, False), path_file_lines(any_entities, any_relations, True)))
def verify_path_file(mode, lines):
    items = call(mode, read_path_file, write("\n".join(lines) + "\n", "paths.txt"))
    if mode == "valid":
        assert len(items) == len(lines)
    for topic, text, where in items:
        assert where.startswith(f"{_DIR}{os.sep}paths.txt:")
        if topic is None:
            path = GroundedPath.parse(text)
            assert GroundedPath.parse(str(path)) == path
        else:
            assert check_name(topic, "entity") is None
            path = RelationPath.parse(text)
            assert RelationPath.parse(str(path)) == path


# ---------------------------------------------------------------------- path parsers
valid_grounded = st.tuples(valid_entities, st.lists(st.tuples(valid_relations, st.booleans(), valid_entities), max_size=3)).map(
    lambda t: " -> ".join([t[0]] + [x for r, inv, e in t[1] for x in ("~" * inv + r, e)]))
valid_relation_paths = st.lists(st.tuples(valid_relations, st.booleans()), min_size=1, max_size=3).map(
    lambda rs: " -> ".join("~" * inv + r for r, inv in rs))
any_path_text = st.one_of(gold_paths(), nasty, st.lists(any_relations, max_size=3).map(", ".join))


@target(modes(st.one_of(valid_relation_paths, valid_relation_paths.map(lambda t: f"<PATH> {t.replace(' -> ', ' <SEP> ')} </PATH>"),
                        valid_relation_paths.map(lambda t: t.replace(" -> ", ", "))), any_path_text))
def relation_path_parse(mode, text):
    path = call(mode, RelationPath.parse, text)
    assert RelationPath.parse(str(path)) == path == RelationPath.parse(path.to_rog())


@target(modes(valid_grounded, any_path_text))
def grounded_path_parse(mode, text):
    path = call(mode, GroundedPath.parse, text)
    assert GroundedPath.parse(str(path)) == path
    if mode == "valid":
        assert str(path) == text


@target(modes(valid_grounded.map(lambda t: (t, [t.split(" -> ")[0]])),
              st.tuples(any_path_text, st.lists(any_entities, max_size=2))))
def parse_path_with_topics(mode, args):
    text, topics = args
    path = call(mode, parse_path, text, start_entities=topics)
    if isinstance(path, GroundedPath):
        assert path.start in topics and parse_path(str(path), start_entities=topics) == path
    else:
        assert parse_path(path.to_rog(), start_entities=topics) == path


@target(modes(st.tuples(st.sampled_from(["", "~", "~ ", " ~"]), valid_relations).map("".join),
              st.one_of(any_relations, nasty.map(lambda s: "~" + s))))
def relation_parse(mode, text):
    rel = call(mode, Relation.parse, text)
    assert Relation.parse(str(rel)) == rel and check_name(rel.name, "relation") is None
    assert rel.inverse == text.strip().startswith("~")


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz(name):
    counts = run_target(name, EXAMPLES or FAST)
    assert counts["generated"] > 0 and counts["accepted"] > 0, counts


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_long(name):
    run_target(name, EXAMPLES or LONG)


def test_every_reader_and_parser_is_a_target():
    from kgdistill.datasets import QUESTION_FORMATS
    from kgdistill.readers import GRAPH_FORMATS

    graph_targets = {"metaqa": "metaqa_graph", "tsv": "tsv_graph", "rdf": "rdf_graph", "rog": "rog_graph"}
    question_targets = {"metaqa": "metaqa_questions", "pathquestion": "pathquestion_questions",
                        "rog": "rog_questions", "jsonl": "jsonl_questions"}
    assert set(graph_targets) == set(GRAPH_FORMATS) and set(question_targets) == set(QUESTION_FORMATS)
    assert {*graph_targets.values(), *question_targets.values(), "verify_path_file", "relation_path_parse",
            "grounded_path_parse", "parse_path_with_topics", "relation_parse"} <= set(TARGETS)
