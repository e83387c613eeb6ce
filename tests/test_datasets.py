import json

import numpy as np
import pytest

from kgdistill.datasets import answer_coverage, load_questions, within_hops
from kgdistill.paths import GroundedPath, RelationPath
from kgdistill.readers import KGFormatError
from tests.conftest import DATA, GRAPHS, need


def test_metaqa_reader(tmp_path):
    p = tmp_path / "qa.txt"
    p.write_text("what movies did [Temuera Morrison] act in\tOnce Were Warriors|Tracker\n", encoding="utf-8")
    (q,) = load_questions(p)
    assert q.topic_entities == ["Temuera Morrison"] and q.answers == ["Once Were Warriors", "Tracker"]
    assert q.text == "what movies did Temuera Morrison act in"
    p.write_text("no topic here\tA\n", encoding="utf-8")
    with pytest.raises(KGFormatError, match=r"qa.txt:1: no \[topic entity\]"):
        load_questions(p, format="metaqa")


def test_pathquestion_reader(tmp_path):
    p = tmp_path / "train.txt"
    p.write_text("claudius 's parent 's sex ?\tmale(male/)\tclaudius#parents#nero_claudius_drusus#gender#male#<end>#male\n",
                 encoding="utf-8")
    (q,) = load_questions(p)
    assert q.topic_entities == ["claudius"] and q.answers == ["male"]
    assert q.gold_path == GroundedPath(("claudius", "nero_claudius_drusus", "male"), ("parents", "gender"))
    p.write_text("q\tmale(male/)\tclaudius#parents#male#gender\n", encoding="utf-8")
    with pytest.raises(KGFormatError, match="does not alternate entity#relation#entity"):
        load_questions(p, format="pathquestion")


def test_rog_and_jsonl_readers(tmp_path):
    p = tmp_path / "rog.jsonl"
    p.write_text(json.dumps({"id": "x", "question": "q?", "answer": ["A"], "q_entity": ["T"], "a_entity": ["A1"],
                             "graph": []}) + "\n", encoding="utf-8")
    (q,) = load_questions(p)
    assert (q.id, q.topic_entities, q.answers) == ("x", ["T"], ["A1"])
    p = tmp_path / "own.jsonl"
    p.write_text(json.dumps({"question": "q?", "topic_entities": ["Joe Biden"], "answers": ["USA"],
                             "gold_path": "Joe Biden -> born_in -> Scranton -> city_of -> USA"}) + "\n")
    (q,) = load_questions(p)
    assert q.gold_path.entities[-1] == "USA" and q.id == "own:1"


def test_example_questions_all_verify():
    from kgdistill.readers import load_graph
    from kgdistill.verify import verify_paths

    kg = load_graph(GRAPHS / "world.ttl")
    qs = load_questions(GRAPHS / "world_questions.jsonl")
    assert len(qs) >= 100
    hops = {len(q.gold_path) for q in qs}
    assert hops == {1, 2, 3}
    assert verify_paths(kg, [q.gold_path for q in qs]).valid.all()
    assert all(q.gold_path.end in q.answers for q in qs)


def test_within_hops(tiny):
    near = within_hops(tiny, np.array([tiny.entity_id("Jill Biden")]), 2)
    assert sorted(tiny.entity_label(e) for e in near) == ["Hammonton", "Hunter Biden", "Jill Biden", "Joe Biden", "Scranton", "USA"]


# ------------------------------------------------------------------ real data
@pytest.mark.parametrize("hops, ceiling", [(1, 0.975), (2, 0.980), (3, 0.998)])
def test_metaqa_topics_and_reachability(metaqa_kg, hops, ceiling):
    qs = load_questions(need(DATA / "metaqa" / f"{hops}-hop" / "qa_valid.txt"))
    assert len(qs) == {1: 999, 2: 1487, 3: 1427}[hops]
    assert all(len(q.topic_entities) == 1 and q.answers for q in qs)
    cov = answer_coverage(metaqa_kg, qs, hops)
    # Topic entities absent from this rebuilt KB are truly absent, not misparsed.
    assert not {" ".join(t.split()) for t in cov.missing_topics} & set(metaqa_kg.entity_keys)
    assert cov.topic_found / cov.total >= 0.99
    assert cov.reachable_share >= ceiling, cov.to_dict()


