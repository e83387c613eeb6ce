"""The direction-aware path verifier.

:func:`verify_path` checks a grounded path hop by hop and, when it fails, says which
hop and why: an unknown entity or relation (with close matches for misspelt names),
no such edge, or an edge that exists only in the other direction (with the relations
that do join the two entities). :func:`verify_paths` does the same for many paths
with vectorised edge look-ups, and :func:`verify_relation_path` checks whether a
relation path can be instantiated from a topic entity. :func:`read_path_file` reads
a file of paths to check (what ``kgdistill verify --file`` takes).
"""
from __future__ import annotations

import difflib
import json
from itertools import chain
from operator import attrgetter
import logging
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Sequence

import numpy as np

from kgdistill.errors import KGFormatError, PathSyntaxError, UnknownNameError
from kgdistill.graph import GraphBackend, check_name
from kgdistill.paths import GroundedPath, Relation, RelationPath, execute_relation_path
from kgdistill.readers import JSONRecord, PathLike, iter_lines, json_type, parse_json

logger = logging.getLogger(__name__)


class Failure(str, Enum):
    """Why a hop fails."""

    UNKNOWN_ENTITY = "unknown_entity"
    UNKNOWN_RELATION = "unknown_relation"
    NO_SUCH_EDGE = "no_such_edge"
    WRONG_DIRECTION = "wrong_direction"
    NO_GROUNDING = "no_grounding"
    """For relation paths: no entity is reached after this hop."""


_CODES = [None, Failure.UNKNOWN_ENTITY, Failure.UNKNOWN_RELATION, Failure.NO_SUCH_EDGE,
          Failure.WRONG_DIRECTION]


@dataclass
class PathVerification:
    """The verdict on one grounded path.

    Attributes:
        path: the path as text (arrows).
        valid: every entity exists and every hop's triple exists in its direction.
        failing_hop: 0-based index of the first failing hop (``None`` when valid).
        reason: why it fails.
        message: a one-line explanation.
        suggestions: close matches for a misspelt name, or the relations that do join
            the hop's entities.
    """

    path: str
    valid: bool
    failing_hop: int | None = None
    reason: Failure | None = None
    message: str = "all hops exist in the graph"
    suggestions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["reason"] = self.reason.value if self.reason else None
        return d

    def explain(self) -> str:
        if self.valid:  # with a note where a name labels several entities (which ones were read)
            note = "" if self.message == PathVerification.message else f"\n         {self.message}"
            return f"VALID    {self.path}{note}"
        text = f"INVALID  {self.path}\n         hop {self.failing_hop + 1}: {self.message}"
        if self.suggestions:
            text += f"\n         did you mean: {', '.join(self.suggestions)}"
        return text


