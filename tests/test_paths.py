import numpy as np
import pytest

from kgdistill.graph import KnowledgeGraph
from kgdistill.paths import (EnumerationLimits, GroundedPath, PathSyntaxError, Relation, RelationPath,
                             UnknownNameError, enumerate_relation_paths, execute_relation_path, parse_path)

BIDEN = "Joe Biden -> born_in -> Scranton -> city_of -> USA"


def test_text_forms_round_trip():
    g = GroundedPath.parse(BIDEN)
    assert g.entities == ("Joe Biden", "Scranton", "USA") and str(g) == BIDEN
    assert g.relation_path == RelationPath.of("born_in", "city_of")
    rp = RelationPath.parse("<PATH> born_in <SEP> ~city_of </PATH>")
    assert rp.relations == (Relation("born_in"), Relation("city_of", inverse=True))
    assert rp.to_rog() == "<PATH> born_in <SEP> ~city_of </PATH>"
    assert str(rp) == "born_in -> ~city_of"
    assert RelationPath.parse(str(rp)) == rp == RelationPath.parse("born_in, ~city_of")
    assert isinstance(parse_path(BIDEN), GroundedPath)
    assert isinstance(parse_path("born_in -> city_of"), RelationPath)
    assert str(Relation.parse("~ born_in")) == "~born_in"


@pytest.mark.parametrize("text", ["Joe Biden -> born_in", "a -> -> b", "->", ""])
def test_bad_grounded_text(text):
    with pytest.raises(PathSyntaxError):
        GroundedPath.parse(text)


@pytest.mark.parametrize("text", ["<PATH> a <SEP> b", "<PATH> a <SEP> <SEP> b </PATH>", "a -> ", "~"])
def test_bad_relation_text(text):
    with pytest.raises(PathSyntaxError):
        RelationPath.parse(text)


def test_execute_relation_path(tiny):
    run = execute_relation_path(tiny, ["Joe Biden"], "born_in -> city_of")
    assert run.endpoints == ["USA"] and run.failed_hop is None
    assert [str(g) for g in run.groundings()] == [BIDEN]
    # Backwards: which people were born in cities of the USA?
    run = execute_relation_path(tiny, "USA", RelationPath.parse("~city_of -> ~born_in"))
    assert sorted(run.endpoints) == ["Hunter Biden", "Jill Biden", "Joe Biden"]
    grounds = run.groundings(endpoint="Jill Biden")
    assert [str(g) for g in grounds] == ["USA -> ~city_of -> Hammonton -> ~born_in -> Jill Biden"]
    assert len(run.groundings(limit=2)) == 2
    assert execute_relation_path(tiny, ["Joe Biden"], "city_of").failed_hop == 0
    with pytest.raises(UnknownNameError):
        execute_relation_path(tiny, ["Nobody"], "born_in")


def brute_force_paths(kg: KnowledgeGraph, start: str, max_hops: int) -> dict[str, set[str]]:
    """Reference: walk every triple list in plain Python."""
    edges = [(h, Relation(r), t) for h, r, t in kg.triples()] + [(t, Relation(r, True), h) for h, r, t in kg.triples()]
    out: dict[str, set[str]] = {}
    frontier = {(): {start}}
    for _ in range(max_hops):
        nxt: dict[tuple, set[str]] = {}
        for prefix, ents in frontier.items():
            for h, rel, t in edges:
                if h in ents:
                    nxt.setdefault(prefix + (rel,), set()).add(t)
        for k, v in nxt.items():
            out[str(RelationPath(k))] = v
        frontier = nxt
    return out


def test_enumeration_matches_brute_force(tiny):
    for start in ("Joe Biden", "USA", "Hunter Biden"):
        got = enumerate_relation_paths(tiny, start, EnumerationLimits(max_hops=3))
        want = brute_force_paths(tiny, start, 3)
        assert {str(p): set(got.endpoints(p)) for p in got.paths} == want
        assert not got.capped


