"""Generic test classes, one per plug-in interface (in the manner of PyKEEN's
``tests/cases.py``): a subclass says how to build the implementation, the class
checks the contract. Every implementation of an interface runs the same tests."""
from __future__ import annotations

import random

import numpy as np
import pytest

from kgdistill.graph import GraphBackend, directed_relation
from tests.conftest import TINY

CONTRACT_TRIPLES = TINY + [("Ann", "knows", "Ann")]  # parallel relations, a duplicate, a self loop


class GraphBackendContract:
    """What kgdistill needs of any graph store. Subclasses define :meth:`make`,
    which builds the backend holding exactly ``triples`` (names are labels)."""

    def make(self, triples: list[tuple[str, str, str]]) -> GraphBackend:
        raise NotImplementedError

    @pytest.fixture
    def backend(self) -> GraphBackend:
        return self.make(CONTRACT_TRIPLES)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def expected_edges(triples, start: str) -> set[tuple[str, str]]:
        """(directed relation text, neighbour) pairs leaving ``start``."""
        out = set()
        for h, r, t in set(triples):
            if h == start:
                out.add((r, t))
            if t == start:
                out.add(("~" + r, h))
        return out

    @staticmethod
    def edge_names(g: GraphBackend, ids) -> set[tuple[str, str]]:
        src, drels, dst = g.edges(np.asarray(ids, dtype=np.int64))
        return {(("~" if d % 2 else "") + g.relation_label(int(d) // 2), g.entity_label(int(e)))
                for d, e in zip(drels.tolist(), dst.tolist())}

    # ------------------------------------------------------------------ the contract
    def test_sizes_and_names(self, backend):
        entities = {x for h, _, t in CONTRACT_TRIPLES for x in (h, t)}
        relations = {r for _, r, _ in CONTRACT_TRIPLES}
        assert {backend.entity_label(backend.entity_id(e)) for e in entities} == entities
        # (a store counts the entities met so far: all of them now)
        assert backend.num_entities == len(entities) and backend.num_relations == len(relations)
        assert {backend.relation_label(backend.relation_id(r)) for r in relations} == relations
        assert backend.entity_id("nobody") is None and backend.relation_id("nothing") is None
        assert backend.entity_ids(["Joe Biden", "nobody"]).tolist()[1] == -1
        assert sorted(backend.relation_labels_all()) == sorted(relations)

    def test_edges_in_both_directions(self, backend):
        for name in ("Joe Biden", "Scranton", "USA", "Ann", "Hunter Biden"):
            assert self.edge_names(backend, [backend.entity_id(name)]) == self.expected_edges(CONTRACT_TRIPLES, name)

    def test_edges_of_several_sources_and_by_relation(self, backend):
        ids = backend.entity_ids(["Scranton", "Hammonton", "Wilmington"])
        src, drels, dst = backend.edges(ids)
        assert len(src) == len(drels) == len(dst) and set(src.tolist()) <= set(ids.tolist())
        city_of = directed_relation(backend.relation_id("city_of"), False)
        src, drels, dst = backend.edges(ids, city_of)
        assert set(drels.tolist()) == {city_of} and {backend.entity_label(int(e)) for e in dst} == {"USA"}
        assert len(dst) == 3  # one edge per source
        assert backend.edges(np.array([], dtype=np.int64))[0].size == 0

    def test_neighbors_are_sorted_unique(self, backend):
        usa = backend.entity_id("USA")
        back = directed_relation(backend.relation_id("city_of"), True)
        cities = backend.neighbors(np.array([usa, usa]), back)
        assert cities.tolist() == sorted(set(cities.tolist()))
        assert {backend.entity_label(int(c)) for c in cities} == {"Scranton", "Hammonton", "Wilmington"}

    def test_has_triples_is_directional(self, backend):
        e, r = backend.entity_id, backend.relation_id
        got = backend.has_triples(np.array([e("Joe Biden"), e("Scranton"), e("Ann"), e("Joe Biden")]),
                                  np.array([r("born_in"), r("born_in"), r("knows"), r("city_of")]),
                                  np.array([e("Scranton"), e("Joe Biden"), e("Ann"), e("USA")]))
        assert got.tolist() == [True, False, True, False]

    def test_degree_and_relations_between(self, backend):
        joe, scr = backend.entity_id("Joe Biden"), backend.entity_id("Scranton")
        assert backend.degree(np.array([joe]))[0] == len(self.expected_edges(CONTRACT_TRIPLES, "Joe Biden"))
        pairs = backend.relations_between(joe, scr)
        assert {backend.relation_label(r) for r, inv in pairs if not inv} == {"born_in", "lived_in"}

    def test_random_graphs_agree_with_their_triples(self):
        rng = random.Random(0)
        for _ in range(5):
            triples = [(f"e{rng.randrange(9)}", f"r{rng.randrange(3)}", f"e{rng.randrange(9)}") for _ in range(25)]
            g = self.make(triples)
            for name in {h for h, _, _ in triples}:
                assert self.edge_names(g, [g.entity_id(name)]) == self.expected_edges(triples, name)
