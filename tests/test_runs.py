"""Run directories, checkpoints and saved models answer every bad state cleanly:
each test here reproduces a defect measured on an earlier version (a traceback, a
silent wrong answer, or code run from a pickle)."""
import json
import shutil

import pytest

from kgdistill.cli import main
from tests.conftest import DATA, GRAPHS, WORLD_TRAIN, WORLD_VALID, need

WORLD = str(GRAPHS / "world.ttl")
SMALL = ["-g", WORLD, "--train", str(WORLD_TRAIN), "--valid", str(WORLD_VALID), "--teacher-epochs", "1",
         "--student-epochs", "1", "--quiet", "--base-model", "none"]
ASK = ["Where was Joe Biden born?", "--topic", "Joe Biden"]


@pytest.fixture
def run(world_run, tmp_path):
    """A private copy of the shared trained run."""
    return shutil.copytree(world_run, tmp_path / "run")


def test_resume_never_unpickles(tmp_path, monkeypatch, capsys):
    """`train --resume` used torch.load(weights_only=False) on checkpoint/state.pt: a
    pickle planted in a run directory ran code. Checkpoints are now state.json +
    safetensors; pickles planted where the teacher's and the student's checkpoints are
    read (and under the old name) are refused with the file named, and nothing
    unpickles them."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import pickle

    import torch

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a checkpoint was unpickled")

    out = tmp_path / "run"
    assert main(["train", *SMALL, "--out", str(out), "--student-epochs", "0"]) == 0
    shutil.rmtree(out / "student")
    (out / "metrics.json").unlink()
    teacher = shutil.move(out / "teacher", tmp_path / "teacher")  # so teacher.ckpt is read
    planted = pickle.dumps({"epoch": Payload()})
    for ckpt in (out / "student" / "checkpoint", out / "teacher.ckpt"):
        ckpt.mkdir(parents=True, exist_ok=True)
        (ckpt / "state.json").write_text(json.dumps({"epoch": 1}))
        (ckpt / "tensors.safetensors").write_bytes(planted)
        (ckpt / "state.pt").write_bytes(planted)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert f"{out / 'teacher.ckpt' / 'tensors.safetensors'}: cannot read the checkpoint" in capsys.readouterr().err
    shutil.rmtree(out / "teacher.ckpt")
    shutil.move(teacher, out / "teacher")  # now the student's checkpoint is read
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert (f"{out / 'student' / 'checkpoint' / 'tensors.safetensors'}: cannot read the checkpoint"
            in capsys.readouterr().err)
    assert not marker.exists()


def test_truncated_run_config_names_the_file(run, capsys):
    text = (run / "config.json").read_text()
    (run / "config.json").write_text(text[: len(text) // 2])
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'config.json'}:" in err and "invalid JSON" in err
    assert main(["evaluate", "--run", str(run), "--questions", str(WORLD_VALID), "--out", str(run / "e")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_truncated_run_metrics_are_rewritten(run, capsys):
    """A truncated metrics.json made the run impossible to re-run or resume."""
    (run / "metrics.json").write_text('{"valid": {"hits@1": 0.9')
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["valid"]["questions"] == 67


def test_resume_tolerates_unknown_keys(run, capsys, caplog):
    """An unknown key in config.json (a newer version, a hand edit) was a TypeError traceback."""
    cfg = json.loads((run / "config.json").read_text())
    cfg["added_later"] = True
    cfg["distill"]["new_knob"] = 1
    (run / "config.json").write_text(json.dumps(cfg))
    with caplog.at_level("WARNING"):
        assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert "student: trained already" in capsys.readouterr().out
    assert "added_later" in caplog.text and "new_knob" in caplog.text


def test_two_trainings_of_one_directory_are_refused(tmp_path, capsys):
    from kgdistill.io import DirectoryLock

    with DirectoryLock(tmp_path / "busy"):
        assert main(["train", *SMALL, "--out", str(tmp_path / "busy")]) == 2
    assert "in use" in capsys.readouterr().err
    assert not (tmp_path / "busy" / "teacher").exists()


def test_bad_base_model_is_caught_before_the_teacher_trains(tmp_path, capsys):
    assert main(["train", *SMALL, "--base-model", "/nonexistent", "--adaptation", "lora",
                 "--out", str(tmp_path / "r")]) == 2
    assert "/nonexistent: no such directory" in capsys.readouterr().err
    assert not (tmp_path / "r" / "teacher").exists()


def test_a_graph_that_does_not_hold_the_questions_is_refused(tmp_path, capsys):
    """`demo -g metaqa/kb.txt` trained with 378 of 403 topics missing."""
    kb = str(need(DATA / "metaqa" / "kb.txt"))
    assert main(["demo", "-g", kb, "--out", str(tmp_path / "d")]) == 2
    assert "not in the graph" in capsys.readouterr().err
    assert not (tmp_path / "d" / "teacher").exists()


def test_a_student_without_its_tokenizer(run, capsys):
    """It answered with the topic itself and an empty path marked verified."""
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (run / "student" / name).unlink()
    assert main(["query", "-g", WORLD, "--student", str(run / "student"), *ASK]) == 2
    assert "no tokenizer" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage"])
@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "kgdistill.json"])
def test_damaged_student_files_name_the_file(run, capsys, name, damage):
    f = run / "student" / name
    if damage == "missing":
        f.unlink()
    elif damage == "truncated":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    else:
        f.write_bytes(b"\x00garbage{")
    assert main(["query", "-g", WORLD, "--student", str(run / "student"), *ASK]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert name in err or (name == "kgdistill.json" and "not a saved kgdistill student" in err)


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_damaged_teacher_files_name_the_file(run, capsys, name):
    f = run / "teacher" / name
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    assert main(["evaluate", "--run", str(run), "--questions", str(WORLD_VALID), "--out", str(run / "e")]) == 2
    assert name in capsys.readouterr().err


def test_malformed_train_set_names_the_file(run, capsys):
    good = (run / "train_set.jsonl").read_text().splitlines()[0]
    (run / "train_set.jsonl").write_text(good + '\n{"id": 3\n')
    shutil.rmtree(run / "student")
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert f"{run / 'train_set.jsonl'}:2:" in capsys.readouterr().err


def test_teacher_dump_without_prob(tmp_path, capsys):
    dump = tmp_path / "dump.jsonl"
    dump.write_text('{"id": "q1", "paths": [{"path": "born_in"}]}\n')
    assert main(["serialize", "-g", WORLD, "--questions", str(WORLD_VALID), "--teacher-dump", str(dump),
                 "--out", str(tmp_path / "ts.jsonl")]) == 2
    assert f"{dump}:1:" in capsys.readouterr().err


def test_repeated_question_ids_are_refused(tmp_path):
    from kgdistill.datasets import Question
    from kgdistill.errors import ConfigError
    from kgdistill.readers import load_graph
    from kgdistill.serializer import SerializerConfig, build_training_set

    kg = load_graph(WORLD)
    qs = [Question("same", "where was X born", ["Joe Biden"], ["Scranton"]),
          Question("same", "who is X married to", ["Jill Biden"], ["Joe Biden"])]
    with pytest.raises(ConfigError, match="repeated question id"):
        build_training_set(kg, qs, None, SerializerConfig(), hops=1)
    dump = [{"id": "a", "paths": []}, {"id": "a", "paths": []}]
    with pytest.raises(ConfigError, match="teacher dump"):
        build_training_set(kg, qs[:1], dump, SerializerConfig(), hops=1)


def test_nan_loss_stops_training():
    """`train --temperature inf` trained on NaN losses and exited 0: now refused up
    front, and any NaN loss stops training with a message."""
    import torch

    from kgdistill.errors import TrainingError
    from kgdistill.training import TrainArgs, TrainTask, fit

    class Broken(TrainTask):
        model = torch.nn.Linear(2, 1)

        def num_examples(self):
            return 4

        def loss(self, indices):
            return self.model(torch.ones(1, 2)).sum() * float("nan")

    with pytest.raises(TrainingError, match="nan"):
        fit(Broken(), TrainArgs(epochs=1), progress=False)
    assert main(["train", *SMALL, "--temperature", "inf", "--out", "unused"]) == 2


def test_max_minutes_stops_within_an_epoch():
    import torch

    from kgdistill.training import TrainArgs, TrainTask, fit

    class Slow(TrainTask):
        model = torch.nn.Linear(2, 1)

        def num_examples(self):
            return 1000

        def loss(self, indices):
            import time

            time.sleep(0.01)
            return self.model(torch.ones(1, 2)).pow(2).sum()

    result = fit(Slow(), TrainArgs(epochs=5, batch_size=1, max_minutes=0.005), progress=False)
    assert result["epochs"] == 1 and "max_minutes" in result["stopped"]


def test_unlabeled_questions_add_teacher_soft_targets(tmp_path, capsys):
    """--unlabeled: questions without answers teach the student through the teacher."""
    rows = [json.loads(x) for x in WORLD_VALID.read_text().splitlines()[:10]]
    unlabeled = tmp_path / "mine.jsonl"
    unlabeled.write_text("".join(json.dumps({"question": r["question"].replace("Where", "In which place"),
                                             "topic_entities": r["topic_entities"]}) + "\n" for r in rows))
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--unlabeled", str(unlabeled), "--out", str(out)]) == 0
    assert "soft targets for 10 unlabeled questions" in capsys.readouterr().out
    records = [json.loads(x) for x in (out / "unlabeled_set.jsonl").read_text().splitlines()]
    assert len(records) == 10 and all(r["soft"] and not r["hard"] and r["id"].startswith("unlabeled:")
                                      for r in records)
    assert json.loads((out / "student" / "metrics.json").read_text())["unlabeled_records"] == 10
    assert json.loads((out / "config.json").read_text())["unlabeled"] == str(unlabeled.resolve())


def test_training_keeps_its_state_on_the_score_evaluate_reports(tmp_path, monkeypatch):
    """The training validated with a beam of 3 while its final report and `evaluate`
    used 5: a MetaQA 2-hop student was kept for 97.18 and reported at 97.04. Every
    decoding of a training (validation, report) now uses evaluate's default width, and
    the kept state's validation score is the reported one."""
    from kgdistill import reasoner as reasoner_module
    from kgdistill.cli import build_parser

    widths = []
    original = reasoner_module.Reasoner.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        widths.append(self.beam_size)

    monkeypatch.setattr(reasoner_module.Reasoner, "__init__", spy)
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--out", str(out), "--student-epochs", "2"]) == 0
    evaluate_default = build_parser().parse_args(
        ["evaluate", "--run", "r", "--questions", "q", "--out", "o"]).beam
    assert len(widths) >= 3 and set(widths) == {evaluate_default}  # two validations, one report
    metrics = json.loads((out / "metrics.json").read_text())
    kept = json.loads((out / "student" / "metrics.json").read_text())["best_valid_hits@1"]
    assert kept == pytest.approx(metrics["valid"]["hits@1"])


