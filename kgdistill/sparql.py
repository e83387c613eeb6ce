"""Knowledge graphs in triple stores: an embedded Oxigraph store or any SPARQL 1.1
endpoint, behind the same :class:`~kgdistill.graph.GraphBackend` as the in-memory graph.

A store is opened from a graph spec (:func:`open_graph_spec`):

* ``oxigraph:DIR`` — an on-disk Oxigraph (RocksDB) store, e.g. one written by
  ``kgdistill import GRAPH --store DIR``, opened read-only in this process;
* ``sparql+http://HOST:PORT/query`` (or ``sparql+https://...``) — any SPARQL 1.1
  endpoint, queried over HTTP (results as SPARQL JSON).

How a store maps onto kgdistill's graph model:

* entities are IRIs; an entity's readable name is its ``rdfs:label`` (or
  ``skos:prefLabel``; configurable), else the IRI's local name;
* relations are the predicates with IRI objects (label, alias and comment predicates
  excepted); a relation's name is its ``rdfs:label``, else the predicate's local name;
  ``~relation`` (the inverse hop) is the SPARQL inverse direction;
* literal-valued predicates are attributes, not edges.

No dense list of all entities is needed: integer ids are handed out as entities are
met (so ``num_entities`` counts the entities seen so far), and every query asks the
store only what it can answer from its indexes — neighbours of a set of entities by
relation (``VALUES``), triple existence, labels of given entities, entities with a
given label. Terms are written into queries by :func:`sparql_iri` and
:func:`sparql_string` only; a name that is not a valid IRI never reaches a query.
Queries run through the executors of :mod:`kgdistill.sparql_exec`.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kgdistill.errors import ConfigError
from kgdistill.graph import GraphBackend, IdArray, check_name
from kgdistill.rdf import RDF_ALIAS_PREDICATES, RDF_LABEL_PREDICATES, RDF_SKIPPED_PREDICATES, iri_local_name
from kgdistill.sparql_exec import EmbeddedExecutor, HttpExecutor, Literal, SparqlExecutor, StoreError
from kgdistill.sparql_exec import OxigraphServer, oxigraph_binary  # noqa: F401 (re-exported: a local endpoint)

logger = logging.getLogger(__name__)

KEY_PREDICATE = "http://kgdistill.local/vocab#searchKey"
"""Folded label (see :func:`kgdistill.linking.words`) written beside every label and
alias by ``kgdistill import``: entity linking finds entities by it with one indexed
lookup per question."""
STORE_METADATA = "kgdistill-store.json"
"""What ``kgdistill import`` records beside an Oxigraph store (its relations, counts)."""
CHUNK = 2000
"""Most entities (or triples) written into one query's ``VALUES``."""

_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


