"""The knowledge-graph core: integer ids and compact indexes in both directions.

A :class:`KnowledgeGraph` stores its triples as three integer arrays and builds two
indexes from them:

* an adjacency index in CSR form over *directed relations*: every triple
  ``(h, r, t)`` gives the edge ``h --r--> t`` and its inverse ``t --~r--> h``. A
  directed relation is encoded as the integer ``2 * r + inverse``; the edges of an
  entity are sorted by directed relation, so "all ``r``-neighbours of these entities"
  is a vectorised binary search;
* a sorted array of triple keys for vectorised "does this triple exist" checks.

Traversing a relation backwards is written ``~relation`` everywhere (text, CLI and
serialized paths), see :data:`INVERSE_PREFIX`.

Callers (paths, verifier) use the small :class:`GraphBackend` interface, so that
another store (for instance a SPARQL endpoint) can be added without touching them.
"""
from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections import Counter
from itertools import repeat
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from kgdistill.arrays import concat_ranges, edge_ranges, unique_per_group
from kgdistill.errors import UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    import networkx
    import rdflib
    from torch_geometric.data import Data

logger = logging.getLogger(__name__)

INVERSE_PREFIX = "~"
"""Prefix that marks a relation traversed from tail to head: ``~starred_actors``."""

PATH_ARROW = "->"
"""What separates the steps of a path in text (``Joe Biden -> born_in -> Scranton``)."""