def test_a_longer_time_box_on_a_finished_run_says_it_trains_nothing_more(run, capsys):
    """`train --resume RUN --max-minutes 240` on a run that had stopped at its time box
    re-validated the old student and said only "trained already": a user asking for more
    training got none, without being told."""
    metrics = json.loads((run / "student" / "metrics.json").read_text())
    metrics["stopped"] = "max_minutes=1.0 reached in epoch 1"
    (run / "student" / "metrics.json").write_text(json.dumps(metrics))
    assert main(["train", "--resume", str(run), "--max-minutes", "240", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "finished at its 1-minute time box" in out and "(the time box now saved, 240 minutes," in out
    assert "start a new run with a longer --max-minutes" in out  # a student built from scratch: no --base-model
    assert main(["train", "--resume", str(run), "--max-minutes", "1", "--quiet"]) == 0  # the same box: nothing to say
    assert "time box" not in capsys.readouterr().out


def test_the_way_to_train_on_depends_on_the_student():
    import dataclasses
    from pathlib import Path

    from kgdistill.runs import RunConfig, _say_box_not_extended

    said = []
    c = RunConfig(graph="kb", train="t")
    smol = dataclasses.replace(c, student=dataclasses.replace(c.student, base_model="/models/smol"))
    for cfg, box in ((smol, 0), (smol, 240)):
        cfg = dataclasses.replace(cfg, student_training=dataclasses.replace(cfg.student_training, max_minutes=box))
        _say_box_not_extended({"stopped": "max_minutes=88.0 reached in epoch 1"}, cfg, Path("runs/a"), said.append)
    assert said[0].startswith("student: it finished at its 88-minute time box") and "now saved, none, changes nothing" in said[0]
    assert said[1].endswith("start a new run from it: kgdistill train ... --base-model runs/a/student --out NEW_RUN")
    tuned = dataclasses.replace(smol, student=dataclasses.replace(smol.student, adaptation="prompt_tuning"))
    _say_box_not_extended({"stopped": "max_minutes=88.0 reached"}, tuned, Path("runs/a"), said.append)
    assert said[2].endswith("start a new run with a longer --max-minutes")  # --base-model refuses prompt students
    _say_box_not_extended({"stopped": "epochs done"}, smol, Path("runs/a"), said.append)
    _say_box_not_extended({}, smol, Path("runs/a"), said.append)
    assert len(said) == 3
