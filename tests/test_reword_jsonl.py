"""benchmarks/reword.py --jsonl: kgdistill JSONL twins of the re-worded and the original
questions, with the question type as gold relation path (MetaQA's own format cannot
carry one, so relation-path accuracy needs them).

The small-input tests use the template file in the repository and hand-made type maps
(no datasets needed); the command-line test runs on the real files when present.
"""
from __future__ import annotations

import json

import pytest

from kgdistill.datasets import load_questions
from kgdistill.paths import GroundedPath, RelationPath
from tests.conftest import DATA
from tests.test_reword import R

CO_STAR = "~starred_actors -> starred_actors"
GENRES = "written_by -> ~written_by -> has_genre"

METAQA_LINES = [
    "who co-starred with [Tom Hanks]\tMeg Ryan|Tim Allen",
    "",  # a blank line: ids keep the source's line numbers
    "how would people rate [Little Women]\tgood",  # template without a derived type: left out
    "what genres are the films written by the writer of [Gummo]\tDrama|Comedy",
]
PQ_LINES = [
    "what is the sex of anne 's spouse ?\tmale(male/)\tanne#spouse#bob#gender#male#<end>#male",
    "where is anne 's mom 's mom from ?\tspain(spain/)\tanne#parents#carla#parents#dora#nationality#spain",
]


def _maps():
    return R.TypeMaps(metaqa={"metaqa-3hop": {"who co-starred with {X}": CO_STAR,
                                              "what genres are the films written by the writer of {X}": GENRES}})


def _twins(tmp_path, name, kind, lines, maps=None):
    """Re-word ``lines`` as the valid file of ``name`` and write both JSONL twins the way
    ``main`` does; returns the (original, re-worded) twin paths and the report."""
    source = tmp_path / f"{name}-source.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    qfile = R.QuestionFile(name, kind, source, source, 3)
    written, report = R.reword_lines(qfile, R.read_lines(source), maps or R.TypeMaps(), R.load_templates(),
                                     "eval", 0)
    target = R.output_path(tmp_path, qfile, "valid", "eval")
    target.write_text("".join(line + "\n" for line in written), encoding="utf-8")
    before, after = R.jsonl_twins(qfile, "valid", source, target, report)
    paths = R.original_jsonl_path(tmp_path, qfile, "valid"), R.jsonl_path(target)
    for questions, path in zip((before, after), paths):
        R.write_jsonl_twin(questions, path)
    return paths, report


def _records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_metaqa_twins_hold_the_expected_records(tmp_path):
    (original, reworded), report = _twins(tmp_path, "metaqa-3hop", "metaqa", METAQA_LINES, _maps())
    assert original.name == "metaqa-3hop-valid.jsonl" and reworded.name == "metaqa-3hop-valid-reworded.jsonl"
    assert report.written == 2 and report.no_type == 1
    assert _records(original) == [
        {"id": "metaqa-3hop-valid:1", "question": "who co-starred with Tom Hanks", "topic_entities": ["Tom Hanks"],
         "answers": ["Meg Ryan", "Tim Allen"], "gold_path": CO_STAR},
        {"id": "metaqa-3hop-valid:4", "question": "what genres are the films written by the writer of Gummo",
         "topic_entities": ["Gummo"], "answers": ["Drama", "Comedy"], "gold_path": GENRES}]
    new = _records(reworded)
    assert [r["id"] for r in new] == ["metaqa-3hop-valid:1", "metaqa-3hop-valid:4"]
    assert [r["gold_path"] for r in new] == [CO_STAR, GENRES]
    assert [r["topic_entities"] for r in new] == [["Tom Hanks"], ["Gummo"]]
    assert [r["answers"] for r in new] == [["Meg Ryan", "Tim Allen"], ["Drama", "Comedy"]]
    spec = R.load_templates()
    for record, path, topic in zip(new, (CO_STAR, GENRES), ("Tom Hanks", "Gummo")):
        assert "[" not in record["question"] and topic in record["question"]
        assert record["question"] in {w.replace(R.PLACEHOLDER, topic) for w in R.wordings(spec, "metaqa", path, "eval")}
    # the gold paths parse back as relation paths with kgdistill's JSONL reader
    for path in (original, reworded):
        questions = load_questions(path)
        assert [q.gold_path for q in questions] == [RelationPath.parse(CO_STAR), RelationPath.parse(GENRES)]
        assert all(isinstance(q.gold_path, RelationPath) for q in questions)
        assert [str(q.gold_path) for q in questions] == [CO_STAR, GENRES]


def test_pathquestion_gold_path_is_the_relation_path_of_the_grounded_one(tmp_path):
    (original, reworded), report = _twins(tmp_path, "pq-3h", "pathquestion", PQ_LINES)
    assert report.written == 2 and report.left_out == 0
    grounded = load_questions(tmp_path / "pq-3h-source.txt")
    for path in (original, reworded):
        questions = load_questions(path)
        assert [q.id for q in questions] == ["pq-3h-valid:1", "pq-3h-valid:2"]
        assert [str(q.gold_path) for q in questions] == ["spouse -> gender", "parents -> parents -> nationality"]
        assert [q.gold_path for q in questions] == [g.gold_path.relation_path for g in grounded]
        assert [q.topic_entities for q in questions] == [["anne"], ["anne"]]
        assert [q.answers for q in questions] == [["male"], ["spain"]]
    assert [q.text for q in load_questions(original)] == [g.text for g in grounded]


def test_a_gold_path_that_would_read_as_grounded_is_refused(tmp_path):
    """A three-relation type whose first relation is named like the topic would read back
    as a one-hop grounded path: writing the twin must fail, not write a wrong gold path."""
    lines = ["what genres are the films written by the writer of [written_by]\tDrama"]
    with pytest.raises(ValueError, match="does not read back"):
        _twins(tmp_path, "metaqa-3hop", "metaqa", lines, _maps())


def test_command_line_writes_the_twins(tmp_path, capsys):
    if not (DATA / "metaqa" / "kb.txt").exists() or not (DATA / "pathquestion" / "PQ-2H").exists():
        pytest.skip(f"real data not found at {DATA}")
    args = ["--data", str(DATA), "--out", str(tmp_path), "--only", "metaqa-1hop", "pq-2h"]
    assert R.main(args) == 0
    assert not list(tmp_path.glob("*.jsonl"))  # only with --jsonl
    text = {p.name: p.read_bytes() for p in tmp_path.glob("*.txt")}
    assert R.main(args + ["--jsonl"]) == 0
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.txt")} == text  # the text files are unchanged
    out = capsys.readouterr().out
    assert "metaqa-1hop-valid.jsonl: " in out and "no derived type" in out
    for name, kind in (("metaqa-1hop", "metaqa"), ("pq-2h", "pathquestion")):
        txt = load_questions(tmp_path / f"{name}-valid-reworded.txt", format=kind)
        new = load_questions(tmp_path / f"{name}-valid-reworded.jsonl")
        old = load_questions(tmp_path / f"{name}-valid.jsonl")
        assert len(txt) == len(new) == len(old) > 100
        assert [q.id for q in new] == [q.id for q in old]
        assert all(a.gold_path == b.gold_path and isinstance(a.gold_path, RelationPath) for a, b in zip(new, old))
        assert [q.text for q in new] == [q.text for q in txt] and [q.answers for q in new] == [q.answers for q in txt]
        if kind == "pathquestion":
            assert all(isinstance(q.gold_path, GroundedPath) and q.gold_path.relation_path == n.gold_path
                       for q, n in zip(txt, new))
