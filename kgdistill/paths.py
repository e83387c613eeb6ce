"""Reasoning paths: relation paths, grounded paths, their text forms, execution of a
relation path over a graph, and enumeration of all relation paths from an entity.

Text forms (parsed and printed both ways):

* grounded path, arrows: ``Joe Biden -> born_in -> Scranton -> city_of -> USA``
* relation path, arrows: ``born_in -> city_of``
* relation path, RoG: ``<PATH> born_in <SEP> city_of </PATH>``

A relation traversed backwards is written ``~relation`` (see
:data:`kgdistill.graph.INVERSE_PREFIX`): ``Scranton -> ~born_in -> Joe Biden``.

Names follow :func:`kgdistill.graph.check_name` (no ``->``, no surrounding
whitespace, relations without a leading ``~``, ``,`` or RoG marker), so every path
prints and parses back to an equal value. Parsing text never raises anything but
:class:`~kgdistill.errors.PathSyntaxError`.

The arrow form alone is ambiguous: ``born_in -> city_of -> currency`` can be a
three-relation path or a one-hop grounded path. :func:`parse_path` reads it as
grounded only when its first part is one of the ``start_entities`` it is given.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Collection, Iterable, NamedTuple, Sequence

import numpy as np

from kgdistill.errors import PathSyntaxError, UnknownNameError
from kgdistill.arrays import KEY_SPACE, concat_ranges, edge_ranges
from kgdistill.graph import INVERSE_PREFIX, PATH_ARROW, ROG_MARKERS, GraphBackend, check_name, directed_relation

logger = logging.getLogger(__name__)

ARROW = " -> "
ROG_START, ROG_SEP, ROG_END = ROG_MARKERS


class _RelationFields(NamedTuple):
    name: str
    inverse: bool


class Relation(_RelationFields):
    """A relation with a direction: ``born_in`` (head to tail) or ``~born_in``.

    A named tuple ``(name, inverse)``, so hashing and comparison run at C speed.
    """

    __slots__ = ()

    def __new__(cls, name: str, inverse: bool = False) -> "Relation":
        problem = check_name(name, "relation")
        if problem:
            raise PathSyntaxError(problem)
        return super().__new__(cls, name, bool(inverse))

    @classmethod
    def parse(cls, text: str) -> "Relation":
        """``born_in`` or ``~born_in`` (surrounding whitespace is ignored)."""
        if not isinstance(text, str):
            raise PathSyntaxError(f"a relation must be text, found {type(text).__name__}")
        text = text.strip()
        if text.startswith(INVERSE_PREFIX):
            return cls(text[len(INVERSE_PREFIX):].strip(), True)
        return cls(text, False)

    def reversed(self) -> "Relation":
        return Relation(self.name, not self.inverse)

    def __str__(self) -> str:
        return INVERSE_PREFIX + self.name if self.inverse else self.name

    def __repr__(self) -> str:
        return f"Relation({self.name!r}, inverse={self.inverse})"


@dataclass(frozen=True)
class RelationPath:
    """A sequence of directed relations, e.g. ``born_in -> city_of``."""

    relations: tuple[Relation, ...]

    def __post_init__(self) -> None:
        if isinstance(self.relations, str):  # RelationPath("born_in") became b -> o -> r -> n -> ...
            raise PathSyntaxError(f"RelationPath takes a sequence of relations, got the text {self.relations!r}: "
                                  "use RelationPath.parse(text) or RelationPath.of(*names)")
        object.__setattr__(self, "relations", tuple(
            r if isinstance(r, Relation) else Relation.parse(r) for r in self.relations))

    @classmethod
    def of(cls, *relations: str | Relation) -> "RelationPath":
        """``RelationPath.of("born_in", "~city_of")``."""
        return cls(tuple(relations))

    @classmethod
    def parse(cls, text: str) -> "RelationPath":
        """Parse arrows (``a -> ~b``), RoG (``<PATH> a <SEP> ~b </PATH>``) or commas (``a, ~b``)."""
        if not isinstance(text, str):
            raise PathSyntaxError(f"a path must be text, found {type(text).__name__}")
        t = text.strip()
        if t.startswith(ROG_START):
            if not t.endswith(ROG_END):
                raise PathSyntaxError(f"RoG path must end with {ROG_END}: {text!r}")
            body = t[len(ROG_START):-len(ROG_END)].strip()
            parts = body.split(ROG_SEP) if body else []
        elif PATH_ARROW in t:
            parts = t.split(PATH_ARROW)
        else:
            parts = t.split(",") if t else []
        parts = [p.strip() for p in parts]
        if any(not p for p in parts):
            raise PathSyntaxError(f"empty relation in path {text!r}")
        return cls(tuple(Relation.parse(p) for p in parts))

    def to_rog(self) -> str:
        """RoG's form: ``<PATH> born_in <SEP> city_of </PATH>``."""
        return f"{ROG_START} {f' {ROG_SEP} '.join(map(str, self.relations))} {ROG_END}"

    def __len__(self) -> int:
        return len(self.relations)

    def __iter__(self):
        return iter(self.relations)

    def __str__(self) -> str:
        return ARROW.join(map(str, self.relations))


