"""Question subgraphs: the entities within k hops of a question's topic entities,
bounded on hubs, as torch_geometric data.

Topic entities are always expanded.

Every entity at distance < k from a topic is *expanded*: all of its edges, in both
directions, enter the subgraph as directed edges whose type is the directed relation
``2 * r + inverse`` (:func:`kgdistill.graph.directed_relation`), so ``~r`` edges are
explicit and message passing needs no transposes. A hub (an entity with more than
``max_expand_degree`` edges) is kept as a node but not expanded, which bounds the size;
hubs are rarely the middle of a reasoning path (MetaQA's ``Drama`` is an answer, not a
bridge). ``max_nodes`` is a last-resort cap (nodes found last are dropped).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from kgdistill.graph import GraphBackend

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Data

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubgraphConfig:
    """How question subgraphs are cut.

    Attributes:
        num_hops: k, the radius around the topic entities.
        max_expand_degree: entities with more edges than this are not expanded.
        max_nodes: hard cap on nodes per subgraph.
    """

    num_hops: int = 2
    max_expand_degree: int = 1000
    max_nodes: int = 50_000

    def __post_init__(self) -> None:
        if self.num_hops < 1:
            raise ValueError("num_hops must be at least 1")
        if self.max_expand_degree < 1 or self.max_nodes < 1:
            raise ValueError("caps must be positive")


@dataclass
class Subgraph:
    """A question's subgraph.

    Attributes:
        nodes: (num_nodes,) global entity ids; local node ``i`` is ``nodes[i]``; the
            topic entities come first.
        num_topics: how many of the first nodes are topic entities.
        edge_index: (2, num_edges) local ids, source to target.
        edge_type: (num_edges,) directed relation ``2 * r + inverse``.
        unexpanded_hubs: how many entities within k - 1 hops were not expanded.
        truncated: whether ``max_nodes`` dropped nodes.
    """

    nodes: np.ndarray
    num_topics: int
    edge_index: np.ndarray
    edge_type: np.ndarray
    unexpanded_hubs: int = 0
    truncated: bool = False

    @property
    def num_nodes(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edge_type.shape[0])

    def local_ids(self, entities: np.ndarray) -> np.ndarray:
        """Local ids of global entity ids; -1 for entities not in the subgraph."""
        order = np.argsort(self.nodes, kind="stable")
        sorted_nodes = self.nodes[order]
        pos = np.searchsorted(sorted_nodes, entities)
        pos = np.minimum(pos, len(sorted_nodes) - 1)
        found = sorted_nodes[pos] == entities
        return np.where(found, order[pos], -1)

    def to_pyg(self) -> "Data":
        """``Data(edge_index, edge_type, num_nodes, node_ids, topic_mask)``."""
        import torch
        from torch_geometric.data import Data

        topic_mask = torch.zeros(self.num_nodes, dtype=torch.bool)
        topic_mask[: self.num_topics] = True
        return Data(edge_index=torch.from_numpy(self.edge_index.astype(np.int64)),
                    edge_type=torch.from_numpy(self.edge_type.astype(np.int64)),
                    num_nodes=self.num_nodes, node_ids=torch.from_numpy(self.nodes.astype(np.int64)),
                    topic_mask=topic_mask)


def extract_subgraph(graph: GraphBackend, topics: Sequence[int] | np.ndarray,
                     config: SubgraphConfig | None = None) -> Subgraph:
    """Cut the subgraph within ``config.num_hops`` of ``topics`` (entity ids)."""
    config = config or SubgraphConfig()
    topics = np.unique(np.asarray(topics, dtype=np.int64))
    seen = topics
    frontier = topics
    srcs, drels, dsts = [], [], []
    hubs = 0
    for hop in range(config.num_hops):
        if frontier.size == 0:
            break
        # Topic entities are always expanded, hubs or not.
        expand = frontier if hop == 0 else frontier[graph.degree(frontier) <= config.max_expand_degree]
        hubs += int(frontier.size - expand.size)
        src, drel, dst = graph.edges(expand)
        srcs.append(src), drels.append(drel), dsts.append(dst)
        new = np.setdiff1d(np.unique(dst), seen, assume_unique=True)
        seen = np.union1d(seen, new)
        frontier = new
    src = np.concatenate(srcs) if srcs else np.empty(0, np.int64)
    drel = np.concatenate(drels) if drels else np.empty(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.empty(0, np.int64)
    others = np.setdiff1d(seen, topics, assume_unique=True)
    truncated = False
    if topics.size + others.size > config.max_nodes:
        truncated = True
        # Keep the nodes that appear earliest in the edge list (closest hops first).
        _, first = np.unique(dst, return_index=True)
        order = np.argsort(first, kind="stable")
        uniq = np.unique(dst)[order]
        uniq = uniq[~np.isin(uniq, topics)]
        others = np.sort(uniq[: config.max_nodes - topics.size])
    nodes = np.concatenate([topics, others])
    sub = Subgraph(nodes, int(topics.size), np.empty((2, 0), np.int64), np.empty(0, np.int64), hubs, truncated)
    ls, ld = sub.local_ids(src), sub.local_ids(dst)
    keep = (ls >= 0) & (ld >= 0)
    sub.edge_index = np.stack([ls[keep], ld[keep]])
    sub.edge_type = drel[keep].astype(np.int64)
    return sub
