import pytest

from kgdistill.distill import DistillConfig

from kgdistill.datasets import Question
from kgdistill.paths import GroundedPath, RelationPath
from kgdistill.serializer import (SerializerConfig, best_f1_paths, build_training_set, make_prompt, topic_labels,
                                  parse_serialized, relation_vocabulary, retemper, serialize_path)


def test_serialize_round_trip():
    p = RelationPath.parse("born_in -> ~city_of")
    assert serialize_path(p) == "<r:born_in><r:~city_of><eop>"
    assert parse_serialized(serialize_path(p)) == p
    assert relation_vocabulary(["born_in"]) == ["<r:born_in>", "<r:~born_in>"]


def test_retemper():
    assert retemper([0.8, 0.2], 1.0) == pytest.approx([0.8, 0.2])
    # T = 2 flattens: q ∝ sqrt(p)
    assert retemper([0.8, 0.2], 2.0) == pytest.approx([2 / 3, 1 / 3])
    assert retemper([0.8, 0.2], 0.5) == pytest.approx([16 / 17, 1 / 17])
    with pytest.raises(ValueError):
        DistillConfig(temperature=0)
    with pytest.raises(ValueError, match="temperature"):  # `train --temperature inf` trained on NaN losses
        DistillConfig(temperature=float("inf"))


def test_prompt_masks_topic():
    assert make_prompt("where was Joe Biden born", ["Joe Biden"], SerializerConfig()) == "question: where was X born path:"


def test_hard_targets(tiny):
    q = Question("1", "which country was Joe Biden born in", ["Joe Biden"], ["USA"])
    paths, f1 = best_f1_paths(tiny, q, 2, 3)
    assert [str(p) for p in paths] == ["born_in -> city_of", "lived_in -> city_of"] and f1 == 1.0
    gold = Question("2", "q", ["Joe Biden"], ["USA"], GroundedPath.parse("Joe Biden -> born_in -> Scranton -> city_of -> USA"))
    dump = [{"id": "2", "paths": [{"path": "born_in -> city_of", "prob": 0.9}, {"path": "lived_in -> city_of", "prob": 0.1}]}]
    recs = build_training_set(tiny, [q, gold], dump, SerializerConfig(), hops=2, temperature=2.0)
    assert recs[0].hard_source == "best_f1" and len(recs[0].hard) == 2 and recs[0].soft == []
    assert recs[1].hard == ["<r:born_in><r:city_of><eop>"] and recs[1].hard_source == "gold"
    assert [s["prob"] for s in recs[1].soft] == pytest.approx([0.75, 0.25])


def test_a_topic_given_by_its_key_is_masked_by_its_label_in_training_and_answering_alike():
    """Review of 2026-12-07: the label was masked when answering only, and written into
    {topic} twice; training and answering now build the same prompt."""
    from kgdistill import load_graph
    from tests.conftest import GRAPHS

    kg = load_graph(str(GRAPHS / "world.ttl"))
    key = "http://kgdistill.org/world/Joe_Biden"
    assert topic_labels(kg, [[key], ["Joe Biden"], ["Nobody"]]) == [["Joe Biden"], [], []]
    cfg = SerializerConfig(template="question: {question} topic: {topic} path:")
    assert make_prompt("who is the spouse of Joe Biden", [key], cfg, ["Joe Biden"]) == \
        f"question: who is the spouse of X topic: {key} path:"
    q = Question("q", "who is the spouse of Joe Biden", [key], ["Jill Biden"])
    rec = build_training_set(kg, [q], None, cfg, hops=1)[0]
    assert rec.prompt == f"question: who is the spouse of X topic: {key} path:"