def close_matches(name: str, candidates: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` names like ``name``: case-insensitive equals first, then difflib."""
    low = name.lower()
    exact = [c for c in candidates if c.lower() == low and c != name][:n]
    if exact:
        return exact
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.75)


_ARROW_TYPOS = ("->", "→", "=>", "<-", "⟶", "➔")


def _arrow_hint(name: str) -> str:
    arrow = next((a for a in _ARROW_TYPOS if a in name), None)
    return f" (the steps of a path are separated by ' -> ', space arrow space; found {arrow!r})" if arrow else ""


def _hop_text(head: str, rel: Relation, tail: str) -> str:
    return f"({head}) -[{rel}]-> ({tail})"


def _explain_hop(graph: GraphBackend, path: GroundedPath, hop: int, code: int) -> PathVerification:
    head, rel, tail = path.hops()[hop] if hop < len(path) else (path.entities[0], None, None)
    text = str(path)
    if code == 1:
        bad = next(e for e in path.entities[hop:] if graph.entity_id(e) is None)
        hint = _arrow_hint(bad)  # "A → r → B" reads as one entity's name
        return PathVerification(text, False, hop, Failure.UNKNOWN_ENTITY,
                                f"unknown entity {bad!r}{hint}",
                                close_matches(bad, graph.entity_labels_all()))
    if code == 2:
        return PathVerification(text, False, hop, Failure.UNKNOWN_RELATION,
                                f"unknown relation {rel.name!r}",
                                close_matches(rel.name, graph.relation_labels_all()))
    h, t = graph.entity_id(head), graph.entity_id(tail)
    joining = [str(Relation(graph.relation_label(r), inv)) for r, inv in graph.relations_between(h, t)]
    if code == 4:
        return PathVerification(text, False, hop, Failure.WRONG_DIRECTION,
                                f"{_hop_text(head, rel, tail)} exists only in the other direction: "
                                f"{_hop_text(tail, rel, head)}; write {rel.reversed()} here", [str(rel.reversed())])
    if joining:
        msg = (f"no edge {_hop_text(head, rel, tail)}; these relations do join them: "
               f"{', '.join(joining)}")
    else:
        msg = f"no edge {_hop_text(head, rel, tail)}; no relation joins these two entities"
    return PathVerification(text, False, hop, Failure.NO_SUCH_EDGE, msg, joining)


@dataclass
class BatchVerification:
    """Verdicts for many paths, kept as arrays; :meth:`result` explains one path.

    Attributes:
        failing_hop: (num_paths,) index of the first failing hop, -1 when valid.
        codes: (num_paths,) 0 valid, 1 unknown entity, 2 unknown relation, 3 no such
            edge, 4 edge only in the other direction.
    """

    graph: GraphBackend
    paths: list[GroundedPath]
    failing_hop: np.ndarray
    codes: np.ndarray
    readings: dict[int, str] = field(default_factory=dict)
    """Per path whose names label several entities: the reading that holds, or why none does."""

    @property
    def valid(self) -> np.ndarray:
        return self.codes == 0

    def __len__(self) -> int:
        return len(self.paths)

    def result(self, i: int) -> PathVerification:
        if self.codes[i] == 0:
            found = PathVerification(str(self.paths[i]), True)
        else:
            found = _explain_hop(self.graph, self.paths[i], int(self.failing_hop[i]), int(self.codes[i]))
        if i in self.readings:
            found.message += f" ({self.readings[i]})"
        return found

    def results(self) -> list[PathVerification]:
        return [self.result(i) for i in range(len(self.paths))]


def verify_paths(graph: GraphBackend, paths: Sequence[GroundedPath | str]) -> BatchVerification:
    """Verify many grounded paths with one vectorised edge look-up for all hops.

    Names are resolved once per distinct relation and with C-level iteration for
    entities; then :func:`verify_id_paths` does the checking.
    """
    paths = [p if isinstance(p, GroundedPath) else GroundedPath.parse(p) for p in paths]
    relations = list(map(attrgetter("relations"), paths))
    lengths = np.fromiter(map(len, relations), dtype=np.int64, count=len(paths))
    ent_ids = graph.entity_ids(list(chain.from_iterable(map(attrgetter("entities"), paths))))
    rels_flat = list(chain.from_iterable(relations))
    rel_ids: dict[Relation, int] = {}
    for rel in set(rels_flat):
        found = graph.relation_id(rel.name)
        rel_ids[rel] = -1 if found is None else 2 * found + rel.inverse
    drels = np.array(list(map(rel_ids.__getitem__, rels_flat)), dtype=np.int64)
    failing, codes = verify_id_paths(graph, ent_ids, drels, lengths)
    readings = {}
    names = list(chain.from_iterable(map(attrgetter("entities"), paths)))
    ambiguous = graph.ambiguous_names(list(set(names))) if names else {}
    if ambiguous:  # a name several entities carry: does some choice of them have every hop?
        hop_start, ent_start = np.cumsum(lengths) - lengths, np.cumsum(lengths + 1) - (lengths + 1)
        for i, path in enumerate(paths):
            ids = ent_ids[ent_start[i]:ent_start[i] + lengths[i] + 1]
            hops = drels[hop_start[i]:hop_start[i] + lengths[i]]
            if (ids < 0).any() or (hops < 0).any() or not any(e in ambiguous for e in path.entities):
                continue  # an unknown name fails whatever the reading
            readings[i], ok = _other_reading(graph, path, ids, hops, ambiguous)
            failing[i], codes[i] = (-1, 0) if ok else (failing[i], codes[i])
    return BatchVerification(graph, paths, failing, codes, readings)


def _other_reading(graph: GraphBackend, path: GroundedPath, ids: np.ndarray, drels: np.ndarray,
                   ambiguous: dict[str, list[int]]) -> tuple[str, bool]:
    """Whether some choice of the entities that ``path``'s ambiguous names label has
    every hop (two RDF resources both labelled "Paris"): ``(note, holds)``; ``ids``
    are the entities :meth:`~kgdistill.graph.GraphBackend.entity_id` picked."""
    named = [ambiguous.get(e, [int(i)]) for e, i in zip(path.entities, ids)]
    keys = getattr(graph, "entity_keys", None)
    frontier = {e: None for e in named[0]}  # entity -> the entity it was reached from
    trail = [frontier]
    for drel, allowed in zip(drels.tolist(), named[1:]):
        src, _, dst = graph.edges(np.fromiter(frontier, dtype=np.int64), int(drel))
        keep = np.isin(dst, allowed)
        frontier = dict(zip(dst[keep].tolist(), src[keep].tolist()))
        if not frontier:
            said = "; ".join(f"{e!r} names {len(ambiguous[e])} entities" for e in dict.fromkeys(path.entities)
                             if e in ambiguous)
            return f"{said}; no choice of them has this path", False
        trail.append(frontier)
    picked, at = [], min(frontier)
    for step in reversed(trail):
        picked.append(at)
        at = step[at]
    picked.reverse()
    chosen = {e: picked[k] for k, e in enumerate(path.entities) if e in ambiguous}
    said = ", ".join(f"{e!r} as {keys[i] if keys is not None else i}" for e, i in chosen.items())
    return f"names that label several entities read: {said}", True


def verify_id_paths(graph: GraphBackend, entities: np.ndarray, drels: np.ndarray,
                    lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The verifier's core on integer ids (what a decoder that works in ids produces).

    Args:
        entities: (sum(lengths + 1),) entity ids of all paths, concatenated; -1 marks
            an unknown entity.
        drels: (sum(lengths),) directed relations (:func:`kgdistill.graph.directed_relation`)
            of all hops, concatenated; -1 marks an unknown relation.
        lengths: (num_paths,) hops per path.

    Returns:
        ``(failing_hop, codes)``, each (num_paths,): see :class:`BatchVerification`.
    """
    n, total = len(lengths), int(lengths.sum())
    # Hop k of path i joins entity positions ent_offset[i] + k and ent_offset[i] + k + 1.
    hop_path = np.repeat(np.arange(n), lengths)
    hop_in_path = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ent_offset = np.cumsum(lengths + 1) - (lengths + 1)
    head_pos = ent_offset[hop_path] + hop_in_path
    heads, tails = entities[head_pos], entities[head_pos + 1]
    codes_hop = np.zeros(total, dtype=np.int64)
    bad_ent = (heads < 0) | (tails < 0)
    bad_rel = (drels < 0) & ~bad_ent
    ok_ids = ~(bad_ent | bad_rel)
    inv = (drels % 2 == 1)
    r = drels // 2
    h_store = np.where(inv, tails, heads)
    t_store = np.where(inv, heads, tails)
    exists = np.zeros(total, dtype=bool)
    exists[ok_ids] = graph.has_triples(h_store[ok_ids], r[ok_ids], t_store[ok_ids])
    missing = ok_ids & ~exists
    other_dir = np.zeros(total, dtype=bool)
    other_dir[missing] = graph.has_triples(t_store[missing], r[missing], h_store[missing])
    codes_hop[bad_ent] = 1
    codes_hop[bad_rel] = 2
    codes_hop[missing] = 3
    codes_hop[missing & other_dir] = 4
    failing = np.full(n, -1, dtype=np.int64)
    codes = np.zeros(n, dtype=np.int64)
    bad_idx = np.flatnonzero(codes_hop)
    if bad_idx.size:
        bad_paths, first = np.unique(hop_path[bad_idx], return_index=True)
        pos = bad_idx[first]
        failing[bad_paths] = hop_in_path[pos]
        codes[bad_paths] = codes_hop[pos]
    # A zero-hop path is valid when its one entity exists.
    empty = np.flatnonzero(lengths == 0)
    unknown = empty[entities[ent_offset[empty]] < 0]
    failing[unknown], codes[unknown] = 0, 1
    return failing, codes


def verify_path(graph: GraphBackend, path: GroundedPath | str) -> PathVerification:
    """Verify one grounded path; see :class:`PathVerification`.

    Example:
        >>> verify_path(kg, "Kismet -> directed_by -> Ronald Colman").explain()
    """
    return verify_paths(graph, [path]).result(0)


@dataclass
class RelationPathVerification:
    """Whether a relation path can be instantiated from a topic entity.

    Attributes:
        path: the relation path (arrows).
        topic: the topic entity.
        valid: at least one grounding exists.
        failing_hop: first hop after which no entity is reached (or whose relation or
            topic is unknown), else ``None``.
        reason, message, suggestions: as for :class:`PathVerification`.
        endpoints: entities the path reaches (all of them).
        groundings: up to ``max_groundings`` grounded paths (arrows).
    """

    path: str
    topic: str
    valid: bool
    failing_hop: int | None = None
    reason: Failure | None = None
    message: str = ""
    suggestions: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    groundings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["reason"] = self.reason.value if self.reason else None
        return d

    def explain(self, max_shown: int = 5) -> str:
        head = f"{self.topic} : {self.path}"
        if not self.valid:
            text = f"INVALID  {head}\n         hop {self.failing_hop + 1}: {self.message}"
            if self.suggestions:
                label = ("relations that do leave there" if self.reason in
                         (Failure.NO_GROUNDING, Failure.WRONG_DIRECTION) else "did you mean")
                text += f"\n         {label}: {', '.join(self.suggestions)}"
            return text
        ends = ", ".join(self.endpoints[:max_shown]) + (" ..." if len(self.endpoints) > max_shown else "")
        lines = [f"VALID    {head}", f"         {len(self.endpoints)} endpoint(s): {ends}"]
        lines += [f"         {g}" for g in self.groundings[:max_shown]]
        return "\n".join(lines)


def verify_relation_path(graph: GraphBackend, topic: str, path: RelationPath | str,
                         max_groundings: int = 10) -> RelationPathVerification:
    """Check that ``path`` is instantiable from ``topic``: which hop first reaches no
    entity, else all endpoints and some groundings."""
    if isinstance(path, (list, tuple)) and all(isinstance(r, str) for r in path):
        path = RelationPath.parse(" -> ".join(path))  # ["born_in", "city_of"]
    elif isinstance(path, str):
        path = RelationPath.parse(path)
    elif not isinstance(path, RelationPath):
        raise PathSyntaxError(f"a relation path must be text such as 'born_in -> city_of', a list of relation "
                              f"names or a RelationPath, found {type(path).__name__}")
    if not isinstance(topic, str):
        raise PathSyntaxError(f"the topic must be an entity's name (text), found {type(topic).__name__}")
    text = str(path)
    if not len(path):
        raise PathSyntaxError("empty relation path: expected at least one relation, e.g. born_in -> city_of")
    if graph.entity_id(topic) is None:
        return RelationPathVerification(text, topic, False, 0, Failure.UNKNOWN_ENTITY,
                                        f"unknown entity {topic!r}",
                                        close_matches(topic, graph.entity_labels_all()))
    for i, rel in enumerate(path.relations):
        if graph.relation_id(rel.name) is None:
            hint = (" (with a topic the path names relations only, e.g. born_in -> city_of; a grounded path "
                    "goes without the topic)" if graph.entity_id(rel.name) is not None else _arrow_hint(rel.name))
            return RelationPathVerification(text, topic, False, i, Failure.UNKNOWN_RELATION,
                                            f"unknown relation {rel.name!r}{hint}",
                                            close_matches(rel.name, graph.relation_labels_all()))
    many = graph.ambiguous_names([topic]).get(topic)  # a label several entities carry: run from all of them
    run = execute_relation_path(graph, np.array(many, dtype=np.int64) if many else [topic], path)
    hop = run.failed_hop
    if hop is not None:
        frontier = run.frontiers[hop]
        rel = path.relations[hop]
        _, drels, _ = graph.edges(frontier)
        leaving = sorted({str(Relation(graph.relation_label(int(d) // 2), bool(d % 2))) for d in np.unique(drels)})
        reason = Failure.NO_GROUNDING
        message = f"no entity is reached by {rel} from the {frontier.size} entit{'y' if frontier.size == 1 else 'ies'} after hop {hop}"
        if str(rel.reversed()) in leaving:
            reason = Failure.WRONG_DIRECTION
            message += f"; {rel.reversed()} (the other direction) does leave them"
        return RelationPathVerification(text, topic, False, hop, reason, message, leaving[:10])
    return RelationPathVerification(text, topic, True, endpoints=run.endpoints,
                                    groundings=[str(g) for g in run.groundings(limit=max_groundings)])


def check_gold_paths(graph: GraphBackend, questions: Sequence, where: str) -> int:
    """Gold paths that do not hold in ``graph`` must not become training targets: a
    relation path's relations must exist, a grounded path must verify. A few bad ones
    (a graph that lost some edges) are dropped with a warning, the questions kept
    (their targets are then searched from the answers); where most are bad, the file
    or graph is wrong and nothing is used.

    Returns:
        the number of gold paths dropped.

    Raises:
        KGFormatError: most gold paths fail (naming ``where``, a question and why).
    """
    known: dict[str, bool] = {}
    bad: list[tuple[object, str]] = []
    grounded = [q for q in questions if isinstance(q.gold_path, GroundedPath)]
    for q, ok in zip(grounded, verify_paths(graph, [q.gold_path for q in grounded]).results()):
        if not ok.valid:
            bad.append((q, f"gold_path {ok.path!r} does not hold in the graph: hop {ok.failing_hop + 1}: {ok.message}"))
    for q in questions:
        if not isinstance(q.gold_path, RelationPath):
            continue
        for r in q.gold_path.relations:
            if r.name not in known:
                known[r.name] = graph.relation_id(r.name) is not None
        rel = next((r for r in q.gold_path.relations if not known[r.name]), None)
        if rel is not None:
            hint = (" (it is the question's topic entity: a grounded path alternates entity -> relation -> "
                    "entity and ends at an entity; a relation path names relations only)"
                    if rel.name in q.topic_entities else "")
            near = close_matches(rel.name, graph.relation_labels_all())
            bad.append((q, f"gold_path relation {rel.name!r} is not in the graph{hint}"
                           + (f"; did you mean {', '.join(near)}?" if near else "")))
    if not bad:
        return 0
    first = f"question {bad[0][0].id!r}: {bad[0][1]}"
    with_gold = sum(q.gold_path is not None for q in questions)
    if 2 * len(bad) > with_gold:
        raise KGFormatError(where, None, f"{len(bad):,} of {with_gold:,} gold paths do not fit the graph, e.g. {first}")
    logger.warning("%s: %d of %d gold paths do not fit the graph and are not used, e.g. %s",
                   where, len(bad), with_gold, first)
    for q, _ in bad:
        q.gold_path = None
    return len(bad)


# ---------------------------------------------------------------------- path files
def read_path_file(path: PathLike, default_topic: str | None = None) -> list[tuple[str | None, str, str]]:
    """The paths of a file to verify, as ``(topic or None, path text, where)``.

    One path a line (blank lines are skipped), in any of these forms:

    * ``Joe Biden -> born_in -> Scranton``: a grounded path (topic ``None``), or with
      ``default_topic`` (``verify --topic``) a relation path from it;
    * ``Joe Biden<TAB>born_in -> city_of``: a relation path from a topic entity;
    * ``{"path": "born_in -> city_of", "topic": "Joe Biden"}``: JSON; without
      ``topic`` the path is grounded (or from ``default_topic``), with ``null`` it is
      grounded.

    Every path is parsed here, so that a bad one is reported with its line; ``where``
    is ``file:line`` for messages about the path later on.

    Raises:
        KGFormatError: an unreadable file, invalid JSON, a JSON line that is not an
            object, a field of the wrong type, a bad topic name or path text.
    """
    items = []
    for lineno, line in iter_lines(path):
        topic, text, named = _path_line(line, path, lineno)
        topic = topic if named else default_topic
        try:
            RelationPath.parse(text) if topic is not None else GroundedPath.parse(text)
        except PathSyntaxError as err:
            raise KGFormatError(path, lineno, f"bad {'relation' if topic is not None else 'grounded'} "
                                              f"path: {err}") from None
        items.append((topic, text, f"{path}:{lineno}"))
    return items


def _path_line(line: str, path: PathLike, lineno: int) -> tuple[str | None, str, bool]:
    """``(topic or None, path text, whether the line says its topic)`` of one line of
    a path file (a JSON ``"topic": null`` says it: grounded)."""
    stripped = line.strip()
    if stripped.startswith("{") or (stripped.startswith("[") and _is_json(stripped)):
        data = parse_json(stripped, path, lineno)
        if not isinstance(data, dict):
            raise KGFormatError(path, lineno, f'expected a JSON object {{"path": ..., "topic": ...}}, '
                                              f"found {json_type(data)}")
        rec = JSONRecord(path, lineno, data)
        text, topic, named = rec.text("path", required=True), rec.text("topic"), "topic" in data
    elif "\t" in line:
        topic, _, text = (part.strip() for part in line.partition("\t"))
        named = True
    else:
        topic, text, named = None, stripped, False
    if topic is not None:
        problem = check_name(topic, "entity")
        if problem:
            raise KGFormatError(path, lineno, f"topic: {problem}")
    return topic, text, named


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


__all__ = ["Failure", "PathVerification", "BatchVerification", "RelationPathVerification",
           "verify_path", "verify_paths", "verify_id_paths", "verify_relation_path", "close_matches",
           "read_path_file", "PathSyntaxError", "UnknownNameError"]
