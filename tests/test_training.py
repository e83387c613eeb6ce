"""The one training loop (kgdistill.training.fit): resume, accumulation, precision, device."""
import re

import pytest
import torch

from kgdistill.errors import ConfigError
from kgdistill.training import TrainArgs, TrainTask, fit, resolve_device


class Regression(TrainTask):
    """A tiny linear regression: 8 examples, loss = mean squared error of a batch."""

    def __init__(self, fail_at: int | None = None) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Linear(3, 1)
        self.x = torch.randn(8, 3)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5]])
        self.calls, self.fail_at = 0, fail_at

    def num_examples(self):
        return 8

    def loss(self, indices):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        i = torch.tensor(list(indices))
        return (self.model(self.x[i]) - self.y[i]).pow(2).mean()

    def validate(self):
        with torch.no_grad():
            return {"score": -float((self.model(self.x) - self.y).pow(2).mean())}


ARGS = TrainArgs(epochs=4, batch_size=2, lr=0.05, patience=10, optimizer="adamw", weight_decay=0.01)


def test_interrupted_fit_resumes_to_the_same_weights(tmp_path):
    full = Regression()
    fit(full, ARGS, seed=3, checkpoint=tmp_path / "a", progress=False)
    cut = Regression(fail_at=10)  # second batch of the third epoch
    with pytest.raises(KeyboardInterrupt):
        fit(cut, ARGS, seed=3, checkpoint=tmp_path / "b", progress=False)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["state.json", "tensors.safetensors"]
    again = Regression()
    result = fit(again, ARGS, seed=3, checkpoint=tmp_path / "b", progress=False)
    assert result["epochs"] == 4
    for p, q in zip(full.model.parameters(), again.model.parameters()):
        assert torch.equal(p, q)


def test_gradient_accumulation_equals_a_bigger_batch():
    big, small = Regression(), Regression()
    fit(big, TrainArgs(epochs=1, batch_size=4, lr=0.1, patience=5), progress=False)
    fit(small, TrainArgs(epochs=1, batch_size=2, grad_accumulation=2, lr=0.1, patience=5), progress=False)
    for p, q in zip(big.model.parameters(), small.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_bf16_autocast_trains():
    task = Regression()
    before = -task.validate()["score"]
    result = fit(task, TrainArgs(epochs=5, batch_size=4, lr=0.05, precision="bf16", patience=5), progress=False)
    assert result["best_score"] > -before


def test_device_settings_are_checked():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="device must be one of"):
        TrainArgs(device="tpu")
    with pytest.raises(ConfigError, match="precision"):
        TrainArgs(precision="fp8")


def test_interrupted_fit_resumes_inside_the_epoch(tmp_path):
    """A SmolLM2 epoch can take an hour on a CPU: a checkpoint written every
    `checkpoint_minutes` lets an interrupted run continue at the batch after it, to the
    same weights as an uninterrupted run (before, the whole epoch was done again)."""
    import json

    args = TrainArgs(epochs=4, batch_size=2, lr=0.05, patience=10, optimizer="adamw", weight_decay=0.01,
                     checkpoint_minutes=1e-9)  # a checkpoint after every batch
    full = Regression()
    fit(full, args, seed=3, checkpoint=tmp_path / "a", progress=False)
    cut = Regression(fail_at=10)  # second batch of the third epoch
    with pytest.raises(KeyboardInterrupt):
        fit(cut, args, seed=3, checkpoint=tmp_path / "b", progress=False)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["epoch"] == 2 and state["partial"]["batch"] == 1
    again = Regression()
    result = fit(again, args, seed=3, checkpoint=tmp_path / "b", progress=False)
    assert again.calls == 3 + 4  # the rest of epoch 3, then epoch 4
    assert result["epochs"] == 4
    assert [c["train_loss"] for c in result["curve"]] == pytest.approx([c["train_loss"] for c in
                                                                        fit(Regression(), args, seed=3,
                                                                            progress=False)["curve"]])
    for p, q in zip(full.model.parameters(), again.model.parameters()):
        assert torch.equal(p, q)


def test_training_without_a_terminal_prints_progress_lines(monkeypatch, capsys):
    """With stderr in a log file the progress bars are off; a run in the background
    still says where it is (batch, loss, speed) and each epoch's validation score."""
    from kgdistill import training

    monkeypatch.setattr(training, "REPORT_SECONDS", 0.0)
    fit(Regression(), TrainArgs(epochs=2, batch_size=2, lr=0.05, patience=5), progress=True, name="student")
    err = capsys.readouterr().err
    assert "student epoch 1: batch 2/4 (50%), loss " in err
    assert "examples/s, epoch ends in ~0 min" in err
    assert "student epoch 2: training loss " in err and "validation -" in err
    # the score is rounded (it was printed as 0.9710827168796234)
    assert re.search(r"student epoch 2: training loss [-0-9.]+, validation -\d+\.\d{4}, ", err)


def test_progress_steps_write_lines_not_bars_into_a_log(monkeypatch, capsys):
    from kgdistill import training

    monkeypatch.setattr(training, "REPORT_SECONDS", 0.0)
    assert list(training.progress_steps(range(3), "source student")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "source student: batch 1/3 (33%), ends in ~0 min" in err and "batch 2/3 (67%)" in err
    assert "batch 3/3" not in err and "batch/s" not in err
    assert list(training.progress_steps([7], "quiet", progress=False)) == [7]
    assert capsys.readouterr().err == ""
