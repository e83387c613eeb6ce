"""The path serializer: turns questions, gold paths and the teacher's scored paths into
the student's text and soft targets.

* Every directed relation is one token, ``<r:born_in>`` or ``<r:~born_in>`` (the inverse
  notation of the graph core), and a path ends with :data:`END_OF_PATH`. The path
  ``born_in -> city_of`` serializes to ``<r:born_in><r:city_of><eop>``.
* The student's input is a prompt built from a template (see :class:`SerializerConfig`);
  by default the topic entity's name is replaced by ``X``, since the relation path does
  not depend on which entity is asked about.
* A training record holds the hard targets and the teacher's top-k paths with their
  probabilities re-tempered by a temperature ``T``: ``q_i ∝ p_i ** (1 / T)``.

Hard targets are the dataset's gold paths where it has them (PathQuestion); otherwise
the relation paths from the topic entity (up to the hop limit) whose endpoint sets
best match the answer set by F1 (all paths tied at the best F1, at most
``max_hard_targets``), which is how RoG derives its weak supervision.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kgdistill.datasets import Question
from kgdistill.graph import GraphBackend
from kgdistill.paths import EnumerationLimits, GroundedPath, Relation, RelationPath, enumerate_relation_paths

logger = logging.getLogger(__name__)

END_OF_PATH = "<eop>"
RELATION_TOKEN = "<r:{}>"


def relation_token(relation: Relation) -> str:
    """``<r:born_in>`` / ``<r:~born_in>``."""
    return RELATION_TOKEN.format(relation)


def relation_vocabulary(relations: Iterable[str]) -> list[str]:
    """All directed-relation tokens for relation names, forward then inverse per name."""
    return [relation_token(Relation(r, inv)) for r in relations for inv in (False, True)]


def serialize_path(path: RelationPath) -> str:
    """``<r:born_in><r:city_of><eop>``."""
    return "".join(relation_token(r) for r in path.relations) + END_OF_PATH


def parse_serialized(text: str) -> RelationPath:
    """Inverse of :func:`serialize_path` (the end token is optional)."""
    body = text.strip()
    if body.endswith(END_OF_PATH):
        body = body[: -len(END_OF_PATH)]
    parts = [p for p in body.replace("<r:", "\n").replace(">", "").split("\n") if p.strip()]
    return RelationPath(tuple(Relation.parse(p) for p in parts))


@dataclass
class SerializerConfig:
    """How prompts and targets are written.

    Attributes:
        template: prompt with ``{question}`` and ``{topic}`` fields.
        mask_topic: replace the topic's name by ``X`` in the question.
        temperature: T for re-tempering the teacher's path probabilities (> 0).
        top_k: teacher paths kept per question.
        max_hard_targets: most best-F1 paths kept as hard targets.
        max_hops: hop limit when hard targets are searched in the graph.
    """

    template: str = "question: {question} path:"
    mask_topic: bool = True
    temperature: float = 1.0
    top_k: int = 5
    max_hard_targets: int = 3
    max_hops: int = 3

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        if "{question}" not in self.template:
            raise ValueError("the template needs a {question} field")
        if self.top_k < 1 or self.max_hard_targets < 1 or self.max_hops < 1:
            raise ValueError("top_k, max_hard_targets and max_hops must be positive")


def make_prompt(question: str, topics: Sequence[str], config: SerializerConfig) -> str:
    """The student's input for a question."""
    from kgdistill.teacher_training import mask_topic

    text = mask_topic(question, topics) if config.mask_topic else question
    return config.template.format(question=text, topic=", ".join(topics))