# ---------------------------------------------------------------------- escaping
def valid_iri(iri: str) -> bool:
    """Whether ``iri`` can be written as ``<iri>`` in SPARQL: absolute (has a scheme)
    and free of the characters the IRIREF production forbids."""
    return bool(isinstance(iri, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", iri)
                and not _IRI_FORBIDDEN.search(iri))


def sparql_iri(iri: str) -> str:
    """``<iri>``; raises ``ValueError`` for a string that is not a writable IRI (a
    name containing ``>``, a space, a quote, ... could otherwise change the query)."""
    if not valid_iri(iri):
        raise ValueError(f"not an IRI: {iri[:80]!r}")
    return f"<{iri}>"


_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def sparql_string(text: str, lang: str | None = None) -> str:
    """``text`` as a SPARQL string literal (``"..."``, optionally ``@lang``): quotes,
    backslashes and line breaks are escaped, so no text can close the literal."""
    body = "".join(_STRING_ESCAPES.get(c, c) for c in text)
    if lang is not None and not re.fullmatch(r"[A-Za-z]+(-[A-Za-z0-9]+)*", lang):
        raise ValueError(f"not a language tag: {lang!r}")
    return f'"{body}"' + (f"@{lang}" if lang else "")


# ---------------------------------------------------------------------- the backend
class SparqlGraph(GraphBackend):
    """A knowledge graph in a triple store (see the module docstring).

    Args:
        executor: runs the queries (embedded Oxigraph or HTTP).
        label_predicates: predicates whose literal objects name entities and relations,
            in order of preference.
        relations: predicate IRIs that are relations, if known (``kgdistill import``
            records them); default: asked of the store once (``SELECT DISTINCT ?p``).
        name: the graph's name in messages.
        num_triples: the store's size, if known (for statistics).
        has_search_keys: whether the store holds :data:`KEY_PREDICATE` keys (default:
            asked of the store).
        label_forms: the ``(label predicate, language or None)`` pairs the store's
            names use, if known: a name is then looked up in those forms only.
    """

    dense = False
    """No dense list of all entities: entity linking searches the store instead."""

    def __init__(self, executor: SparqlExecutor, label_predicates: Sequence[str] = RDF_LABEL_PREDICATES,
                 relations: Sequence[str] | None = None, name: str | None = None,
                 num_triples: int | None = None, has_search_keys: bool | None = None,
                 label_forms: Sequence[tuple[str, str | None]] | None = None) -> None:
        self.executor = executor
        self.name = name or executor.name
        for p in label_predicates:
            sparql_iri(p)
        self.label_predicates = tuple(label_predicates)
        forms = [(p, lang) for p in self.label_predicates for lang in (None, "en")]
        if label_forms is not None:  # what the store holds (recorded by kgdistill import)
            forms = [(p, lang) for p, lang in label_forms if p in self.label_predicates and lang in (None, "en")]
        self.label_forms = forms or [(self.label_predicates[0], None)]
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._labels: dict[int, str] = {}
        self._by_name: dict[str, int | None] = {}
        self._named_by: dict[str, list[int] | None] = {}  # labels several entities carry (ambiguous_names)
        self._lock = threading.RLock()
        self.num_triples = num_triples
        if relations is None:
            logger.info("%s: listing the store's predicates (once; kgdistill import records them)", self.name)
            skip = set(RDF_LABEL_PREDICATES) | set(RDF_ALIAS_PREDICATES) | set(RDF_SKIPPED_PREDICATES) \
                | {KEY_PREDICATE} | set(self.label_predicates)
            rows = executor.select("SELECT DISTINCT ?p WHERE { ?s ?p ?o FILTER(isIRI(?o)) }")
            relations = sorted(r[0] for r in rows if isinstance(r[0], str) and r[0] not in skip)
        self.relation_keys = [r for r in relations if valid_iri(r)]
        if not self.relation_keys:
            raise StoreError(f"{self.name}: the store has no relation triples (predicates with IRI objects)")
        self._relation_labels = self._name_relations(self.relation_keys)
        self._rel_of = {k: i for i, k in enumerate(self.relation_keys)}
        self._rel_by_label = {lab: i for i, lab in enumerate(self._relation_labels)}
        self._rel_iri = [sparql_iri(k) for k in self.relation_keys]
        if has_search_keys is None:
            has_search_keys = bool(executor.select(f"SELECT ?e WHERE {{ ?e <{KEY_PREDICATE}> ?k }} LIMIT 1"))
        self.has_search_keys = has_search_keys

    # ------------------------------------------------------------------ relations
    def _name_relations(self, keys: list[str]) -> list[str]:
        from kgdistill.rdf import _unique

        labels = self._fetch_labels(keys)
        out = []
        for k in keys:
            text = " ".join((labels.get(k) or iri_local_name(k)).split()).replace(" ", "_")
            if check_name(text, "relation"):
                text = iri_local_name(k).replace(" ", "_")
            if check_name(text, "relation"):
                raise StoreError(f"{self.name}: predicate {k[:120]!r} has no usable relation name")
            out.append(text)
        return _unique(out)

    @property
    def num_relations(self) -> int:
        return len(self.relation_keys)

    def relation_id(self, name: str) -> int | None:
        found = self._rel_by_label.get(name)
        return found if found is not None else self._rel_of.get(name)

    def relation_label(self, relation: int) -> str:
        return self._relation_labels[relation]

    def relation_labels_all(self) -> Sequence[str]:
        return self._relation_labels

    def drel_label(self, drel: int) -> str:
        return ("~" if drel % 2 else "") + self.relation_label(drel // 2)

    # ------------------------------------------------------------------ entities
    @property
    def num_entities(self) -> int:
        """Entities met so far (a store is never listed whole)."""
        return len(self._keys)

    @property
    def entity_keys(self) -> list[str]:
        return self._keys

    def _intern(self, iri: str) -> int:
        i = self._index.get(iri)
        if i is None:
            with self._lock:
                i = self._index.get(iri)
                if i is None:
                    i = self._index[iri] = len(self._keys)
                    self._keys.append(iri)
        return i

    def _intern_many(self, iris: Sequence[str]) -> np.ndarray:
        index = self._index
        out = np.empty(len(iris), dtype=np.int64)
        for n, iri in enumerate(iris):
            i = index.get(iri)
            out[n] = i if i is not None else self._intern(iri)
        return out

    def intern_many(self, iris: Sequence[str]) -> np.ndarray:
        """Ids of IRIs known to be in the store (e.g. returned by a query)."""
        return self._intern_many([i for i in iris])

    def entity_key(self, entity: int) -> str:
        return self._keys[entity]

    def _iris(self, ids) -> list[str]:
        keys = self._keys
        return [keys[i] for i in np.asarray(ids, dtype=np.int64).tolist()]

    def _fetch_labels(self, iris: Sequence[str]) -> dict[str, str]:
        """Preferred label of each IRI that has one (English or untagged first, then
        the order of ``label_predicates``)."""
        out: dict[str, tuple] = {}
        rank = {p: n for n, p in enumerate(self.label_predicates)}
        iris = [i for i in iris if valid_iri(i)]
        for a in range(0, len(iris), CHUNK):
            values = " ".join(f"<{i}>" for i in iris[a:a + CHUNK])
            # (no VALUES for ?p: Oxigraph would join it before the index lookup)
            rows = self.executor.select(f"SELECT ?e ?p ?l WHERE {{ VALUES ?e {{ {values} }} "
                                        f"?e ?p ?l FILTER(isLiteral(?l)) }}")
            for e, p, lab in rows:
                if not isinstance(lab, Literal) or p not in rank:
                    continue
                lang = lab.lang
                key = (0 if lang in (None, "en") or (lang or "").startswith("en-") else 1, rank[p], str(lab))
                if e not in out or key < out[e]:
                    out[e] = key
        return {e: k[2] for e, k in out.items()}

    def _entity_name(self, iri: str, label: str | None) -> str:
        text = " ".join(label.split()) if label else ""
        if not text or check_name(text, "entity"):
            if text:
                logger.warning("%s: label %r of %s breaks the name rules; using the IRI", self.name, text, iri)
            text = " ".join(iri_local_name(iri).split()) or iri
            if check_name(text, "entity"):
                text = iri
        return text

    def entity_labels(self, ids: Sequence[int]) -> list[str]:
        """Labels of many entities with one query for those not seen before."""
        ids = [int(i) for i in ids]
        missing = sorted({i for i in ids if i not in self._labels})
        if missing:
            iris = self._iris(missing)
            found = self._fetch_labels(iris)
            for i, iri in zip(missing, iris):
                self._labels[i] = self._entity_name(iri, found.get(iri))
        return [self._labels[i] for i in ids]

    def entity_label(self, entity: int) -> str:
        label = self._labels.get(int(entity))
        return label if label is not None else self.entity_labels([entity])[0]

    def entity_labels_all(self) -> Sequence[str]:
        """Labels of the entities met so far (a store is never listed whole)."""
        return self.entity_labels(range(len(self._keys)))

    def entity_id(self, name: str) -> int | None:
        found = self.entity_ids([name])[0]
        return None if found < 0 else int(found)

    def entity_ids(self, names: Sequence[str]) -> np.ndarray:
        """Ids by IRI or label (-1: unknown). A label several entities carry resolves
        to the one with the smallest IRI; lookups are remembered."""
        names = list(names)
        todo = sorted({n for n in names if isinstance(n, str) and n not in self._by_name})
        if todo:
            iris = [n for n in todo if valid_iri(n) and ("://" in n or n.startswith("urn:"))]
            exists = self._existing(iris)
            for n in iris:
                if n in exists:
                    self._by_name[n] = self._intern(n)
            for n, iri in self._by_label([n for n in todo if n not in self._by_name]).items():
                self._by_name[n] = None if iri is None else self._intern(iri)
        return np.array([-1 if (i := self._by_name.get(n)) is None else i for n in names], dtype=np.int64)

    def ambiguous_names(self, names: Sequence[str]) -> dict[str, list[int]]:
        todo = sorted({n for n in names if isinstance(n, str) and n not in self._named_by
                       and not (valid_iri(n) and ("://" in n or n.startswith("urn:")))})
        if todo:  # one batched label query for the names not asked about before
            found: dict[str, set[str]] = {n: set() for n in todo}
            for n, e in self.labels_matching(todo):
                if n in found:
                    found[n].add(e)
            for n, iris in found.items():
                self._named_by[n] = sorted(self._intern(e) for e in iris) if len(iris) > 1 else None
        return {n: list(ids) for n in names if (ids := self._named_by.get(n))}

    def _existing(self, iris: list[str]) -> set[str]:
        """The IRIs that occur as subject or IRI object of a relation triple."""
        out: set[str] = set()
        for a in range(0, len(iris), CHUNK):
            values = " ".join(f"<{i}>" for i in iris[a:a + CHUNK])
            rows = self.executor.select(f"SELECT DISTINCT ?e ?p WHERE {{ VALUES ?e {{ {values} }} "
                                        f"{{ ?e ?p ?o FILTER(isIRI(?o)) }} UNION {{ ?o ?p ?e }} }}")
            out.update(e for e, p in rows if p in self._rel_of)
        return out

    def _by_label(self, names: list[str]) -> dict[str, str | None]:
        """The entity each name labels (the smallest IRI where several do), or ``None``."""
        out: dict[str, str | None] = {n: None for n in names}
        for n, e in self.labels_matching(names):
            if n in out and (out[n] is None or e < out[n]):
                out[n] = e
        return out

    def search_keys(self, keys: Sequence[str]) -> list[tuple[str, str]]:
        """``(folded key, entity IRI)`` for entities whose label or alias folds to one
        of ``keys`` (stores written by ``kgdistill import`` hold these keys)."""
        out = []
        keys = sorted(set(keys))
        for a in range(0, len(keys), CHUNK):
            values = " ".join(sparql_string(k) for k in keys[a:a + CHUNK])
            rows = self.executor.select(f"SELECT ?k ?e WHERE {{ VALUES ?k {{ {values} }} ?e <{KEY_PREDICATE}> ?k }}")
            out += [(str(k), e) for k, e in rows if isinstance(e, str)]
        return out

    def labels_matching(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        """``(text, entity IRI)`` for entities labelled exactly ``text`` (an untagged or
        English literal of a label predicate; only the forms the store holds, where
        ``kgdistill import`` recorded them): name lookup and entity search on stores
        without search keys."""
        out = []
        texts = sorted(set(texts))
        step = max(1, CHUNK // len(self.label_forms))
        for a in range(0, len(texts), step):
            part = texts[a:a + step]
            blocks = []
            for p in dict.fromkeys(p for p, _ in self.label_forms):
                rows = " ".join(f"({sparql_string(t)} {sparql_string(t, lang)})" for t in part
                                for q, lang in self.label_forms if q == p)
                blocks.append(f"{{ VALUES (?t ?l) {{ {rows} }} ?e {sparql_iri(p)} ?l }}")
            query = f"SELECT ?t ?e WHERE {{ {' UNION '.join(blocks)} FILTER(isIRI(?e)) }}"
            out += [(str(t), e) for t, e in self.executor.select(query) if isinstance(e, str)]
        return out

    def aliases(self, ids: Sequence[int]) -> dict[int, list[str]]:
        """Other names (``skos:altLabel``) of the given entities."""
        iris = self._iris(ids)
        out: dict[int, list[str]] = {}
        preds = set(RDF_ALIAS_PREDICATES)
        for a in range(0, len(iris), CHUNK):
            values = " ".join(f"<{i}>" for i in iris[a:a + CHUNK])
            for e, p, lab in self.executor.select(f"SELECT ?e ?p ?l WHERE {{ VALUES ?e {{ {values} }} "
                                                  f"?e ?p ?l FILTER(isLiteral(?l)) }}"):
                if p in preds and isinstance(lab, Literal) and lab.lang in (None, "en"):
                    out.setdefault(self._intern(e), []).append(" ".join(lab.split()))
        return out

    # ------------------------------------------------------------------ queries
    def _edge_rows(self, iris: list[str], drel: int | None) -> Iterable[tuple[str, int, str]]:
        """``(source IRI, directed relation, target IRI)`` of the edges leaving ``iris``."""
        for a in range(0, len(iris), CHUNK):
            values = " ".join(f"<{i}>" for i in iris[a:a + CHUNK])
            if drel is not None:
                p = self._rel_iri[drel // 2]
                pattern = f"?o {p} ?s" if drel % 2 else f"?s {p} ?o"
                for s, o in self.executor.select(
                        f"SELECT ?s ?o WHERE {{ VALUES ?s {{ {values} }} {pattern} FILTER(isIRI(?o)) }}"):
                    yield s, drel, o
                continue
            rel_of = self._rel_of
            for inverse, pattern in ((0, "?s ?p ?o"), (1, "?o ?p ?s")):
                for s, p, o in self.executor.select(
                        f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} {pattern} FILTER(isIRI(?o)) }}"):
                    r = rel_of.get(p)
                    if r is not None:
                        yield s, 2 * r + inverse, o

    def edges(self, sources: IdArray, drel: int | None = None) -> tuple[IdArray, IdArray, IdArray]:
        sources = np.unique(np.asarray(sources, dtype=np.int64))
        rows = list(self._edge_rows(self._iris(sources), drel))
        if not rows:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        s_iri, drels, o_iri = zip(*rows)
        src, dst = self._intern_many(s_iri), self._intern_many(o_iri)
        drels = np.asarray(drels, dtype=np.int64)
        order = np.lexsort((dst, drels, src))
        return src[order], drels[order], dst[order]

    def neighbors(self, sources: IdArray, drel: int) -> IdArray:
        return np.unique(self.edges(sources, drel)[2])

    def _numbered(self, groups: Sequence[IdArray], extra=None) -> Iterable[str]:
        """``VALUES`` rows ``(group entity [extra])``, at most :data:`CHUNK` a query."""
        keys, rows = self._keys, []
        for g, ents in enumerate(groups):
            tail = "" if extra is None else " " + extra[g]
            for e in np.asarray(ents, dtype=np.int64).tolist():
                rows.append(f"({g} <{keys[e]}>{tail})")
                if len(rows) == CHUNK:
                    yield " ".join(rows)
                    rows = []
        if rows:
            yield " ".join(rows)

    def outgoing_relations(self, frontiers: Sequence[IdArray]) -> list[np.ndarray]:
        """Per frontier, the directed relations leaving it: one query for all."""
        found: list[set] = [set() for _ in frontiers]
        rel_of = self._rel_of
        for rows in self._numbered(frontiers):
            for inverse, pattern in ((0, "?s ?p ?o FILTER(isIRI(?o))"), (1, "?o ?p ?s")):
                for g, p in self.executor.select(f"SELECT DISTINCT ?g ?p WHERE {{ VALUES (?g ?s) {{ {rows} }} "
                                                 f"{pattern} }}"):
                    r = rel_of.get(p)
                    if r is not None:
                        found[int(g)].add(2 * r + inverse)
        return [np.array(sorted(f), dtype=np.int64) for f in found]

    def neighbors_many(self, steps: Sequence[tuple[IdArray, int]]) -> list[IdArray]:
        """Per ``(sources, directed relation)``, the entities reached: one query per
        direction for all."""
        found: list[list[str]] = [[] for _ in steps]
        for inverse, pattern in ((0, "?s ?p ?o FILTER(isIRI(?o))"), (1, "?o ?p ?s")):
            part = [(n, f, d) for n, (f, d) in enumerate(steps) if d % 2 == inverse]
            if not part:
                continue
            for rows in self._numbered([f for _, f, _ in part], [self._rel_iri[d // 2] for _, _, d in part]):
                for g, o in self.executor.select(f"SELECT DISTINCT ?g ?o WHERE {{ VALUES (?g ?s ?p) {{ {rows} }} "
                                                 f"{pattern} }}"):
                    found[part[int(g)][0]].append(o)
        return [np.unique(self._intern_many(f)) if f else np.empty(0, dtype=np.int64) for f in found]

    def degree(self, entities: IdArray) -> np.ndarray:
        """Relation edges (both directions) at each entity, counted by the store."""
        entities = np.asarray(entities, dtype=np.int64)
        uniq, inv = np.unique(entities, return_inverse=True)
        counts: dict[str, int] = {}
        iris = self._iris(uniq)
        for a in range(0, len(iris), CHUNK):
            values = " ".join(f"<{i}>" for i in iris[a:a + CHUNK])
            for s, c in self.executor.select(
                    f"SELECT ?s (COUNT(*) AS ?c) WHERE {{ VALUES ?s {{ {values} }} "
                    f"{{ ?s ?p ?o FILTER(isIRI(?o)) }} UNION {{ ?o ?p ?s FILTER(isIRI(?o)) }} }} GROUP BY ?s"):
                counts[s] = int(c)
        return np.array([counts.get(i, 0) for i in iris], dtype=np.int64)[inv]

    def has_triples(self, heads: IdArray, relations: IdArray, tails: IdArray) -> np.ndarray:
        heads, relations, tails = (np.asarray(a, dtype=np.int64) for a in (heads, relations, tails))
        out = np.zeros(heads.shape, dtype=bool)
        n = heads.size
        keys = self._keys
        for a in range(0, n, CHUNK):
            rows = " ".join(f"({i} <{keys[h]}> {self._rel_iri[r]} <{keys[t]}>)" for i, h, r, t in zip(
                range(a, min(a + CHUNK, n)), heads[a:a + CHUNK].tolist(), relations[a:a + CHUNK].tolist(),
                tails[a:a + CHUNK].tolist()))
            for (i,) in self.executor.select(f"SELECT ?i WHERE {{ VALUES (?i ?s ?p ?o) {{ {rows} }} ?s ?p ?o }}"):
                out[int(i)] = True
        return out

    def relations_between(self, head: int, tail: int) -> list[tuple[int, bool]]:
        h, t = self._keys[head], self._keys[tail]
        out = set()
        for inverse, pattern in ((False, f"<{h}> ?p <{t}>"), (True, f"<{t}> ?p <{h}>")):
            for (p,) in self.executor.select(f"SELECT DISTINCT ?p WHERE {{ {pattern} }}"):
                if p in self._rel_of:
                    out.add((self._rel_of[p], inverse))
        return sorted(out)

    def statistics(self) -> dict:
        return {"name": self.name, "entities_seen": self.num_entities, "relations": self.num_relations,
                "triples": self.num_triples, "relation_names": list(self._relation_labels)}

    def __repr__(self) -> str:
        return f"SparqlGraph({self.name!r}, relations={self.num_relations})"


# ---------------------------------------------------------------------- opening
STORE_PREFIXES = ("oxigraph:", "sparql+http://", "sparql+https://")


def is_store_spec(spec) -> bool:
    """Whether a ``-g`` value names a store rather than a file."""
    return isinstance(spec, str) and spec.startswith(STORE_PREFIXES)


def resolve_graph_location(spec) -> str:
    """A ``-g`` value made absolute: a file's path, ``oxigraph:`` + the store's absolute
    directory, an endpoint URL unchanged (what a run records)."""
    spec = str(spec)
    if spec.startswith("oxigraph:"):
        return "oxigraph:" + str(Path(spec[len("oxigraph:"):]).resolve())
    if is_store_spec(spec):
        return spec
    return str(Path(spec).resolve())


def open_graph_spec(spec: str, label_predicates: Sequence[str] | None = None, timeout: float = 60.0) -> SparqlGraph:
    """Open ``oxigraph:DIR`` or ``sparql+http(s)://...`` as a :class:`SparqlGraph`."""
    labels = tuple(label_predicates) if label_predicates else RDF_LABEL_PREDICATES
    if spec.startswith("oxigraph:"):
        directory = Path(spec[len("oxigraph:"):])
        executor = EmbeddedExecutor(directory)
        meta = _read_metadata(directory)
        return SparqlGraph(executor, labels, relations=meta.get("relations"), name=spec,
                           num_triples=meta.get("triples"), has_search_keys=meta.get("search_keys"),
                           label_forms=[tuple(f) for f in meta["label_forms"]] if "label_forms" in meta else None)
    if spec.startswith(("sparql+http://", "sparql+https://")):
        return SparqlGraph(HttpExecutor(spec[len("sparql+"):], timeout=timeout), labels, name=spec)
    raise ConfigError(f"not a store: {spec!r} (expected oxigraph:DIR or sparql+http://HOST:PORT/PATH)")


def _read_metadata(directory: Path) -> dict:
    path = directory / STORE_METADATA
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta.get("relations"), list) or not all(isinstance(r, str) for r in meta["relations"]):
            raise ValueError("no relation list")
        return meta
    except (OSError, ValueError) as exc:
        logger.warning("ignoring %s (%s); asking the store instead", path, exc)
        return {}


