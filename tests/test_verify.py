import random

import pytest
from hypothesis import given, settings, strategies as st

from kgdistill.datasets import load_questions
from kgdistill.graph import KnowledgeGraph
from kgdistill.paths import GroundedPath, Relation
from kgdistill.verify import Failure, verify_path, verify_paths, verify_relation_path
from tests.conftest import DATA, need


def test_valid_and_inverse(tiny):
    assert verify_path(tiny, "Joe Biden -> born_in -> Scranton -> city_of -> USA").valid
    assert verify_path(tiny, "USA -> ~city_of -> Scranton -> ~born_in -> Joe Biden").valid
    assert verify_path(tiny, "Joe Biden").valid  # a zero-hop path names an existing entity


@pytest.mark.parametrize("text, hop, reason, suggestion", [
    ("Joe Biden -> born_in -> Scranton -> city_of -> Canada", 1, Failure.UNKNOWN_ENTITY, None),
    ("Joe Bidem -> born_in -> Scranton", 0, Failure.UNKNOWN_ENTITY, "Joe Biden"),
    ("Joe Biden -> born_inn -> Scranton", 0, Failure.UNKNOWN_RELATION, "born_in"),
    ("Joe Biden -> born_in -> Hammonton", 0, Failure.NO_SUCH_EDGE, None),
    ("Joe Biden -> spouse_of -> Scranton", 0, Failure.NO_SUCH_EDGE, "born_in"),
    ("Joe Biden -> born_in -> Scranton -> ~city_of -> USA", 1, Failure.WRONG_DIRECTION, "city_of"),
    ("Jill Biden -> spouse_of -> Joe Biden", 0, Failure.WRONG_DIRECTION, "~spouse_of"),
])
def test_failures_name_the_hop(tiny, text, hop, reason, suggestion):
    v = verify_path(tiny, text)
    assert not v.valid and v.failing_hop == hop and v.reason == reason
    if suggestion:
        assert suggestion in v.suggestions
    assert f"hop {hop + 1}" in v.explain()


def test_relation_path(tiny):
    ok = verify_relation_path(tiny, "Jill Biden", "~spouse_of -> ~child_of -> born_in")
    assert ok.valid and ok.endpoints == ["Wilmington"]
    assert ok.groundings == ["Jill Biden -> ~spouse_of -> Joe Biden -> ~child_of -> Hunter Biden -> born_in -> Wilmington"]
    bad = verify_relation_path(tiny, "Jill Biden", "spouse_of")
    assert not bad.valid and bad.failing_hop == 0 and bad.reason == Failure.WRONG_DIRECTION
    bad = verify_relation_path(tiny, "Joe Biden", "born_in -> born_in")
    assert bad.failing_hop == 1 and bad.reason == Failure.WRONG_DIRECTION  # ~born_in leaves Scranton
    bad = verify_relation_path(tiny, "Joe Biden", "born_in -> spouse_of")
    assert bad.failing_hop == 1 and bad.reason == Failure.NO_GROUNDING
    assert verify_relation_path(tiny, "Joe", "born_in").reason == Failure.UNKNOWN_ENTITY
    assert verify_relation_path(tiny, "Joe Biden", "bornin").reason == Failure.UNKNOWN_RELATION


def naive_verdict(triples: set, entities: set, relations: set, path: GroundedPath):
    """Reference verifier in plain Python: (failing hop, code) or (-1, 0)."""
    for i, (h, rel, t) in enumerate(path.hops()):
        if h not in entities or t not in entities:
            return i, 1
        if rel.name not in relations:
            return i, 2
        fwd = (t, rel.name, h) if rel.inverse else (h, rel.name, t)
        if fwd not in triples:
            return i, 4 if (fwd[2], fwd[1], fwd[0]) in triples else 3
    return -1, 0


names = st.sampled_from(["a", "b", "c", "d", "e"])
rels = st.sampled_from(["p", "q", "r"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, rels, names), min_size=1, max_size=15),
       st.lists(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "e", "zz"]),
                                   st.sampled_from(["p", "q", "r", "s"]), st.booleans()),
                         min_size=1, max_size=4), min_size=1, max_size=20))
