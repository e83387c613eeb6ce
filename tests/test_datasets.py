import json

import numpy as np
import pytest

from kgdistill.datasets import answer_coverage, load_questions, within_hops
from kgdistill.paths import GroundedPath
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
    p.write_text("q\tmale(male/)\tclaudius#parents#male\n", encoding="utf-8")
    with pytest.raises(KGFormatError, match="<end>"):
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
