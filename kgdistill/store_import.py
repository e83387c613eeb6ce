"""``kgdistill import GRAPH --store DIR``: a graph file into an on-disk Oxigraph store.

RDF files (N-Triples, Turtle, N-Quads, TriG, N3, RDF/XML, JSON-LD) stream into the
store without being held in memory (named graphs are merged into the default graph).
Files in kgdistill's other formats (MetaQA, TSV, RoG) are read with the usual readers
first, so their errors name file and line; their entities and relations are minted
IRIs under ``base`` (as :func:`kgdistill.rdf.graph_to_rdflib` does) with their names as
``rdfs:label``.

Besides the triples the store gets one search key per label and alias (the folded
words of the name, :data:`~kgdistill.sparql.KEY_PREDICATE`) for entity linking, and
``kgdistill-store.json`` beside it records the relations and counts, so that opening
the store lists nothing. The store is written to ``DIR.partial`` and renamed when
complete: an interrupted import leaves no half store behind.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import time
import traceback
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from kgdistill.errors import ConfigError, KGFormatError
from kgdistill.linking import words
from kgdistill.rdf import RDF_ALIAS_PREDICATES, RDF_LABEL_PREDICATES
from kgdistill.readers import RDF_EXTENSIONS, check_file, detect_graph_format, load_graph
from kgdistill.sparql import KEY_PREDICATE, STORE_METADATA

logger = logging.getLogger(__name__)

DEFAULT_BASE = "http://kgdistill.local/"
_OX_FORMATS = {".nt": "N_TRIPLES", ".ttl": "TURTLE", ".nq": "N_QUADS", ".trig": "TRIG", ".n3": "N3",
               ".rdf": "RDF_XML", ".xml": "RDF_XML", ".owl": "RDF_XML", ".jsonld": "JSON_LD"}


class _Progress:
    """A binary file whose reads advance a tqdm bar by bytes."""

    def __init__(self, fh, bar) -> None:
        self.fh, self.bar = fh, bar

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.bar.update(len(data))
        return data

    def readinto(self, buf) -> int:
        n = self.fh.readinto(buf)
        self.bar.update(n or 0)
        return n


def import_graph(path: str | Path, store_dir: str | Path, format: str | None = None,
                 base: str = DEFAULT_BASE, replace: bool = False, progress: bool = True) -> dict:
    """Write the graph file ``path`` into a new Oxigraph store at ``store_dir``.

    Args:
        path: the graph file (any format kgdistill reads).
        store_dir: the store directory to create.
        format: the graph format (default: detected).
        base: IRI prefix for the names of non-RDF files.
        replace: replace an existing store at ``store_dir``.
        progress: show a progress bar.

    Returns:
        What was imported: ``{"triples", "relations", "labels", "seconds", ...}``
        (also written to ``store_dir/kgdistill-store.json``).

    Raises:
        KGFormatError: the file does not parse (file and line where known).
        ConfigError: ``store_dir`` exists (and is not empty) and ``replace`` is false,
            or it is not a store (``replace`` replaces only a store).
    """
    path = check_file(path)
    target = Path(store_dir)
    empty = target.is_dir() and not any(target.iterdir())  # e.g. made by the user for the store
    if target.exists() and not replace and not empty:
        raise ConfigError(f"{target} exists; give --replace to overwrite it, or another directory")
    if target.exists() and not empty and not (target / STORE_METADATA).is_file():  # --replace deletes only a store
        kind = "a directory" if target.is_dir() else "a file"
        raise ConfigError(f"{target} is {kind} but not a kgdistill store (no {STORE_METADATA} inside); "
                          "--replace only replaces a store: give another directory")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot create the store's directory ({exc.strerror})") from None
    start = time.perf_counter()
    fmt = format or detect_graph_format(path)
    try:
        meta = _write_store(path, partial, fmt, base, progress)
    except BaseException:  # a failed or interrupted import leaves nothing behind
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    meta["seconds"] = round(time.perf_counter() - start, 2)
    (target / STORE_METADATA).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def _write_store(path: Path, partial: Path, fmt: str, base: str, progress: bool) -> dict:
    import pyoxigraph as ox

    store = ox.Store(str(partial))
    try:
        return _fill(store, path, fmt, base, progress)
    except BaseException as exc:  # the error's traceback must not keep the store (and its lock) open
        traceback.clear_frames(exc.__traceback__.tb_next)
        raise
    finally:
        del store


def _fill(store, path: Path, fmt: str, base: str, progress: bool) -> dict:
    import pyoxigraph as ox

    counts = {"triples": 0, "labels": 0, "forms": {(RDF_LABEL_PREDICATES[0], None)}}
    if fmt == "rdf" and path.suffix.lower() in _OX_FORMATS:
        store.bulk_extend(_rdf_quads(path, getattr(ox.RdfFormat, _OX_FORMATS[path.suffix.lower()]), counts,
                                     progress))
    else:
        store.bulk_extend(_graph_quads(load_graph(path, fmt), base, counts, progress))
    store.flush()
    relations = _relations(store)
    if not relations:
        raise KGFormatError(path, None, "no relation triples (triples whose object is an IRI)")
    store.optimize()
    return {"source": str(path), "format": fmt, "triples": counts["triples"], "labels": counts["labels"],
            "search_keys": True, "relations": relations, "kgdistill_store_version": 1,
            "label_forms": sorted(counts["forms"], key=lambda f: (f[0], f[1] or ""))}


def _bar(total: int, unit: str, progress: bool, desc: str):
    from tqdm.auto import tqdm

    # disable=None: no bar where stderr is not a terminal (a log file)
    return tqdm(total=total, unit=unit, unit_scale=True, disable=None if progress else True, desc=desc, leave=False)


def _rdf_quads(path: Path, fmt, counts: dict, progress: bool) -> Iterator:
    import pyoxigraph as ox

    default = ox.DefaultGraph()
    names = {ox.NamedNode(p) for p in RDF_LABEL_PREDICATES + RDF_ALIAS_PREDICATES}
    with open(path, "rb") as fh, _bar(path.stat().st_size, "B", progress, f"importing {path.name}") as bar:
        try:
            for q in ox.parse(_Progress(fh, bar), format=fmt, base_iri=path.resolve().as_uri()):
                counts["triples"] += 1
                yield ox.Quad(q.subject, q.predicate, q.object, default) \
                    if not isinstance(q.graph_name, ox.DefaultGraph) else q
                if q.predicate in names:
                    if isinstance(q.object, ox.Literal) and q.predicate.value in RDF_LABEL_PREDICATES:
                        counts["forms"].add((q.predicate.value, q.object.language))
                    yield from _search_key(q.subject, q.object, counts)
        except SyntaxError as exc:
            text = str(exc)
            m = re.search(r"line (\d+)", text) or re.search(r"(\d+):\d+", text)
            raise KGFormatError(path, int(m.group(1)) if m else None, f"cannot parse as RDF: {text}") from None


def _graph_quads(kg, base: str, counts: dict, progress: bool) -> Iterator:
    import pyoxigraph as ox

    def node(key: str, kind: str):
        if "://" in key or key.startswith("urn:"):
            return ox.NamedNode(key)
        return ox.NamedNode(f"{base}{kind}/{quote(key, safe='')}")

    label = ox.NamedNode(RDF_LABEL_PREDICATES[0])
    ents = [node(k, "entity") for k in kg.entity_keys]
    rels = [node(k, "relation") for k in kg.relation_keys]
    for i, text in enumerate(kg.relation_labels_all()):
        yield ox.Quad(rels[i], label, ox.Literal(text))
    for i, text in enumerate(kg.entity_labels_all()):
        yield ox.Quad(ents[i], label, ox.Literal(text))
        yield from _search_key(ents[i], ox.Literal(text), counts)
    alias = ox.NamedNode(RDF_ALIAS_PREDICATES[0])
    for i, names in getattr(kg, "entity_aliases", {}).items():
        for a in names:
            yield ox.Quad(ents[i], alias, ox.Literal(a))
            yield from _search_key(ents[i], ox.Literal(a), counts)
    with _bar(kg.num_triples, "triple", progress, f"importing {kg.name}") as bar:
        for n, (h, r, t) in enumerate(zip(kg.head.tolist(), kg.relation.tolist(), kg.tail.tolist())):
            counts["triples"] += 1
            if n % 10000 == 0:
                bar.update(min(10000, kg.num_triples - n))
            yield ox.Quad(ents[h], rels[r], ents[t])


def _search_key(subject, name, counts: dict) -> Iterator:
    """The search key (the folded words) of an English or untagged name of an IRI
    (entity linking ignores keys of relations)."""
    import pyoxigraph as ox

    if not isinstance(name, ox.Literal) or not isinstance(subject, ox.NamedNode):
        return
    if name.language and name.language.split("-")[0].lower() != "en":
        return
    folded = " ".join(words(name.value))
    if folded:
        counts["labels"] += 1
        yield ox.Quad(subject, ox.NamedNode(KEY_PREDICATE), ox.Literal(folded))


def _relations(store) -> list[str]:
    from kgdistill.rdf import RDF_SKIPPED_PREDICATES

    skip = set(RDF_LABEL_PREDICATES) | set(RDF_ALIAS_PREDICATES) | set(RDF_SKIPPED_PREDICATES) | {KEY_PREDICATE}
    rows = store.query("SELECT DISTINCT ?p WHERE { ?s ?p ?o FILTER(isIRI(?o)) }")
    return sorted(r[0].value for r in rows if r[0].value not in skip)


__all__ = ["import_graph", "RDF_EXTENSIONS"]
