"""End to end on the example graph: teacher -> serialize -> distill -> save -> reload ->
query -> verify, through the command line, asserting the files each step writes."""
import json
import random
import shutil

from kgdistill.cli import main
from tests.conftest import GRAPHS

WORLD = str(GRAPHS / "world.ttl")


def test_teacher_to_verified_answers(tmp_path, capsys):
    rows = (GRAPHS / "world_questions.jsonl").read_text(encoding="utf-8").splitlines()
    random.Random(0).shuffle(rows)
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text("\n".join(rows[:400]) + "\n", encoding="utf-8")
    valid.write_text("\n".join(rows[400:]) + "\n", encoding="utf-8")
    g = ["-g", WORLD]
    assert main(["teacher", "train", *g, "--train", str(train), "--valid", str(valid), "--hops", "3",
                 "--epochs", "12", "--patience", "4", "--out", str(tmp_path / "teacher")]) == 0
    assert main(["teacher", "dump", *g, "--teacher", str(tmp_path / "teacher"), "--questions", str(train),
                 "--out", str(tmp_path / "soft.jsonl")]) == 0
    assert main(["serialize", *g, "--questions", str(train), "--teacher-dump", str(tmp_path / "soft.jsonl"),
                 "--out", str(tmp_path / "train_set.jsonl"), "--temperature", "2"]) == 0
    records = [json.loads(x) for x in (tmp_path / "train_set.jsonl").read_text().splitlines()]
    assert len(records) == 400 and all(r["hard_source"] == "gold" and r["soft"] for r in records)
    assert all(abs(sum(s["prob"] for s in r["soft"]) - 1) < 1e-6 for r in records)
    student_dir = tmp_path / "student"
    assert main(["distill", *g, "--train-set", str(tmp_path / "train_set.jsonl"), "--valid", str(valid),
                 "--epochs", "25", "--alpha", "0.5", "--out", str(student_dir), "--base-model", "none"]) == 0
    written = {f.name for f in student_dir.iterdir()}
    assert written == {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                       "tokenizer_config.json", "kgdistill.json", "metrics.json"}
    metrics = json.loads((student_dir / "metrics.json").read_text())
    assert metrics["best_valid_hits@1"] >= 0.8, metrics["curve"]
    # Plain transformers loads the student without kgdistill.
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(student_dir).config.model_type == "gpt2"
    capsys.readouterr()
    assert main(["query", *g, "--student", str(student_dir), "--json",
                 "What country is the city where Joe Biden was born in?", "--topic", "Joe Biden"]) == 0
    result = json.loads(capsys.readouterr().out)
    top = result["answers"][0]
    assert top["entity"] == "United States" and top["verified"]
    assert top["path"] == "Joe Biden -> born_in -> Scranton -> city_of -> United States"
    assert all(p["valid"] for p in result["paths"])
    assert main(["verify", *g, top["path"]]) == 0


TRAIN, VALID = str(GRAPHS / "world_train.jsonl"), str(GRAPHS / "world_valid.jsonl")
SMALL = ["-g", WORLD, "--train", TRAIN, "--valid", VALID, "--teacher-epochs", "2", "--student-epochs", "3",
         "--quiet", "--base-model", "none"]


def _comparable(metrics: dict) -> dict:
    """Metrics without wall-clock figures."""
    v = {k: x for k, x in metrics["valid"].items() if "ms" not in k}
    v["teacher"] = {k: x for k, x in v["teacher"].items() if "ms" not in k}
    return {"valid": v, "teacher_loss": [c["train_loss"] for c in metrics["teacher_curve"]],
            "student_loss": [c["train_loss"] for c in metrics["student_curve"]]}


