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
    always the same keys (``endpoints`` and ``groundings`` empty for a grounded path).

    Raises:
        PathSyntaxError: ``path`` is not in arrow form.
    """
    from kgdistill.paths import GroundedPath
    from kgdistill.verify import verify_paths, verify_relation_path

    if topic is not None:
        r = verify_relation_path(graph, topic, path, max_groundings=max_groundings).to_dict()
    else:
        r = verify_paths(graph, [GroundedPath.parse(path)]).result(0).to_dict()
        r.update(topic=None, endpoints=[], groundings=[])
    r["endpoints"] = r["endpoints"][:max_endpoints]
    return r


def paths_payload(graph, entity: str, max_hops: int, limit: int, endpoints: int = 3) -> dict:
    """Relation paths leaving ``entity`` (shortest first), each with its number of
    endpoints and the first few.

    Raises:
        UnknownNameError: the entity is not in the graph.
    """
    from kgdistill.paths import EnumerationLimits, enumerate_relation_paths

    if graph.entity_id(entity) is None:
        raise unknown_entity(graph, entity)
    found = enumerate_relation_paths(graph, entity, EnumerationLimits(max_hops=max_hops, max_paths=limit))
    rows = sorted(found.paths.items(), key=lambda kv: (len(kv[0]), str(kv[0])))[:limit]
    return {"entity": entity, "capped": list(found.capped),
            "paths": [{"path": str(p), "num_endpoints": int(e.size), "endpoints": found.endpoints(p)[:endpoints]}
                      for p, e in rows]}


__all__ = ["PathSyntaxError", "answer_payload", "paths_payload", "unknown_entity", "verify_payload"]
