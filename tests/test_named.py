"""Named datasets and the example graph shipped as package data."""
import subprocess
import sys
import zipfile

import pytest

from kgdistill.datasets import NAMED_DATASETS, dataset, load_questions, world_dir
from kgdistill.errors import ConfigError
from tests.conftest import DATA, ROOT, need


def test_world_ships_in_the_package():
    kg_file = dataset("world").path("graph")
    assert kg_file.parent == world_dir() and kg_file.name == "world.ttl"
    assert len(load_questions(dataset("world").path("valid"))) == 67
    # graphs/ at the top of the source tree is the same folder
    assert (ROOT / "graphs").resolve() == world_dir()


def test_named_datasets_on_the_shared_data(monkeypatch):
    need(DATA / "metaqa" / "kb.txt")
    monkeypatch.setenv("KGDISTILL_DATA", str(DATA))
    assert dataset("metaqa-2hop").path("train") == DATA / "metaqa" / "2-hop" / "qa_train.txt"
    assert {n: d.hops for n, d in NAMED_DATASETS.items()}["pq-3h"] == 3
    with pytest.raises(ConfigError, match="unknown dataset 'nope'; known: world, metaqa-1hop"):
        dataset("nope")
    monkeypatch.setenv("KGDISTILL_DATA", "/nowhere")
    with pytest.raises(ConfigError, match="KGDISTILL_DATA"):
        dataset("pq-2h").path("graph")


def test_the_wheel_carries_the_example_graph(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("kgdistill-*.whl"))).namelist()
    for f in ("world.ttl", "world_train.jsonl", "world_valid.jsonl"):
        assert f"kgdistill/datasets/world/{f}" in names
