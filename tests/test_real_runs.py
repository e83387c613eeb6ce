"""Whole runs on real data (slow: `pytest -m slow`). The benchmark scripts in
benchmarks/ produce the full tables; these check that one command trains and evaluates
a dataset to the level recorded in benchmarks/RESULTS.md."""
import json

import pytest

from kgdistill.cli import main
from tests.conftest import DATA, need


@pytest.mark.slow
def test_train_and_evaluate_pathquestion_2h(tmp_path, capsys):
    pq = need(DATA / "pathquestion" / "PQ-2H")
    run = tmp_path / "pq2"
    assert main(["train", "-g", str(pq / "kb.txt"), "--train", str(pq / "train.txt"), "--valid", str(pq / "valid.txt"),
                 "--out", str(run), "--quiet", "--base-model", "none"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["hops"] == 2 and config["exact_hops"] is True
    assert main(["evaluate", "--run", str(run), "--questions", str(pq / "valid.txt"), "--out", str(tmp_path / "ev")]) == 0
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["hits@1"] >= 0.99 and m["valid_path_share"] == 1.0 and m["relation_path_accuracy"] >= 0.99
    assert m["teacher"]["hits@1"] >= 0.99 and m["reachable_ceiling"] == 1.0


@pytest.mark.slow
def test_train_metaqa_2hop(tmp_path):
    mq = need(DATA / "metaqa")
    run = tmp_path / "mq2"
    assert main(["train", "-g", str(mq / "kb.txt"), "--train", str(mq / "2-hop" / "qa_train.txt"),
                 "--valid", str(mq / "2-hop" / "qa_valid.txt"), "--out", str(run), "--max-minutes", "10",
                 "--quiet", "--base-model", "none"]) == 0
    m = json.loads((run / "metrics.json").read_text())["valid"]
    assert m["hits@1"] >= m["teacher"]["hits@1"] - 0.01 and m["valid_path_share"] == 1.0
    assert m["reachable_ceiling"] == pytest.approx(0.981, abs=0.001)
