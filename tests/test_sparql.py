"""Triple-store backends (kgdistill/sparql.py, kgdistill/sparql_exec.py, kgdistill/store_import.py): escaping and
injection, import, errors of unreachable or slow endpoints, the CLI over stores.
(The GraphBackend contract on both stores is in tests/test_graph_contract.py.)"""
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgdistill.errors import KGFormatError
from kgdistill.readers import load_graph
from kgdistill.sparql import (EmbeddedExecutor, HttpExecutor, OxigraphServer, SparqlGraph, StoreError,
                              open_graph_spec, oxigraph_binary, sparql_iri, sparql_string, valid_iri)
from kgdistill.store_import import import_graph

ROOT = Path(__file__).resolve().parents[1]
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
HOSTILE = ['say "hi"', "it's", "a > b < c", "back\\slash", "trailing\\", 'q"} ; DROP ALL ; #', "tab\there",
           "line\nbreak", "uni\\u0022code", "{x}", "<http://evil/>", "end\\\"", "ünïcödé 東京", "a|b^c`d"]
"""Entity names that would break a naively built query."""


def _hostile_store(tmp_path):
    import pyoxigraph as ox

    store = ox.Store(str(tmp_path / "hostile"))
    rel = ox.NamedNode("http://example.org/r/linked_to")
    hub = ox.NamedNode("http://example.org/e/hub")
    store.add(ox.Quad(hub, ox.NamedNode(LABEL), ox.Literal("hub")))
    for n, name in enumerate(HOSTILE):
        e = ox.NamedNode(f"http://example.org/e/{n}")
        store.add(ox.Quad(e, ox.NamedNode(LABEL), ox.Literal(name)))
        store.add(ox.Quad(hub, rel, e))
    store.flush()
    del store
    return tmp_path / "hostile"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return _hostile_store(tmp_path_factory.mktemp("stores"))


def test_escaping_helpers():
    assert sparql_string('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert sparql_string("x", "en") == '"x"@en'
    with pytest.raises(ValueError):
        sparql_string("x", 'en" } DROP ALL')
    assert sparql_iri("http://a/b") == "<http://a/b>"
    for bad in ("http://a/b> } ; DROP ALL", "http://a b", "no-scheme", 'http://a/"', "http://a/\\u003E", ""):
        assert not valid_iri(bad)
        with pytest.raises(ValueError):
            sparql_iri(bad)


def test_hostile_names_are_found_exactly_on_both_stores(hostile):
    """Every hostile label resolves to its own entity (no query error, no other
    entity), and an IRI-looking name that is not one is simply unknown."""
    embedded = SparqlGraph(EmbeddedExecutor(hostile))
    graphs = [embedded]
    if oxigraph_binary():
        server = OxigraphServer(hostile, read_only=True).__enter__()
        graphs.append(SparqlGraph(HttpExecutor(server.url, timeout=10)))
    try:
        for g in graphs:
            hub = g.entity_id("hub")
            reached = g.neighbors(np.array([hub]), 2 * g.relation_id("linked_to"))
            assert len(reached) == len(HOSTILE)
            for n, name in enumerate(HOSTILE):
                e = g.entity_id(name)
                assert e is not None and g.entity_key(e) == f"http://example.org/e/{n}", name
                assert g.entity_label(e) == " ".join(name.split())  # labels are made one line
            assert g.entity_id("http://example.org/e/0> } ; DROP ALL") is None
            assert g.entity_id("hub\\") is None and g.entity_id('hub"') is None
            assert len(g.neighbors(np.array([hub]), 2 * g.relation_id("linked_to"))) == len(HOSTILE)
    finally:
        if len(graphs) > 1:
            server.__exit__()


def test_hostile_names_on_virtuoso():
    """The same names written as N-Triples into Virtuoso (another parser of the same
    escapes) and looked up through kgdistill's queries."""
    from tests import virtuoso

    if not virtuoso.available():
        pytest.skip("Debian's virtuoso-opensource is not installed (scripts/test.sh installs it as root)")
    lines = [f"<http://example.org/e/hub> <{LABEL}> {sparql_string('hub')} ."]
    for n, name in enumerate(HOSTILE):
        lines += [f"<http://example.org/e/{n}> <{LABEL}> {sparql_string(name)} .",
                  f"<http://example.org/e/hub> <http://example.org/r/linked_to> <http://example.org/e/{n}> ."]
    with virtuoso.VirtuosoServer() as server:
        server.load("\n".join(lines))
        g = SparqlGraph(HttpExecutor(server.url, timeout=30))
        assert g.relation_labels_all() == ["linked_to"]
        for n, name in enumerate(HOSTILE):
            e = g.entity_id(name)
            assert e is not None and g.entity_key(e) == f"http://example.org/e/{n}", name
            assert g.entity_label(e) == " ".join(name.split())
        assert g.entity_id("hub\\") is None and g.entity_id("http://example.org/e/0> } ; DROP ALL") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list('ab"\'\\<>{}#;.\n\r\tu0123?$()| ') + ["\\u0022", "\\n", '"}', "hub"]),
                max_size=12).map("".join) | st.sampled_from(HOSTILE))