def test_metaqa_train_files_parse(metaqa_kg):
    for hops, n in ((1, 8993), (2, 13385), (3, 12847)):
        qs = load_questions(need(DATA / "metaqa" / f"{hops}-hop" / "qa_train.txt"))
        assert len(qs) == n
        missing = {q.topic_entities[0] for q in qs if metaqa_kg.entity_id(q.topic_entities[0]) is None}
        found = sum(q.topic_entities[0] not in missing for q in qs)
        assert found / n >= 0.985  # the rebuilt KB lacks a few percent of MetaQA's entities
        # Missing means absent from this KB (often lower-case has_tags entities such as
        # 'allison janney'), not misparsed: no stray whitespace explains it.
        assert not {" ".join(t.split()) for t in missing} & set(metaqa_kg.entity_keys)


@pytest.mark.slow
def test_metaqa_train_reachability(metaqa_kg):
    for hops in (1, 2, 3):
        qs = load_questions(DATA / "metaqa" / f"{hops}-hop" / "qa_train.txt")
        assert answer_coverage(metaqa_kg, qs, hops).reachable_share >= 0.97


# ------------------------------------------------------------------ bad input
def jsonl(tmp_path, *records, name="q.jsonl"):
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return p


Q = {"question": "where was joe biden born?", "topic_entities": ["Joe Biden"], "answers": ["Scranton"]}


@pytest.mark.parametrize("gold, topics, kind, printed", [
    ("born_in -> city_of -> currency", ["Joe Biden"], RelationPath, "born_in -> city_of -> currency"),
    ("Joe Biden -> born_in -> Scranton", ["Joe Biden"], GroundedPath, "Joe Biden -> born_in -> Scranton"),
    ("Joe Biden -> born_in -> Scranton", ["Jill Biden", "Joe Biden"], GroundedPath, "Joe Biden -> born_in -> Scranton"),
    ("born_in -> city_of", ["Joe Biden"], RelationPath, "born_in -> city_of"),
    ("<PATH> born_in <SEP> ~city_of </PATH>", ["Joe Biden"], RelationPath, "born_in -> ~city_of"),
    ("born_in", ["Joe Biden"], RelationPath, "born_in"),
])
def test_gold_path_is_grounded_only_from_a_topic(tmp_path, gold, topics, kind, printed):
    (q,) = load_questions(jsonl(tmp_path, dict(Q, topic_entities=topics, gold_path=gold)))
    assert isinstance(q.gold_path, kind) and str(q.gold_path) == printed


@pytest.mark.parametrize("fmt, make", [
    ("jsonl", lambda i, qid: dict(Q, id=qid)),
    ("rog", lambda i, qid: {"id": qid, "question": "q?", "q_entity": ["T"], "answer": ["A"]}),
])
def test_duplicate_ids(tmp_path, fmt, make):
    p = jsonl(tmp_path, make(1, "q1"), make(2, "q2"), make(3, "q1"))
    with pytest.raises(KGFormatError) as err:
        load_questions(p, format=fmt)
    assert err.value.line == 3 and "duplicate question id 'q1': line 1" in err.value.message
    assert str(p) in str(err.value)
    assert [q.id for q in load_questions(jsonl(tmp_path, make(1, 7), make(2, "8"), name="ok.jsonl"), format=fmt)] == ["7", "8"]


