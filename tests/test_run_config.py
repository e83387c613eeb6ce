"""Run configuration: hop inference and resolution (kgdistill.pipeline)."""
import pytest

from kgdistill.datasets import Question, load_questions
from kgdistill.pipeline import RunConfig, RunError, infer_hops
from kgdistill.readers import load_graph
from tests.conftest import DATA, GRAPHS, need


def test_infer_hops_on_the_example_graph():
    kg = load_graph(GRAPHS / "world.ttl")
    hops, exact, counts = infer_hops(kg, load_questions(GRAPHS / "world_train.jsonl"))
    assert (hops, exact) == (3, False) and set(counts) == {1, 2, 3}


def test_infer_hops_from_answers_and_gold_paths(metaqa_kg):
    qs = load_questions(need(DATA / "metaqa" / "2-hop" / "qa_train.txt"))
    hops, exact, counts = infer_hops(metaqa_kg, qs)
    assert (hops, exact) == (2, True), counts
    pq = DATA / "pathquestion" / "PQ-3H"
    hops, exact, counts = infer_hops(load_graph(need(pq / "kb.txt")), load_questions(pq / "train.txt"))
    assert (hops, exact, counts) == (3, True, {3: 200})


def test_resolve_fills_every_default_and_rejects_bad_settings(tiny):
    qs = [Question("1", "where was X born", ["Joe Biden"], ["Scranton"])]
    c = RunConfig(graph="kb.txt", train="t.jsonl", distill={"alpha": 1.0}).resolve(tiny, qs)
    assert c.hops == 1 and c.exact_hops is True and c.teacher["num_steps"] == 1
    assert c.distill["alpha"] == 1.0 and c.distill["max_hops"] == 1 and c.student["n_layer"] == 2
    with pytest.raises(ValueError, match="alpha"):
        RunConfig(graph="kb", train="t", hops=2, distill={"alpha": 2.0}).resolve(tiny, qs)
    with pytest.raises(RunError, match="pretrained"):
        RunConfig(graph="kb", train="t", hops=2, adaptation="lora").resolve(tiny, qs)
    with pytest.raises(RunError, match="--hops"):
        RunConfig(graph="kb", train="t").resolve(tiny, [Question("1", "q", ["Joe Biden"], ["Nowhere"])])
