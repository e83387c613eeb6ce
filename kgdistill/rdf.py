"""RDF graphs through rdflib (Turtle, N-Triples, RDF/XML, JSON-LD, ...): reading them
into a :class:`~kgdistill.graph.KnowledgeGraph` and writing one back.

IRIs are entity and relation keys; readable labels come from ``rdfs:label`` (or
``skos:prefLabel``), else the IRI's local name. Label triples are not edges. Labels are
made one line and checked with the same name rules as every other reader.
"""
from __future__ import annotations

from urllib.parse import quote, unquote

from kgdistill.errors import KGFormatError
from kgdistill.graph import KnowledgeGraph, check_name
from kgdistill.readers import RDF_EXTENSIONS, GraphReader, PathLike, _TripleCollector, check_file

RDF_LABEL_PREDICATES = (
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
)
RDF_ALIAS_PREDICATES = (
    "http://www.w3.org/2004/02/skos/core#altLabel",
)
"""Literal objects of these are other names of the subject (for entity linking), not edges."""
RDF_SKIPPED_PREDICATES = ("http://www.w3.org/2000/01/rdf-schema#comment",)


def iri_local_name(iri: str) -> str:
    """The readable tail of an IRI: after the last ``#`` or ``/``, percent-decoded."""
    cut = max(iri.rfind("#"), iri.rfind("/"), iri.rfind(":") if "/" not in iri else -1)
    tail = iri[cut + 1:] if cut + 1 < len(iri) else iri
    return unquote(tail) or iri


class RDFReader(GraphReader):
    """RDF through rdflib (Turtle, N-Triples, RDF/XML, JSON-LD, ...).

    IRIs are entity and relation keys; readable labels come from ``rdfs:label`` (or
    ``skos:prefLabel``), else the IRI's local name. Label triples are not edges. A
    literal object becomes an entity named by its lexical form. See
    :func:`graph_from_rdflib` for how labels are cleaned and checked.
    """

    def __init__(self, rdf_format: str | None = None) -> None:
        self.rdf_format = rdf_format

    def read(self, path: PathLike) -> KnowledgeGraph:
        import rdflib

        path = check_file(path)
        fmt = self.rdf_format or RDF_EXTENSIONS.get(path.suffix.lower())
        g = rdflib.Graph()
        try:
            g.parse(str(path), format=fmt)
        except Exception as err:  # rdflib raises many parser-specific types
            raise KGFormatError(path, _rdf_error_line(err, path),
                                f"cannot parse as RDF ({fmt or 'guessed format'}): {err}") from None
        return graph_from_rdflib(g, name=path.name, source=path)


def _rdf_error_line(err: Exception, path: PathLike) -> int | None:
    """The 1-based line of an rdflib parse error, where the error type tells it."""
    lines = getattr(err, "lines", None)  # notation3/turtle BadSyntax: 0-based
    if isinstance(lines, int):
        return lines + 1
    get_line = getattr(err, "getLineNumber", None)  # RDF/XML: SAXParseException
    line = get_line() if callable(get_line) else getattr(err, "line", None)
    if isinstance(line, int) and line > 0:
        return line
    bad = str(err).partition("Invalid line: ")[2].strip()  # N-Triples/N-Quads name the line's text only
    if bad:
        with open(path, encoding="utf-8", errors="replace") as f:
            return next((i for i, text in enumerate(f, 1) if text.strip() == bad), None)
    return None


def _term_key(term) -> str:
    import rdflib

    if isinstance(term, rdflib.BNode):
        return f"_:{term}"
    return str(term)


def _one_line(label: str | None) -> str:
    """``label`` with every run of whitespace (newlines included) made one space."""
    return " ".join(label.split()) if label else ""


def graph_from_rdflib(g, name: str = "rdf", source: PathLike | None = None) -> KnowledgeGraph:
    """Build a :class:`KnowledgeGraph` from an ``rdflib.Graph`` (see :class:`RDFReader`).

    Labels are made one line (runs of whitespace become one space; in relation labels,
    one ``_``) and must then pass :func:`~kgdistill.graph.check_name`: a relation
    labelled ``~born_in`` or an entity labelled ``a -> b`` is an error, never renamed.
    Relation labels that two relations share get the relation's index appended.

    Args:
        g: the RDF graph.
        name: the graph's name.
        source: the file named in errors (default: ``name``).

    Raises:
        KGFormatError: no relation triples, or a label that breaks the name rules.
    """
    import rdflib

    source = name if source is None else source
    labels: dict[str, str] = {}
    aliases: dict[str, list[str]] = {}
    col = _TripleCollector(source, check=False)
    # rdflib iterates in hash order, which changes between processes: sort so that
    # entity and relation ids (and everything trained on them) are reproducible.
    for s, p, o in sorted(g, key=lambda t: (_term_key(t[0]), str(t[1]), _term_key(t[2]), type(t[2]).__name__)):
        p_key = str(p)
        if p_key in RDF_LABEL_PREDICATES and isinstance(o, rdflib.Literal):
            if o.language in (None, "en") or _term_key(s) not in labels:
                labels[_term_key(s)] = str(o)
            continue
        if p_key in RDF_ALIAS_PREDICATES and isinstance(o, rdflib.Literal):
            alias = _one_line(str(o))
            if alias and (o.language is None or o.language.split("-")[0].lower() == "en"):
                aliases.setdefault(_term_key(s), []).append(alias)
            continue
        if p_key in RDF_SKIPPED_PREDICATES:
            continue
        col.add(_term_key(s), p_key, _term_key(o), None)
    if not col.h:
        raise KGFormatError(source, None, "the RDF graph has no relation triples")
    ent_labels = [_rdf_entity_label(k, labels.get(k), source) for k in col.entities]
    rel_labels = _unique([_rdf_relation_label(k, labels.get(k), source) for k in col.relations])
    kg = col.build(name, entity_labels=ent_labels, relation_labels=rel_labels)
    kg.entity_aliases = {kg.entity_index[k]: names for k, names in aliases.items() if k in kg.entity_index}
    return kg


def _rdf_entity_label(key: str, label: str | None, source: PathLike) -> str:
    iri_like = "/" in key or "#" in key or key.startswith("urn:")
    text = _one_line(label) or (_one_line(iri_local_name(key)) if iri_like else _one_line(key))
    problem = check_name(text, "entity")
    if problem:
        raise KGFormatError(source, None, f"RDF node {key[:120]!r}: {problem}")
    return text


def _rdf_relation_label(key: str, label: str | None, source: PathLike) -> str:
    text = (_one_line(label) or _one_line(iri_local_name(key))).replace(" ", "_")
    problem = check_name(text, "relation")
    if problem:
        raise KGFormatError(source, None, f"RDF predicate {key[:120]!r}: {problem}")
    return text


def _unique(labels: list[str]) -> list[str]:
    """Labels made unique by appending ``_<index>`` to the later ones of a repeated label."""
    seen: set[str] = set()
    out = []
    for i, label in enumerate(labels):
        while label in seen:
            label = f"{label}_{i}"
        seen.add(label)
        out.append(label)
    return out


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