def test_enumeration_caps_on_hubs():
    hub = [("hub", "r", f"e{i}") for i in range(300)] + [(f"e{i}", "s", f"f{i % 7}") for i in range(300)]
    kg = KnowledgeGraph.from_triples(hub)
    capped = enumerate_relation_paths(kg, "hub", EnumerationLimits(max_hops=3, max_frontier_edges=400))
    assert [str(p) for p in capped.paths] == ["r"]
    assert capped.capped and "max_frontier_edges=400" in capped.capped[0]
    few = enumerate_relation_paths(kg, "hub", EnumerationLimits(max_hops=3, max_paths=2))
    assert len(few) == 2 and "max_paths=2" in few.capped[-1]
    full = enumerate_relation_paths(kg, "hub", EnumerationLimits(max_hops=3))
    assert full.paths[RelationPath.parse("r -> s")].size == 7 and not full.capped


def test_a_cut_enumeration_can_keep_the_shortest_paths():
    # depth first, a list cut at 8 holds two 3-hop paths although 2-hop 'b -> ~b' and
    # 'b -> d' exist; level by level (what /paths and `kgdistill paths` use) it holds those
    kg = KnowledgeGraph.from_triples([("s", "a", "x"), ("s", "b", "y"), ("s", "c", "z"),
                                      ("x", "d", "u"), ("x", "e", "v"), ("y", "d", "w")])
    head = ["a", "b", "c", "a -> ~a", "a -> d", "a -> e"]
    deep = enumerate_relation_paths(kg, "s", EnumerationLimits(max_hops=3, max_paths=8))
    assert [str(p) for p in deep.paths] == head + ["a -> ~a -> a", "a -> ~a -> b"]
    short = enumerate_relation_paths(kg, "s", EnumerationLimits(max_hops=3, max_paths=8, shortest_first=True))
    assert [str(p) for p in short.paths] == head + ["b -> ~b", "b -> d"] and "max_paths=8" in short.capped[-1]
    whole = enumerate_relation_paths(kg, "s", EnumerationLimits(max_hops=3, shortest_first=True))
    full = enumerate_relation_paths(kg, "s", EnumerationLimits(max_hops=3))
    assert {p: set(e.tolist()) for p, e in whole.paths.items()} == {p: set(e.tolist()) for p, e in full.paths.items()}


def test_metaqa_enumeration(metaqa_kg):
    got = enumerate_relation_paths(metaqa_kg, "Kismet", EnumerationLimits(max_hops=2))
    assert got.endpoints(RelationPath.parse("directed_by")) == ["William Dieterle"]
    two = set(got.endpoints(RelationPath.parse("directed_by -> ~directed_by")))
    assert "Kismet" in two and len(two) > 5


@pytest.mark.parametrize("text, starts, kind", [
    ("born_in -> city_of -> currency", None, GroundedPath),  # ambiguous without topics
    ("born_in -> city_of -> currency", ["Joe Biden"], RelationPath),
    ("Joe Biden -> born_in -> Scranton", ["Joe Biden"], GroundedPath),
    ("Joe Biden -> born_in -> Scranton", [], RelationPath),
    ("born_in -> city_of", ["Joe Biden"], RelationPath),
    ("Joe Biden", ["Joe Biden"], RelationPath),
])
def test_parse_path_with_start_entities(text, starts, kind):
    assert isinstance(parse_path(text, start_entities=starts), kind)


@pytest.mark.parametrize("name, words", [
    ("a -> b", "'->'"), ("a,b", "','"), ("r<SEP>", "'<SEP>'"), ("</PATH>", "'</PATH>'"),
    ("a\tb", "control character"), ("", "empty"), ("~r", "starts with '~'"), (" r", "whitespace"),
])
def test_relation_names_that_break_the_notation(name, words):
    with pytest.raises(PathSyntaxError, match=words):
        Relation(name)


def test_names_with_spaces_round_trip():
    rel = Relation.parse(" ~ directed by ")
    assert rel == Relation("directed by", inverse=True) and Relation.parse(str(rel)) == rel
    rp = RelationPath.of("directed by", "~written by")
    assert RelationPath.parse(str(rp)) == rp == RelationPath.parse(rp.to_rog())
    g = GroundedPath(("Joe  Biden", "~x"), (Relation("born in"),))
    assert GroundedPath.parse(str(g)) == g


@pytest.mark.parametrize("make", [
    lambda: GroundedPath(("a -> b", "c"), ("r",)),
    lambda: GroundedPath(("a", " c"), ("r",)),
    lambda: GroundedPath(("a", 5), ("r",)),
    lambda: GroundedPath.parse(5),
    lambda: RelationPath.parse(None),
    lambda: Relation.parse(["r"]),
    lambda: parse_path(b"a -> r -> b"),
])
def test_bad_values_raise_path_syntax_errors(make):
    with pytest.raises(PathSyntaxError):
        make()