def retemper(probs: Sequence[float], temperature: float) -> list[float]:
    """``q_i = p_i ** (1/T) / sum_j p_j ** (1/T)`` (computed in log space)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-300, None)
    logq = np.log(p) / temperature
    q = np.exp(logq - logq.max())
    return (q / q.sum()).tolist()


def best_f1_paths(graph: GraphBackend, question: Question, max_hops: int, limit: int) -> tuple[list[RelationPath], float]:
    """Relation paths from the topic whose endpoints (topic left out) best match the
    answers by F1; ties all kept (up to ``limit``, shorter paths first)."""
    answers = graph.entity_ids(question.answers)
    answers = set(answers[answers >= 0].tolist())
    best: list[tuple[int, RelationPath]] = []
    best_f1 = 0.0
    for topic in question.topic_entities:
        tid = graph.entity_id(topic)
        if tid is None or not answers:
            continue
        found = enumerate_relation_paths(graph, tid, EnumerationLimits(max_hops=max_hops))
        for path, ends in found.paths.items():
            ends = set(ends.tolist()) - {tid}
            inter = len(ends & answers)
            if not inter:
                continue
            f1 = 2 * inter / (len(ends) + len(answers))
            if f1 > best_f1 + 1e-12:
                best_f1, best = f1, [(len(path), path)]
            elif abs(f1 - best_f1) <= 1e-12:
                best.append((len(path), path))
    best.sort(key=lambda x: x[0])
    return [p for _, p in best[:limit]], best_f1


@dataclass
class TrainingRecord:
    """One question of the student's training set."""

    id: str
    prompt: str
    topic_entities: list[str]
    answers: list[str]
    hard: list[str] = field(default_factory=list)
    """Hard target paths, serialized."""
    soft: list[dict] = field(default_factory=list)
    """``{"path": serialized, "prob": tempered teacher probability}``, top-k."""
    hard_source: str = "gold"
    """``gold`` (the dataset's path), ``best_f1`` (searched in the graph) or ``none``."""
    soft_rest: float = 0.0
    """The teacher's (tempered) share outside its top-k paths: over the k + 1
    categories (k paths, the rest), ``prob * (1 - soft_rest)`` and ``soft_rest``."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingRecord":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def build_training_set(graph: GraphBackend, questions: Sequence[Question], teacher_dump: Sequence[dict] | None,
                       config: SerializerConfig, progress: bool = False) -> list[TrainingRecord]:
    """Training records for ``questions``; ``teacher_dump`` holds the teacher's records
    (``kgdistill teacher dump``), matched by question id."""
    from tqdm.auto import tqdm

    by_id = {d["id"]: d for d in teacher_dump or []}
    out = []
    for q in tqdm(questions, desc="serializing", unit="q", disable=None if progress else True):
        rec = TrainingRecord(q.id, make_prompt(q.text, q.topic_entities, config), q.topic_entities, q.answers)
        if q.gold_path is not None:
            rel = q.gold_path.relation_path if isinstance(q.gold_path, GroundedPath) else q.gold_path
            rec.hard = [serialize_path(rel)]
        else:
            paths, _ = best_f1_paths(graph, q, config.max_hops, config.max_hard_targets)
            rec.hard = [serialize_path(p) for p in paths]
            rec.hard_source = "best_f1" if paths else "none"
        dump = by_id.get(q.id)
        if dump and dump.get("paths"):
            top = dump["paths"][: config.top_k]
            raw = [p["prob"] for p in top]
            probs = retemper(raw, config.temperature)
            rec.soft = [{"path": serialize_path(RelationPath.parse(p["path"])), "prob": pr}
                        for p, pr in zip(top, probs)]
            rest = 1.0 - sum(raw)
            if rest > 1e-9:
                rec.soft_rest = retemper(raw + [rest], config.temperature)[-1]
        out.append(rec)
    return out


def save_records(records: Sequence[TrainingRecord], path: str | Path) -> None:
    from kgdistill.readers import write_jsonl

    write_jsonl(records, path)


def load_records(path: str | Path) -> list[TrainingRecord]:
    from kgdistill.readers import iter_lines

    return [TrainingRecord.from_dict(json.loads(line)) for _, line in iter_lines(path)]


def load_teacher_dump(path: str | Path) -> list[dict]:
    from kgdistill.readers import KGFormatError, iter_lines

    out = []
    for lineno, line in iter_lines(path):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise KGFormatError(path, lineno, f"invalid JSON: {err.msg}") from None
    return out
