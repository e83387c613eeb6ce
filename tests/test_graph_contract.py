"""The GraphBackend contract (tests/cases.py) on every implementation and loader."""
import random

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