def test_batch_matches_reference(triples, raw_paths):
    kg = KnowledgeGraph.from_triples(triples)
    tset = set(triples)
    ents = {e for h, _, t in triples for e in (h, t)}
    rels_in = {r for _, r, _ in triples}
    paths = []
    for hops in raw_paths:
        entities = ["a"] + [e for e, _, _ in hops]
        paths.append(GroundedPath(tuple(entities), tuple(Relation(r, inv) for _, r, inv in hops)))
    batch = verify_paths(kg, paths)
    for i, p in enumerate(paths):
        hop, code = naive_verdict(tset, ents, rels_in, p)
        if "a" not in ents:  # the start itself is unknown: hop 0 fails
            hop, code = 0, 1
        assert (int(batch.failing_hop[i]), int(batch.codes[i])) == (hop, code), str(p)
        assert batch.result(i).valid == (code == 0)


def test_metaqa_kismet(metaqa_kg):
    assert verify_path(metaqa_kg, "Kismet -> directed_by -> William Dieterle").valid
    v = verify_path(metaqa_kg, "Kismet -> directed_by -> Ronald Colman")
    assert not v.valid and v.failing_hop == 0 and v.reason == Failure.NO_SUCH_EDGE
    assert "starred_actors" in v.suggestions


@pytest.mark.parametrize("name, split", [("PQ-2H", "train"), ("PQ-2H", "valid"), ("PQ-3H", "train"), ("PQ-3H", "valid")])
def test_pathquestion_gold_paths_verify_and_corruptions_fail(name, split):
    from kgdistill.readers import load_graph

    kg = load_graph(need(DATA / "pathquestion" / name / "kb.txt"))
    qs = load_questions(need(DATA / "pathquestion" / name / f"{split}.txt"))
    gold = [q.gold_path for q in qs]
    assert verify_paths(kg, gold).valid.all()
    rng = random.Random(0)
    entities = kg.entity_keys
    # the corruptions are chosen with the graph's own triples, not with the verifier
    # under test (which could otherwise hide the hops it wrongly accepts)
    triples = set(kg.triples(labels=False))

    def holds(h, rel, t):
        return ((t, rel.name, h) if rel.inverse else (h, rel.name, t)) in triples

    assert all(holds(*hop) for path in gold for hop in path.hops())
    swapped, flipped, where, flip_where = [], [], [], []
    for path in gold:
        hop = rng.randrange(len(path))
        ents = list(path.entities)
        while True:  # a tail that no edge of this relation reaches from the head
            ents[hop + 1] = rng.choice(entities)
            if not holds(ents[hop], path.relations[hop], ents[hop + 1]):
                break
        swapped.append(GroundedPath(tuple(ents), path.relations))
        where.append(hop)
        rels = list(path.relations)
        rels[hop] = rels[hop].reversed()
        h, t = path.entities[hop], path.entities[hop + 1]
        if not holds(h, rels[hop], t):  # skip symmetric edges
            flipped.append(GroundedPath(path.entities, tuple(rels)))
            flip_where.append(hop)
    assert len(flipped) > 0.5 * len(gold)
    names, rel_names = set(entities), set(kg.relation_keys)
    for paths, want in ((swapped, where), (flipped, flip_where)):
        batch = verify_paths(kg, paths)
        assert batch.failing_hop.tolist() == want
        assert [(int(h), int(c)) for h, c in zip(batch.failing_hop, batch.codes)] == [
            naive_verdict(triples, names, rel_names, p) for p in paths]
    assert set(verify_paths(kg, flipped).codes.tolist()) == {4}  # the edge exists the other way


# ------------------------------------------------------------------ path files
def test_read_path_file_forms(tmp_path):
    from kgdistill.verify import read_path_file

    p = tmp_path / "paths.txt"
    p.write_text("Joe Biden -> born_in -> Scranton\n\n Joe Biden \tborn_in -> city_of\n"
                 '{"path": "born_in", "topic": "Jill Biden"}\n{"path": "Joe Biden -> born_in -> Scranton", "topic": null}\n'
                 "[Joe] -> r -> x\n", encoding="utf-8")
    assert read_path_file(p) == [
        (None, "Joe Biden -> born_in -> Scranton", f"{p}:1"),
        ("Joe Biden", "born_in -> city_of", f"{p}:3"),
        ("Jill Biden", "born_in", f"{p}:4"),
        (None, "Joe Biden -> born_in -> Scranton", f"{p}:5"),
        (None, "[Joe] -> r -> x", f"{p}:6"),
    ]