def test_train_resumes_reproduces_and_evaluates(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", *SMALL, "--out", str(a)]) == 0
    assert {f.name for f in a.iterdir()} == {"config.json", "teacher", "soft_targets.jsonl", "train_set.jsonl",
                                              "student", "metrics.json", "valid_predictions.jsonl", "curves.png"}
    config = json.loads((a / "config.json").read_text())
    assert config["hops"] == 3 and config["exact_hops"] is False and config["distill"]["alpha"] == 0.5
    assert config["teacher_training"]["epochs"] == 2 and config["inferred"]["hops"] == 3
    first = json.loads((a / "metrics.json").read_text())
    assert first["valid"]["questions"] == 67 and first["valid"]["valid_path_share"] == 1.0
    assert len(first["student_curve"]) == 3 and len(first["teacher_curve"]) == 2
    # An interruption after the teacher: the rerun keeps the teacher and redoes the rest identically.
    stamp = (a / "teacher" / "model.safetensors").stat().st_mtime_ns
    shutil.rmtree(a / "student")
    (a / "train_set.jsonl").unlink()
    (a / "metrics.json").unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(a), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "teacher: trained already" in out
    assert "inferred from path lengths {1: " in out  # not {'1': ...} as read back from config.json
    assert (a / "teacher" / "model.safetensors").stat().st_mtime_ns == stamp
    assert _comparable(json.loads((a / "metrics.json").read_text())) == _comparable(first)
    # The same seed in a fresh directory reproduces the metrics.
    assert main(["train", *SMALL, "--out", str(b)]) == 0
    assert _comparable(json.loads((b / "metrics.json").read_text())) == _comparable(first)
    # Another configuration is refused rather than mixed into the run; so are bad settings,
    # before any data is loaded, and settings given beside --resume.
    assert main(["train", *SMALL, "--alpha", "0.2", "--out", str(a)]) == 2
    assert "another configuration" in capsys.readouterr().err
    assert main(["train", *SMALL, "--alpha", "1.5", "--out", str(tmp_path / "c")]) == 2
    assert "--alpha: expected a finite number >= 0.0 and <= 1.0, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    assert main(["train", "--resume", str(a), "--alpha", "0.2", "--train", TRAIN]) == 2
    assert "drop --train" in capsys.readouterr().err
    # A time box is not a model setting: --resume may extend it, and the same command
    # with another --max-minutes continues the run instead of being refused.
    assert main(["train", "--resume", str(a), "--max-minutes", "7", "--quiet"]) == 0
    config = json.loads((a / "config.json").read_text())
    assert config["teacher_training"]["max_minutes"] == 7.0 and config["student_training"]["max_minutes"] == 7.0
    assert _comparable(json.loads((a / "metrics.json").read_text())) == _comparable(first)
    assert main(["train", *SMALL, "--max-minutes", "9", "--out", str(a), "--quiet"]) == 0
    assert json.loads((a / "config.json").read_text())["student_training"]["max_minutes"] == 9.0
    # So is what is saved beside the student: --keep-both on resume (this student is
    # built from scratch and trained already: no average, and the run says so).
    capsys.readouterr()
    assert main(["train", "--resume", str(a), "--keep-both", "--quiet"]) == 0
    assert json.loads((a / "config.json").read_text())["student_training"]["keep_both"] is True
    assert "no second student can be kept now" in capsys.readouterr().out
    # Evaluate the run on a question file.
    ev = tmp_path / "eval"
    assert main(["evaluate", "--run", str(a), "--questions", VALID, "--out", str(ev)]) == 0
    assert "ceiling 100.0 within 3 hops" in capsys.readouterr().out
    m = json.loads((ev / "metrics.json").read_text())
    assert m["hits@1"] == first["valid"]["hits@1"] and m["questions"] == 67
    assert m["relation_path_accuracy"] is not None and m["reachable_ceiling"] == 1.0 and "teacher" in m
    rows = [json.loads(x) for x in (ev / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 67 and sum(r["hit"] for r in rows) == round(m["hits@1"] * 67)
    top = rows[0]["answers"][0]
    assert set(top) == {"entity", "key", "score", "path", "path_prob", "verified"} and top["verified"]
    assert rows[0]["gold_answers"] and rows[0]["gold_path"] and "path_correct" in rows[0]


def test_evaluate_a_student_alone_needs_a_graph_and_a_student(tmp_path, capsys):
    assert main(["evaluate", "--student", str(tmp_path), "--questions", VALID, "--out", str(tmp_path)]) == 2
    assert "--student needs the knowledge graph" in capsys.readouterr().err
    assert main(["evaluate", "--student", str(tmp_path), "-g", WORLD, "--questions", VALID,
                 "--out", str(tmp_path)]) == 2
    assert "not a saved kgdistill student" in capsys.readouterr().err


def test_rdf_ids_do_not_depend_on_the_hash_seed():
    """rdflib iterates in hash order; ids (and all that is trained on them) must not."""
    import os
    import subprocess
    import sys

    code = ("from kgdistill.readers import load_graph; kg = load_graph(%r); "
            "print(list(kg.entity_labels_all())[:50], list(kg.relation_labels_all()))" % WORLD)
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")}
    assert len(outs) == 1


def test_demo_trains_answers_and_draws(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the example graph is package data: any directory works
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Joe Biden -> born_in -> Scranton -> city_of -> United States   [p=" in text
    assert "exists only in the other direction" in text and "hop 2: no edge (Scranton)" in text
    for name in ("reasoning.png", "curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "reasoning.svg").read_text().lstrip().startswith("<?xml")
    assert json.loads((out / "metrics.json").read_text())["valid"]["hits@1"] >= 0.9


def test_reasoning_picture_labels_the_proving_relation(tmp_path):
    from kgdistill.paths import GroundedPath
    from kgdistill.plots import plot_reasoning
    from kgdistill.readers import load_graph

    kg = load_graph(WORLD)
    # Ada Lovelace was born and died in London: the picture must name the relation used.
    svg = plot_reasoning(kg, GroundedPath.parse("Ada Lovelace -> born_in -> London"), tmp_path / "p.svg").read_text()
    assert ">born_in<" in svg and ">died_in<" not in svg and "London" in svg


def test_train_interrupted_in_its_soft_targets_resumes(tmp_path, capsys, monkeypatch):
    """Ctrl-C while the teacher writes its soft targets used to lose them all (they were
    written at the end); now the rerun keeps the whole chunks, asks the teacher for the
    rest only, and writes the file an uninterrupted run writes."""
    import kgdistill.io
    from kgdistill import runs

    monkeypatch.setattr(runs, "SOFT_TARGET_CHUNK", 100)
    real = kgdistill.io.write_jsonl_resumable
    asked = []

    def interrupting(path, ids, produce, *args, stop_at=None, **kwargs):
        def counted(start, stop):
            if len(asked) == stop_at:
                raise KeyboardInterrupt
            asked.append(start)
            return produce(start, stop)
        return real(path, ids, counted, *args, **kwargs)

    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setattr(kgdistill.io, "write_jsonl_resumable", lambda *x, **k: interrupting(*x, stop_at=2, **k))
    assert main(["train", *SMALL, "--out", str(a)]) == 130
    assert "interrupted" in capsys.readouterr().err and asked == [0, 100]
    assert len((a / "soft_targets.jsonl.partial").read_text().splitlines()) == 200
    assert not (a / "soft_targets.jsonl").exists() and not (a / "student").exists()
    c = tmp_path / "c"  # the same, but its teacher trained again: the old teacher's rows are dropped
    shutil.copytree(a, c)
    shutil.rmtree(c / "teacher")
    monkeypatch.setattr(kgdistill.io, "write_jsonl_resumable", lambda *x, **k: interrupting(*x, stop_at=3, **k))
    asked.clear()
    assert main(["train", "--resume", str(c), "--quiet"]) == 130
    assert asked == [0, 100, 200] and "resuming" not in capsys.readouterr().out
    asked.clear()
    monkeypatch.setattr(kgdistill.io, "write_jsonl_resumable", lambda *x, **k: interrupting(*x, **k))
    assert main(["train", "--resume", str(a), "--quiet"]) == 0
    assert asked == [200, 300, 400] and "resuming after 200 of 403 questions" in capsys.readouterr().out
    assert main(["train", *SMALL, "--out", str(b)]) == 0
    assert (a / "soft_targets.jsonl").read_text() == (b / "soft_targets.jsonl").read_text()
    assert _comparable(json.loads((a / "metrics.json").read_text())) == _comparable(
        json.loads((b / "metrics.json").read_text()))
