"""The GraphBackend contract (tests/cases.py) on every implementation and loader."""
import random

import pytest

from kgdistill.graph import KnowledgeGraph
from kgdistill.readers import load_graph
from tests.cases import GraphBackendContract


class TestInMemory(GraphBackendContract):
    def make(self, triples):
        return KnowledgeGraph.from_triples(triples)


class TestFromMetaQAFile(GraphBackendContract):
    """The in-memory graph as loaded from a MetaQA-format file, triples shuffled."""

    def make(self, triples):
        import tempfile
        from pathlib import Path

        rows = [f"{h}|{r}|{t}" for h, r, t in triples]
        random.Random(len(rows)).shuffle(rows)
        path = Path(tempfile.mkdtemp()) / "kb.txt"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return load_graph(path)


class TestFromRDF(GraphBackendContract):
    """The in-memory graph as loaded from Turtle (IRIs as keys, labels from rdfs:label)."""

    def make(self, triples):
        import tempfile
        from pathlib import Path
        from urllib.parse import quote

        def iri(kind, name):
            return f"<http://example.org/{kind}/{quote(name)}>"

        lines = ["@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ."]
        names = {x for h, _, t in triples for x in (h, t)}
        lines += [f'{iri("e", n)} rdfs:label "{n}" .' for n in sorted(names)]
        lines += [f'{iri("r", r)} rdfs:label "{r}" .' for r in sorted({r for _, r, _ in triples})]
        lines += [f'{iri("e", h)} {iri("r", r)} {iri("e", t)} .' for h, r, t in triples]
        path = Path(tempfile.mkdtemp()) / "g.ttl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_graph(path)


def _import_store(triples, directory):
    """``triples`` into a new Oxigraph store through ``kgdistill import`` (MetaQA form)."""
    from kgdistill.sparql import open_graph_spec
    from kgdistill.store_import import import_graph

    directory.mkdir(parents=True, exist_ok=True)
    kb = directory / "kb.txt"
    kb.write_text("".join(f"{h}|{r}|{t}\n" for h, r, t in triples), encoding="utf-8")
    import_graph(kb, directory / "store", progress=False)
    return open_graph_spec(f"oxigraph:{directory / 'store'}")


def _ntriples(triples, base="http://example.org/"):
    """N-Triples of ``triples`` with minted IRIs and rdfs:label names (no search keys:
    a store kgdistill did not write)."""
    from urllib.parse import quote

    from kgdistill.sparql import sparql_string

    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    ents = {x for h, _, t in triples for x in (h, t)}
    rels = {r for _, r, _ in triples}
    lines = [f"<{base}e/{quote(e, safe='')}> {label} {sparql_string(e)} ." for e in sorted(ents)]
    lines += [f"<{base}r/{quote(r, safe='')}> {label} {sparql_string(r)} ." for r in sorted(rels)]
    lines += [f"<{base}e/{quote(h, safe='')}> <{base}r/{quote(r, safe='')}> <{base}e/{quote(t, safe='')}> ."
              for h, r, t in triples]
    return "\n".join(lines)


class TestOxigraphStore(GraphBackendContract):
    """An embedded Oxigraph store written by kgdistill import (oxigraph:DIR)."""

    def make(self, triples):
        import tempfile
        from pathlib import Path

        return _import_store(triples, Path(tempfile.mkdtemp()))


@pytest.fixture(scope="class")
def sparql_server():
    from kgdistill.sparql import OxigraphServer, oxigraph_binary

    if oxigraph_binary() is None:
        pytest.skip("no oxigraph server binary (pip install oxigraph)")
    with OxigraphServer() as server:
        yield server


class TestSparqlEndpoint(GraphBackendContract):
    """Any SPARQL 1.1 endpoint over HTTP: an `oxigraph serve` on 127.0.0.1, holding the
    triples as plain RDF (labels, no kgdistill search keys)."""

    @pytest.fixture(autouse=True)
    def _server(self, sparql_server):
        self.server = sparql_server

    def make(self, triples):
        from kgdistill.sparql import HttpExecutor, SparqlGraph

        self.server.update("DROP ALL")
        self.server.update("INSERT DATA { " + _ntriples(triples) + " }")
        return SparqlGraph(HttpExecutor(self.server.url, timeout=10))


@pytest.fixture(scope="class")
def virtuoso_server():
    from tests import virtuoso

    if not virtuoso.available():
        pytest.skip("Debian's virtuoso-opensource is not installed (scripts/test.sh installs it as root)")
    with virtuoso.VirtuosoServer() as server:
        yield server


class TestVirtuosoEndpoint(GraphBackendContract):
    """The SPARQL backend against OpenLink Virtuoso (Debian virtuoso-opensource), the
    store behind DBpedia and many public endpoints."""

    @pytest.fixture(autouse=True)
    def _server(self, virtuoso_server):
        self.server = virtuoso_server

    def make(self, triples):
        from kgdistill.sparql import HttpExecutor, SparqlGraph

        self.server.load(_ntriples(triples))
        return SparqlGraph(HttpExecutor(self.server.url, timeout=30))
