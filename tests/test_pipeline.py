"""End to end on the example graph: teacher -> serialize -> distill -> save -> reload ->
query -> verify, through the command line, asserting the files each step writes."""
import json
import random

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
                 "--epochs", "25", "--alpha", "0.5", "--out", str(student_dir)]) == 0
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