@pytest.mark.parametrize("change, words", [
    ({"topic_entities": 5}, "field 'topic_entities' must be a string or a list of strings, found number 5"),
    ({"topic_entities": []}, "field 'topic_entities' is an empty list"),
    ({"topic_entities": None}, "field 'topic_entities' is null"),
    ({"answers": 7}, "field 'answers' must be a string or a list of strings, found number 7"),
    ({"answers": [None]}, "field 'answers', item 1: expected a string (entity name), found null"),
    ({"answers": ["A", 2005]}, "field 'answers', item 2: expected a string (entity name), found number 2005"),
    ({"answers": [""]}, "item 1: entity name '' is empty"),
    ({"answers": ["  "]}, "item 1: entity name '  ' is only whitespace"),
    ({"answers": [["A"]]}, "item 1: expected a string (entity name), found list"),
    ({"answers": [{"name": "A"}]}, "item 1: expected a string (entity name), found object"),
    ({"answers": ["A\tB"]}, "control character '\\t'"),
    ({"answers": ["A -> B"]}, "contains '->'"),
    ({"gold_path": ["Joe Biden", "born_in"]}, "field 'gold_path' must be a non-empty string, found list"),
    ({"gold_path": ""}, "field 'gold_path' must be a non-empty string"),
    ({"gold_path": "Joe Biden -> -> x"}, "bad gold_path"),
    ({"question": 5}, "field 'question' must be a non-empty string, found number 5"),
    ({"question": None}, "field 'question' is null (expected a string)"),
    ({"id": {}}, "field 'id' must be a non-empty string or an integer, found object"),
    ({"id": True}, "field 'id' must be a non-empty string or an integer, found boolean"),
])
def test_jsonl_wrong_types(tmp_path, change, words):
    p = jsonl(tmp_path, Q, dict(Q, **change))
    with pytest.raises(KGFormatError) as err:
        load_questions(p, format="jsonl")
    assert err.value.line == 2 and words in err.value.message, str(err.value)


ROG_Q = {"id": "q", "question": "q?", "q_entity": ["T"], "answer": ["A"], "a_entity": ["A"]}


@pytest.mark.parametrize("change, words", [
    ({"q_entity": 3}, "field 'q_entity' must be a string or a list of strings, found number 3"),
    ({"q_entity": []}, "field 'q_entity' is an empty list"),
    ({"a_entity": [1]}, "field 'a_entity', item 1: expected a string"),
    ({"answer": 7}, "field 'answer' must be a string or a list of strings"),
    ({"question": ""}, "field 'question' must be a non-empty string"),
])
def test_rog_questions_wrong_types(tmp_path, change, words):
    p = jsonl(tmp_path, dict(ROG_Q, id="a"), dict(ROG_Q, **change))
    with pytest.raises(KGFormatError) as err:
        load_questions(p, format="rog")
    assert err.value.line == 2 and words in err.value.message, str(err.value)


@pytest.mark.parametrize("text, words", [
    ("[1, 2]\n", "expected a JSON object {...} as a record, found number 1"),
    ("5\n", "found number 5"),
    ('"question"\n', "found string"),
])
def test_records_must_be_objects(tmp_path, text, words):
    p = tmp_path / "q.jsonl"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(KGFormatError, match=words):
        load_questions(p, format="jsonl")


def test_a_strings_only_rog_answer(tmp_path):
    (q,) = load_questions(jsonl(tmp_path, dict(ROG_Q, a_entity=[], answer="2005")), format="rog")
    assert q.answers == ["2005"]


def test_metaqa_fields_stripped_and_checked(tmp_path):
    p = tmp_path / "qa.txt"
    p.write_text("what did [ Kismet ] win\t A | B \n", encoding="utf-8")
    (q,) = load_questions(p)
    assert q.topic_entities == ["Kismet"] and q.answers == ["A", "B"]
    for line, words in [("what did [Kismet] win\tA||B\n", "answer 2: entity name '' is empty"),
                        ("what did [ ] win\tA\n", "topic entity in brackets: entity name '' is empty"),
                        ("what did [a -> b] win\tA\n", "contains '->'")]:
        p.write_text("ok [x]\ty\n" + line, encoding="utf-8")
        with pytest.raises(KGFormatError) as err:
            load_questions(p, format="metaqa")
        assert err.value.line == 2 and words in err.value.message, str(err.value)


PQ_END = "claudius 's parent 's sex ?\tmale(male/)\tclaudius#parents#nero_claudius_drusus#gender#male#<end>#male"
PQ_PLAIN = "claudius 's parent 's sex ?\tmale(male/)\tclaudius#parents#nero_claudius_drusus#gender#male"


