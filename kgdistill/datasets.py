"""KGQA question files: one :class:`Question` record and readers for MetaQA,
PathQuestion, RoG-style JSONL/parquet and kgdistill's own JSONL.

Formats (see :data:`QUESTION_FORMATS`; chosen from extension and content, or named):

* ``metaqa``: ``what movies did [Temuera Morrison] act in<TAB>Once Were Warriors|Tracker``
  (the topic entity is the span in brackets; the brackets are removed from the text).
* ``pathquestion``: ``claudius 's parent 's sex ?<TAB>male(male/)<TAB>claudius#parents#nero_claudius_drusus#gender#male#<end>#male``
  (the topic is the path's first token; the path is the gold grounded path).
* ``rog``: JSON objects with ``id, question, answer, q_entity, a_entity[, graph]``.
* ``jsonl``: ``{"id", "question", "topic_entities", "answers", "gold_path"}`` where
  ``gold_path`` is a grounded or relation path in arrow form, or null.
"""
from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kgdistill.graph import GraphBackend
from kgdistill.paths import GroundedPath, PathSyntaxError, RelationPath, parse_path
from kgdistill.readers import KGFormatError, PathLike, iter_lines, iter_rog_records

logger = logging.getLogger(__name__)


@dataclass
class Question:
    """One KGQA question.

    Attributes:
        id: unique within its file (``<file>:<line>`` when the file has no ids).
        text: the question, with any topic markup removed.
        topic_entities: names of the topic entities (at least one).
        answers: names of the gold answer entities.
        gold_path: a gold reasoning path when the dataset gives one.
    """

    id: str
    text: str
    topic_entities: list[str]
    answers: list[str]
    gold_path: GroundedPath | RelationPath | None = None

    def __post_init__(self) -> None:
        if not self.topic_entities:
            raise ValueError(f"question {self.id!r} has no topic entity")

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.text, "topic_entities": self.topic_entities,
                "answers": self.answers, "gold_path": str(self.gold_path) if self.gold_path else None}


class QuestionReader(ABC):
    """Reads one question-file format."""

    @abstractmethod
    def read(self, path: PathLike) -> list[Question]: ...


_BRACKETS = re.compile(r"\[([^\[\]]+)\]")


class MetaQAReader(QuestionReader):
    def read(self, path: PathLike) -> list[Question]:
        stem = f"{Path(path).parent.name}/{Path(path).stem}"
        out = []
        for lineno, line in iter_lines(path):
            parts = line.split("\t")
            if len(parts) != 2:
                raise KGFormatError(path, lineno, f"expected 'question<TAB>answer1|answer2', found "
                                                  f"{len(parts)} tab-separated field(s)")
            text, answers = parts
            topics = _BRACKETS.findall(text)
            if not topics:
                raise KGFormatError(path, lineno, "no [topic entity] in brackets in the question")
            answer_list = [a for a in answers.split("|") if a]
            if not answer_list:
                raise KGFormatError(path, lineno, "no answers after the tab")
            clean = _BRACKETS.sub(lambda m: m.group(1), text)
            out.append(Question(f"{stem}:{lineno}", clean, topics, answer_list))
        return out


class PathQuestionReader(QuestionReader):
    def read(self, path: PathLike) -> list[Question]:
        stem = f"{Path(path).parent.name}/{Path(path).stem}"
        out = []
        for lineno, line in iter_lines(path):
            parts = line.split("\t")
            if len(parts) != 3:
                raise KGFormatError(path, lineno, "expected 'question<TAB>answer(a/b/)<TAB>topic#rel#entity...#<end>#answer', "
                                                  f"found {len(parts)} tab-separated field(s)")
            text, answer_field, path_field = parts
            m = re.fullmatch(r"([^()]*)\((.*)\)", answer_field.strip())
            if not m:
                raise KGFormatError(path, lineno, f"answer field {answer_field!r} is not 'answer(a/b/)'")
            answers = list(dict.fromkeys([a for a in m.group(2).split("/") if a] or [m.group(1)]))
            tokens = path_field.split("#")
            if "<end>" not in tokens:
                raise KGFormatError(path, lineno, "path has no '#<end>#' marker")
            tokens = tokens[:tokens.index("<end>")]
            if len(tokens) < 3 or len(tokens) % 2 == 0:
                raise KGFormatError(path, lineno, f"path {path_field!r} does not alternate entity#relation#entity")
            gold = GroundedPath(tuple(tokens[0::2]), tuple(tokens[1::2]))
            out.append(Question(f"{stem}:{lineno}", text, [tokens[0]], answers, gold))
        return out


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class RoGReader(QuestionReader):
    """RoG-style records (``id, question, answer, q_entity, a_entity``); the answers are
    ``a_entity`` when present, else ``answer``."""

    def read(self, path: PathLike) -> list[Question]:
        out = []
        for lineno, rec in iter_rog_records(path):
            for key in ("question", "q_entity"):
                if key not in rec:
                    raise KGFormatError(path, lineno, f"record has no {key!r} field")
            topics = _as_list(rec["q_entity"])
            if not topics:
                raise KGFormatError(path, lineno, "empty 'q_entity'")
            answers = _as_list(rec.get("a_entity")) or _as_list(rec.get("answer"))
            qid = str(rec.get("id", f"{Path(path).stem}:{lineno}"))
            out.append(Question(qid, rec["question"], topics, answers))
        return out


