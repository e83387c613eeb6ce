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
from kgdistill.errors import ConfigError, KGFormatError
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
    """How prompts and targets are written (the hop limit is the run's ``hops``, the
    re-tempering temperature the distillation's, :class:`kgdistill.distill.DistillConfig`).

    Attributes:
        template: prompt with ``{question}`` and ``{topic}`` fields.
        mask_topic: replace the topic's name by ``X`` in the question.
        top_k: teacher paths kept per question.
        max_hard_targets: most best-F1 paths kept as hard targets.
    """

    template: str = "question: {question} path:"
    mask_topic: bool = True
    top_k: int = 5
    max_hard_targets: int = 3

    def __post_init__(self) -> None:
        from kgdistill.configs import check_int

        if not isinstance(self.template, str) or "{question}" not in self.template:
            raise ConfigError("the prompt template needs a {question} field")
        try:
            self.template.format(question="q", topic="t")
        except (KeyError, IndexError, ValueError) as err:
            raise ConfigError(f"bad prompt template {self.template!r}: only {{question}} and {{topic}} "
                              f"fields are allowed ({err})") from None
        check_int(self, "top_k", 1, 1000)
        check_int(self, "max_hard_targets", 1, 1000)


def make_prompt(question: str, topics: Sequence[str], config: SerializerConfig, also_mask: Sequence[str] = ()) -> str:
    """The student's input for a question: ``topics`` masked in it (and ``also_mask``:
    other names of the topic, such as its label where it is given by its key, or the
    words that named a linked topic) and written into ``{topic}``."""
    from kgdistill.teacher_training import mask_topic

    text = mask_topic(question, [*topics, *also_mask]) if config.mask_topic else question
    return config.template.format(question=text, topic=", ".join(topics))


def topic_labels(graph, names_per_question: Sequence[Sequence[str]]) -> list[list[str]]:
    """Per question, the labels of its topic entities that are not among the names it
    gives (a topic named by its key, an IRI, is mentioned by its label): what
    :func:`make_prompt` masks besides the names, in training and in answering alike."""
    names = sorted({n for ns in names_per_question for n in ns})
    ids = graph.entity_ids(names) if names else []
    known = [(n, int(i)) for n, i in zip(names, ids) if i >= 0]
    label = dict(zip((n for n, _ in known), graph.entity_labels([i for _, i in known]) if known else []))
    return [[label[n] for n in ns if n in label and label[n] not in ns] for ns in names_per_question]


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


def longest_path(records: Sequence["TrainingRecord"]) -> int:
    """The most relations in any hard or soft target path of ``records`` (0 if none)."""
    prefix = RELATION_TOKEN.split("{")[0]
    paths = [p for r in records for p in r.hard] + [s["path"] for r in records for s in r.soft]
    return max((p.count(prefix) for p in paths), default=0)


def check_unique_ids(ids: Sequence[str], what: str) -> None:
    """Raise :class:`ConfigError` naming repeated ids (they would cross-wire targets)."""
    seen: set[str] = set()
    dup = [i for i in ids if i in seen or seen.add(i)]
    if dup:
        raise ConfigError(f"{len(dup)} repeated question id(s) in {what}, e.g. {dup[:3]}: soft targets are matched "
                          "to questions by id, so ids must be unique")


def build_training_set(graph: GraphBackend, questions: Sequence[Question], teacher_dump: Sequence[dict] | None,
                       config: SerializerConfig, hops: int, temperature: float = 1.0,
                       progress: bool = False, hard_targets: bool = True) -> list[TrainingRecord]:
    """Training records for ``questions``; ``teacher_dump`` holds the teacher's records
    (``kgdistill teacher dump``), matched by question id; ``hops`` bounds the best-F1
    search for hard targets; ``temperature`` re-tempers the teacher's probabilities;
    ``hard_targets=False`` keeps only the soft targets (unlabeled questions).

    Raises:
        ConfigError: repeated question ids (in the questions or the dump), or a dump of
            other questions (no id in common).
    """
    from tqdm.auto import tqdm

    check_unique_ids([q.id for q in questions], "the questions")
    check_unique_ids([d["id"] for d in teacher_dump or []], "the teacher dump")
    by_id = {d["id"]: d for d in teacher_dump or []}
    if by_id and questions and not any(q.id in by_id for q in questions):
        raise ConfigError(f"none of the teacher dump's {len(by_id):,} question ids is one of these questions' ids "
                          f"(e.g. {next(iter(by_id))!r} against {questions[0].id!r}): a dump of other questions?")
    out = []
    labels = topic_labels(graph, [q.topic_entities for q in questions])
    for q, extra in tqdm(zip(questions, labels), desc="serializing", unit="q", total=len(questions),
                         disable=None if progress else True):
        rec = TrainingRecord(q.id, make_prompt(q.text, q.topic_entities, config, extra), q.topic_entities, q.answers)
        if not hard_targets:
            rec.hard_source = "none"
        elif q.gold_path is not None:
            rel = q.gold_path.relation_path if isinstance(q.gold_path, GroundedPath) else q.gold_path
            rec.hard = [serialize_path(rel)]
        else:
            paths, _ = best_f1_paths(graph, q, hops, config.max_hard_targets)
            rec.hard = [serialize_path(p) for p in paths]
            rec.hard_source = "best_f1" if paths else "none"
        dump = by_id.get(q.id)
        if dump and dump.get("paths"):
            top = dump["paths"][: config.top_k]
            raw = [p["prob"] for p in top]
            probs = retemper(raw, temperature)
            rec.soft = [{"path": serialize_path(RelationPath.parse(p["path"])), "prob": pr}
                        for p, pr in zip(top, probs)]
            rest = 1.0 - sum(raw)
            if rest > 1e-9:
                rec.soft_rest = retemper(raw + [rest], temperature)[-1]
        out.append(rec)
    return out


