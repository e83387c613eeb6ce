import numpy as np
import pytest

from kgdistill.arrays import concat_ranges
from kgdistill.graph import KnowledgeGraph, directed_relation


def test_ids_duplicates_and_parallel_relations(tiny):
    assert tiny.num_triples == 9  # the duplicate born_in triple is dropped
    assert tiny.num_entities == 7 and tiny.num_relations == 5
    joe, scr = tiny.entity_id("Joe Biden"), tiny.entity_id("Scranton")
    rels = {tiny.relation_label(r) for r, inv in tiny.relations_between(joe, scr) if not inv}
    assert rels == {"born_in", "lived_in"}
    assert tiny.relations_between(scr, joe) == sorted(
        (tiny.relation_id(n), True) for n in ("born_in", "lived_in"))
    assert tiny.entity_id("nobody") is None and tiny.relation_id("nothing") is None


def test_neighbors_in_both_directions(tiny):
    born = tiny.relation_id("born_in")
    usa = tiny.entity_id("USA")
    city_of = tiny.relation_id("city_of")
    cities = tiny.neighbors(np.array([usa]), directed_relation(city_of, True))
    assert sorted(tiny.entity_label(c) for c in cities) == ["Hammonton", "Scranton", "Wilmington"]
    people = tiny.neighbors(cities, directed_relation(born, True))
    assert sorted(tiny.entity_label(p) for p in people) == ["Hunter Biden", "Jill Biden", "Joe Biden"]
    src, drel, dst = tiny.edges(np.array([tiny.entity_id("Joe Biden")]))
    assert len(src) == tiny.degree([tiny.entity_id("Joe Biden")])[0] == 4


def test_has_triples(tiny):
    e, r = tiny.entity_id, tiny.relation_id
    got = tiny.has_triples(np.array([e("Joe Biden"), e("Scranton"), e("Joe Biden")]),
                           np.array([r("born_in"), r("born_in"), r("city_of")]),
                           np.array([e("Scranton"), e("Joe Biden"), e("USA")]))
    assert got.tolist() == [True, False, False]


def test_concat_ranges():
    got = concat_ranges(np.array([5, 0, 9, 2]), np.array([7, 0, 10, 4]))
    assert got.tolist() == [5, 6, 9, 2, 3]


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="inverse"):
        KnowledgeGraph.from_triples([("a", "~r", "b")])
    with pytest.raises(ValueError, match="out of range"):
        KnowledgeGraph(["a"], ["r"], np.array([0]), np.array([0]), np.array([3]))


def test_to_pyg(tiny):
    data = tiny.to_pyg()
    assert data.edge_index.shape == (2, 9) and data.num_nodes == 7
    both = tiny.to_pyg(add_inverse=True)
    assert both.edge_index.shape == (2, 18)
    assert int(both.edge_type.max()) == 2 * tiny.num_relations - 1
    # The inverse half mirrors the forward half.
    assert both.edge_index[0, 9:].tolist() == data.edge_index[1].tolist()
    assert (both.edge_type[9:] - tiny.num_relations).tolist() == data.edge_type.tolist()


def test_to_networkx(tiny):
    g = tiny.to_networkx()
    assert g.number_of_nodes() == 7 and g.number_of_edges() == 9
    assert set(g["Joe Biden"]["Scranton"]) == {"born_in", "lived_in"}


def test_rdflib_round_trip(tiny):
    from kgdistill.rdf import graph_from_rdflib

    back = graph_from_rdflib(tiny.to_rdflib())
    assert set(back.triples()) == set(tiny.triples())
    assert back.entity_id("Joe Biden") is not None  # found by its label
    assert back.entity_keys[back.entity_id("Joe Biden")].startswith("http://")


def test_statistics(tiny):
    s = tiny.statistics()
    assert s["triples"] == 9 and s["entity_pairs_with_several_relations"] == 1
    assert s["triples_per_relation"]["born_in"] == 3
    assert s["degree_max"] == 4


