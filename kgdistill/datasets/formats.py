"""KGQA question files: one :class:`Question` record and readers for MetaQA,
PathQuestion, RoG-style JSONL/parquet and kgdistill's own JSONL.

Formats (see :data:`QUESTION_FORMATS`; chosen from extension and content, or named):

* ``metaqa``: ``what movies did [Temuera Morrison] act in<TAB>Once Were Warriors|Tracker``
  (the topic entity is the span in brackets; the brackets are removed from the text).
* ``pathquestion``: ``claudius 's parent 's sex ?<TAB>male(male/)<TAB>claudius#parents#nero_claudius_drusus#gender#male#<end>#male``
  (the topic is the path's first token; the path is the gold grounded path).
  Paths that end at the answer without ``#<end>#answer`` (PQL's files) read too.
* ``rog``: JSON objects with ``id, question, answer, q_entity, a_entity[, graph]``.
* ``jsonl``: ``{"id", "question", "topic_entities", "answers", "gold_path"}`` where
  ``gold_path`` is a grounded or relation path in arrow (or RoG) form, or null.
  A gold path is *grounded* only if it has an odd number (at least three) of
  arrow-separated parts and its first part is one of the record's topic entities;
  otherwise it is a relation path, so ``born_in -> city_of -> currency`` is a
  three-relation path (see :func:`kgdistill.paths.parse_path`).

Rules for every format: names (topics, answers, path steps) must pass
:func:`kgdistill.graph.check_name`; the line formats strip whitespace around each
name. In the JSON formats each field has one type: ``question`` a non-empty string;
name fields a string or a list of strings (``null``, numbers, nested lists or objects
inside are errors, not converted); ``id`` a string or an integer, unique within the
file (ids made as ``<file>:<line>`` are unique already); every record a JSON object.
Each problem is a :class:`~kgdistill.errors.KGFormatError` naming file and line.
"""
from __future__ import annotations

import difflib
import logging
import random
import re
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kgdistill.errors import ConfigError, KGFormatError, PathSyntaxError, RunError
from kgdistill.graph import GraphBackend, check_name
from kgdistill.paths import GroundedPath, Relation, RelationPath, parse_path
from kgdistill.readers import (JSONRecord, PathLike, check_file, first_text_line, iter_lines,
                               iter_rog_records, parse_json)

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


def _checked_name(name: str, kind: str, path: PathLike, line: int, what: str) -> str:
    """``name`` if it passes :func:`~kgdistill.graph.check_name`, else a
    :class:`KGFormatError` at ``line`` saying which part of the line (``what``) is bad."""
    problem = check_name(name, kind)
    if problem:
        raise KGFormatError(path, line, f"{what}: {problem}")
    return name


def _question_text(text: str, path: PathLike, line: int) -> str:
    if not text.strip():
        raise KGFormatError(path, line, "the question text before the first tab is empty")
    return text


class MetaQAReader(QuestionReader):
    """``question with [topic]<TAB>answer1|answer2``; whitespace around the topic and
    each answer is removed, an empty answer (``a||b``) is an error."""

    def read(self, path: PathLike) -> list[Question]:
        stem = f"{Path(path).parent.name}/{Path(path).stem}"
        out = []
        for lineno, line in iter_lines(path):
            parts = line.split("\t")
            if len(parts) != 2:
                raise KGFormatError(path, lineno, f"expected 'question<TAB>answer1|answer2', found "
                                                  f"{len(parts)} tab-separated field(s)")
            text, answers = parts
            topics = [_checked_name(t.strip(), "entity", path, lineno, "topic entity in brackets")
                      for t in _BRACKETS.findall(text)]
            if not topics:
                raise KGFormatError(path, lineno, "no [topic entity] in brackets in the question")
            answer_list = [_checked_name(a.strip(), "entity", path, lineno, f"answer {i}")
                           for i, a in enumerate(answers.split("|"), 1)]
            clean = _BRACKETS.sub(lambda m: m.group(1), text)
            out.append(Question(f"{stem}:{lineno}", clean, topics, answer_list))
        return out


_PQ_FORM = "'question<TAB>answer(a/b/)<TAB>topic#rel#entity...#answer[#<end>#answer]'"


class PathQuestionReader(QuestionReader):
    """``question<TAB>answer(a/b/)<TAB>topic#rel1#e1#rel2#answer[#<end>#answer]``.

    The path is either cut at the ``<end>`` marker (PQ's original files) or, without
    one, all tokens (the PQL distribution). Whitespace around each token and answer is
    removed.
    """

    def read(self, path: PathLike) -> list[Question]:
        stem = f"{Path(path).parent.name}/{Path(path).stem}"
        out = []
        for lineno, line in iter_lines(path):
            parts = line.split("\t")
            if len(parts) != 3:
                raise KGFormatError(path, lineno, f"expected {_PQ_FORM}, found {len(parts)} tab-separated field(s)")
            text, answer_field, path_field = parts
            answers = _pq_answers(answer_field, path, lineno)
            gold = _pq_path(path_field, path, lineno)
            out.append(Question(f"{stem}:{lineno}", _question_text(text, path, lineno),
                                [gold.start], answers, gold))
        return out


