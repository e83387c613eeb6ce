import json

import pytest
import torch

from kgdistill.cli import main
from tests.conftest import DATA, GRAPHS, need

WORLD = str(GRAPHS / "world.ttl")


def test_help_teaches(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "~born_in" in out and "kgdistill verify" in out


def test_verify_exit_codes_and_json(capsys):
    assert main(["verify", "-g", WORLD, "Joe Biden -> born_in -> Scranton -> city_of -> United States"]) == 0
    assert "VALID" in capsys.readouterr().out
    assert main(["verify", "-g", WORLD, "--json", "Scranton -> born_in -> Joe Biden"]) == 1
    rec = json.loads(capsys.readouterr().out)
    assert rec["reason"] == "wrong_direction" and rec["failing_hop"] == 0
    assert main(["verify", "-g", WORLD, "--topic", "Joe Biden", "born_in -> city_of"]) == 0
    assert "United States" in capsys.readouterr().out


def test_verify_file(tmp_path, capsys):
    f = tmp_path / "paths.txt"
    f.write_text("Joe Biden -> born_in -> Scranton\nJoe Biden\tborn_in -> city_of\n"
                 '{"path": "Jill Biden -> spouse_of -> Joe Biden"}\n', encoding="utf-8")
    assert main(["verify", "-g", WORLD, "--file", str(f)]) == 1
    assert "2/3 paths valid" in capsys.readouterr().out


def test_errors_name_file_and_line(tmp_path, capsys):
    kb = tmp_path / "kb.txt"
    kb.write_text("a|r|b\nbroken line\n", encoding="utf-8")
    assert main(["stats", "-g", str(kb), "--format", "metaqa"]) == 2
    assert f"{kb}:2:" in capsys.readouterr().err
    assert main(["stats", "-g", str(tmp_path / "missing.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["verify", "-g", WORLD, "Joe Biden -> born_in"]) == 2
    assert main(["paths", "-g", WORLD, "Nobody"]) == 2
    assert "unknown entity" in capsys.readouterr().err


def test_stats_paths_questions(capsys):
    assert main(["stats", "-g", WORLD, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["triples"] == 406
    assert main(["paths", "-g", WORLD, "Joe Biden", "--max-hops", "2"]) == 0
    assert "born_in -> city_of" in capsys.readouterr().out
    assert main(["paths", "-g", WORLD, "Joe Biden", "--max-hops", "2", "--json"]) == 0
    two = [p["path"] for p in json.loads(capsys.readouterr().out)["paths"]]
    assert main(["paths", "-g", WORLD, "Joe Biden", "--max-hops", "3", "--max-paths", str(len(two)), "--json"]) == 0
    assert sorted(p["path"] for p in json.loads(capsys.readouterr().out)["paths"]) == sorted(two)  # shortest kept
    assert main(["questions", str(GRAPHS / "world_questions.jsonl"), "-g", WORLD, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["coverage"]["reachable_share"] == 1.0


def test_metaqa_verify_cli(capsys):
    kb = str(need(DATA / "metaqa" / "kb.txt"))
    assert main(["verify", "-g", kb, "Kismet -> directed_by -> William Dieterle"]) == 0
    assert main(["verify", "-g", kb, "Kismet -> directed_by -> Ronald Colman"]) == 1
    out = capsys.readouterr().out
    assert "hop 1: no edge (Kismet) -[directed_by]-> (Ronald Colman)" in out


def test_teacher_train_and_dump(tmp_path, capsys):
    qs = str(GRAPHS / "world_questions.jsonl")
    out = tmp_path / "teacher"
    assert main(["teacher", "train", "-g", WORLD, "--train", qs, "--valid", qs, "--hops", "3",
                 "--epochs", "2", "--out", str(out)]) == 0
    assert "teacher saved to" in capsys.readouterr().out
    assert {f.name for f in out.iterdir()} == {"config.json", "model.safetensors", "metrics.json"}
    dump = tmp_path / "soft.jsonl"
    assert main(["teacher", "dump", "-g", WORLD, "--teacher", str(out), "--questions", qs,
                 "--out", str(dump), "--top-k", "3"]) == 0
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(records) == 470
    for r in records:  # the top 3 of a distribution over paths, best first
        probs = [p["prob"] for p in r["paths"]]
        assert 1 <= len(probs) <= 3 and probs == sorted(probs, reverse=True), r
        assert all(p > 0 for p in probs) and sum(probs) <= 1 + 1e-6, r
    assert main(["teacher", "dump", "-g", WORLD, "--teacher", str(tmp_path / "nope"), "--questions", qs,
                 "--out", str(dump)]) == 2


def test_verify_file_with_wrongly_typed_json(tmp_path, capsys):
    """`{"path": null}` in a verify --file was a traceback."""
    f = tmp_path / "paths.jsonl"
    f.write_text('{"path": "Joe Biden -> born_in -> Scranton"}\n{"path": null}\n', encoding="utf-8")
    assert main(["verify", "-g", WORLD, "--file", str(f)]) == 2
    assert f"{f}:2:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["query", "--beam", "0"], ["query", "--max-hops", "0"], ["query", "--max-hops", "-2"],
    ["evaluate", "--run", "r", "--max-hops", "0"], ["teacher", "dump", "--top-k", "0"],
    ["train", "--max-minutes", "-5"], ["train", "--hops", "50"], ["train", "--temperature", "inf"],
    ["train", "--temperature", "nan"], ["train", "--top-k", "0"], ["distill", "--alpha", "1.5"],
])
def test_parameters_are_range_checked(argv, capsys):
    """These were accepted (evaluate silently replaced --max-hops 0 by 3; --hops 50
    made a teacher epoch on the example graph take 151 s)."""
    assert main(argv) == 2
    assert "expected" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here")
@pytest.mark.parametrize("argv", [
    ["serve", "--run", "no-such-run"], ["mcp", "--run", "no-such-run"], ["query", "--run", "no-such-run", "q"],
    ["evaluate", "--run", "no-such-run", "--questions", "q.jsonl", "--out", "no-such-out"],
    ["train", "--resume", "no-such-run"],
])
def test_cuda_without_a_gpu_is_said_before_anything_loads(argv, capsys):
    """`serve --device cuda` loaded the run (minutes for a large student) and only then
    said there was no GPU (audit of 2026-12-07)."""
    assert main(argv + ["--device", "cuda"]) == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here")
def test_resume_checks_the_saved_device_first_and_device_replaces_it(tmp_path, capsys):
    """A run saved with device cuda, resumed on a machine without a GPU, failed only
    after loading its graph; `--device` on resume was silently ignored (review of
    2026-12-07)."""
    import dataclasses

    from kgdistill.runs import RunConfig

    c = RunConfig(graph=str(tmp_path / "missing-kb.txt"), train=str(tmp_path / "t.jsonl"))
    c = dataclasses.replace(c, teacher_training=dataclasses.replace(c.teacher_training, device="cuda"),
                            student_training=dataclasses.replace(c.student_training, device="cuda"))
    (tmp_path / "config.json").write_text(json.dumps(c.to_dict()), encoding="utf-8")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--device", "cpu"]) == 2  # on, on the CPU: the graph is missing
    err = capsys.readouterr().err
    assert "CUDA" not in err and "missing-kb.txt" in err


def test_a_started_run_may_go_on_on_another_device():
    """`--resume RUN --device cuda` was refused for a started run as "another
    configuration (teacher_training.device: 'cpu' in the run, 'cuda' now)"."""
    import dataclasses

    from kgdistill.runs import RunConfig, _differences

    c = RunConfig(graph="kb", train="t")
    moved = dataclasses.replace(c, teacher_training=dataclasses.replace(c.teacher_training, device="cuda"),
                                student_training=dataclasses.replace(c.student_training, device="cuda"))
    assert _differences(c.to_dict(), moved.to_dict()) == []
    other = dataclasses.replace(c, student_training=dataclasses.replace(c.student_training, lr=0.5))
    assert _differences(c.to_dict(), other.to_dict()) == [f"student_training.lr: {c.student_training.lr!r} in the run, 0.5 now"]