@pytest.mark.parametrize("name, kind, problem", [
    ("Joe Biden", "entity", None),
    ("~Joe", "entity", None),
    ("Bielsko-BiaÅ\x82a", "entity", None),  # mis-decoded Freebase names keep their C1 characters
    ("people.person.place_of_birth", "relation", None),
    ("directed by", "relation", None),
    ("", "entity", "entity name '' is empty"),
    ("   ", "relation", "relation name '   ' is only whitespace"),
    (" a", "entity", "has leading or trailing whitespace"),
    ("a\n", "entity", "has leading or trailing whitespace"),
    ("a\nb", "entity", "contains the control character '\\n'"),
    ("a->b", "entity", "contains '->'"),
    ("~r", "relation", "starts with '~'"),
    ("a,b", "relation", "contains ','"),
    ("a<SEP>b", "relation", "contains '<SEP>'"),
    (5, "entity", "entity name must be a string, found int 5"),
    (None, "relation", "relation name must be a string, found NoneType None"),
])
def test_check_name(name, kind, problem):
    from kgdistill.graph import check_name

    found = check_name(name, kind)
    assert found == problem if problem is None else problem in found


@pytest.mark.parametrize("triple, words", [
    (("a", "~r", "b"), "relation 0: relation name '~r' starts with '~'"),
    (("a -> b", "r", "c"), "entity 0: entity name 'a -> b' contains '->'"),
    (("a", "r", ""), "entity 1: entity name '' is empty"),
])
def test_graph_rejects_bad_names(triple, words):
    with pytest.raises(ValueError, match=words):
        KnowledgeGraph.from_triples([triple])


@pytest.mark.parametrize("seed", range(60))
def test_many_frontiers_at_once_equal_each_alone(seed):
    """The decoder asks for the relations leaving, and the neighbours along a relation
    of, every beam of a batch in one call (``outgoing_relations``, ``neighbors_many``:
    one graph call per directed relation); each answer is what the set alone gives,
    for empty sets, repeated entities and relations no entity has."""
    import random

    rng = random.Random(seed)
    n = rng.choice([5, 20, 60])
    triples = sorted({(f"e{rng.randrange(n)}", rng.choice("abcd"), f"e{rng.randrange(n)}")
                      for _ in range(rng.randrange(3, 150))})
    kg = KnowledgeGraph.from_triples(triples)
    sets = [np.array([rng.randrange(kg.num_entities) for _ in range(rng.choice([0, 1, 1, 2, 5]))], dtype=np.int64)
            for _ in range(rng.randint(1, 9))]
    want = [np.unique(kg.edges(np.unique(f))[1]).tolist() for f in sets]
    assert [o.tolist() for o in kg.outgoing_relations(sets)] == want
    steps = [(f, rng.randrange(2 * kg.num_relations + 2)) for f in sets]
    want = [np.unique(kg.edges(np.unique(f), d)[2]).tolist() for f, d in steps]
    assert [o.tolist() for o in kg.neighbors_many(steps)] == want


def test_a_relation_number_beyond_the_graph_has_no_edges():
    """Edges are keyed ``entity * directed relations + relation``: a directed relation
    number past the last one was read as the next entity's first relation, and
    ``edges``/``neighbors`` returned that entity's edges instead of none."""
    kg = KnowledgeGraph.from_triples([("a", "r", "b"), ("b", "r", "c"), ("c", "s", "a")])
    n_drel = 2 * kg.num_relations
    ids = np.arange(kg.num_entities)
    for drel in (n_drel, n_drel + 1, n_drel + 7, -1):
        assert kg.edges(ids, drel)[0].size == 0 and kg.edges(ids[:1], drel)[0].size == 0, drel
        assert kg.neighbors(ids, drel).size == 0, drel
    assert kg.neighbors(ids, 0).size  # in range: still found
