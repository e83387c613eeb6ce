"""kgdistill average: students of one lineage averaged weight by weight into a new run."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from kgdistill.cli import main
from kgdistill.errors import RunError
from kgdistill.soup import average_runs

from .conftest import WORLD_VALID


def _shifted_copy(run, dest, shift: float):
    """A copy of ``run`` whose student's floating weights are all moved by ``shift``."""
    copy = shutil.copytree(run, dest)
    f = copy / "student" / "model.safetensors"
    sd = load_file(str(f))
    save_file({k: v + shift if v.is_floating_point() else v for k, v in sd.items()}, str(f),
              metadata={"format": "pt"})
    return copy


def test_average_writes_the_weighted_mean_as_a_run_that_answers(world_run, tmp_path, capsys):
    other = _shifted_copy(world_run, tmp_path / "other", 0.5)
    out = tmp_path / "soup"
    assert main(["average", str(world_run), str(other), "--out", str(out), "--weights", "3", "1"]) == 0
    assert "averaged student written" in capsys.readouterr().out
    a = load_file(str(world_run / "student" / "model.safetensors"))
    got = load_file(str(out / "student" / "model.safetensors"))
    assert set(got) == set(a)
    for k, v in a.items():
        if v.is_floating_point():
            assert torch.allclose(got[k], v + 0.125, atol=1e-6), k  # 0.75 * v + 0.25 * (v + 0.5)
    meta = json.loads((out / "student" / "kgdistill.json").read_text())
    assert [s["weight"] for s in meta["averaged_from"]] == [0.75, 0.25]
    assert (out / "teacher").is_dir() and (out / "config.json").is_file()
    assert main(["evaluate", "--run", str(out), "--questions", str(WORLD_VALID), "--out", str(tmp_path / "ev"),
                 "--no-teacher"]) == 0


def test_the_average_of_equal_students_answers_as_each_does(world_run, tmp_path):
    """End to end through the Python API: the average of a student and its copy answers
    every validation question with the same paths and answers (the mean itself is
    checked in the test above)."""
    same = shutil.copytree(world_run, tmp_path / "same")
    out = average_runs([world_run, same], tmp_path / "soup", echo=lambda _: None)
    scores = []
    for run in (world_run, out):
        assert main(["evaluate", "--run", str(run), "--questions", str(WORLD_VALID), "--no-teacher",
                     "--out", str(tmp_path / f"ev-{run.name}")]) == 0
        rows = (tmp_path / f"ev-{run.name}" / "predictions.jsonl").read_text().splitlines()
        scores.append([([p["path"] for p in json.loads(r)["paths"]], json.loads(r)["answers"]) for r in rows])
    assert scores[0] and all(paths for paths, _ in scores[0])
    assert scores[0] == scores[1]


def test_adapter_weights_are_averaged_too(world_run, tmp_path):
    """Prompt-learning students keep their virtual tokens in adapter/: those are
    averaged as well (not copied from the last run)."""
    runs = []
    for i, value in enumerate((1.0, 3.0)):
        run = shutil.copytree(world_run, tmp_path / f"r{i}")
        (run / "student" / "adapter").mkdir()
        save_file({"prompt_embeddings": torch.full((2, 4), value)},
                  str(run / "student" / "adapter" / "adapter_model.safetensors"))
        (run / "student" / "adapter" / "adapter_config.json").write_text("{}")
        runs.append(run)
    out = average_runs(runs, tmp_path / "soup", echo=lambda _: None)
    got = load_file(str(out / "student" / "adapter" / "adapter_model.safetensors"))
    assert torch.equal(got["prompt_embeddings"], torch.full((2, 4), 2.0))
    assert (out / "student" / "adapter" / "adapter_config.json").is_file()


