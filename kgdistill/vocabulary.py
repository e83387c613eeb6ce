"""The relation vocabulary: which directed relation each row of a model stands for.

A model (teacher or student) has one row per *directed* relation (``born_in`` and
``~born_in``). It saves the relation *names* of its rows and, on load, binds them to
whatever graph it is given **by name**, so the same knowledge graph written in another
file order or format (which numbers relations differently) gives the same answers, and
a graph that lacks relations the model needs is refused with a list of them instead of
answering wrongly.

Row ``r`` of a vocabulary with names ``[n_0, n_1, ...]`` is
``directed_relation(i, inverse)`` for name ``n_i`` (see
:func:`kgdistill.graph.directed_relation`, the one place the encoding lives).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from kgdistill.errors import VocabularyError
from kgdistill.graph import GraphBackend, directed_relation, split_directed_relation
from kgdistill.paths import Relation

logger = logging.getLogger(__name__)


class RelationVocabulary:
    """Relation names in a model's row order.

    Args:
        names: relation names (without ``~``), unique; name ``i`` owns rows
            ``2i`` (forwards) and ``2i + 1`` (backwards).
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = [str(n) for n in names]
        self._index = {n: i for i, n in enumerate(self.names)}
        self._relations: dict[int, Relation] = {}  # built once per row: every decoded beam asks
        if len(self._index) != len(self.names):
            dup = sorted({n for n in self.names if self.names.count(n) > 1})
            raise VocabularyError(f"relation names repeat in the vocabulary: {dup[:5]}")

    @classmethod
    def from_graph(cls, graph: GraphBackend) -> "RelationVocabulary":
        """The vocabulary of all of ``graph``'s relations, sorted by name (so that a
        model trained on the same graph in another file order starts the same)."""
        return cls(sorted(graph.relation_labels_all()))

    @property
    def num_rows(self) -> int:
        """Number of directed relations (rows): twice the number of names."""
        return 2 * len(self.names)

    def __len__(self) -> int:
        return self.num_rows

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RelationVocabulary) and other.names == self.names

    def __repr__(self) -> str:
        return f"RelationVocabulary({len(self.names)} relations)"

    def row(self, relation: Relation | str) -> int | None:
        """The row of a directed relation (``Relation`` or ``"~name"``), or ``None``."""
        if isinstance(relation, str):
            relation = Relation.parse(relation)
        i = self._index.get(relation.name)
        return None if i is None else directed_relation(i, relation.inverse)

    def relation(self, row: int) -> Relation:
        """The directed relation of a row."""
        rel = self._relations.get(int(row))
        if rel is None:
            i, inverse = split_directed_relation(int(row))
            rel = self._relations[int(row)] = Relation(self.names[i], inverse)
        return rel

    def relations(self) -> list[Relation]:
        """Every directed relation in row order."""
        return [self.relation(r) for r in range(self.num_rows)]

    def to_list(self) -> list[str]:
        """JSON form: the names."""
        return list(self.names)

    def bind(self, graph: GraphBackend, strict: bool = True) -> "GraphBinding":
        """Map this vocabulary's rows to ``graph``'s directed relations by name.

        Args:
            graph: the graph the model is used on.
            strict: raise :class:`VocabularyError` when the graph lacks relations the
                model knows; otherwise their rows map to ``-1`` (never generated).

        Raises:
            VocabularyError: the graph lacks relations of the vocabulary (listed).
        """
        graph_ids = [graph.relation_id(n) for n in self.names]
        missing = [n for n, g in zip(self.names, graph_ids) if g is None]
        if missing and strict:
            have = len(self.names) - len(missing)
            raise VocabularyError(
                f"the graph {getattr(graph, 'name', '')!r} lacks {len(missing)} of the {len(self.names)} relations "
                f"the model was trained with: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''} "
                f"({have} found). Use the graph the model was trained on (any file order or format of it).")
        n_graph_rows = 2 * graph.num_relations
        row_of_drel = np.full(n_graph_rows, -1, dtype=np.int64)
        drel_of_row = np.full(self.num_rows, -1, dtype=np.int64)
        for i, g in enumerate(graph_ids):
            if g is None:
                continue
            for inverse in (False, True):
                row, drel = directed_relation(i, inverse), directed_relation(g, inverse)
                row_of_drel[drel] = row
                drel_of_row[row] = drel
        unknown = [graph.relation_label(r) for r in range(graph.num_relations) if row_of_drel[2 * r] < 0]
        if unknown:
            logger.warning("the graph has %d relation(s) the model was not trained with (never predicted): %s",
                           len(unknown), ", ".join(unknown[:10]))
        return GraphBinding(self, row_of_drel, drel_of_row, missing, unknown)


@dataclass
class GraphBinding:
    """A vocabulary bound to one graph.

    Attributes:
        vocabulary: the model's vocabulary.
        row_of_drel: (2 * graph relations,) model row of each graph directed relation,
            ``-1`` where the model does not know the relation.
        drel_of_row: (vocabulary rows,) graph directed relation of each row, ``-1``
            where the graph lacks it.
        missing: model relations the graph lacks.
        unknown: graph relations the model does not know.
    """

    vocabulary: RelationVocabulary
    row_of_drel: np.ndarray
    drel_of_row: np.ndarray
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def rows(self, drels: np.ndarray) -> np.ndarray:
        """Model rows of graph directed relations: (n,) -> (n,), ``-1`` if unknown."""
        return self.row_of_drel[np.asarray(drels, dtype=np.int64)]

    def drels(self, rows: np.ndarray) -> np.ndarray:
        """Graph directed relations of model rows: (n,) -> (n,), ``-1`` if missing."""
        return self.drel_of_row[np.asarray(rows, dtype=np.int64)]