def save_records(records: Sequence[TrainingRecord], path: str | Path) -> None:
    from kgdistill.io import write_atomic
    from kgdistill.readers import write_jsonl

    write_atomic(path, lambda p: write_jsonl(records, p))


def _json_lines(path: str | Path):
    from kgdistill.readers import iter_lines, parse_json

    for lineno, line in iter_lines(path):
        rec = parse_json(line, path, lineno)  # also too deep nesting and huge integers, with file and line
        if not isinstance(rec, dict):
            raise KGFormatError(path, lineno, "expected a JSON object")
        yield lineno, rec


def _str_list(path, lineno, rec: dict, key: str) -> list[str]:
    value = rec.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KGFormatError(path, lineno, f"{key!r} must be a list of strings")
    return value


def load_records(path: str | Path) -> list[TrainingRecord]:
    """Read a training set written by :func:`save_records` (``train_set.jsonl``).

    Raises:
        KGFormatError: a malformed line (file and line named).
    """
    out = []
    for lineno, rec in _json_lines(path):
        if not isinstance(rec.get("id"), str) or not isinstance(rec.get("prompt"), str):
            raise KGFormatError(path, lineno, "a training record needs string 'id' and 'prompt'")
        for key in ("topic_entities", "answers"):
            if key not in rec:
                raise KGFormatError(path, lineno, f"a training record needs {key!r} (a list of names)")
        for key in ("topic_entities", "answers", "hard"):
            _str_list(path, lineno, rec, key)
        soft = rec.get("soft", [])
        if not isinstance(soft, list) or not all(isinstance(s, dict) and isinstance(s.get("path"), str)
                                                 and _is_prob(s.get("prob")) for s in soft):
            raise KGFormatError(path, lineno, "'soft' must be a list of {\"path\": text, \"prob\": number in [0, 1]}")
        if not _is_prob(rec.get("soft_rest", 0.0)):
            raise KGFormatError(path, lineno, "'soft_rest' must be a number in [0, 1]")
        out.append(TrainingRecord.from_dict(rec))
    return out


def _is_prob(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0


def load_teacher_dump(path: str | Path) -> list[dict]:
    """Read a teacher dump (``kgdistill teacher dump``): per line ``id`` and ``paths``, a
    list of ``{"path": relation path text, "prob": number in [0, 1]}`` (best first).

    Raises:
        KGFormatError: a malformed line or a repeated id (file and line named).
    """
    from kgdistill.errors import PathSyntaxError

    out, first = [], {}
    for lineno, rec in _json_lines(path):
        if not isinstance(rec.get("id"), str):
            raise KGFormatError(path, lineno, "record needs a string 'id'")
        if rec["id"] in first:
            raise KGFormatError(path, lineno, f"question id {rec['id']!r} repeats line {first[rec['id']]}")
        first[rec["id"]] = lineno
        paths = rec.get("paths", [])
        if not isinstance(paths, list):
            raise KGFormatError(path, lineno, "'paths' must be a list")
        for p in paths:
            if not isinstance(p, dict) or not isinstance(p.get("path"), str) or not _is_prob(p.get("prob")):
                raise KGFormatError(path, lineno, "each entry of 'paths' needs 'path' (text) and 'prob' "
                                                  f"(a number in [0, 1]); got {str(p)[:80]}")
            try:
                RelationPath.parse(p["path"])
            except PathSyntaxError as err:
                raise KGFormatError(path, lineno, f"bad path: {err}") from None
        out.append(rec)
    return out
