"""The RoG WebQSP sample (18 real WebQSP test records with their Freebase subgraphs):
the RoG readers, paths, the verifier and the command line on Freebase-style data
(dotted relation names, CVT nodes such as ``m.04469y8``, hubs with 2,000+ edges,
answers missing from the subgraph)."""
import json

import numpy as np
import pytest

from kgdistill.datasets import answer_coverage, load_questions
from kgdistill.paths import EnumerationLimits, GroundedPath, RelationPath, enumerate_relation_paths
from kgdistill.readers import load_graph
from kgdistill.verify import Failure, verify_path, verify_relation_path
from tests.conftest import DATA, need

SAMPLE = DATA / "rog-webqsp-sample" / "webqsp_test_sample.jsonl"

POLK = ("James K. Polk -> government.politician.government_positions_held -> m.04469y8 "
        "-> government.government_position_held.office_position_or_title -> President of the United States")


@pytest.fixture(scope="module")
def rog_kg():
    return load_graph(need(SAMPLE))


@pytest.fixture(scope="module")
def rog_questions():
    return load_questions(need(SAMPLE))


def test_graph_sizes(rog_kg):
    assert (rog_kg.num_triples, rog_kg.num_relations, rog_kg.num_entities) == (67_325, 1_664, 23_666)
    assert rog_kg.relation_id("location.country.languages_spoken") is not None
    assert rog_kg.entity_id("m.04469y8") is not None  # a CVT node
    deg = rog_kg.degree(np.array([rog_kg.entity_id("Egypt"), rog_kg.entity_id("Jamaica")]))
    assert deg.tolist() == [2_279, 2_132]


def test_questions(rog_kg, rog_questions):
    assert len(rog_questions) == 18 and rog_questions[0].id == "WebQTest-0"
    assert len({q.id for q in rog_questions}) == 18
    q = rog_questions[0]
    assert (q.text, q.topic_entities, q.answers) == (
        "what does jamaican people speak", ["Jamaica"], ["Jamaican English", "Jamaican Creole English Language"])
    assert all(q.gold_path is None for q in rog_questions)
    assert [q.answers for q in rog_questions if q.id == "WebQTest-31"] == [["2005"]]  # years stay strings
    # Two questions' answers are not in their subgraph: read cleanly, counted as unreachable.
    missing = [q.id for q in rog_questions if all(rog_kg.entity_id(a) is None for a in q.answers)]
    assert missing == ["WebQTest-3", "WebQTest-31"]
    cov = answer_coverage(rog_kg, rog_questions, 2)
    assert (cov.topic_found, cov.answer_in_graph, cov.reachable) == (18, 16, 16)
    assert answer_coverage(rog_kg, rog_questions, 1).reachable == 12


def test_grounded_path_through_a_cvt_node(rog_kg):
    v = verify_path(rog_kg, POLK)
    assert v.valid, v.explain()
    assert GroundedPath.parse(POLK).entities[1] == "m.04469y8"
    bad = verify_path(rog_kg, POLK.replace("President of the United States", "Jamaica"))
    assert not bad.valid and bad.failing_hop == 1 and bad.reason == Failure.NO_SUCH_EDGE
    flipped = verify_path(rog_kg, POLK.replace("-> government.politician", "-> ~government.politician"))
    assert flipped.failing_hop == 0 and flipped.reason == Failure.WRONG_DIRECTION
    typo = verify_path(rog_kg, POLK.replace("positions_held ->", "position_held ->"))
    assert typo.reason == Failure.UNKNOWN_RELATION and typo.failing_hop == 0
    assert "government.politician.government_positions_held" in typo.suggestions


def test_relation_paths(rog_kg):
    ok = verify_relation_path(rog_kg, "Jamaica", "location.country.languages_spoken")
    assert ok.valid and sorted(ok.endpoints) == ["Jamaican Creole English Language", "Jamaican English"]
    rp = RelationPath.parse("<PATH> government.politician.government_positions_held <SEP> "
                            "government.government_position_held.office_position_or_title </PATH>")
    polk = verify_relation_path(rog_kg, "James K. Polk", rp)
    assert polk.valid and "President of the United States" in polk.endpoints
    assert {"United States Representative", "Speaker of the United States House of Representatives",
            "Governor of Tennessee"} <= set(polk.endpoints)
    bad = verify_relation_path(rog_kg, "Jamaica", "location.country.languages_spoken -> location.country.languages_spoken")
    assert not bad.valid and bad.failing_hop == 1


def test_enumeration_caps_are_reported(rog_kg):
    full = enumerate_relation_paths(rog_kg, "Jamaica", EnumerationLimits(max_hops=2))
    assert len(full) == 910 and full.capped == []
    capped = enumerate_relation_paths(rog_kg, "Jamaica", EnumerationLimits(max_hops=3, max_paths=100))
    assert len(capped) == 100 and capped.capped == ["stopped at max_paths=100"]
    hub = enumerate_relation_paths(rog_kg, "Jamaica", EnumerationLimits(max_hops=2, max_frontier_edges=1000))
    assert len(hub) == 0 and hub.capped == ["not expanded after '': 2132 edges > max_frontier_edges=1000"]


def test_command_line(rog_kg, tmp_path, capsys):
    from kgdistill.cli import main

    path = str(need(SAMPLE))
    assert main(["stats", "-g", path]) == 0
    assert "67,325" in capsys.readouterr().out
    assert main(["questions", path, "-g", path, "--max-hops", "2"]) == 0
    assert "18 questions" in capsys.readouterr().out
    assert main(["paths", "-g", path, "Jamaica", "--max-paths", "20"]) == 0
    assert "max_paths=20" in capsys.readouterr().out
    assert main(["verify", "-g", path, POLK]) == 0
    assert main(["verify", "-g", path, POLK.replace("President of the United States", "Jamaica")]) == 1
    assert "hop 2" in capsys.readouterr().out
    paths = tmp_path / "paths.jsonl"
    paths.write_text(json.dumps({"path": POLK}) + "\n"
                     + json.dumps({"topic": "Jamaica", "path": "location.country.languages_spoken"}) + "\n",
                     encoding="utf-8")
    assert main(["verify", "-g", path, "--file", str(paths)]) == 0
    assert "2/2 paths valid" in capsys.readouterr().out