def test_fuzzed_names_never_change_a_query(hostile, text):
    """Any text is either unknown or resolves to the entity labelled exactly so."""
    g = SparqlGraph(EmbeddedExecutor(hostile), relations=["http://example.org/r/linked_to"])
    e = g.entity_id(text)
    if text == "hub":
        assert g.entity_key(e) == "http://example.org/e/hub"
    elif text in HOSTILE:
        assert g.entity_key(e) == f"http://example.org/e/{HOSTILE.index(text)}"
    else:
        assert e is None
    found = g.labels_matching([text])
    assert [t for t, _ in found] == ([text] if text in HOSTILE + ["hub"] else [])


def test_import_checks_its_input_and_leaves_nothing_half_written(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix e: <http://e/> .\ne:a e:r e:b .\ne:a e:r e:b e:c .\n", encoding="utf-8")
    with pytest.raises(KGFormatError) as err:
        import_graph(bad, tmp_path / "store", progress=False)
    assert "bad.ttl" in str(err.value) and "line 3" in str(err.value)
    assert not (tmp_path / "store").exists() and not (tmp_path / "store.partial").exists()
    good = tmp_path / "kb.txt"
    good.write_text("a|r|b\nb|s|c\n", encoding="utf-8")
    meta = import_graph(good, tmp_path / "store", progress=False)
    assert meta["triples"] == 2 and len(meta["relations"]) == 2
    assert json.loads((tmp_path / "store" / "kgdistill-store.json").read_text())["triples"] == 2
    from kgdistill.errors import ConfigError

    with pytest.raises(ConfigError, match="--replace"):
        import_graph(good, tmp_path / "store", progress=False)
    g = open_graph_spec(f"oxigraph:{tmp_path / 'store'}")
    assert g.has_search_keys and [lab for lab in g.relation_labels_all()] == ["r", "s"]


def test_import_creates_missing_parent_directories(tmp_path):
    # `kgdistill import kb.txt --store runs/stores/metaqa` on a fresh checkout failed
    # with RocksDB's "While mkdir if missing: ... No such file or directory"
    good = tmp_path / "kb.txt"
    good.write_text("a|r|b\n", encoding="utf-8")
    target = tmp_path / "not" / "yet" / "store"
    assert import_graph(good, target, progress=False)["triples"] == 1
    assert open_graph_spec(f"oxigraph:{target}").entity_id("a") is not None
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    from kgdistill.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot create the store's directory"):
        import_graph(good, blocker / "store", progress=False)


def test_unreachable_and_silent_endpoints_give_clear_errors():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = HttpExecutor(f"http://127.0.0.1:{port}/query", timeout=2, retries=1)
    with pytest.raises(StoreError, match="cannot reach the SPARQL endpoint.*tried 2 times"):
        dead.select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        silent = HttpExecutor(f"http://127.0.0.1:{listener.getsockname()[1]}/query", timeout=0.5)
        with pytest.raises(StoreError, match="no answer within 0.5 s"):
            silent.select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")


@pytest.mark.skipif(oxigraph_binary() is None, reason="no oxigraph server binary (pip install oxigraph)")
def test_endpoint_errors_name_the_endpoint(hostile):
    with OxigraphServer(hostile, read_only=True) as server:
        ex = HttpExecutor(server.url, timeout=10)
        with pytest.raises(StoreError, match=r"HTTP 400"):
            ex.select("SELECT nonsense")
        assert load_graph(server.spec).relation_labels_all() == ["linked_to"]


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "kgdistill", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_cli_import_verify_paths_and_query_over_a_store(tmp_path, world_run):
    store = tmp_path / "world"
    out = _cli("import", "graphs/world.ttl", "--store", str(store))
    assert out.returncode == 0, out.stderr
    assert "imported 655 triples" in out.stdout
    spec = f"oxigraph:{store}"
    out = _cli("verify", "-g", spec, "Ada Lovelace -> born_in -> London", "London -> born_in -> Ada Lovelace")
    assert out.returncode == 1 and out.stdout.count("VALID") == 2 and "INVALID  London" in out.stdout
    assert "exists only in the other direction" in out.stdout
    mem = _cli("paths", "-g", "graphs/world.ttl", "Ada Lovelace", "--json")
    ox = _cli("paths", "-g", spec, "Ada Lovelace", "--json")
    assert ox.returncode == 0, ox.stderr
    def summary(text):  # (entity ids, and so the order of shown endpoints, differ between backends)
        return sorted((p["path"], p["num_endpoints"], sorted(p["endpoints"]) if p["num_endpoints"] <= 3 else None)
                      for p in json.loads(text)["paths"])
    assert summary(ox.stdout) == summary(mem.stdout) and len(summary(mem.stdout)) > 10
    q = "In which country was the founder of Apple born?"
    a = _cli("query", "--run", str(world_run), q)
    b = _cli("query", "--run", str(world_run), "-g", spec, q)
    assert b.returncode == 0, b.stderr
    import re

    def answers(text):  # ranked answers with scores (a proof may ground through another founder: ids differ)
        return re.findall(r"^\s+\d+\. .*$", text, re.M)
    assert answers(a.stdout) == answers(b.stdout) and answers(a.stdout)
    assert re.search(r"Apple -> founded_by -> .* -> born_in -> .* -> city_of -> United States .*verified", b.stdout)


def test_service_over_a_store_answers_links_and_verifies(tmp_path, world_run):
    """POST /ask and /verify with the run's graph in an Oxigraph store: the same answers
    as over the file, linking through the store's search keys."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from kgdistill.reasoner import Reasoner
    from kgdistill.service import ServiceConfig, create_app

    import_graph(ROOT / "graphs" / "world.ttl", tmp_path / "store", progress=False)
    store = load_graph(f"oxigraph:{tmp_path / 'store'}")
    with TestClient(create_app(Reasoner.from_run(world_run, store), ServiceConfig())) as client:
        body = client.post("/ask", json={"question": "Where was Ada Lovelace born?", "max_answers": 2}).json()
        assert body["linking"]["entity"] == "Ada Lovelace"
        assert body["answers"][0]["entity"] == "London" and body["answers"][0]["verified"] is True
        assert body["answers"][0]["path"] == "Ada Lovelace -> born_in -> London"
        bad = client.post("/verify", json={"path": "London -> born_in -> Ada Lovelace"}).json()
        assert bad["valid"] is False and bad["failing_hop"] == 0 and bad["reason"] == "wrong_direction"
        assert client.get("/health").json()["status"] == "ok"


def test_replace_refuses_to_delete_what_is_not_a_store(tmp_path):
    # `import kb.txt --store precious --replace` deleted any directory (a user's notes
    # with it), and on a plain file ended in a NotADirectoryError traceback
    from kgdistill.errors import ConfigError

    good = tmp_path / "kb.txt"
    good.write_text("a|r|b\n", encoding="utf-8")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a kgdistill store"):
        import_graph(good, precious, replace=True, progress=False)
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep"
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file but not a kgdistill store"):
        import_graph(good, afile, replace=True, progress=False)
    assert afile.read_text(encoding="utf-8") == "x" and not (tmp_path / "afile.partial").exists()
    store = tmp_path / "store"
    import_graph(good, store, progress=False)
    good.write_text("a|r|b\nb|s|c\n", encoding="utf-8")
    assert import_graph(good, store, replace=True, progress=False)["triples"] == 2  # a store is replaced
    (tmp_path / "empty").mkdir()  # an empty directory made for the store is used, with or without --replace
    assert import_graph(good, tmp_path / "empty", progress=False)["triples"] == 2


def test_a_label_several_store_entities_carry_is_read_every_way(tmp_path):
    # on a store "Paris" resolved to the smallest IRI only: a true path was INVALID
    from kgdistill.verify import verify_path, verify_relation_path
    from tests.test_verify import AMBIGUOUS_TTL

    (tmp_path / "amb.ttl").write_text(AMBIGUOUS_TTL, encoding="utf-8")
    import_graph(tmp_path / "amb.ttl", tmp_path / "store", progress=False)
    g = open_graph_spec(f"oxigraph:{tmp_path / 'store'}")
    assert g.ambiguous_names(["Texas", "Paris"]).keys() == {"Paris"} and len(g.ambiguous_names(["Paris"])["Paris"]) == 2
    v = verify_path(g, "Paris -> located_in -> Texas")
    assert v.valid and "'Paris' as http://x.org/paris_tx" in v.message
    assert not verify_path(g, "Paris -> located_in -> USA").valid
    assert not verify_path(g, "USA -> no_such -> Texas -> ~located_in -> Paris").valid  # no reading walks it
    assert sorted(verify_relation_path(g, "Paris", "located_in").endpoints) == ["France", "Texas"]