def _random_walk_world(seed):
    import random

    rng = random.Random(seed)
    rels = ["a", "b", "c"]
    n = rng.choice([6, 15, 40])
    triples = {(f"e{rng.randrange(n)}", rng.choice(rels), f"e{rng.randrange(n)}") for _ in range(rng.randrange(5, 120))}
    kg = KnowledgeGraph.from_triples(sorted(triples))
    names = rels + ["~" + r for r in rels] + ["nowhere"]
    paths = [RelationPath.of(*[rng.choice(names[:-1] if rng.random() < 0.95 else names) for _ in range(rng.randint(1, 3))])
             for _ in range(8)]
    topics = np.unique(np.array(rng.sample(range(kg.num_entities), rng.choice([1, 1, 2])), dtype=np.int64))
    return rng, kg, paths, topics


def _reference_walk(kg, topics, path, exclude):
    """The uniform walk, one entity at a time with dicts: ``(mass by entity, frontiers)``."""
    from kgdistill.graph import directed_relation

    starts = set(topics.tolist())
    mass = {e: 1.0 / len(starts) for e in sorted(starts)}
    frontiers = [sorted(starts)]
    for rel in path.relations:
        rid = kg.relation_id(rel.name)
        if rid is None or not mass:
            return {}, frontiers
        new: dict = {}
        for e, m in sorted(mass.items()):
            nbrs = kg.edges(np.array([e]), directed_relation(rid, rel.inverse))[2].tolist()
            for n in nbrs:
                new[n] = new.get(n, 0.0) + m / len(nbrs)
        if not new:
            return {}, frontiers
        mass = {k: v for k, v in new.items() if not (exclude and k in starts)}
        frontiers.append(sorted(mass))
    return mass, frontiers


@pytest.mark.parametrize("seed", range(150))
def test_walks_of_a_batch_equal_separate_walks(seed):
    """The answer builder walks all beams of a batch of questions together
    (``walk_many``: one graph call per hop and relation, shared relation prefixes walked
    once); every walk has the frontiers and masses of a walk done one entity at a time,
    with and without dropping the topic, also where a prefix dead-ends or names an
    unknown relation, and whatever the other walks of the batch."""
    from kgdistill.decoding import walk_distribution, walk_many

    rng, kg, paths, topics = _random_walk_world(seed)
    others = [np.unique(np.array(rng.sample(range(kg.num_entities), rng.choice([1, 2, 3])), dtype=np.int64))
              for _ in range(3)]
    jobs = [(topics, paths + paths[::-1]), (others[0], paths[:3]), (topics, []), (others[1], paths[::2]),
            (others[2], paths[1::3])]
    for exclude in (True, False):
        walked = walk_many(kg, jobs, exclude)
        assert [len(w) for w in walked] == [len(ps) for _, ps in jobs]
        for (starts, ps), walks in zip(jobs, walked):
            for p, (ents, mass, frontiers) in zip(ps, walks):
                want_mass, want_frontiers = _reference_walk(kg, starts, p, exclude)
                assert [f.tolist() for f in frontiers] == want_frontiers
                assert ents.tolist() == sorted(want_mass)
                assert mass.tolist() == pytest.approx([want_mass[e] for e in ents.tolist()])
                alone: list = []
                e1, m1 = walk_distribution(kg, starts, p, exclude, alone)
                assert e1.tolist() == ents.tolist() and m1.tolist() == mass.tolist()  # bit for bit
                assert [f.tolist() for f in alone] == want_frontiers


@pytest.mark.parametrize("seed", range(150))
def test_batched_first_groundings_equal_the_depth_first_search(seed):
    """``first_groundings`` grounds many endpoints at once; each is exactly the first
    grounding of the one-entity depth-first search, on runs from walks (topic dropped
    or not) and from ``execute_relation_path``; non-endpoints get None."""
    from kgdistill.decoding import walk_distribution
    from kgdistill.paths import PathExecution, resolve_relation

    rng, kg, paths, topics = _random_walk_world(seed)
    for p in paths:
        if any(kg.relation_id(r.name) is None for r in p.relations):
            continue
        drels = [resolve_relation(kg, r) for r in p.relations]
        runs = [execute_relation_path(kg, topics, p)]
        for exclude in (True, False):
            frontiers: list = []
            walk_distribution(kg, topics, p, exclude, frontiers)
            if len(frontiers) == len(p) + 1:
                runs.append(PathExecution(kg, p, drels, frontiers))
        for run in runs:
            asked = np.array(rng.sample(range(kg.num_entities), min(kg.num_entities, 12)), dtype=np.int64)
            asked = np.concatenate([asked, run.frontiers[-1]])
            want = [(run.id_groundings(int(e), 1) or [None])[0] for e in asked]
            assert run.first_groundings(asked) == want


