"""Knowledge-graph file readers: MetaQA ``s|r|o``, tab-separated triples, RDF (via
rdflib) and RoG-style question files whose per-question graphs merge into one KG.

The format is chosen from the file's extension and first line, or named explicitly
(see :data:`GRAPH_FORMATS`). A malformed file raises :class:`KGFormatError` naming the
file and line; no graph is returned half-loaded.
"""
from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote, unquote

import numpy as np

from kgdistill.graph import KnowledgeGraph

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


class KGFormatError(ValueError):
    """A graph or question file could not be read. ``str()`` gives ``file:line: why``."""

    def __init__(self, path: PathLike, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def read_text_lines(path: PathLike) -> list[str]:
    """The file's lines as text (UTF-8, BOM and ``\\r`` removed).

    Raises:
        KGFormatError: missing file, directory, or bytes that are not UTF-8 (the line
            with the bad byte is named).
    """
    path = Path(path)
    if not path.exists():
        raise KGFormatError(path, None, "no such file")
    if path.is_dir():
        raise KGFormatError(path, None, "is a directory, expected a file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise KGFormatError(path, line, f"not valid UTF-8 (byte {data[err.start]:#04x} at offset "
                                        f"{err.start}); convert the file to UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class _TripleCollector:
    """Assigns ids while triples are read; the graph is built only at the end."""

    def __init__(self) -> None:
        self.entities: dict[str, int] = {}
        self.relations: dict[str, int] = {}
        self.h: list[int] = []
        self.r: list[int] = []
        self.t: list[int] = []

    def add(self, h: str, r: str, t: str) -> None:
        ents = self.entities
        self.h.append(ents.setdefault(h, len(ents)))
        self.r.append(self.relations.setdefault(r, len(self.relations)))
        self.t.append(ents.setdefault(t, len(ents)))

    def build(self, name: str, entity_labels=None, relation_labels=None) -> KnowledgeGraph:
        return KnowledgeGraph(list(self.entities), list(self.relations),
                              np.array(self.h, dtype=np.int64), np.array(self.r, dtype=np.int64),
                              np.array(self.t, dtype=np.int64), entity_labels=entity_labels,
                              relation_labels=relation_labels, name=name)


class GraphReader(ABC):
    """Reads one file format into a :class:`KnowledgeGraph`."""

    @abstractmethod
    def read(self, path: PathLike) -> KnowledgeGraph: ...


class DelimitedReader(GraphReader):
    """One triple a line, fields split by ``delimiter`` (``|`` for MetaQA, tab for PQ).

    Blank lines are skipped. A line without exactly three non-empty fields, or a
    relation starting with ``~``, is an error.
    """

    def __init__(self, delimiter: str, example: str) -> None:
        self.delimiter, self.example = delimiter, example

    def read(self, path: PathLike) -> KnowledgeGraph:
        lines = read_text_lines(path)
        col = _TripleCollector()
        delim = self.delimiter
        for lineno, line in enumerate(lines, 1):
            parts = line.split(delim)
            if len(parts) != 3 or not all(parts):
                if not line.strip():
                    continue
                shown = repr(delim) if delim != "\t" else "a tab"
                raise KGFormatError(path, lineno, f"expected 3 non-empty fields separated by {shown} "
                                                  f"(e.g. {self.example!r}), found {len(parts)} field(s) "
                                                  f"in {line[:120]!r}")
            if parts[1].startswith("~"):
                raise KGFormatError(path, lineno, f"relation {parts[1]!r} starts with '~', which "
                                                  "kgdistill reserves for inverse relations")
            col.add(*parts)
        if not col.h:
            raise KGFormatError(path, None, "no triples found")
        return col.build(Path(path).name)


RDF_LABEL_PREDICATES = (
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
)
RDF_SKIPPED_PREDICATES = ("http://www.w3.org/2000/01/rdf-schema#comment",)
RDF_EXTENSIONS = {".ttl": "turtle", ".nt": "nt", ".n3": "n3", ".rdf": "xml", ".xml": "xml",
                  ".owl": "xml", ".jsonld": "json-ld", ".trig": "trig", ".nq": "nquads"}


def iri_local_name(iri: str) -> str:
    """The readable tail of an IRI: after the last ``#`` or ``/``, percent-decoded."""
    cut = max(iri.rfind("#"), iri.rfind("/"), iri.rfind(":") if "/" not in iri else -1)
    tail = iri[cut + 1:] if cut + 1 < len(iri) else iri
    return unquote(tail) or iri


class RDFReader(GraphReader):
    """RDF through rdflib (Turtle, N-Triples, RDF/XML, JSON-LD, ...).

    IRIs are entity and relation keys; readable labels come from ``rdfs:label`` (or
    ``skos:prefLabel``), else the IRI's local name. Label triples are not edges. A
    literal object becomes an entity named by its lexical form.
    """

    def __init__(self, rdf_format: str | None = None) -> None:
        self.rdf_format = rdf_format

    def read(self, path: PathLike) -> KnowledgeGraph:
        import rdflib

        path = Path(path)
        if not path.exists():
            raise KGFormatError(path, None, "no such file")
        fmt = self.rdf_format or RDF_EXTENSIONS.get(path.suffix.lower())
        g = rdflib.Graph()
        try:
            g.parse(str(path), format=fmt)
        except Exception as err:  # rdflib raises many parser-specific types
            line = getattr(err, "lines", None) or getattr(err, "line", None)
            raise KGFormatError(path, line if isinstance(line, int) else None,
                                f"cannot parse as RDF ({fmt or 'guessed format'}): {err}") from None
        return graph_from_rdflib(g, name=path.name)


def _term_key(term) -> str:
    import rdflib

    if isinstance(term, rdflib.BNode):
        return f"_:{term}"
    return str(term)


def graph_from_rdflib(g, name: str = "rdf") -> KnowledgeGraph:
    """Build a :class:`KnowledgeGraph` from an ``rdflib.Graph`` (see :class:`RDFReader`)."""
    import rdflib

    labels: dict[str, str] = {}
    col = _TripleCollector()
    # rdflib iterates in hash order, which changes between processes: sort so that
    # entity and relation ids (and everything trained on them) are reproducible.
    for s, p, o in sorted(g, key=lambda t: (_term_key(t[0]), str(t[1]), _term_key(t[2]), type(t[2]).__name__)):
        p_key = str(p)
        if p_key in RDF_LABEL_PREDICATES and isinstance(o, rdflib.Literal):
            if o.language in (None, "en") or _term_key(s) not in labels:
                labels[_term_key(s)] = str(o)
            continue
        if p_key in RDF_SKIPPED_PREDICATES:
            continue
        col.add(_term_key(s), p_key, _term_key(o))
    if not col.h:
        raise KGFormatError(name, None, "the RDF graph has no relation triples")
    ent_labels = [labels.get(k) or (iri_local_name(k) if "/" in k or "#" in k or k.startswith("urn:") else k)
                  for k in col.entities]
    rel_labels = [labels.get(k) or iri_local_name(k) for k in col.relations]
    # Relation labels are used in paths: make them unique and free of spaces/'~'.
    seen: dict[str, int] = {}
    for i, label in enumerate(rel_labels):
        label = label.strip().replace(" ", "_").lstrip("~") or f"relation_{i}"
        if label in seen:
            label = f"{label}_{i}"
        seen[label] = i
        rel_labels[i] = label
    return col.build(name, entity_labels=ent_labels, relation_labels=rel_labels)


def graph_to_rdflib(kg: KnowledgeGraph, base: str = "http://kgdistill.local/"):
    """The graph as an ``rdflib.Graph``; keys that are IRIs stay, others are minted
    under ``base``; labels are written as ``rdfs:label``."""
    import rdflib
    from rdflib.namespace import RDFS

    def node(key: str, kind: str):
        if "://" in key or key.startswith("urn:"):
            return rdflib.URIRef(key)
        return rdflib.URIRef(f"{base}{kind}/{quote(key, safe='')}")

    g = rdflib.Graph()
    ents = [node(k, "entity") for k in kg.entity_keys]
    rels = [node(k, "relation") for k in kg.relation_keys]
    for i, label in enumerate(kg.entity_labels_all()):
        g.add((ents[i], RDFS.label, rdflib.Literal(label)))
    for i, label in enumerate(kg.relation_labels_all()):
        g.add((rels[i], RDFS.label, rdflib.Literal(label)))
    for h, r, t in zip(kg.head.tolist(), kg.relation.tolist(), kg.tail.tolist()):
        g.add((ents[h], rels[r], ents[t]))
    return g


def iter_rog_records(path: PathLike) -> Iterator[tuple[int, dict]]:
    """``(line or row number, record)`` for a RoG-style JSONL, JSON list or parquet file."""
    path = Path(path)
    if not path.exists():
        raise KGFormatError(path, None, "no such file")
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise KGFormatError(path, None, "reading parquet needs pyarrow: "
                                            "pip install 'kgdistill[parquet]'") from None
        table = pq.read_table(path)
        for i, record in enumerate(table.to_pylist(), 1):
            yield i, record
        return
    lines = read_text_lines(path)
    if lines and lines[0].lstrip().startswith("["):
        try:
            records = json.loads("\n".join(lines))
        except json.JSONDecodeError as err:
            raise KGFormatError(path, err.lineno, f"invalid JSON: {err.msg}") from None
        for i, record in enumerate(records, 1):
            yield i, record
        return
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise KGFormatError(path, lineno, f"invalid JSON: {err.msg} (column {err.colno})") from None
        if not isinstance(record, dict):
            raise KGFormatError(path, lineno, "expected a JSON object per line")
        yield lineno, record


class RoGGraphReader(GraphReader):
    """Merges the ``graph`` field (a list of ``[h, r, t]``) of every question record."""

    def read(self, path: PathLike) -> KnowledgeGraph:
        col = _TripleCollector()
        for lineno, record in iter_rog_records(path):
            triples = record.get("graph")
            if triples is None:
                raise KGFormatError(path, lineno, "record has no 'graph' field (a list of [h, r, t])")
            for triple in triples:
                triple = list(triple)
                if len(triple) != 3 or not all(isinstance(x, str) and x for x in triple):
                    raise KGFormatError(path, lineno, f"graph triple {triple!r} is not three non-empty strings")
                if triple[1].startswith("~"):
                    raise KGFormatError(path, lineno, f"relation {triple[1]!r} starts with '~'")
                col.add(*triple)
        if not col.h:
            raise KGFormatError(path, None, "no graph triples found")
        return col.build(Path(path).name)


GRAPH_FORMATS: dict[str, GraphReader] = {
    "metaqa": DelimitedReader("|", "Kismet|directed_by|William Dieterle"),
    "tsv": DelimitedReader("\t", "claudius\tparents\tnero_claudius_drusus"),
    "rdf": RDFReader(),
    "rog": RoGGraphReader(),
}
"""Graph formats by name: the lookup table behind ``load_graph(format=...)``."""


def detect_graph_format(path: PathLike) -> str:
    """Guess the format from the extension, then from the first non-blank line."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in RDF_EXTENSIONS:
        return "rdf"
    if suffix in (".jsonl", ".json", ".parquet"):
        return "rog"
    if not path.exists():
        raise KGFormatError(path, None, "no such file")
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", errors="replace").strip("\r\n")
            if not line.strip():
                continue
            if line.count("\t") == 2:
                return "tsv"
            if line.count("|") == 2:
                return "metaqa"
            if line.lstrip().startswith(("@prefix", "@base", "<", "PREFIX")):
                return "rdf"
            if line.lstrip().startswith(("{", "[")):
                return "rog"
            raise KGFormatError(path, 1, "cannot tell the graph format: expected 's|r|o' (MetaQA), "
                                         "tab-separated triples, RDF or RoG JSONL; name it with format=")
    raise KGFormatError(path, None, "file is empty")


def load_graph(path: PathLike, format: str | None = None) -> KnowledgeGraph:
    """Load a knowledge graph file.

    Args:
        path: the file.
        format: one of :data:`GRAPH_FORMATS` (``metaqa``, ``tsv``, ``rdf``, ``rog``), or
            ``None`` to detect it.

    Raises:
        KGFormatError: naming the file and line of the first problem.
    """
    fmt = format or detect_graph_format(path)
    if fmt not in GRAPH_FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; choose from {sorted(GRAPH_FORMATS)}")
    kg = GRAPH_FORMATS[fmt].read(path)
    logger.info("loaded %s", kg)
    return kg


def write_triples(kg: KnowledgeGraph, path: PathLike, delimiter: str = "\t") -> None:
    """Write the graph's triples (labels) one a line."""
    with open(path, "w", encoding="utf-8") as fh:
        for h, r, t in kg.triples():
            fh.write(f"{h}{delimiter}{r}{delimiter}{t}\n")


def write_jsonl(rows: Iterable, path: PathLike) -> int:
    """Write one JSON object a line (objects with ``to_dict()`` are converted);
    returns the number of lines."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row.to_dict() if hasattr(row, "to_dict") else row, ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_lines(path: PathLike) -> Iterable[tuple[int, str]]:
    """Non-blank ``(line number, line)`` pairs of a UTF-8 text file."""
    for lineno, line in enumerate(read_text_lines(path), 1):
        if line.strip():
            yield lineno, line
