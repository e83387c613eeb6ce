from pathlib import Path

import pytest

from kgdistill.graph import KnowledgeGraph

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
GRAPHS = ROOT / "graphs"

TINY = [
    ("Joe Biden", "born_in", "Scranton"),
    ("Scranton", "city_of", "USA"),
    ("Jill Biden", "born_in", "Hammonton"),
    ("Hammonton", "city_of", "USA"),
    ("Joe Biden", "spouse_of", "Jill Biden"),
    ("Joe Biden", "lived_in", "Scranton"),  # a second relation between the same pair
    ("Joe Biden", "born_in", "Scranton"),   # a duplicate, dropped
    ("Hunter Biden", "child_of", "Joe Biden"),
    ("Hunter Biden", "born_in", "Wilmington"),
    ("Wilmington", "city_of", "USA"),
]


@pytest.fixture
def tiny() -> KnowledgeGraph:
    return KnowledgeGraph.from_triples(TINY, name="tiny")


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (expected ../shared/datasets beside the repo)")
    return path


@pytest.fixture(scope="session")
def metaqa_kg():
    from kgdistill.readers import load_graph

    return load_graph(need(DATA / "metaqa" / "kb.txt"))


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache(tmp_path_factory):
    """Keep the embedding cache of a test run out of the user's home."""
    import os

    os.environ.setdefault("KGDISTILL_CACHE", str(tmp_path_factory.mktemp("cache")))


WORLD_TRAIN = GRAPHS / "world_train.jsonl"
WORLD_VALID = GRAPHS / "world_valid.jsonl"


@pytest.fixture(scope="session")
def world_run(tmp_path_factory):
    """A run trained once per test session on the example graph (about a minute):
    tests that need a trained teacher and student share it and copy it before they
    damage anything."""
    from kgdistill.cli import main

    out = tmp_path_factory.mktemp("world") / "run"
    assert main(["train", "-g", str(GRAPHS / "world.ttl"), "--train", str(WORLD_TRAIN), "--valid",
                 str(WORLD_VALID), "--teacher-epochs", "12", "--student-epochs", "25", "--quiet", "--base-model", "none",
                 "--out", str(out)]) == 0
    return out
