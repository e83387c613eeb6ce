"""Answers and their ranking: what the :class:`~kgdistill.reasoner.Reasoner` returns
for a question (:class:`QueryResult`, :class:`RankedAnswer`) and how the endpoints of
the decoded paths become ranked answers (:func:`rank_answers`, :func:`answer_scores`;
the ranking rule is explained in :mod:`kgdistill.reasoner`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from kgdistill.graph import GraphBackend
from kgdistill.paths import sorted_member
from kgdistill.training import significant


def _copy_json(value):
    """A deep copy of JSON-like data (dicts, lists, tuples, scalars)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_json(v) for v in value)
    return value


@dataclass
class RankedAnswer:
    """One answer: ``entity`` (label), ``key`` (the graph's identifier, e.g. an IRI),
    its ``score``, the grounded ``path`` that proves it, the relation path's
    probability and whether the grounded path verifies."""

    entity: str
    score: float
    path: str
    path_prob: float
    verified: bool
    key: str = ""


@dataclass
class QueryResult:
    """Everything returned for one question."""

    id: str
    question: str
    topic_entities: list[str]
    gold_answers: list[str]
    paths: list[dict] = field(default_factory=list)
    """``{"path", "prob", "valid", "num_endpoints", "failing_hop", "reason"}`` per decoded path."""
    answers: list[RankedAnswer] = field(default_factory=list)
    top_path_f1: float = 0.0
    """F1 of the top path's endpoint set against the gold answers (0 without gold)."""
    note: str | None = None
    """Why there is no answer, when the question could not be asked (e.g. unknown topic)."""
    linking: dict | None = None
    """How the topic was found when it was not given: the chosen entity, its mention in
    the question, scores and the alternatives (:meth:`LinkResult.to_dict`)."""

    def to_dict(self) -> dict:
        """A JSON-ready copy (what :func:`dataclasses.asdict` gives, built directly:
        ``asdict`` deep-copies field by field and cost the service a tenth of its time
        per question)."""
        return {"id": self.id, "question": self.question, "topic_entities": list(self.topic_entities),
                "gold_answers": list(self.gold_answers), "paths": [dict(p) for p in self.paths],
                "answers": [{"entity": a.entity, "score": a.score, "path": a.path, "path_prob": a.path_prob,
                             "verified": a.verified, "key": a.key} for a in self.answers],
                "top_path_f1": self.top_path_f1, "note": self.note, "linking": _copy_json(self.linking)}

    @property
    def hit(self) -> bool:
        """The top answer is a gold answer (by label or key)."""
        gold = set(self.gold_answers)
        return bool(self.answers) and (self.answers[0].entity in gold or self.answers[0].key in gold)

    def explain(self, max_answers: int = 5) -> str:
        lines = [f"Q: {self.question}   [topic: {', '.join(self.topic_entities)}]"]
        if self.linking and self.linking.get("entity") is not None:
            alts = ", ".join(f"{a['label']}" + (f" ({a['key']})" if a["key"] != a["label"] else "")
                             for a in self.linking["alternatives"][:4])
            lines.append(f"   linked {self.linking['mention']!r} -> {self.linking['entity']}"
                         + (f"; alternatives: {alts}" if alts else ""))
        if not self.answers:
            lines.append(f"   no answer: {self.note or 'no decoded path reaches an entity'}")
        for i, a in enumerate(self.answers[:max_answers], 1):
            mark = "verified" if a.verified else "NOT verified"
            lines.append(f"  {i}. {a.entity}  (score {a.score:.3f})\n     {a.path}   [p={a.path_prob:.3f}, {mark}]")
        return "\n".join(lines)


def rank_answers(graph: GraphBackend, walks: Sequence[tuple[np.ndarray, np.ndarray]], limit: int,
                 keys: Sequence[str] | None = None, probs: Sequence[float] | None = None
                 ) -> list[tuple[int, int]]:
    """The first ``limit`` answers as ``(entity id, rank of the path that first reaches
    it)``, path first: the endpoints of the most probable path before those that only
    a later path reaches; within one path by decreasing walk mass (to 10 significant
    digits), then, with ``probs``, by decreasing score (:func:`answer_scores`: endpoints
    of equal mass, such as the two directors of two films that share a title, in the
    order of the scores shown with them), then label, then key (never by id, so that
    the graph's file order cannot change the ranking).

    ``walks``: per decoded path, best first, its sorted endpoint ids and their mass.
    Only the entities that can still make the cut are labelled and sorted in Python
    (a 2-hop MetaQA path reaches thousands of films; the service answers 5).
    """
    chosen: list[tuple[int, int]] = []
    seen = np.empty(0, dtype=np.int64)
    for rank, (ents, mass) in enumerate(walks):
        need = limit - len(chosen)
        if need <= 0:
            break
        if ents.size == 0:
            continue
        new = ~sorted_member(seen, ents)
        cand, neg = ents[new], -np.asarray(mass, dtype=np.float64)[new]
        if cand.size > need:
            # every entity whose rounded mass could tie or beat the need-th largest
            thr = np.partition(neg, need - 1)[need - 1]
            keep = neg <= thr + abs(thr) * 1e-8
            cand, neg = cand[keep], neg[keep]
        labels = graph.entity_labels(cand.tolist())
        score = -answer_scores(probs, walks, cand) if probs is not None else np.zeros(cand.size)
        order = sorted(range(cand.size), key=lambda i: (significant(neg[i]), significant(score[i]), labels[i],
                                                        keys[int(cand[i])] if keys else ""))
        chosen.extend((int(cand[i]), rank) for i in order[:need])
        seen = np.union1d(seen, ents)
    return chosen


def answer_scores(probs: Sequence[float], walks: Sequence[tuple[np.ndarray, np.ndarray]],
                  entities: np.ndarray) -> np.ndarray:
    """``sum_paths prob(path) * walk(v | path)`` for each of ``entities``, summed in path
    order."""
    out = np.zeros(entities.size, dtype=np.float64)
    for p, (ents, mass) in zip(probs, walks):
        if ents.size == 0 or entities.size == 0:
            continue
        pos = np.minimum(np.searchsorted(ents, entities), ents.size - 1)
        hit = ents[pos] == entities
        out[hit] += p * np.asarray(mass, dtype=np.float64)[pos[hit]]
    return out
