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
    with pytest.raises(KGFormatError, match=r"bad.ttl:2: cannot parse as RDF"):
        load_graph(write(tmp_path, "bad.ttl", "@prefix ex: <http://e/> .\nex:a ex:b .\n"))


ROG = [
    {"id": "q1", "question": "where was joe biden born", "answer": ["Scranton"], "q_entity": ["Joe Biden"],
     "a_entity": ["Scranton"], "graph": [["Joe Biden", "born_in", "Scranton"], ["Scranton", "city_of", "USA"]]},
    {"id": "q2", "question": "which country is scranton in", "answer": ["USA"], "q_entity": ["Scranton"],
     "a_entity": ["USA"], "graph": [["Scranton", "city_of", "USA"], ["Jill Biden", "born_in", "Hammonton"]]},
]
ROG_TRIPLES = {("Joe Biden", "born_in", "Scranton"), ("Scranton", "city_of", "USA"),
               ("Jill Biden", "born_in", "Hammonton")}  # the union of the records' graphs, the shared edge once


def test_rog_jsonl_merges_graphs(tmp_path):
    p = write(tmp_path, "rog.jsonl", "\n".join(json.dumps(r) for r in ROG) + "\n")
    kg = load_graph(p)
    assert kg.num_triples == 3 and set(kg.triples()) == ROG_TRIPLES


def test_rog_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    p = tmp_path / "rog.parquet"
    pq.write_table(pa.Table.from_pylist(ROG), p)
    kg = load_graph(p)
    assert kg.num_triples == 3 and set(kg.triples()) == ROG_TRIPLES


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


# ------------------------------------------------------------------ bad input
def test_fields_are_stripped(tmp_path):
    kg = load_graph(write(tmp_path, "kb.txt", "Kismet |directed_by| William Dieterle\nKismet|starred_actors|Ronald Colman\n"))
    assert sorted(kg.entity_keys) == ["Kismet", "Ronald Colman", "William Dieterle"]
    kg = load_graph(write(tmp_path, "kb.tsv", "a \t r\t b\n"), format="tsv")
    assert list(kg.triples()) == [("a", "r", "b")]


@pytest.mark.parametrize("content, words", [
    ("a|r|b\na->x|r|b\n", "contains '->'"),
    ("a|r|b\na|r -> s|b\n", "contains '->'"),
    ("a|r|b\na|r<SEP>|b\n", "'<SEP>'"),
    ("a|r|b\na|<PATH> r|b\n", "'<PATH>'"),
    ("a|r|b\na|r,s|b\n", "','"),
    ("a|r|b\na|r|b\x0bc\n", "control character"),
    ("a|r|b\na| ~r |b\n", "starts with '~'"),
    ("a|r|b\na|  |b\n", "field 2 is empty"),
])
def test_bad_names_name_file_and_line(tmp_path, content, words):
    p = write(tmp_path, "kb.txt", content)
    with pytest.raises(KGFormatError) as err:
        load_graph(p, format="metaqa")
    assert err.value.line == 2 and words in str(err.value) and str(p) in str(err.value)


def test_tsv_blank_relation(tmp_path):
    with pytest.raises(KGFormatError, match=r"kb.tsv:1: .*field 2 is empty"):
        load_graph(write(tmp_path, "kb.tsv", "a\t \tb\n"), format="tsv")


@pytest.mark.parametrize("fmt", [None, "metaqa", "tsv", "rdf", "rog"])
def test_directory_is_an_error(tmp_path, fmt):
    with pytest.raises(KGFormatError, match="is a directory, expected a file"):
        load_graph(tmp_path, format=fmt)
    (tmp_path / "g.parquet").mkdir()
    (tmp_path / "g.ttl").mkdir()
    for name in ("g.parquet", "g.ttl"):
        with pytest.raises(KGFormatError, match="is a directory"):
            load_graph(tmp_path / name, format=fmt)
    with pytest.raises(KGFormatError, match="is a directory"):
        detect_graph_format(tmp_path)