def _pq_answers(field_text: str, path: PathLike, line: int) -> list[str]:
    """The answers of ``male(male/female/)`` (the name before the brackets when the
    list in them is empty)."""
    m = re.fullmatch(r"([^()]*)\((.*)\)", field_text.strip())
    if not m:
        raise KGFormatError(path, line, f"answer field {field_text[:120]!r} is not 'answer(a/b/)'")
    pieces = m.group(2).split("/")
    if pieces[-1] == "":
        pieces.pop()  # the list ends with '/'
    pieces = [p.strip() for p in pieces] or [m.group(1).strip()]
    answers = [_checked_name(a, "entity", path, line, f"answer {i}") for i, a in enumerate(pieces, 1)]
    return list(dict.fromkeys(answers))


def _pq_path(field_text: str, path: PathLike, line: int) -> GroundedPath:
    tokens = [t.strip() for t in field_text.split("#")]
    if "<end>" in tokens:
        tokens = tokens[:tokens.index("<end>")]
    if len(tokens) < 3 or len(tokens) % 2 == 0:
        raise KGFormatError(path, line, f"path {field_text[:120]!r} does not alternate "
                                        f"entity#relation#entity: expected {_PQ_FORM}")
    try:
        return GroundedPath(tuple(tokens[0::2]), tuple(Relation.parse(r) for r in tokens[1::2]))
    except PathSyntaxError as err:
        raise KGFormatError(path, line, f"path {field_text[:120]!r}: {err}") from None


class _UniqueIds:
    """Question ids of one file: a repeated id is an error naming both lines.

    A record without an id gets ``<file stem>:<line>``; where several records of a
    JSON list start on one line, the later ones get ``<file stem>:<line>+<n>``.
    """

    def __init__(self, path: PathLike) -> None:
        self.path, self.stem, self.first_line = path, Path(path).stem, {}

    def take(self, qid: str | None, line: int) -> str:
        """``qid`` (or a made-up id when ``None``), remembered as seen at ``line``."""
        if qid is None:
            qid, n = f"{self.stem}:{line}", 1
            while qid in self.first_line:
                n += 1
                qid = f"{self.stem}:{line}+{n}"
        elif qid in self.first_line:
            raise KGFormatError(self.path, line, f"duplicate question id {qid!r}: line "
                                                 f"{self.first_line[qid]} has it already (ids must be "
                                                 "unique within a file)")
        self.first_line[qid] = line
        return qid


class RoGReader(QuestionReader):
    """RoG-style records (``id, question, answer, q_entity, a_entity``); the answers are
    ``a_entity`` when it is non-empty, else ``answer``.

    Names (``q_entity``, ``a_entity``, ``answer``) are a string or a list of strings
    that pass :func:`~kgdistill.graph.check_name`; numbers are not converted (RoG
    writes years and counts as strings, ``"2005"``). ``id`` is a string or an
    integer and unique within the file. The ``graph`` field is left to
    :class:`~kgdistill.readers.RoGGraphReader`.
    """

    def read(self, path: PathLike) -> list[Question]:
        out, ids = [], _UniqueIds(path)
        for lineno, data in iter_rog_records(path):
            rec = JSONRecord(path, lineno, data)
            text = rec.text("question", required=True)
            topics = rec.names("q_entity", "entity", required=True)
            a_entity, answer = rec.names("a_entity", "entity"), rec.names("answer", "entity")
            qid = ids.take(rec.identifier("id"), lineno)
            out.append(Question(qid, text, topics, a_entity or answer))
        return out


class JSONLReader(QuestionReader):
    """kgdistill's own JSONL (see the module docstring)."""

    FIELDS = ("id", "question", "topic_entities", "topic", "answers", "gold_path")

    def read(self, path: PathLike) -> list[Question]:
        out, ids, warned = [], _UniqueIds(path), set()
        for lineno, data in iter_rog_records(path):
            rec = JSONRecord(path, lineno, data)
            for unknown in data.keys() - set(self.FIELDS) - warned:  # "answer" for "answers" is ignored...
                like = difflib.get_close_matches(unknown, self.FIELDS, n=1, cutoff=0.8)
                if like and like[0] not in data:  # ...so say so where it looks like a misspelt field
                    warned.add(unknown)
                    logger.warning("%s:%d: field %r is not one kgdistill reads (did you mean %r?); it is ignored",
                                   path, lineno, unknown, like[0])
            text = rec.text("question", required=True)
            key = "topic" if "topic_entities" not in data and "topic" in data else "topic_entities"
            topics = rec.names(key, "entity", required=True)
            answers = rec.names("answers", "entity")
            gold = _gold_path(rec, topics)
            qid = ids.take(rec.identifier("id"), lineno)
            out.append(Question(qid, text, topics, answers, gold))
        return out