class JSONLReader(QuestionReader):
    """kgdistill's own JSONL (see the module docstring)."""

    def read(self, path: PathLike) -> list[Question]:
        out = []
        for lineno, rec in iter_rog_records(path):
            if "question" not in rec:
                raise KGFormatError(path, lineno, "record has no 'question' field")
            topics = _as_list(rec.get("topic_entities", rec.get("topic")))
            if not topics:
                raise KGFormatError(path, lineno, "record has no 'topic_entities'")
            gold = None
            if rec.get("gold_path"):
                try:
                    gold = parse_path(rec["gold_path"])
                except PathSyntaxError as err:
                    raise KGFormatError(path, lineno, f"bad gold_path: {err}") from None
            qid = str(rec.get("id", f"{Path(path).stem}:{lineno}"))
            out.append(Question(qid, rec["question"], topics, _as_list(rec.get("answers")), gold))
        return out


QUESTION_FORMATS: dict[str, QuestionReader] = {
    "metaqa": MetaQAReader(),
    "pathquestion": PathQuestionReader(),
    "rog": RoGReader(),
    "jsonl": JSONLReader(),
}
"""Question formats by name: the lookup table behind ``load_questions(format=...)``."""


def detect_question_format(path: PathLike) -> str:
    path = Path(path)
    if not path.exists():
        raise KGFormatError(path, None, "no such file")
    if path.suffix.lower() == ".parquet":
        return "rog"
    for lineno, line in iter_lines(path):
        fields = line.split("\t")
        if len(fields) == 3 and "#" in fields[2]:
            return "pathquestion"
        if len(fields) == 2 and "[" in fields[0]:
            return "metaqa"
        if line.lstrip().startswith(("{", "[")):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                return "rog" if "q_entity" in line else "jsonl"
            if isinstance(rec, list):
                rec = rec[0] if rec else {}
            return "rog" if isinstance(rec, dict) and "q_entity" in rec else "jsonl"
        raise KGFormatError(path, lineno, "cannot tell the question format: expected MetaQA "
                                          "'question with [topic]<TAB>a|b', PathQuestion, RoG or JSONL")
    raise KGFormatError(path, None, "file is empty")


def load_questions(path: PathLike, format: str | None = None) -> list[Question]:
    """Read a question file.

    Args:
        path: the file.
        format: one of :data:`QUESTION_FORMATS`, or ``None`` to detect it.

    Raises:
        KGFormatError: naming file and line of the first problem.
    """
    fmt = format or detect_question_format(path)
    if fmt not in QUESTION_FORMATS:
        raise ValueError(f"unknown question format {fmt!r}; choose from {sorted(QUESTION_FORMATS)}")
    questions = QUESTION_FORMATS[fmt].read(path)
    logger.info("read %d %s questions from %s", len(questions), fmt, path)
    return questions


def save_questions(questions: Sequence[Question], path: PathLike) -> None:
    """Write questions as kgdistill JSONL."""
    from kgdistill.readers import write_jsonl

    write_jsonl(questions, path)


# ---------------------------------------------------------------------- coverage
def within_hops(graph: GraphBackend, starts: np.ndarray, max_hops: int) -> np.ndarray:
    """Entities within ``max_hops`` edges of ``starts``, ignoring direction (sorted ids)."""
    seen = np.unique(np.asarray(starts, dtype=np.int64))
    frontier = seen
    for _ in range(max_hops):
        if frontier.size == 0:
            break
        nxt = np.unique(graph.edges(frontier)[2])
        frontier = np.setdiff1d(nxt, seen, assume_unique=True)
        seen = np.union1d(seen, frontier)
    return seen


@dataclass
class Coverage:
    """How many questions a graph can answer at all within ``max_hops``.

    Attributes:
        total: questions looked at.
        topic_found: questions whose topic entities are all in the graph.
        answer_in_graph: questions with at least one answer entity in the graph.
        reachable: questions with an answer within ``max_hops`` of a topic entity:
            the ceiling for Hits@1.
        missing_topics: examples of topic names not found.
    """

    max_hops: int
    total: int = 0
    topic_found: int = 0
    answer_in_graph: int = 0
    reachable: int = 0
    missing_topics: list[str] = field(default_factory=list)

    @property
    def reachable_share(self) -> float:
        return self.reachable / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {"max_hops": self.max_hops, "total": self.total, "topic_found": self.topic_found,
                "answer_in_graph": self.answer_in_graph, "reachable": self.reachable,
                "reachable_share": self.reachable_share, "missing_topics": self.missing_topics[:20]}


def answer_coverage(graph: GraphBackend, questions: Sequence[Question], max_hops: int,
                    progress: bool = False) -> Coverage:
    """Count questions whose answers the graph reaches within ``max_hops`` (the
    reachability ceiling printed beside scores). ``progress`` shows a progress bar on
    a terminal."""
    from tqdm.auto import tqdm

    cov = Coverage(max_hops, total=len(questions))
    for q in tqdm(questions, desc=f"answers within {max_hops} hops", unit="q",
                  disable=None if progress else True):
        topic_ids = [graph.entity_id(t) for t in q.topic_entities]
        if any(t is None for t in topic_ids):
            cov.missing_topics += [t for t, i in zip(q.topic_entities, topic_ids) if i is None]
            topic_ids = [t for t in topic_ids if t is not None]
        else:
            cov.topic_found += 1
        answer_ids = np.array([a for a in (graph.entity_id(x) for x in q.answers) if a is not None],
                              dtype=np.int64)
        if answer_ids.size:
            cov.answer_in_graph += 1
        if answer_ids.size and topic_ids:
            near = within_hops(graph, np.array(topic_ids), max_hops)
            if np.isin(answer_ids, near).any():
                cov.reachable += 1
    return cov
