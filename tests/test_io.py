"""kgdistill.io: the resumable JSONL writer behind soft targets (an interrupted pass
keeps its whole chunks)."""
import json

import pytest

from kgdistill.errors import RunError
from kgdistill.io import write_jsonl_resumable

IDS = [f"q{i}" for i in range(23)]


class Source:
    """Rows for ids[start:stop]; raises KeyboardInterrupt on chunk ``stop_at``."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def __call__(self, start, stop):
        if len(self.calls) == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append((start, stop))
        return [{"id": IDS[i], "question": f"text {i}", "paths": [{"path": "r", "prob": i / 100}]}
                for i in range(start, stop)]


def test_interrupted_pass_resumes_after_its_whole_chunks(tmp_path):
    whole = tmp_path / "whole.jsonl"
    write_jsonl_resumable(whole, IDS, Source(), chunk=5, progress=False)
    path = tmp_path / "soft.jsonl"
    with pytest.raises(KeyboardInterrupt):
        write_jsonl_resumable(path, IDS, Source(stop_at=3), chunk=5, progress=False)
    partial = tmp_path / "soft.jsonl.partial"
    assert not path.exists() and len(partial.read_text().splitlines()) == 15
    with open(partial, "a") as fh:  # the interruption left half a row behind
        fh.write('{"id": "q15", "pa')
    said, again = [], Source()
    _, kept = write_jsonl_resumable(path, IDS, again, chunk=5, progress=False, echo=said.append)
    assert kept == 15 and again.calls == [(15, 20), (20, 23)]
    assert "resuming after 15 of 23 questions" in said[0]
    assert path.read_text() == whole.read_text() and not partial.exists()


def test_a_partial_chunk_is_written_again(tmp_path):
    """Rows beyond the last whole chunk are dropped, so every chunk is produced as in
    an uninterrupted pass (batch composition, hence float rounding, the same)."""
    path = tmp_path / "soft.jsonl"
    partial = tmp_path / "soft.jsonl.partial"
    rows = Source()(0, 7)
    partial.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = Source()
    _, kept = write_jsonl_resumable(path, IDS, again, chunk=5, progress=False)
    assert kept == 5 and again.calls[0] == (5, 10)
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == IDS


def test_another_question_file_starts_over(tmp_path):
    path = tmp_path / "soft.jsonl"
    partial = tmp_path / "soft.jsonl.partial"
    partial.write_text("".join(json.dumps({"id": f"other{i}"}) + "\n" for i in range(10)))
    again = Source()
    _, kept = write_jsonl_resumable(path, IDS, again, chunk=5, progress=False)
    assert kept == 0 and again.calls[0] == (0, 5)
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == IDS


def test_rows_for_other_questions_are_refused(tmp_path):
    def wrong(start, stop):
        return [{"id": "x"} for _ in range(start, stop)]

    def short(start, stop):
        return Source()(start, stop - 1)

    with pytest.raises(RunError, match="rows for questions 0..4 came back for other questions"):
        write_jsonl_resumable(tmp_path / "soft.jsonl", IDS, wrong, chunk=5, progress=False)
    with pytest.raises(RunError, match="4 rows came back for the 5 questions 0..4"):
        write_jsonl_resumable(tmp_path / "soft.jsonl", IDS, short, chunk=5, progress=False)
    assert not (tmp_path / "soft.jsonl").exists()


def test_same_ids_for_other_questions_start_over(tmp_path):
    """A question file edited in place keeps its ids (line numbers): rows whose
    question text differs are not kept (found by review: they were, by id alone)."""
    texts = [f"text {i}" for i in range(len(IDS))]
    partial = tmp_path / "soft.jsonl.partial"
    partial.write_text("".join(json.dumps({**r, "question": "old " + r["question"]}) + "\n"
                               for r in Source()(0, 10)))
    again = Source()
    _, kept = write_jsonl_resumable(tmp_path / "soft.jsonl", IDS, again, chunk=5, progress=False, texts=texts)
    assert kept == 0 and again.calls[0] == (0, 5)
    partial.write_text("".join(json.dumps(r) + "\n" for r in Source()(0, 10)))  # the same questions: kept
    (tmp_path / "soft.jsonl").unlink()
    _, kept = write_jsonl_resumable(tmp_path / "soft.jsonl", IDS, Source(), chunk=5, progress=False, texts=texts)
    assert kept == 10


def test_a_complete_file_is_kept(tmp_path):
    """A finished dump (e.g. the unlabeled questions', when the run stopped before the
    records built from it were saved) is not computed again (found by review)."""
    path = tmp_path / "soft.jsonl"
    write_jsonl_resumable(path, IDS, Source(), chunk=5, progress=False)
    again = Source()
    assert write_jsonl_resumable(path, IDS, again, chunk=5, progress=False) == (path, len(IDS))
    assert again.calls == []
    more = IDS + ["q23"]  # a longer question file: written again

    def longer(start, stop):
        return [{"id": more[i]} for i in range(start, stop)]

    assert write_jsonl_resumable(path, more, longer, chunk=5, progress=False)[1] == 0
    assert len(path.read_text().splitlines()) == 24


def test_progress_is_reported_per_chunk_from_where_a_pass_resumes(tmp_path):
    """``report`` hears where a pass starts (what an interrupted one kept) and each
    chunk, so a run in the background writes progress lines for its soft targets."""
    path, calls = tmp_path / "soft.jsonl", []
    with pytest.raises(KeyboardInterrupt):
        write_jsonl_resumable(path, IDS, Source(stop_at=2), chunk=5, progress=False,
                              report=lambda k, n: calls.append((k, n)))
    assert calls == [(0, 23), (5, 23), (10, 23)]
    calls.clear()
    write_jsonl_resumable(path, IDS, Source(), chunk=5, progress=False, report=lambda k, n: calls.append((k, n)))
    assert calls == [(10, 23), (15, 23), (20, 23), (23, 23)]


def test_soft_targets_in_a_log_say_how_far_they_are(tmp_path, monkeypatch, capsys):
    """`kgdistill train > log`: the soft-target pass (27 minutes on 70,450 questions)
    wrote nothing to the log until it ended; now a line after its chunks."""
    from types import SimpleNamespace

    from kgdistill import runs, training
    from kgdistill.datasets import Question

    monkeypatch.setattr(training, "REPORT_SECONDS", 0.0)
    monkeypatch.setattr(training, "_is_tty", lambda: False)
    monkeypatch.setattr(runs, "SOFT_TARGET_CHUNK", 5)

    class Teacher:
        def predict(self, graph, questions, top_k, progress):
            return [{"id": q.id, "question": q.text, "paths": [{"path": "r", "prob": 1.0}]} for q in questions]

    questions = [Question(f"q{i}", f"text {i}", ["a"], []) for i in range(12)]
    cfg = SimpleNamespace(serializer=SimpleNamespace(top_k=3))
    runs._predict_to(tmp_path / "soft.jsonl", Teacher(), None, questions, cfg, True, print)
    err = capsys.readouterr().err
    assert "soft targets: questions 5/12 (42%), ends in ~" in err and "questions 10/12 (83%)" in err
    assert len((tmp_path / "soft.jsonl").read_text().splitlines()) == 12
