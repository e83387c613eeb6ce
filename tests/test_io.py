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
        return [{"id": IDS[i], "paths": [{"path": "r", "prob": i / 100}]} for i in range(start, stop)]


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

    with pytest.raises(RunError, match="came back for other questions"):
        write_jsonl_resumable(tmp_path / "soft.jsonl", IDS, wrong, chunk=5, progress=False)
    assert not (tmp_path / "soft.jsonl").exists()
