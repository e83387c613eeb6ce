"""Batched operations on integer id arrays that the graph backends, walks and decoders
share: ranges without Python loops, per-group unique sets, edges of many entities."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from kgdistill.graph import GraphBackend


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indices ``[s0, e0) + [s1, e1) + ...`` as one array, without a Python loop.

    Args:
        starts: (n,) range starts.
        ends: (n,) range ends, ``ends >= starts``.

    Returns:
        (sum(ends - starts),) int64 indices.
    """
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


KEY_SPACE = 1 << 32
"""Multiplier that packs ``(group, entity id)`` into one int64 key: ``group * KEY_SPACE
+ entity`` (entity ids stay below 2**32), so that the entity sets of many walks can be
sorted, deduplicated and searched as one array."""


def edge_ranges(graph: "GraphBackend", entities: np.ndarray, drel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges of ``entities`` (any order, repeats allowed) along ``drel``, fetched
    in one graph call: ``(dst, lo, hi)`` where ``dst[lo[i]:hi[i]]`` are the
    neighbours of ``entities[i]`` in the graph's adjacency order."""
    nodes = np.unique(entities[entities >= 0])  # (-1: a stranded walk back)
    src, _, dst = graph.edges(nodes, drel)
    if src.size > 1 and not bool(np.all(src[1:] >= src[:-1])):  # a backend that does not group by source
        order = np.argsort(src, kind="stable")
        src, dst = src[order], dst[order]
    return dst, np.searchsorted(src, entities, side="left"), np.searchsorted(src, entities, side="right")


def unique_per_group(values: np.ndarray, group: np.ndarray, groups: int) -> list[np.ndarray]:
    """The sorted unique ``values`` (ids below 2**32) of each group ``0 .. groups - 1``
    (``group[i]`` is the group of ``values[i]``), with one sort for all groups."""
    keys = np.unique(values.astype(np.int64) + KEY_SPACE * group)
    bounds = np.searchsorted(keys, np.arange(groups + 1, dtype=np.int64) * KEY_SPACE)
    return [keys[bounds[g]:bounds[g + 1]] - KEY_SPACE * g for g in range(groups)]
