"""kgdistill compress: a run's student is distilled into a smaller one whose soft
targets are the source student's beams (not the teacher's)."""
import json

import pytest

from kgdistill.cli import main
from kgdistill.errors import ConfigError, RunError
from kgdistill.runs import compress_run, load_run, read_run_config
from kgdistill.student import StudentConfig

from .conftest import WORLD_VALID


def test_compress_learns_from_the_source_students_beams(world_run, tmp_path, capsys):
    from kgdistill.datasets import load_questions
    from kgdistill.reasoner import Reasoner
    from kgdistill.readers import load_graph
    from kgdistill.serializer import make_prompt

    out = tmp_path / "small"
    assert main(["compress", "--run", str(world_run), "--out", str(out), "--layers", "1", "--dim", "32",
                 "--heads", "2", "--max-minutes", "0.3"]) == 0
    captured = capsys.readouterr()
    assert "compressed student written" in captured.out
    # stderr is not a terminal here: no progress bars in a log (the source student's pass drew one)
    assert "source student:" not in captured.err and "batch/s" not in captured.err
    cfg = read_run_config(out)
    assert cfg.soft_targets_from == str(world_run.resolve()) and cfg.student.n_layer == 1
    # the soft targets are the source student's constrained beams, probabilities over the beam
    source_cfg = read_run_config(world_run)
    kg = load_graph(source_cfg.graph)
    reasoner = Reasoner.from_run(world_run, kg, beam_size=cfg.serializer.top_k)
    train = load_questions(cfg.train)
    dump = [json.loads(line) for line in (out / "soft_targets.jsonl").read_text().splitlines()]
    assert [d["id"] for d in dump] == [q.id for q in train]
    q = train[0]
    decoded = reasoner.decoder.decode(reasoner.student, [make_prompt(q.text, q.topic_entities, reasoner.serializer)],
                                      cfg.serializer.top_k, reasoner.max_hops, kg, [kg.entity_ids(q.topic_entities)],
                                      binding=reasoner.binding)[0]
    assert [p["path"] for p in dump[0]["paths"]] == [str(d.path) for d in decoded]
    assert sum(p["prob"] for p in dump[0]["paths"]) == pytest.approx(1.0)
    teacher_dump = (world_run / "soft_targets.jsonl").read_text()
    assert (out / "soft_targets.jsonl").read_text() != teacher_dump
    config, student, teacher = load_run(out)
    assert student.config.n_layer == 1 and teacher is not None
    assert main(["evaluate", "--run", str(out), "--questions", str(WORLD_VALID), "--out", str(tmp_path / "ev"),
                 "--no-teacher"]) == 0


def test_compress_refuses_a_run_without_student(world_run, tmp_path):
    import shutil

    broken = shutil.copytree(world_run, tmp_path / "run")
    shutil.rmtree(broken / "student")
    with pytest.raises((RunError, ConfigError), match="student"):
        compress_run(broken, tmp_path / "out", StudentConfig())


def test_compress_from_source_cuts_the_source_student(world_run, tmp_path, capsys):
    """--from-source N: the smaller student starts from the source student itself, cut
    to N layers (its tokenizer and path tokens kept), trained at the pretrained rate."""
    import shutil

    from transformers import AutoModelForCausalLM

    # a source run whose student counts as pretrained (its base model: its own checkpoint)
    source = shutil.copytree(world_run, tmp_path / "source")
    cfg_file = source / "config.json"
    raw = json.loads(cfg_file.read_text())
    raw["student"]["base_model"] = str(source / "student")
    cfg_file.write_text(json.dumps(raw))
    out = tmp_path / "cut"
    assert main(["compress", "--run", str(source), "--out", str(out), "--from-source", "1",
                 "--max-minutes", "0.3"]) == 0
    cfg = read_run_config(out)
    assert cfg.student.base_model == str((source / "student").resolve()) and cfg.student.base_layers == 1
    assert cfg.student_training.lr == 5e-5
    _, student, _ = load_run(out)
    assert AutoModelForCausalLM.from_pretrained(out / "student").config.num_hidden_layers == 1
    source_tok = AutoModelForCausalLM.from_pretrained(source / "student").config.vocab_size
    assert student.model.config.vocab_size == source_tok  # the source's tokenizer, no new tokens
    assert main(["evaluate", "--run", str(out), "--questions", str(WORLD_VALID), "--out", str(tmp_path / "ev"),
                 "--no-teacher"]) == 0
    # a small built student has nothing to cut
    assert main(["compress", "--run", str(world_run), "--out", str(tmp_path / "no"), "--from-source", "1"]) != 0
    assert "drop --from-source" in capsys.readouterr().err
