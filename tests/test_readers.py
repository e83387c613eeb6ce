import json

import pytest

from kgdistill.readers import KGFormatError, detect_graph_format, load_graph

TTL = """@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Joe_Biden rdfs:label "Joe Biden" ; ex:born_in ex:Scranton .
ex:Scranton ex:city_of ex:USA .
ex:born_in rdfs:label "born_in" .
"""


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def test_metaqa_and_tsv(tmp_path):
    kg = load_graph(write(tmp_path, "kb.txt", "Kismet|directed_by|William Dieterle\n\nKismet|starred_actors|Ronald Colman\r\n"))
    assert kg.num_triples == 2 and kg.entity_id("Ronald Colman") is not None
    kg2 = load_graph(write(tmp_path, "pq.txt", "a\tparents\tb\nb\tgender\tmale\n"))
    assert kg2.num_triples == 2 and detect_graph_format(tmp_path / "pq.txt") == "tsv"


@pytest.mark.parametrize("content, line, words", [
    ("a|r|b\na|r\n", 2, "expected 3 non-empty fields"),
    ("a|r|b\na|r|b|c\n", 2, "found 4 field"),
    ("a|r|b\na||b\n", 2, "non-empty"),
    ("a|r|b\na|~r|b\n", 2, "inverse"),
])
def test_malformed_lines_name_file_and_line(tmp_path, content, line, words):
    p = write(tmp_path, "kb.txt", content)
    with pytest.raises(KGFormatError) as err:
        load_graph(p, format="metaqa")
    assert err.value.line == line and words in str(err.value) and str(p) in str(err.value)


def test_bad_encoding_names_the_line(tmp_path):
    p = write(tmp_path, "kb.txt", b"a|r|b\nc|r|d\n\xff\xfe|r|x\n")
    with pytest.raises(KGFormatError, match=r"kb.txt:3: not valid UTF-8"):
        load_graph(p, format="metaqa")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(KGFormatError, match="no such file"):
        load_graph(tmp_path / "nope.txt")
    with pytest.raises(KGFormatError, match="empty"):
        load_graph(write(tmp_path, "empty.txt", ""))
    with pytest.raises(KGFormatError, match="cannot tell"):
        load_graph(write(tmp_path, "odd.txt", "just some words\n"))


@pytest.mark.parametrize("fmt, ext", [("turtle", "ttl"), ("nt", "nt"), ("xml", "rdf"), ("json-ld", "jsonld")])
def test_rdf_formats_with_labels(tmp_path, fmt, ext):
    import rdflib

    g = rdflib.Graph().parse(data=TTL, format="turtle")
    p = tmp_path / f"g.{ext}"
    g.serialize(p, format=fmt)
    kg = load_graph(p)
    assert kg.num_triples == 2  # label triples are not edges
    assert kg.entity_id("Joe Biden") is not None  # rdfs:label
    assert kg.entity_id("USA") is not None  # local name when no label
    assert kg.relation_id("city_of") is not None
    assert set(kg.triples()) == {("Joe Biden", "born_in", "Scranton"), ("Scranton", "city_of", "USA")}


def test_rdf_syntax_error(tmp_path):
    with pytest.raises(KGFormatError, match="cannot parse as RDF"):
        load_graph(write(tmp_path, "bad.ttl", "@prefix ex: <http://e/> .\nex:a ex:b .\n"))


ROG = [
    {"id": "q1", "question": "where was joe biden born", "answer": ["Scranton"], "q_entity": ["Joe Biden"],
     "a_entity": ["Scranton"], "graph": [["Joe Biden", "born_in", "Scranton"], ["Scranton", "city_of", "USA"]]},
    {"id": "q2", "question": "which country is scranton in", "answer": ["USA"], "q_entity": ["Scranton"],
     "a_entity": ["USA"], "graph": [["Scranton", "city_of", "USA"], ["Jill Biden", "born_in", "Hammonton"]]},
]


def test_rog_jsonl_merges_graphs(tmp_path):
    p = write(tmp_path, "rog.jsonl", "\n".join(json.dumps(r) for r in ROG) + "\n")
    kg = load_graph(p)
    assert kg.num_triples == 3


def test_rog_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    p = tmp_path / "rog.parquet"
    pq.write_table(pa.Table.from_pylist(ROG), p)
    assert load_graph(p).num_triples == 3


def test_rog_bad_record(tmp_path):
    bad = dict(ROG[0], graph=[["a", "r"]])
    p = write(tmp_path, "rog.jsonl", json.dumps(ROG[0]) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(KGFormatError, match=r"rog.jsonl:2: graph triple"):
        load_graph(p)
    p = write(tmp_path, "rog2.jsonl", json.dumps(ROG[0]) + "\n{not json\n")
    with pytest.raises(KGFormatError, match=r"rog2.jsonl:2: invalid JSON"):
        load_graph(p)


def test_example_graph_loads():
    from tests.conftest import GRAPHS

    kg = load_graph(GRAPHS / "world.ttl")
    assert 300 <= kg.num_triples <= 1000
    assert kg.entity_id("Joe Biden") is not None and kg.relation_id("born_in") is not None