@pytest.mark.parametrize("line, words", [
    ('{"path": null}', "field 'path' is null (expected a string)"),
    ('{"topic": "x"}', "record has no 'path' field"),
    ('{"path": 5}', "field 'path' must be a non-empty string, found number 5"),
    ('{"path": "born_in", "topic": 5}', "field 'topic' must be a non-empty string, found number 5"),
    ('{"path": "born_in", "topic": ["x"]}', "field 'topic' must be a non-empty string, found list"),
    ('{"path": "born_in", "topic": "a -> b"}', "topic: entity name 'a -> b' contains '->'"),
    ('["born_in"]', 'expected a JSON object {"path": ..., "topic": ...}, found list'),
    ('{"path": "born_in"', "invalid JSON"),
    ("Joe Biden -> born_in", "bad grounded path"),
    ("Joe Biden\tborn_in -> -> x", "bad relation path"),
    ("\tborn_in", "topic: entity name '' is empty"),
    ("Joe\tborn_in\tcity_of", "control character"),
])
def test_read_path_file_errors(tmp_path, line, words):
    from kgdistill.readers import KGFormatError
    from kgdistill.verify import read_path_file

    p = tmp_path / "paths.jsonl"
    p.write_text('{"path": "Joe Biden"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(KGFormatError) as err:
        read_path_file(p)
    assert err.value.line == 2 and str(p) in str(err.value) and words in err.value.message, str(err.value)


def test_read_path_file_directory(tmp_path):
    from kgdistill.readers import KGFormatError
    from kgdistill.verify import read_path_file

    with pytest.raises(KGFormatError, match="is a directory, expected a file"):
        read_path_file(tmp_path)


AMBIGUOUS_TTL = """@prefix w: <http://x.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
w:paris_fr rdfs:label "Paris" .
w:paris_tx rdfs:label "Paris" .
w:France rdfs:label "France" .
w:Texas rdfs:label "Texas" .
w:USA rdfs:label "USA" .
w:paris_fr w:located_in w:France .
w:paris_tx w:located_in w:Texas .
w:Texas w:part_of w:USA .
"""


def test_a_label_several_entities_carry_is_read_every_way(tmp_path):
    # "Paris -> located_in -> Texas" was INVALID: the first entity labelled "Paris"
    # (the French one) was the only one checked, without a word
    from kgdistill.readers import load_graph

    (tmp_path / "amb.ttl").write_text(AMBIGUOUS_TTL, encoding="utf-8")
    g = load_graph(tmp_path / "amb.ttl")
    found = g.ambiguous_names(["Paris", "Texas", "http://x.org/paris_tx"])
    assert list(found) == ["Paris"]
    assert sorted(g.entity_keys[i] for i in found["Paris"]) == ["http://x.org/paris_fr", "http://x.org/paris_tx"]
    for text, ends in [("Paris -> located_in -> Texas", "paris_tx"), ("Paris -> located_in -> France", "paris_fr"),
                       ("USA -> ~part_of -> Texas -> ~located_in -> Paris", "paris_tx")]:
        v = verify_path(g, text)
        assert v.valid, v.explain()
        assert f"'Paris' as http://x.org/{ends}" in v.message and f"'Paris' as http://x.org/{ends}" in v.explain()
    bad = verify_path(g, "Paris -> part_of -> USA")
    assert not bad.valid and "'Paris' names 2 entities; no choice of them has this path" in bad.message
    assert verify_path(g, "Texas -> part_of -> USA").message == "all hops exist in the graph"
    # an unknown relation fails whatever the reading (walked as relation -1, it read as ~part_of: VALID)
    unknown = verify_path(g, "USA -> no_such -> Texas -> ~located_in -> Paris")
    assert not unknown.valid and unknown.reason == Failure.UNKNOWN_RELATION
    batch = verify_paths(g, ["Paris -> located_in -> Texas", "Paris -> located_in -> USA", "Texas -> part_of -> USA"])
    assert batch.valid.tolist() == [True, False, True]
    rel = verify_relation_path(g, "Paris", "located_in -> part_of")
    assert rel.valid and rel.endpoints == ["USA"], rel  # from the Texan Paris
    assert sorted(verify_relation_path(g, "Paris", "located_in").endpoints) == ["France", "Texas"]