@pytest.mark.parametrize("seed", range(100))
def test_groundings_of_many_runs_at_once_equal_each_run_alone(seed):
    """``first_groundings_many`` grounds the answers of a whole batch of questions
    (runs of different paths, lengths and starts) together; each endpoint gets exactly
    the first grounding of its run's one-entity depth-first search."""
    from kgdistill.paths import first_groundings_many

    rng, kg, paths, _ = _random_walk_world(seed)
    requests = []
    for p in paths:
        if any(kg.relation_id(r.name) is None for r in p.relations):
            continue
        for _ in range(2):
            starts = np.unique(np.array(rng.sample(range(kg.num_entities), rng.choice([1, 2])), dtype=np.int64))
            run = execute_relation_path(kg, starts, p)
            asked = np.array(rng.sample(range(kg.num_entities), min(kg.num_entities, 6)), dtype=np.int64)
            requests.append((run, np.concatenate([asked, run.frontiers[-1]])))
    # against the one-entity depth-first search (first_groundings itself is a one-request call of the same code)
    want = [[(run.id_groundings(int(e), 1) or [None])[0] for e in asked] for run, asked in requests]
    assert first_groundings_many(requests) == want
    assert first_groundings_many([]) == []


def test_first_groundings_fall_back_where_a_frontier_strands_the_walk_back():
    """Frontiers given by hand that hold an entity the previous frontier does not reach
    (``b`` below): walking back from ``d`` takes the smallest predecessor, ``b``, which
    leads nowhere; that endpoint is grounded by the depth-first search, which backtracks
    to ``c``."""
    from kgdistill.paths import PathExecution, resolve_relation

    kg = KnowledgeGraph.from_triples([("b", "r2", "d"), ("a", "r", "c"), ("x", "s", "y"), ("c", "r2", "d")])
    path = RelationPath.of("r", "r2")
    ids = {n: kg.entity_id(n) for n in "abcdxy"}
    assert ids["b"] < ids["c"]
    frontiers = [np.array(sorted([ids["a"], ids["x"]])), np.array(sorted([ids["b"], ids["c"]])), np.array([ids["d"]])]
    run = PathExecution(kg, path, [resolve_relation(kg, r) for r in path.relations], frontiers)
    assert run.first_groundings(np.array([ids["d"], ids["y"]])) == [[ids["a"], ids["c"], ids["d"]], None]


def test_relation_path_of_a_text_is_refused_not_spelt_out():
    # RelationPath("born_in") was the 7-hop path b -> o -> r -> n -> _ -> i -> n
    from kgdistill.errors import PathSyntaxError

    with pytest.raises(PathSyntaxError, match="use RelationPath.parse"):
        RelationPath("born_in")
    assert str(RelationPath(("born_in", "~city_of"))) == "born_in -> ~city_of"


@pytest.mark.parametrize("ids", [np.array([-1]), np.array([10 ** 6]), np.array([0.5])])
def test_execute_refuses_entity_ids_out_of_range(tiny, ids):
    # -1 and 10**6 reached nothing, 0.5 was read as entity 0
    with pytest.raises(UnknownNameError, match="entity ids are integers from 0 to"):
        execute_relation_path(tiny, ids, "born_in")
    assert execute_relation_path(tiny, np.array([tiny.entity_id("Joe Biden")]), "born_in").endpoints == ["Scranton"]


def test_entity_label_of_an_id_out_of_range_is_refused(tiny):
    # entity_label(-1) named the last entity
    with pytest.raises(UnknownNameError, match="entity id -1 is not one of 0 to"):
        tiny.entity_label(-1)
    with pytest.raises(UnknownNameError):
        tiny.entity_label(tiny.num_entities)
    assert tiny.entity_label(tiny.entity_id("Joe Biden")) == "Joe Biden"