def _gold_path(rec: JSONRecord, topics: list[str]) -> GroundedPath | RelationPath | None:
    """The record's ``gold_path``: grounded when it starts at one of ``topics`` (see
    :func:`~kgdistill.paths.parse_path`), ``None`` when absent or null."""
    text = rec.text("gold_path")
    if text is None:
        return None
    try:
        return parse_path(text, start_entities=topics)
    except PathSyntaxError as err:
        raise rec.error(f"bad gold_path: {err}") from None


QUESTION_FORMATS: dict[str, QuestionReader] = {
    "metaqa": MetaQAReader(),
    "pathquestion": PathQuestionReader(),
    "rog": RoGReader(),
    "jsonl": JSONLReader(),
}
"""Question formats by name: the lookup table behind ``load_questions(format=...)``."""


def detect_question_format(path: PathLike) -> str:
    """Guess the question format from the extension and the first non-blank line.

    Raises:
        KGFormatError: missing, unreadable, directory or empty file, or a first line
            in no known format.
    """
    path = check_file(path)
    if path.suffix.lower() == ".parquet":
        return "rog"
    first = first_text_line(path)
    if first is None:
        raise KGFormatError(path, None, "file is empty")
    lineno, line = first
    fields = line.split("\t")
    if len(fields) == 3 and "#" in fields[2]:
        return "pathquestion"
    if len(fields) == 2 and "[" in fields[0]:
        return "metaqa"
    if line.lstrip().startswith("["):
        rec = next(iter_rog_records(path), (0, {}))[1]
    elif line.lstrip().startswith("{"):
        rec = parse_json(line, path, lineno)
    else:
        raise KGFormatError(path, lineno, "cannot tell the question format: expected MetaQA "
                                          "'question with [topic]<TAB>a|b', PathQuestion, RoG or JSONL")
    return "rog" if isinstance(rec, dict) and "q_entity" in rec else "jsonl"


def load_questions(path: PathLike, format: str | None = None) -> list[Question]:
    """Read a question file.

    Args:
        path: the file.
        format: one of :data:`QUESTION_FORMATS`, or ``None`` to detect it.

    Raises:
        KGFormatError: naming file and line of the first problem, or a file with no
            questions in it.
        ConfigError: an unknown format.
    """
    fmt = format or detect_question_format(path)
    if fmt not in QUESTION_FORMATS:
        raise ConfigError(f"unknown question format {fmt!r}; choose from {sorted(QUESTION_FORMATS)}")
    questions = QUESTION_FORMATS[fmt].read(path)
    if not questions:
        raise KGFormatError(path, None, f"no questions found (read as {fmt})")
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


def infer_hops(graph: GraphBackend, questions: Sequence[Question], max_hops: int = 3, sample: int = 200,
               seed: int = 0) -> tuple[int, bool, dict[int, int]]:
    """How many hops the questions need, from a sample of them.

    Per sampled question the length of its gold path, or else of the shortest relation
    path whose endpoints best match the answers (the serializer's best-F1 search).
    Returns ``(hops, exact, counts)``: the longest length held by at least 10% of the
    sample, whether at least 90% have exactly that length (then the teacher is told
    so: MetaQA's k-hop files), and the length counts.
    """
    from kgdistill.serializer import best_f1_paths

    rng = random.Random(seed)
    chosen = rng.sample(list(questions), min(sample, len(questions)))
    counts: Counter[int] = Counter()
    for q in chosen:
        if q.gold_path is not None:
            rel = q.gold_path.relation_path if isinstance(q.gold_path, GroundedPath) else q.gold_path
            counts[len(rel)] += 1
        elif q.answers:
            paths, _ = best_f1_paths(graph, q, max_hops, 1)
            if paths:
                counts[len(paths[0])] += 1
    if not counts:
        raise RunError("cannot infer the number of hops: no sampled question has a gold path or an answer "
                       f"within {max_hops} hops of its topic entity; pass --hops")
    total = sum(counts.values())
    hops = max(k for k, c in counts.items() if c >= 0.1 * total)
    exact = counts[hops] >= 0.9 * total
    return hops, exact, dict(sorted(counts.items()))
