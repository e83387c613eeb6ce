"""The answers the HTTP service and the MCP server give, built in one place so that
both return the same thing: the JSON of an answered question, a path verdict, and the
relation paths leaving an entity."""
from __future__ import annotations

from kgdistill.errors import PathSyntaxError, UnknownNameError

ANSWER_FIELDS = ("entity", "key", "score", "path", "path_prob", "verified")


def unknown_entity(graph, name: str) -> UnknownNameError:
    """The error for a name the graph lacks, with close matches when there are any."""
    from kgdistill.verify import close_matches

    near = close_matches(name, graph.entity_labels_all())
    return UnknownNameError(f"unknown entity {name!r}: not in the graph"
                            + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""))


def answer_payload(result: dict, max_answers: int) -> dict:
    """The public fields of a :meth:`QueryResult.to_dict`, answers cut to ``max_answers``."""
    return {"topic_entities": result["topic_entities"],
            "answers": [{k: a[k] for k in ANSWER_FIELDS} for a in result["answers"][:max_answers]],
            "paths": result["paths"], "linking": result.get("linking"), "note": result.get("note")}


def verify_payload(graph, path: str, topic: str | None = None, max_groundings: int = 10,
                   max_endpoints: int = 100) -> dict:
    """The verdict on a grounded path, or with ``topic`` on a relation path from it;
    always the same keys (``endpoints`` and ``groundings`` empty for a grounded path;
    ``num_endpoints`` counts the endpoints before the list is cut at ``max_endpoints``).

    Raises:
        PathSyntaxError: ``path`` is not in arrow form.
    """
    from kgdistill.paths import GroundedPath
    from kgdistill.verify import verify_paths, verify_relation_path

    if topic is not None:
        r = verify_relation_path(graph, topic, path, max_groundings=max_groundings).to_dict()
    else:
        r = verify_paths(graph, [_grounded(graph, path)]).result(0).to_dict()
        r.update(topic=None, endpoints=[], groundings=[])
    r["num_endpoints"] = len(r["endpoints"])  # all of them; the list is cut at max_endpoints
    r["endpoints"] = r["endpoints"][:max_endpoints]
    return r


def _grounded(graph, path: str):
    """``path`` parsed as a grounded path of at least one hop; a relation path given
    without its topic, or a lone name, is refused with what to send instead."""
    from kgdistill.graph import PATH_ARROW
    from kgdistill.paths import GroundedPath

    first = path.split(PATH_ARROW)[0].strip() if isinstance(path, str) else ""
    relational = bool(first) and graph.entity_id(first) is None and graph.relation_id(first.lstrip("~")) is not None
    hint = " (it names relations: a relation path goes with its topic entity, 'topic')" if relational else ""
    try:
        grounded = GroundedPath.parse(path)
    except PathSyntaxError as exc:
        raise PathSyntaxError(f"{exc}{hint}") from None
    if not len(grounded) and (relational or graph.entity_id(grounded.start) is not None):
        # the library reads a lone entity as a path of no hop, valid if it exists
        raise PathSyntaxError(f"a path needs at least one hop ('entity -> relation -> entity'), got the single "
                              f"name {path.strip()!r}{hint}")
    if relational:
        raise PathSyntaxError(f"{first!r} is a relation, not an entity: a relation path goes with its topic "
                              "entity ('topic')")
    return grounded


def paths_payload(graph, entity: str, max_hops: int, limit: int, endpoints: int = 3) -> dict:
    """Relation paths leaving ``entity`` (shortest first), each with its number of
    endpoints and the first few.

    Raises:
        UnknownNameError: the entity is not in the graph.
    """
    from kgdistill.paths import EnumerationLimits, enumerate_relation_paths

    if graph.entity_id(entity) is None:
        raise unknown_entity(graph, entity)
    # `limit` stops the enumeration itself (its cost on a hub entity or a store); it runs
    # level by level, so a cut list holds the shortest paths, and `capped` says where it stopped
    limits = EnumerationLimits(max_hops=max_hops, max_paths=limit, shortest_first=True)
    found = enumerate_relation_paths(graph, entity, limits)
    rows = sorted(found.paths.items(), key=lambda kv: (len(kv[0]), str(kv[0])))
    return {"entity": entity, "capped": list(found.capped),
            "paths": [{"path": str(p), "num_endpoints": int(e.size), "endpoints": found.endpoints(p)[:endpoints]}
                      for p, e in rows]}


__all__ = ["PathSyntaxError", "answer_payload", "paths_payload", "unknown_entity", "verify_payload"]