def test_unreadable_file(tmp_path, monkeypatch):
    import pathlib

    p = write(tmp_path, "kb.txt", "a|r|b\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "read_bytes", denied)
    with pytest.raises(KGFormatError, match=r"kb.txt: cannot read the file: Permission denied"):
        load_graph(p, format="metaqa")


def test_rdf_relation_label_with_tilde_is_an_error(tmp_path):
    bad = TTL.replace('ex:born_in rdfs:label "born_in"', 'ex:born_in rdfs:label "~born_in"')
    p = write(tmp_path, "g.ttl", bad)
    with pytest.raises(KGFormatError, match=r"g.ttl: RDF predicate 'http://example.org/born_in': "
                                            r"relation name '~born_in' starts with '~'"):
        load_graph(p)
    p = write(tmp_path, "g2.nt", "<http://example.org/a> <http://example.org/~r> <http://example.org/b> .\n")
    with pytest.raises(KGFormatError, match="g2.nt: RDF predicate .*starts with '~'"):
        load_graph(p)


def test_rdf_labels_made_one_line_and_checked(tmp_path):
    text = TTL.replace('rdfs:label "Joe Biden"', 'rdfs:label """Joe\n   Biden """')
    kg = load_graph(write(tmp_path, "g.ttl", text))
    assert kg.entity_id("Joe Biden") is not None
    text = TTL.replace('rdfs:label "Joe Biden"', 'rdfs:label "Joe -> Biden"')
    with pytest.raises(KGFormatError, match="RDF node 'http://example.org/Joe_Biden': entity name 'Joe -> Biden'"):
        load_graph(write(tmp_path, "g2.ttl", text))


@pytest.mark.parametrize("record, words", [
    ({"graph": 5}, "field 'graph' must be a list of [head, relation, tail] triples, found number 5"),
    ({"graph": ["abc"]}, "graph triple 1: expected [head, relation, tail] as three strings, found string"),
    ({"graph": [["a", "r", 3]]}, "graph triple 1: expected"),
    ({"graph": [["a", "r", None]]}, "graph triple 1: expected"),
    ({"graph": [{"h": "a"}]}, "graph triple 1: expected"),
    ({"graph": [["a", "r", ""]]}, "entity name '' is empty"),
    ({"graph": [["a", "~r", "b"]]}, "starts with '~'"),
    ({"graph": [["a", "r", " b"]]}, "leading or trailing whitespace"),
    ({"graph": [["a", "r", "b\nc"]]}, "control character"),
    ({"graph": [["a", "<PATH>", "b"]]}, "'<PATH>'"),
    ({"question": "q"}, "record has no 'graph' field"),
])
def test_rog_graph_wrong_types(tmp_path, record, words):
    p = write(tmp_path, "rog.jsonl", json.dumps(ROG[0]) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(KGFormatError) as err:
        load_graph(p)
    assert err.value.line == 2 and words in err.value.message, str(err.value)


@pytest.mark.parametrize("text, line, words", [
    ('[\n  {"graph": [["a", "r", "b"]]},\n  7\n]\n', 3, "expected a JSON object {...} as a record, found number 7"),
    ('[\n  {"graph": [["a", "r", "b"]]},\n  ["x"]\n]\n', 3, "found list"),
    ("[1, 2]\n", 1, "found number 1"),
    ('[\n  {"graph": [["a", "r", "b"]]}\n]\n]\n', 4, "extra data after the list"),
    ('[\n  {"graph": [["a", "r", "b"]]}\n  {"graph": []}\n]\n', 3, "expected ',' or ']'"),
    ('[\n  {"graph": [["a", "r", "b"]]},\n  {"graph": [["a", "r"]]}\n]\n', 3, "graph triple 1"),
])
def test_rog_json_list_errors_name_the_line(tmp_path, text, line, words):
    p = write(tmp_path, "rog.json", text)
    with pytest.raises(KGFormatError) as err:
        load_graph(p)
    assert err.value.line == line and words in err.value.message, str(err.value)


def test_rog_json_list_reads(tmp_path):
    p = write(tmp_path, "rog.json", json.dumps(ROG, indent=2))
    kg = load_graph(p)
    assert kg.num_triples == 3 and set(kg.triples()) == ROG_TRIPLES
    assert set(load_graph(write(tmp_path, "one.json", json.dumps(ROG[:1]))).triples()) == {
        ("Joe Biden", "born_in", "Scranton"), ("Scranton", "city_of", "USA")}


def test_not_a_parquet_file(tmp_path):
    pytest.importorskip("pyarrow")
    with pytest.raises(KGFormatError, match="cannot read as parquet"):
        load_graph(write(tmp_path, "g.parquet", "a|r|b\n"))


def test_deep_or_huge_json_is_an_error(tmp_path):
    with pytest.raises(KGFormatError, match="nested too deeply"):
        load_graph(write(tmp_path, "deep.jsonl", '{"graph": ' + "[" * 100_000 + "\n"))
    with pytest.raises(KGFormatError, match="invalid JSON"):
        load_graph(write(tmp_path, "big.jsonl", '{"graph": ' + "1" * 5000 + "}\n"))


def test_unknown_format_is_a_config_error(tmp_path):
    from kgdistill.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown graph format"):
        load_graph(write(tmp_path, "kb.txt", "a|r|b\n"), format="csv")


def test_detect_names_the_first_non_blank_line(tmp_path):
    with pytest.raises(KGFormatError) as err:
        load_graph(write(tmp_path, "odd.txt", "\n\njust words\n"))
    assert err.value.line == 3
    assert detect_graph_format(write(tmp_path, "bom.txt", "\ufeff@prefix ex: <http://e/> .\n")) == "rdf"


def test_paths_the_system_rejects(tmp_path):
    with pytest.raises(KGFormatError, match="cannot open the file"):
        load_graph(str(tmp_path / "a\x00b.txt"))
    with pytest.raises(KGFormatError, match="cannot open the file"):
        load_graph(tmp_path / ("x" * 5000 + ".txt"))


def test_validation_errors_in_plain_words():
    """The HTTP service answered pydantic's words ("Input should be a valid integer")
    where the MCP tools say what was expected and what came."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    from kgdistill.readers import validation_words

    class Ask(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        question: str = Field(min_length=1)
        beam: int = Field(3, ge=1, le=20)

    def words(**payload):
        with pytest.raises(ValidationError) as err:
            Ask(**payload)
        return [validation_words(e, ".".join(map(str, e["loc"])), tuple(Ask.model_fields)) for e in err.value.errors()]

    assert words(question=5) == ["question must be a string, got number 5"]
    assert words() == ["question is required"]
    assert words(question="") == ["question is empty"]
    assert words(question="x", beam=0) == ["beam must be at least 1, got number 0"]
    assert words(question="x", beam=True) == ["beam must be a whole number, got boolean true"]
    assert words(question="x", beam="3") == ['beam must be a whole number, got string "3"']
    assert words(question="x", colour="red") == ["colour is not a field of this request (the fields are question, beam)"]
    parsed = {"type": "int_parsing", "loc": ("query", "max_hops"), "msg": "unable to parse", "input": "two"}
    assert validation_words(parsed, "max_hops", raw=True) == "max_hops must be a whole number, got two"
    other = {"type": "url_parsing", "msg": "Input should be a valid URL", "input": "x"}
    assert validation_words(other, "link") == "link: Input should be a valid URL"  # kinds not worded keep pydantic's
