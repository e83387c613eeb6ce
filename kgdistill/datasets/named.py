"""Datasets by name: ``dataset("metaqa-2hop")`` gives the graph, training and
validation files (and the hop count) of a known dataset.

``world`` is the example graph shipped inside the package (``pip install`` it, then
``kgdistill demo`` works from any directory). The others are public KGQA datasets in
their original line formats, found under a data root: ``$KGDISTILL_DATA`` if set,
else ``../shared/datasets`` beside the current directory or beside the source tree.
Nothing is downloaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kgdistill.errors import ConfigError


def world_dir() -> Path:
    """The folder of the example graph (package data)."""
    return Path(__file__).resolve().parent / "world"


@dataclass(frozen=True)
class NamedDataset:
    """Files of a dataset, relative to its root.

    Attributes:
        graph, train, valid: the graph file and question files.
        hops: the number of hops of every question (``None``: mixed).
        packaged: the files ship with kgdistill (else they are under the data root).
    """

    graph: str
    train: str
    valid: str
    hops: int | None = None
    packaged: bool = False

    def root(self) -> Path:
        return world_dir() if self.packaged else data_root()

    def path(self, which: str) -> Path:
        """Absolute path of ``graph``, ``train`` or ``valid``.

        Raises:
            ConfigError: the file is not under the data root.
        """
        p = self.root() / getattr(self, which)
        if not p.exists():
            raise ConfigError(f"{p}: not found; set KGDISTILL_DATA to the folder that holds the datasets "
                              "(metaqa/, pathquestion/)")
        return p


NAMED_DATASETS: dict[str, NamedDataset] = {
    "world": NamedDataset("world.ttl", "world_train.jsonl", "world_valid.jsonl", None, packaged=True),
    "metaqa-1hop": NamedDataset("metaqa/kb.txt", "metaqa/1-hop/qa_train.txt", "metaqa/1-hop/qa_valid.txt", 1),
    "metaqa-2hop": NamedDataset("metaqa/kb.txt", "metaqa/2-hop/qa_train.txt", "metaqa/2-hop/qa_valid.txt", 2),
    "metaqa-3hop": NamedDataset("metaqa/kb.txt", "metaqa/3-hop/qa_train.txt", "metaqa/3-hop/qa_valid.txt", 3),
    "pq-2h": NamedDataset("pathquestion/PQ-2H/kb.txt", "pathquestion/PQ-2H/train.txt",
                          "pathquestion/PQ-2H/valid.txt", 2),
    "pq-3h": NamedDataset("pathquestion/PQ-3H/kb.txt", "pathquestion/PQ-3H/train.txt",
                          "pathquestion/PQ-3H/valid.txt", 3),
}
"""Known datasets by name."""


def data_root() -> Path:
    """``$KGDISTILL_DATA``, else the first ``../shared/datasets`` found beside the
    current directory or the source tree."""
    if os.environ.get("KGDISTILL_DATA"):
        return Path(os.environ["KGDISTILL_DATA"])
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base.parent / "shared" / "datasets"
        if candidate.exists():
            return candidate
    return Path.cwd().parent / "shared" / "datasets"


def dataset(name: str) -> NamedDataset:
    """The dataset called ``name``.

    Raises:
        ConfigError: an unknown name (the known ones are listed).
    """
    try:
        return NAMED_DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(NAMED_DATASETS)}") from None