@dataclass(frozen=True)
class GroundedPath:
    """Entities joined by directed relations: ``e0 -r1-> e1 -r2-> e2``.

    ``len(entities) == len(relations) + 1``; the hop ``i`` is
    ``(entities[i], relations[i], entities[i + 1])``.
    """

    entities: tuple[str, ...]
    relations: tuple[Relation, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "entities", tuple(self.entities))
        object.__setattr__(self, "relations", tuple(
            r if isinstance(r, Relation) else Relation.parse(r) for r in self.relations))
        for entity in self.entities:
            problem = check_name(entity, "entity")
            if problem:
                raise PathSyntaxError(problem)
        if len(self.entities) != len(self.relations) + 1:
            raise PathSyntaxError(f"{len(self.entities)} entities for {len(self.relations)} relations; "
                                  "a path alternates entity -> relation -> entity")

    @classmethod
    def parse(cls, text: str) -> "GroundedPath":
        """Parse ``Joe Biden -> born_in -> Scranton -> city_of -> USA``."""
        if not isinstance(text, str):
            raise PathSyntaxError(f"a path must be text, found {type(text).__name__}")
        parts = [p.strip() for p in text.strip().split(PATH_ARROW)]
        if len(parts) % 2 == 0 or any(not p for p in parts):
            raise PathSyntaxError(f"expected 'entity -> relation -> entity [-> relation -> entity ...]', "
                                  f"got {text!r}")
        return cls(tuple(parts[0::2]), tuple(Relation.parse(p) for p in parts[1::2]))

    @property
    def relation_path(self) -> RelationPath:
        return RelationPath(self.relations)

    @property
    def start(self) -> str:
        return self.entities[0]

    @property
    def end(self) -> str:
        return self.entities[-1]

    def hops(self) -> list[tuple[str, Relation, str]]:
        return [(self.entities[i], r, self.entities[i + 1]) for i, r in enumerate(self.relations)]

    def __len__(self) -> int:
        return len(self.relations)

    def __str__(self) -> str:
        out = [self.entities[0]]
        for r, e in zip(self.relations, self.entities[1:]):
            out += [str(r), e]
        return ARROW.join(out)


def parse_path(text: str, start_entities: Collection[str] | None = None) -> GroundedPath | RelationPath:
    """Parse a grounded or a relation path.

    The text is a grounded path if it could alternate entities and relations (an odd
    number of arrow-separated parts, at least three) and, when ``start_entities`` is
    given, its first part is one of them; otherwise it is a relation path. Without
    ``start_entities``, ``born_in -> city_of -> currency`` reads as a one-hop
    grounded path: pass the question's topic entities wherever they are known.

    Args:
        text: arrows (grounded or relation path), RoG markers or commas (relation path).
        start_entities: the entities a grounded path may start from.

    Raises:
        PathSyntaxError: the text is neither form.
    """
    if not isinstance(text, str):
        raise PathSyntaxError(f"a path must be text, found {type(text).__name__}")
    t = text.strip()
    parts = t.split(PATH_ARROW)
    grounded = (not t.startswith(ROG_START) and len(parts) >= 3 and len(parts) % 2 == 1
                and (start_entities is None or parts[0].strip() in start_entities))
    return GroundedPath.parse(t) if grounded else RelationPath.parse(t)