ROG_MARKERS = ("<PATH>", "<SEP>", "</PATH>")
"""The markers of RoG's relation-path form: ``<PATH> born_in <SEP> city_of </PATH>``."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def check_name(name: object, kind: str) -> str | None:
    """What is wrong with ``name`` as an entity or relation name, or ``None`` if nothing.

    Every name must print and parse back unchanged in the path notation, so a name

    * is a non-empty string without leading or trailing whitespace (inner spaces are
      fine: ``Joe Biden``, ``directed by``);
    * does not contain the path arrow ``->`` or an ASCII control character (tab,
      newline, ...). Other characters, including the C1 controls that mis-decoded
      Freebase names hold (``BiaÅ\x82a``), are kept as they are;
    * if it is a relation: does not start with ``~`` (which marks the inverse
      direction) and contains neither ``,`` (the short relation-path form
      ``born_in, city_of``) nor a RoG marker (``<PATH>``, ``<SEP>``, ``</PATH>``).

    This is the one place these rules are written; the file readers, the path classes
    and :class:`KnowledgeGraph` all call it.

    Args:
        name: the candidate name (any value: a non-string is a problem too).
        kind: ``"entity"`` or ``"relation"``, for the rules and the message.

    Returns:
        A message such as ``"relation name '~r' starts with '~', ..."``, or ``None``.
    """
    if not isinstance(name, str):
        return f"{kind} name must be a string, found {type(name).__name__} {_short(name)}"
    problem = _name_problem(name, kind)
    return None if problem is None else f"{kind} name {_short(name)} {problem}"


def _name_problem(name: str, kind: str) -> str | None:
    if not name.strip():
        return "is empty" if not name else "is only whitespace"
    if name[0].isspace() or name[-1].isspace():
        return "has leading or trailing whitespace"
    if PATH_ARROW in name:
        return f"contains {PATH_ARROW!r}, which separates the steps of a path"
    bad = _CONTROL_CHARACTERS.search(name)
    if bad:
        return f"contains the control character {bad.group()!r}"
    if kind == "relation":
        if name.startswith(INVERSE_PREFIX):
            return f"starts with {INVERSE_PREFIX!r}, which marks inverse relations"
        for mark in (",",) + ROG_MARKERS:
            if mark in name:
                return f"contains {mark!r}, which the relation-path notation reserves"
    return None


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."

IdArray = np.ndarray
"""A one-dimensional integer array of entity or relation ids."""


def directed_relation(relation, inverse):
    """Encode relation id ``relation`` traversed forwards or backwards as one integer,
    ``2 * relation + inverse``: the one place this encoding is written down. Works on
    ints and on numpy arrays alike."""
    return 2 * relation + (inverse.astype(np.int64) if isinstance(inverse, np.ndarray) else int(inverse))


def split_directed_relation(drel):
    """Inverse of :func:`directed_relation`: ``(relation, inverse)`` (ints or arrays)."""
    if isinstance(drel, np.ndarray):
        return drel // 2, (drel % 2).astype(bool)
    return int(drel) // 2, bool(drel % 2)


class GraphBackend(ABC):
    """What paths and the verifier need from a graph store.

    Entities and relations have integer ids; names are resolved with
    :meth:`entity_id` / :meth:`relation_id`. All neighbourhood queries are batched over
    arrays of entity ids.
    """

    @property
    @abstractmethod
    def num_entities(self) -> int: ...

    @property
    @abstractmethod
    def num_relations(self) -> int: ...

    @abstractmethod
    def entity_id(self, name: str) -> int | None:
        """Id of the entity with this key or label, or ``None``."""

    @abstractmethod
    def relation_id(self, name: str) -> int | None:
        """Id of the relation with this key or label (without ``~``), or ``None``."""

    @abstractmethod
    def entity_label(self, entity: int) -> str:
        """Readable name of an entity."""

    @abstractmethod
    def relation_label(self, relation: int) -> str:
        """Readable name of a relation."""

    @abstractmethod
    def entity_labels_all(self) -> Sequence[str]:
        """All entity labels in id order (for close-match suggestions)."""

    @abstractmethod
    def relation_labels_all(self) -> Sequence[str]:
        """All relation labels in id order."""

    @abstractmethod
    def edges(self, sources: IdArray, drel: int | None = None) -> tuple[IdArray, IdArray, IdArray]:
        """Edges leaving ``sources``, optionally only along directed relation ``drel``.

        Args:
            sources: (n,) entity ids.
            drel: a directed relation (:func:`directed_relation`), or ``None`` for all.

        Returns:
            ``(src, drel, dst)``, each of shape (num_edges,).
        """

    @abstractmethod
    def has_triples(self, heads: IdArray, relations: IdArray, tails: IdArray) -> np.ndarray:
        """Whether each stored triple ``(heads[i], relations[i], tails[i])`` exists.

        Args:
            heads, relations, tails: (n,) ids.

        Returns:
            (n,) bool.
        """

    def entity_labels(self, entities: Sequence[int]) -> list[str]:
        """Labels of many entities (one query on a store)."""
        return [self.entity_label(int(e)) for e in entities]

    def entity_ids(self, names: Sequence[str]) -> np.ndarray:
        """Ids for many names at once; -1 marks an unknown name. (n,) int64."""
        return np.array([-1 if (i := self.entity_id(n)) is None else i for n in names], dtype=np.int64)

    def ambiguous_names(self, names: Sequence[str]) -> dict[str, list[int]]:
        """The names among ``names`` that label several entities (and are no entity's
        key), each with all of them; :meth:`entity_id` picks one. Backends that do not
        know say none."""
        return {}

    def neighbors(self, sources: IdArray, drel: int) -> IdArray:
        """Sorted unique entities reached from ``sources`` along ``drel``."""
        return np.unique(self.edges(sources, drel)[2])

    def outgoing_relations(self, frontiers: Sequence[IdArray]) -> list[np.ndarray]:
        """Per entity set, the sorted directed relations of the edges leaving it (what
        constrained decoding may take next; a store answers all sets in one query)."""
        if len(frontiers) == 1:  # one set (a single question): its edges are one slice or a few
            return [np.unique(self.edges(np.asarray(frontiers[0], dtype=np.int64))[1])]
        sizes = np.array([len(f) for f in frontiers], dtype=np.int64)
        out = [np.empty(0, dtype=np.int64)] * len(frontiers)
        if not sizes.sum():
            return out
        ents = np.concatenate([np.asarray(f, dtype=np.int64) for f in frontiers])
        src, drel, _ = self.edges(np.unique(ents))  # one call for all sets
        order = np.argsort(src, kind="stable")
        src, drel = src[order], drel[order]
        lo, hi = np.searchsorted(src, ents, side="left"), np.searchsorted(src, ents, side="right")
        group = np.repeat(np.repeat(np.arange(len(frontiers), dtype=np.int64), sizes), hi - lo)
        return unique_per_group(drel[concat_ranges(lo, hi)], group, len(frontiers))

    def neighbors_many(self, steps: Sequence[tuple[IdArray, int]]) -> list[IdArray]:
        """:meth:`neighbors` for many ``(sources, drel)`` pairs (one query on a store)."""
        out = [np.empty(0, dtype=np.int64)] * len(steps)
        by_drel: dict[int, list[int]] = {}
        for i, (_, d) in enumerate(steps):
            by_drel.setdefault(int(d), []).append(i)
        for drel, members in by_drel.items():  # one graph call per directed relation
            if len(members) == 1:
                out[members[0]] = self.neighbors(np.asarray(steps[members[0]][0], dtype=np.int64), drel)
                continue
            sources = [np.asarray(steps[i][0], dtype=np.int64) for i in members]
            sizes = np.array([f.size for f in sources], dtype=np.int64)
            if not sizes.sum():
                continue
            ents = np.concatenate(sources)
            dst, lo, hi = edge_ranges(self, ents, drel)
            group = np.repeat(np.repeat(np.arange(len(members), dtype=np.int64), sizes), hi - lo)
            for i, found in zip(members, unique_per_group(dst[concat_ranges(lo, hi)], group, len(members))):
                out[i] = found
        return out

    def degree(self, entities: IdArray) -> np.ndarray:
        """Number of edges (both directions) at each entity: (n,) int64."""
        entities = np.asarray(entities, dtype=np.int64)
        src = self.edges(entities)[0]
        uniq, inv = np.unique(entities, return_inverse=True)
        counts = np.bincount(np.searchsorted(uniq, src), minlength=uniq.size)
        return counts[inv]

    def relations_between(self, head: int, tail: int) -> list[tuple[int, bool]]:
        """``(relation, inverse)`` pairs that lead from ``head`` to ``tail``."""
        _, drels, dst = self.edges(np.array([head]))
        return sorted({(int(d) // 2, bool(d % 2)) for d in drels[dst == tail]})


class KnowledgeGraph(GraphBackend):
    """A knowledge graph held in compact integer arrays.

    Build one with :meth:`from_triples` (names) or :meth:`from_ids` (arrays), or load a
    file with :func:`kgdistill.readers.load_graph`. Duplicate triples are dropped;
    several relations between the same two entities are all kept.

    Args:
        entity_keys: unique entity identifiers (a MetaQA name, an IRI, ...), id order.
        relation_keys: unique relation identifiers, id order.
        head, relation, tail: (num_triples,) ids of the triples.
        entity_labels: readable entity names for display (default: the keys).
        relation_labels: readable relation names (default: the keys).
        name: a name for messages (usually the file it came from).

    Raises:
        ValueError: structural problems (lengths, ids out of range, repeated keys) or
            a label (the key where there are no labels) that breaks :func:`check_name`.
    """

    def __init__(
        self,
        entity_keys: Sequence[str],
        relation_keys: Sequence[str],
        head: np.ndarray,
        relation: np.ndarray,
        tail: np.ndarray,
        entity_labels: Sequence[str] | None = None,
        relation_labels: Sequence[str] | None = None,
        name: str = "graph",
    ) -> None:
        self.name = name
        self.entity_keys = list(entity_keys)
        self.relation_keys = list(relation_keys)
        self._entity_labels = list(entity_labels) if entity_labels is not None else None
        self._relation_labels = list(relation_labels) if relation_labels is not None else None
        for labels, keys, what in ((self._entity_labels, self.entity_keys, "entity"),
                                   (self._relation_labels, self.relation_keys, "relation")):
            if labels is not None and len(labels) != len(keys):
                raise ValueError(f"{len(labels)} {what} labels for {len(keys)} {what} keys")
        self._check_names()
        self.entity_index = {k: i for i, k in enumerate(self.entity_keys)}
        self.relation_index = {k: i for i, k in enumerate(self.relation_keys)}
        if len(self.entity_index) != len(self.entity_keys):
            raise ValueError("entity keys are not unique")
        if len(self.relation_index) != len(self.relation_keys):
            raise ValueError("relation keys are not unique")
        self._entity_label_index: dict[str, int] | None = None
        self._relation_label_index: dict[str, int] | None = None
        self._entity_name_index: dict[str, int] | None = None
        self._ambiguous: dict[str, list[int]] | None = None
        self.entity_aliases: dict[int, list[str]] = {}
        """Other names of entities (e.g. ``skos:altLabel``), used by entity linking only."""

        n_e, n_r = len(self.entity_keys), len(self.relation_keys)
        head, relation, tail = (np.asarray(a, dtype=np.int64) for a in (head, relation, tail))
        if not (head.shape == relation.shape == tail.shape) or head.ndim != 1:
            raise ValueError("head, relation and tail must be 1-d arrays of one length")
        if head.size and (min(head.min(), tail.min()) < 0 or max(head.max(), tail.max()) >= n_e
                          or relation.min() < 0 or relation.max() >= n_r):
            raise ValueError("triple ids out of range")
        if n_e and n_r and float(n_e) * n_e * n_r >= 2.0**62:
            raise ValueError("graph too large for 64-bit triple keys")
        # Deduplicate triples and keep a sorted key array for membership tests.
        keys = (head * n_r + relation) * max(n_e, 1) + tail
        keys, first = np.unique(keys, return_index=True)
        first.sort()  # keep the file's order of first occurrence
        self.head = head[first].astype(np.int32)
        self.relation = relation[first].astype(np.int32)
        self.tail = tail[first].astype(np.int32)
        self._triple_keys = keys
        self._build_adjacency()

    def _check_names(self) -> None:
        """Raise ``ValueError`` for the first label that breaks :func:`check_name` (the
        readers check each name where it is read, with file and line, before this)."""
        for labels, kind in ((self.entity_labels_all(), "entity"), (self.relation_labels_all(), "relation")):
            for i, label in enumerate(labels):
                problem = check_name(label, kind)
                if problem:
                    raise ValueError(f"{kind} {i}: {problem}")

    # ------------------------------------------------------------------ building
    @classmethod
    def from_triples(cls, triples: Iterable[tuple[str, str, str]], name: str = "graph") -> "KnowledgeGraph":
        """Build a graph from ``(head, relation, tail)`` name triples."""
        entities: dict[str, int] = {}
        relations: dict[str, int] = {}
        hs, rs, ts = [], [], []
        for h, r, t in triples:
            hs.append(entities.setdefault(h, len(entities)))
            rs.append(relations.setdefault(r, len(relations)))
            ts.append(entities.setdefault(t, len(entities)))
        return cls(list(entities), list(relations), np.array(hs, dtype=np.int64),
                   np.array(rs, dtype=np.int64), np.array(ts, dtype=np.int64), name=name)

    @classmethod
    def from_ids(cls, entity_keys, relation_keys, head, relation, tail, **kwargs) -> "KnowledgeGraph":
        """Build a graph from id arrays (see the class arguments)."""
        return cls(entity_keys, relation_keys, head, relation, tail, **kwargs)

    def _build_adjacency(self) -> None:
        n_e = self.num_entities
        src = np.concatenate([self.head, self.tail]).astype(np.int64)
        dst = np.concatenate([self.tail, self.head]).astype(np.int32)
        drel = np.concatenate([2 * self.relation, 2 * self.relation + 1]).astype(np.int64)
        n_d = 2 * max(self.num_relations, 1)
        key = src * n_d + drel
        order = np.argsort(key, kind="stable")
        self._adj_key = key[order]
        self._adj_drel = drel[order].astype(np.int32)
        self._adj_dst = dst[order]
        self._adj_ptr = np.zeros(n_e + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n_e), out=self._adj_ptr[1:])
        self._n_drel = n_d

    # ------------------------------------------------------------------ sizes & names
    @property
    def num_entities(self) -> int:
        return len(self.entity_keys)

    @property
    def num_relations(self) -> int:
        return len(self.relation_keys)

    @property
    def num_triples(self) -> int:
        return int(self.head.shape[0])

    def __len__(self) -> int:
        return self.num_triples

    def __repr__(self) -> str:
        return (f"KnowledgeGraph(name={self.name!r}, entities={self.num_entities}, "
                f"relations={self.num_relations}, triples={self.num_triples})")

    def entity_labels_all(self) -> Sequence[str]:
        return self._entity_labels if self._entity_labels is not None else self.entity_keys

    def relation_labels_all(self) -> Sequence[str]:
        return self._relation_labels if self._relation_labels is not None else self.relation_keys

    def entity_label(self, entity: int) -> str:
        if not 0 <= entity < self.num_entities:  # -1 named the last entity
            raise UnknownNameError(f"entity id {entity} is not one of 0 to {self.num_entities - 1}")
        return self.entity_labels_all()[entity]

    def relation_label(self, relation: int) -> str:
        return self.relation_labels_all()[relation]

    @staticmethod
    def _label_index(labels: Sequence[str] | None, keys: Sequence[str]) -> dict[str, int]:
        if labels is None:
            return {}
        index: dict[str, int] = {}
        for i, label in enumerate(labels):
            if label != keys[i]:
                index.setdefault(label, i)  # first entity wins on ambiguous labels
        return index

    def entity_id(self, name: str) -> int | None:
        found = self.entity_index.get(name)
        if found is not None or self._entity_labels is None:
            return found
        if self._entity_label_index is None:
            self._entity_label_index = self._label_index(self._entity_labels, self.entity_keys)
        return self._entity_label_index.get(name)

    def ambiguous_names(self, names: Sequence[str]) -> dict[str, list[int]]:
        if self._entity_labels is None:
            return {}
        if self._ambiguous is None:  # only the labels several entities carry: small
            first: dict[str, int] = {}
            self._ambiguous = {}
            for i, label in enumerate(self._entity_labels):
                if label != self.entity_keys[i] and first.setdefault(label, i) != i:
                    self._ambiguous.setdefault(label, [first[label]]).append(i)
        return {n: list(self._ambiguous[n]) for n in names
                if n in self._ambiguous and n not in self.entity_index}  # keys win over labels

    def entity_ids(self, names: Sequence[str]) -> np.ndarray:
        if self._entity_labels is None:
            index = self.entity_index
        else:
            if self._entity_name_index is None:  # keys win over labels
                self._entity_name_index = {**self._label_index(self._entity_labels, self.entity_keys),
                                           **self.entity_index}
            index = self._entity_name_index
        return np.array(list(map(index.get, names, repeat(-1))), dtype=np.int64)

    def relation_id(self, name: str) -> int | None:
        found = self.relation_index.get(name)
        if found is not None or self._relation_labels is None:
            return found
        if self._relation_label_index is None:
            self._relation_label_index = self._label_index(self._relation_labels, self.relation_keys)
        return self._relation_label_index.get(name)

    def drel_label(self, drel: int) -> str:
        """Text of a directed relation: ``name`` or ``~name``."""
        return (INVERSE_PREFIX if drel % 2 else "") + self.relation_label(drel // 2)

    # ------------------------------------------------------------------ queries
    def edges(self, sources: IdArray, drel: int | None = None) -> tuple[IdArray, IdArray, IdArray]:
        sources = np.asarray(sources, dtype=np.int64)
        if drel is None:
            starts, ends = self._adj_ptr[sources], self._adj_ptr[sources + 1]
        elif not 0 <= drel < self._n_drel:  # no such relation (its keys would be the next entity's)
            return np.empty(0, dtype=np.int64), self._adj_drel[:0].copy(), self._adj_dst[:0].copy()
        else:
            keys = sources * self._n_drel + drel
            starts = np.searchsorted(self._adj_key, keys, side="left")
            ends = np.searchsorted(self._adj_key, keys, side="right")
        if sources.size == 1:  # one range: a slice (the common case of path grounding)
            a, b = int(starts[0]), int(ends[0])
            return np.full(b - a, sources[0], dtype=np.int64), self._adj_drel[a:b].copy(), self._adj_dst[a:b].copy()
        idx = concat_ranges(starts, ends)
        src = np.repeat(sources, ends - starts)
        return src, self._adj_drel[idx], self._adj_dst[idx]

    def neighbors(self, sources: IdArray, drel: int) -> IdArray:
        sources = np.asarray(sources, dtype=np.int64)
        if not 0 <= drel < self._n_drel:
            return self._adj_dst[:0].copy()
        keys = sources * self._n_drel + drel
        starts = np.searchsorted(self._adj_key, keys, side="left")
        ends = np.searchsorted(self._adj_key, keys, side="right")
        return np.unique(self._adj_dst[concat_ranges(starts, ends)])

    def degree(self, entities: IdArray | None = None) -> np.ndarray:
        """Number of edges (both directions) at each entity: (n,) int64."""
        deg = np.diff(self._adj_ptr)
        return deg if entities is None else deg[np.asarray(entities)]

    def has_triples(self, heads: IdArray, relations: IdArray, tails: IdArray) -> np.ndarray:
        heads, relations, tails = (np.asarray(a, dtype=np.int64) for a in (heads, relations, tails))
        keys = (heads * self.num_relations + relations) * max(self.num_entities, 1) + tails
        if len(self._triple_keys) == 0:
            return np.zeros(keys.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self._triple_keys, keys), len(self._triple_keys) - 1)
        return self._triple_keys[pos] == keys

    def triples(self, labels: bool = True) -> Iterable[tuple[str, str, str]]:
        """Iterate over the triples as name tuples (labels or keys)."""
        ents = self.entity_labels_all() if labels else self.entity_keys
        rels = self.relation_labels_all() if labels else self.relation_keys
        for h, r, t in zip(self.head.tolist(), self.relation.tolist(), self.tail.tolist()):
            yield ents[h], rels[r], ents[t]

    def statistics(self) -> dict:
        """Counts, per-relation sizes and degree figures, as a JSON-able dict."""
        deg = self.degree()
        per_rel = np.bincount(self.relation, minlength=self.num_relations)
        top = np.argsort(-deg, kind="stable")[:5]
        pairs = Counter(zip(self.head.tolist(), self.tail.tolist()))
        return {
            "name": self.name,
            "entities": self.num_entities,
            "relations": self.num_relations,
            "triples": self.num_triples,
            "triples_per_relation": {self.relation_label(r): int(c) for r, c in enumerate(per_rel)},
            "degree_mean": float(deg.mean()) if deg.size else 0.0,
            "degree_median": float(np.median(deg)) if deg.size else 0.0,
            "degree_max": int(deg.max()) if deg.size else 0,
            "top_degree_entities": {self.entity_label(int(e)): int(deg[e]) for e in top},
            "isolated_entities": int((deg == 0).sum()),
            "entity_pairs_with_several_relations": sum(1 for c in pairs.values() if c > 1),
        }

    # ------------------------------------------------------------------ conversions
    def to_pyg(self, add_inverse: bool = False) -> "Data":
        """The graph as a ``torch_geometric.data.Data``.

        Args:
            add_inverse: also add every edge backwards, with relation type
                ``r + num_relations`` (the usual R-GCN convention).

        Returns:
            ``Data`` with ``edge_index`` (2, num_edges), ``edge_type`` (num_edges,) and
            ``num_nodes``; node ``i`` is entity id ``i``.
        """
        import torch
        from torch_geometric.data import Data

        src, dst, typ = self.head, self.tail, self.relation
        if add_inverse:
            src, dst = np.concatenate([src, self.tail]), np.concatenate([dst, self.head])
            typ = np.concatenate([typ, self.relation + self.num_relations])
        edge_index = torch.from_numpy(np.stack([src, dst]).astype(np.int64))
        return Data(edge_index=edge_index, edge_type=torch.from_numpy(typ.astype(np.int64)),
                    num_nodes=self.num_entities)

    def to_networkx(self) -> "networkx.MultiDiGraph":
        """A ``networkx.MultiDiGraph``: nodes are entity keys (with a ``label``), edge
        keys and ``relation`` attributes are relation labels."""
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name)
        labels = self.entity_labels_all()
        g.add_nodes_from((k, {"label": labels[i]}) for i, k in enumerate(self.entity_keys))
        rels = self.relation_labels_all()
        for h, r, t in zip(self.head.tolist(), self.relation.tolist(), self.tail.tolist()):
            g.add_edge(self.entity_keys[h], self.entity_keys[t], key=rels[r], relation=rels[r])
        return g

    def to_rdflib(self, base: str = "http://kgdistill.local/") -> "rdflib.Graph":
        """An ``rdflib.Graph``; see :func:`kgdistill.rdf.graph_to_rdflib`."""
        from kgdistill.rdf import graph_to_rdflib

        return graph_to_rdflib(self, base)