def test_students_that_cannot_be_averaged_are_refused(world_run, tmp_path, capsys):
    other_tok = shutil.copytree(world_run, tmp_path / "tok")
    tok = other_tok / "student" / "tokenizer.json"
    raw = json.loads(tok.read_text())
    raw["added_tokens"] = raw.get("added_tokens", [])[:-1]
    tok.write_text(json.dumps(raw))
    assert main(["average", str(world_run), str(other_tok), "--out", str(tmp_path / "o1")]) != 0
    assert "tokenizers (tokenizer.json) differ" in capsys.readouterr().err

    other_shape = shutil.copytree(world_run, tmp_path / "shape")
    f = other_shape / "student" / "model.safetensors"
    sd = load_file(str(f))
    key = next(k for k, v in sd.items() if v.is_floating_point() and v.dim() == 2)
    sd[key] = sd[key][:-1].contiguous()
    save_file(sd, str(f), metadata={"format": "pt"})
    with pytest.raises(RunError, match=f"tensor {key} has shape"):
        average_runs([world_run, other_shape], tmp_path / "o2", echo=lambda _: None)

    def edited(name, edit, file="student/kgdistill.json"):
        run = shutil.copytree(world_run, tmp_path / name)
        raw = json.loads((run / file).read_text())
        edit(raw)
        (run / file).write_text(json.dumps(raw))
        return run

    cases = [(edited("rel", lambda m: m["relations"].append("new_relation")), "different relations .*new_relation"),
             (edited("ser", lambda m: m["serializer"].update(template="Q: {question} P:")), "different prompts"),
             (edited("arch", lambda c: c.update(n_layer=c.get("n_layer", 2) + 1), "student/config.json"),
              "architectures differ .*n_layer"),
             (edited("mode", lambda m: m.update(adaptation="prefix_tuning")), "different adaptation modes")]
    for run, message in cases:
        with pytest.raises(RunError, match=message):
            average_runs([world_run, run], tmp_path / "o0", echo=lambda _: None)
    # LoRA is merged into the weights on save: a LoRA box averages with a fully fine-tuned one
    lora = edited("lora", lambda m: m.update(adaptation="lora"))
    assert (average_runs([world_run, lora], tmp_path / "lora-soup", echo=lambda _: None) / "student").is_dir()
    with pytest.raises(RunError, match="given twice"):
        average_runs([world_run, world_run], tmp_path / "o0")
    taken = tmp_path / "taken"
    (taken / "student").mkdir(parents=True)
    with pytest.raises(RunError, match="not the output of an earlier"):
        average_runs([world_run, tmp_path / "rel"], taken)
    assert (taken / "student").is_dir() and not (tmp_path / "o0").exists()
    with pytest.raises(RunError, match="inside one"):
        average_runs([world_run, tmp_path / "rel"], world_run / "soup")

    no_student = shutil.copytree(world_run, tmp_path / "none")
    shutil.rmtree(no_student / "student")
    with pytest.raises(RunError, match="no trained student"):
        average_runs([world_run, no_student], tmp_path / "o3")
    with pytest.raises(RunError, match="at least two"):
        average_runs([world_run], tmp_path / "o4")
    with pytest.raises(RunError, match="one positive number per run"):
        average_runs([world_run, other_tok], tmp_path / "o5", weights=[1.0])
    with pytest.raises(RunError, match="one positive number per run"):
        average_runs([world_run, other_tok], tmp_path / "o5", weights=[float("inf"), 1.0])
    with pytest.raises(RunError, match="new directory"):
        average_runs([world_run, other_tok], world_run)
    assert not any((tmp_path / n).exists() for n in ("o1", "o2", "o2.tmp", "o3", "o4", "o5"))


def test_students_of_different_hop_counts_average_to_a_run_that_ends_paths_itself(world_run, tmp_path, capsys):
    """The last run's settings would decode a 3-hop student's paths for exactly 2 hops
    (the 2-hop chain's average scored 0.0 on 3-hop questions that way): the average
    takes the largest hop count, with the hop count free. Averaging again into the
    same output replaces it."""
    runs = []
    for hops, exact in ((3, False), (2, True)):
        run = shutil.copytree(world_run, tmp_path / f"h{hops}")
        for file, edit in (("config.json", dict(hops=hops, exact_hops=exact)),
                           ("student/kgdistill.json", dict(hops=hops, longest_path=hops))):
            raw = json.loads((run / file).read_text())
            raw.update(edit)
            (run / file).write_text(json.dumps(raw))
        runs.append(run)
    out = tmp_path / "soup"
    for _ in range(2):
        assert main(["average", *map(str, runs), "--out", str(out)]) == 0
    assert "trained for [2, 3] hops" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    meta = json.loads((out / "student" / "kgdistill.json").read_text())
    assert (config["hops"], config["exact_hops"], meta["hops"], meta["longest_path"]) == (3, False, 3, 3)
    assert not (tmp_path / "soup.tmp").exists()