# ---------------------------------------------------------------------- execution
def resolve_entities(graph: GraphBackend, names: Iterable[str]) -> np.ndarray:
    """Entity ids for names; raises :class:`UnknownNameError` for an unknown one."""
    ids = []
    for name in names:
        i = graph.entity_id(name)
        if i is None:
            raise UnknownNameError(f"unknown entity {name!r}")
        ids.append(i)
    return np.unique(np.array(ids, dtype=np.int64))


def resolve_relation(graph: GraphBackend, relation: Relation) -> int:
    """The directed-relation integer of ``relation``; raises :class:`UnknownNameError`."""
    r = graph.relation_id(relation.name)
    if r is None:
        raise UnknownNameError(f"unknown relation {relation.name!r}")
    return directed_relation(r, relation.inverse)


def sorted_member(sorted_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_ids)`` for a sorted id array, by binary search (much
    cheaper than ``np.isin`` for the small arrays of path grounding)."""
    values = np.asarray(values)
    if sorted_ids.size == 0:
        return np.zeros(values.shape, dtype=bool)
    pos = np.searchsorted(sorted_ids, values)
    pos[pos == sorted_ids.size] = 0
    return sorted_ids[pos] == values


@dataclass
class PathExecution:
    """Result of running a relation path from start entities.

    ``frontiers[i]`` holds the entity ids reached after ``i`` hops (sorted, unique);
    ``frontiers[-1]`` are the endpoints. Groundings are rebuilt on demand by walking
    back through the frontiers, so hubs cost memory only for what is asked for.
    """

    graph: GraphBackend
    path: RelationPath
    drels: list[int]
    frontiers: list[np.ndarray]

    @property
    def endpoint_ids(self) -> np.ndarray:
        return self.frontiers[-1]

    @property
    def endpoints(self) -> list[str]:
        return [self.graph.entity_label(int(e)) for e in self.frontiers[-1]]

    @property
    def failed_hop(self) -> int | None:
        """Index of the first hop after which no entity is reached, or ``None``."""
        for i, f in enumerate(self.frontiers[1:]):
            if f.size == 0:
                return i
        return None

    def groundings(self, endpoint: str | int | None = None, limit: int = 100) -> list[GroundedPath]:
        """Up to ``limit`` grounded paths that realise the relation path (ending at
        ``endpoint`` if given, else spread over endpoints in id order)."""
        g = self.graph
        return [GroundedPath(tuple(g.entity_label(e) for e in ids), self.path.relations)
                for ids in self.id_groundings(endpoint, limit)]

    def id_groundings(self, endpoint: str | int | None = None, limit: int = 100) -> list[list[int]]:
        """Like :meth:`groundings`, as lists of entity ids (labels may repeat; ids do not)."""
        g = self.graph
        if endpoint is None:
            targets = self.frontiers[-1]
        else:
            eid = endpoint if isinstance(endpoint, (int, np.integer)) else g.entity_id(endpoint)
            if eid is None or not sorted_member(self.frontiers[-1], np.array([eid]))[0]:
                return []
            targets = np.array([eid], dtype=np.int64)
        out: list[list[int]] = []
        for target in targets.tolist():
            # Depth-first from the end, only through entities on the frontiers.
            stack: list[tuple[int, list[int]]] = [(len(self.drels), [target])]
            while stack and len(out) < limit:
                level, suffix = stack.pop()
                if level == 0:
                    out.append(suffix)
                    continue
                back = self.drels[level - 1] ^ 1  # the same relation, other direction
                preds = np.sort(g.edges(np.array([suffix[0]]), back)[2])  # one entity: no repeats
                preds = preds[sorted_member(self.frontiers[level - 1], preds)]
                for p in preds[::-1].tolist():
                    stack.append((level - 1, [p] + suffix))
            if len(out) >= limit:
                break
        return out


    def first_groundings(self, endpoints: np.ndarray) -> list[list[int] | None]:
        """For each of ``endpoints`` (ids), the grounding ``id_groundings(e, limit=1)``
        returns (``None`` where ``e`` is not an endpoint), found for all of them at
        once (see :func:`first_groundings_many`)."""
        return first_groundings_many([(self, endpoints)])[0]


def first_groundings_many(requests: Sequence[tuple["PathExecution", np.ndarray]]) -> list[list[list[int] | None]]:
    """For each ``(run, endpoints)`` request, the first grounding of each endpoint as
    ``run.id_groundings(e, limit=1)`` returns it (``None`` where ``e`` is not an
    endpoint of the run), for all requests at once: one batched graph call per hop
    and directed relation, whatever the number of runs and endpoints (the answers of
    a whole batch of questions are grounded together). The runs share one graph.

    Walking back from an endpoint, the first grounding takes at each hop the smallest
    predecessor on the previous frontier; every entity of a frontier was reached from
    the one before, so that choice never strands (should it, that endpoint is grounded
    the slow way)."""
    out: list[list[list[int] | None]] = []
    chains: list[list[np.ndarray]] = []
    wheres: list[np.ndarray] = []
    for run, endpoints in requests:
        ends = np.asarray(endpoints, dtype=np.int64)
        out.append([None] * ends.size)
        where = np.flatnonzero(sorted_member(run.frontiers[-1], ends))
        wheres.append(where)
        chains.append([ends[where]])
    if not requests:
        return out
    graph = requests[0][0].graph
    for step in range(max(len(run.drels) for run, _ in requests)):
        # requests still walking back, grouped by the relation of the hop they cross
        groups: dict[int, list[int]] = {}
        for r, (run, _) in enumerate(requests):
            if step < len(run.drels) and chains[r][-1].size:
                groups.setdefault(run.drels[len(run.drels) - 1 - step] ^ 1, []).append(r)
        for back, members in groups.items():
            level = [len(requests[r][0].drels) - 1 - step for r in members]  # frontier to land on
            cur = [chains[r][-1] for r in members]
            sizes = np.array([c.size for c in cur])
            group = np.repeat(np.arange(len(members), dtype=np.int64), sizes)
            ents = np.concatenate(cur)
            dst, lo, hi = edge_ranges(graph, ents, back)
            idx = concat_ranges(lo, hi)
            entry = np.repeat(np.arange(ents.size), hi - lo)
            pred = dst[idx]
            allowed = np.concatenate([requests[r][0].frontiers[lv].astype(np.int64) + KEY_SPACE * g
                                      for g, (r, lv) in enumerate(zip(members, level))])
            keep = sorted_member(allowed, pred + KEY_SPACE * group[entry])
            entry, pred = entry[keep], pred[keep]
            best = np.full(ents.size, -1, dtype=np.int64)
            if entry.size:
                order = np.lexsort((pred, entry))  # by entry, then predecessor
                ranked = entry[order]
                first = order[np.concatenate(([True], ranked[1:] != ranked[:-1]))]
                best[entry[first]] = pred[first]
            bounds = np.cumsum(sizes)
            for g, r in enumerate(members):
                chains[r].append(best[bounds[g] - sizes[g]:bounds[g]])
    for r, (run, endpoints) in enumerate(requests):
        if not wheres[r].size:
            continue
        ids = np.stack(chains[r][::-1], axis=1)  # (endpoints, hops + 1), start first
        ends = np.asarray(endpoints, dtype=np.int64)
        for row, i in zip(ids.tolist(), wheres[r].tolist()):
            if min(row) < 0:  # stranded: the depth-first search with backtracking
                found = run.id_groundings(int(ends[i]), 1)
                out[r][i] = found[0] if found else None
            else:
                out[r][i] = row
    return out


def execute_relation_path(graph: GraphBackend, starts: str | Sequence[str] | np.ndarray,
                          path: RelationPath | str) -> PathExecution:
    """Run ``path`` from ``starts`` (names, or an array of ids).

    Every hop maps the current set of entities to the set of their neighbours along
    the hop's directed relation; the cost is the number of edges touched, never the
    number of groundings (which can be exponential on hubs).

    Raises:
        UnknownNameError: a start entity or relation is not in the graph.
    """
    if isinstance(path, str):
        path = RelationPath.parse(path)
    if isinstance(starts, str):
        starts = [starts]
    if isinstance(starts, np.ndarray):  # ids: -1 gave nothing and 0.5 entity 0, without a word
        bad = (starts[(starts < 0) | (starts >= graph.num_entities)] if np.issubdtype(starts.dtype, np.integer)
               else starts)
        if bad.size:
            raise UnknownNameError(f"entity ids are integers from 0 to {graph.num_entities - 1}; got {bad[:3].tolist()}")
    frontier = (np.unique(np.asarray(starts, dtype=np.int64)) if isinstance(starts, np.ndarray)
                else resolve_entities(graph, starts))
    drels = [resolve_relation(graph, r) for r in path.relations]
    frontiers = [frontier]
    for d in drels:
        frontier = graph.neighbors(frontier, d) if frontier.size else frontier
        frontiers.append(frontier)
    return PathExecution(graph, path, drels, frontiers)


# ---------------------------------------------------------------------- enumeration
@dataclass(frozen=True)
class EnumerationLimits:
    """Caps that keep enumeration bounded on hub entities.

    Attributes:
        max_hops: longest relation path enumerated.
        max_paths: stop after this many relation paths.
        max_frontier_edges: a frontier whose entities have more edges than this in
            total is not expanded further (its path is still returned).
        shortest_first: enumerate level by level (every 1-hop path before any 2-hop
            one), so that a list cut by ``max_paths`` keeps the shortest paths; the
            default walks depth first (each path followed by its extensions).
    """

    max_hops: int = 3
    max_paths: int = 10_000
    max_frontier_edges: int = 500_000
    shortest_first: bool = False

    def __post_init__(self) -> None:
        if self.max_hops < 1:
            raise ValueError("max_hops must be at least 1")
        if self.max_paths < 1 or self.max_frontier_edges < 1:
            raise ValueError("caps must be positive")


@dataclass
class PathEnumeration:
    """All relation paths (up to the hop limit) from a start entity.

    Attributes:
        start: the start entity's id.
        paths: relation path -> sorted unique endpoint ids, in discovery order
            (shorter paths first within each branch; level by level with
            ``shortest_first``).
        capped: human-readable notes on every cap that was hit (empty if none).
    """

    graph: GraphBackend
    start: int
    paths: dict[RelationPath, np.ndarray] = field(default_factory=dict)
    capped: list[str] = field(default_factory=list)

    def endpoints(self, path: RelationPath) -> list[str]:
        return [self.graph.entity_label(int(e)) for e in self.paths[path]]

    def __len__(self) -> int:
        return len(self.paths)


def enumerate_relation_paths(graph: GraphBackend, start: str | int,
                             limits: EnumerationLimits | None = None) -> PathEnumeration:
    """Enumerate every relation path of length 1..``max_hops`` that leaves ``start``,
    with its endpoint set.

    Each expansion reads all edges of the current frontier once and groups them by
    directed relation, so a path costs a few vectorised array operations. Caps in
    ``limits`` are reported in :attr:`PathEnumeration.capped` when hit.
    """
    limits = limits or EnumerationLimits()
    sid = graph.entity_id(start) if isinstance(start, str) else int(start)
    if sid is None:
        raise UnknownNameError(f"unknown entity {start!r}")
    result = PathEnumeration(graph, sid)
    labels = {}

    def relation_of(d: int) -> Relation:
        if d not in labels:
            labels[d] = Relation(graph.relation_label(d // 2), bool(d % 2))
        return labels[d]

    # An explicit stack (depth first) or queue (level by level): (prefix relations, frontier ids).
    pending: deque[tuple[tuple[Relation, ...], np.ndarray]] = deque([((), np.array([sid], dtype=np.int64))])
    while pending:
        prefix, frontier = pending.popleft() if limits.shortest_first else pending.pop()
        _, drels, dst = graph.edges(frontier)
        if drels.size > limits.max_frontier_edges:
            result.capped.append(f"not expanded after '{RelationPath(prefix)}': {drels.size} edges "
                                 f"> max_frontier_edges={limits.max_frontier_edges}")
            continue
        if drels.size == 0:
            continue
        order = np.argsort(drels, kind="stable")
        drels, dst = drels[order], dst[order]
        cuts = np.flatnonzero(np.diff(drels)) + 1
        bounds = np.concatenate([[0], cuts, [drels.size]])
        children = []
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            if len(result.paths) >= limits.max_paths:
                result.capped.append(f"stopped at max_paths={limits.max_paths}")
                return result
            rel_path = RelationPath(prefix + (relation_of(int(drels[a])),))
            ends = np.unique(dst[a:b])
            result.paths[rel_path] = ends
            if len(rel_path) < limits.max_hops:
                children.append((rel_path.relations, ends))
        pending.extend(children if limits.shortest_first else reversed(children))
    return result