def test_pathquestion_both_path_forms(tmp_path):
    from kgdistill.datasets import detect_question_format

    p = tmp_path / "pq.txt"
    want = GroundedPath(("claudius", "nero_claudius_drusus", "male"), ("parents", "gender"))
    for lines in ([PQ_END, PQ_PLAIN], [PQ_PLAIN, PQ_END]):
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert detect_question_format(p) == "pathquestion"
        qs = load_questions(p)
        assert [q.gold_path for q in qs] == [want, want] and qs[1].topic_entities == ["claudius"]
        assert [q.answers for q in qs] == [["male"], ["male"]]


@pytest.mark.parametrize("path_field, words", [
    ("a##x", "relation name '' is empty"),
    ("a#r#", "entity name '' is empty"),
    ("a#~~r#x", "starts with '~'"),
    ("a#r,s#x", "','"),
    ("a#r", "does not alternate"),
    ("<end>#x", "does not alternate"),
])
def test_pathquestion_bad_paths_name_file_and_line(tmp_path, path_field, words):
    p = tmp_path / "pq.txt"
    p.write_text(PQ_END + "\n" + f"q\tx(x/)\t{path_field}\n", encoding="utf-8")
    with pytest.raises(KGFormatError) as err:
        load_questions(p, format="pathquestion")
    assert err.value.line == 2 and str(p) in str(err.value) and words in err.value.message, str(err.value)


@pytest.mark.parametrize("answer_field, answers", [
    ("male(male/)", ["male"]), ("a(a/b/)", ["a", "b"]), ("a()", ["a"]), ("a(b)", ["b"]),
])
def test_pathquestion_answers(tmp_path, answer_field, answers):
    p = tmp_path / "pq.txt"
    p.write_text(f"q\t{answer_field}\tx#r#a\n", encoding="utf-8")
    assert load_questions(p, format="pathquestion")[0].answers == answers


def test_pathquestion_empty_answer_is_an_error(tmp_path):
    p = tmp_path / "pq.txt"
    p.write_text("q\ta(a//)\tx#r#a\n", encoding="utf-8")
    with pytest.raises(KGFormatError, match="answer 2: entity name '' is empty"):
        load_questions(p, format="pathquestion")


def test_question_files_that_are_directories_or_not_utf8(tmp_path):
    from kgdistill.datasets import detect_question_format

    with pytest.raises(KGFormatError, match="is a directory, expected a file"):
        load_questions(tmp_path)
    with pytest.raises(KGFormatError, match="is a directory"):
        detect_question_format(tmp_path)
    for fmt in ("metaqa", "pathquestion", "rog", "jsonl"):
        with pytest.raises(KGFormatError, match="is a directory"):
            load_questions(tmp_path, format=fmt)
    p = tmp_path / "qa.txt"
    p.write_bytes(b"what [x]\ty\nwhat [\xff]\ty\n")
    with pytest.raises(KGFormatError, match=r"qa.txt:2: not valid UTF-8"):
        load_questions(p, format="metaqa")


def test_detect_rog_json_list(tmp_path):
    from kgdistill.datasets import detect_question_format

    p = tmp_path / "rog.json"
    p.write_text(json.dumps([ROG_Q], indent=2), encoding="utf-8")
    assert detect_question_format(p) == "rog"
    assert [q.id for q in load_questions(p)] == ["q"]


def test_made_up_ids_are_unique_in_one_line_json_lists(tmp_path):
    p = tmp_path / "q.json"
    p.write_text(json.dumps([Q, Q, dict(Q, id="x")]), encoding="utf-8")
    assert [q.id for q in load_questions(p, format="jsonl")] == ["q:1", "q:1+2", "x"]


def test_a_file_without_questions_is_an_error(tmp_path):
    for text in ("", "\n\n", "[]"):
        p = tmp_path / "q.jsonl"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(KGFormatError, match="no questions found"):
            load_questions(p, format="jsonl")
