"""The one training loop (kgdistill.training.fit): resume, accumulation, precision, device."""
import json
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
    """Under ``precision="bf16"`` the forward pass runs in bf16 (autocast), and it still learns."""
    task = Regression()
    dtypes = []
    task.model.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    before = -task.validate()["score"]
    dtypes.clear()
    result = fit(task, TrainArgs(epochs=5, batch_size=4, lr=0.05, precision="bf16", patience=5), progress=False)
    assert result["best_score"] > -before
    assert torch.bfloat16 in dtypes
    dtypes.clear()
    task32 = Regression()
    task32.model.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    fit(task32, TrainArgs(epochs=1, batch_size=4, lr=0.05, precision="fp32", patience=5), progress=False)
    assert set(dtypes) == {torch.float32}


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


class Signalled(Regression):
    """Sends ``signum`` to this process during its ``at``-th batch (as Ctrl-C or a
    scheduler's SIGTERM would arrive in the middle of a batch)."""

    def __init__(self, signum, at, again=False):
        super().__init__()
        self.signum, self.at, self.again = signum, at, again

    def loss(self, indices):
        import os

        if self.calls + 1 == self.at:
            os.kill(os.getpid(), self.signum)
            if self.again:  # a second one in the same batch
                os.kill(os.getpid(), self.signum)
        return super().loss(indices)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_at_the_next_batch_with_a_checkpoint(tmp_path, signame, caplog):
    """Ctrl-C or SIGTERM in the middle of an epoch, with no periodic checkpoint due:
    before, everything since the last epoch's checkpoint was lost (SIGTERM killed the
    process outright); now the batch finishes, a checkpoint is written after it, and the
    resumed run ends with the weights of an uninterrupted one."""
    import signal

    full = Regression()
    fit(full, ARGS, seed=3, checkpoint=tmp_path / "a", progress=False)
    before = signal.getsignal(signal.SIGTERM)
    cut = Signalled(getattr(signal, signame), at=10)  # second batch of the third epoch
    with pytest.raises(KeyboardInterrupt):
        fit(cut, ARGS, seed=3, checkpoint=tmp_path / "b", progress=False)
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are put back
    assert cut.calls == 10 and f"{signame} received" in caplog.text
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["epoch"] == 2 and state["partial"]["batch"] == 2
    again = Regression()
    assert fit(again, ARGS, seed=3, checkpoint=tmp_path / "b", progress=False)["epochs"] == 4
    assert again.calls == 2 + 4  # the rest of epoch 3, then epoch 4
    for p, q in zip(full.model.parameters(), again.model.parameters()):
        assert torch.equal(p, q)
    twice = Signalled(signal.SIGINT, at=10, again=True)  # Ctrl-C twice: at once, no new checkpoint
    with pytest.raises(KeyboardInterrupt):
        fit(twice, ARGS, seed=3, checkpoint=tmp_path / "c", progress=False)
    assert twice.calls == 9 and json.loads((tmp_path / "c" / "state.json").read_text())["partial"] is None


def test_training_without_a_terminal_prints_progress_lines(monkeypatch, capsys):
    """With stderr in a log file the progress bars are off; a run in the background
    still says where it is (batch, loss, speed) and each epoch's validation score."""
    from kgdistill import training

    monkeypatch.setattr(training, "REPORT_SECONDS", 0.0)
    monkeypatch.setattr(training, "_is_tty", lambda: False)
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
    monkeypatch.setattr(training, "_is_tty", lambda: False)
    assert list(training.progress_steps(range(3), "source student")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "source student: batch 1/3 (33%), ends in ~0 min" in err and "batch 2/3 (67%)" in err
    assert "batch 3/3" not in err and "batch/s" not in err
    assert list(training.progress_steps([7], "quiet", progress=False)) == [7]
    assert capsys.readouterr().err == ""


def test_a_resumed_pass_estimates_the_time_left_from_its_own_pace(monkeypatch, capsys):
    """Soft targets resumed after 40,000 of 100,000 questions: the estimate comes from
    the 4,000 done in this process in 60 s (14 min left), not from 44,000 in 60 s."""
    from kgdistill import training

    monkeypatch.setattr(training, "REPORT_SECONDS", 0.0)
    monkeypatch.setattr(training, "_is_tty", lambda: False)  # as under `pytest -s` in a terminal too
    ticks = [100.0, 160.0, 220.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: ticks.pop(0) if len(ticks) > 1 else ticks[0])
    report = training.line_reporter("soft targets", "questions")
    report(40_000, 100_000)  # where it starts: kept by the interrupted run
    report(44_000, 100_000)
    report(100_000, 100_000)  # done: the bar's last line is not needed
    assert capsys.readouterr().err == "soft targets: questions 44,000/100,000 (44%), ends in ~14 min\n"
    assert training.line_reporter("quiet", "questions", progress=False) is None


class Recorder(Regression):
    """Regression that records the weights each batch starts from (those after the
    previous optimizer step) and validates by closeness to ``target`` when given."""

    def __init__(self, target=None, fail_at=None, n: int = 8) -> None:
        super().__init__(fail_at=fail_at)
        self.seen, self.target, self.n = [], target, n
        self.x = torch.randn(n, 3, generator=torch.Generator().manual_seed(1))
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def num_examples(self):
        return self.n

    def loss(self, indices):
        self.seen.append(torch.cat([p.detach().flatten() for p in self.model.parameters()]).clone())
        return super().loss(indices)

    def validate(self):
        if self.target is None:
            return super().validate()
        w = torch.cat([p.detach().flatten() for p in self.model.parameters()])
        return {"score": -float((w - self.target).norm())}


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _expected_average(args):
    """The mean of the weights after batches 16..32 of 32 (the last half), replayed
    without averaging: averaging must not change the trajectory."""
    plain = Recorder()
    fit(plain, TrainArgs(**{**vars(args), "average_tail": 0.0}), seed=3, progress=False)
    final = _weights(plain.model)  # the loss falls every epoch: the best state is the last
    return torch.stack(plain.seen[16:] + [final]).mean(0)


TAIL = TrainArgs(epochs=8, batch_size=2, lr=0.05, patience=20, optimizer="adamw", weight_decay=0.01,
                 average_tail=0.5)  # 4 batches an epoch: a snapshot after every batch of the last 16


def test_the_tail_average_is_the_mean_of_the_last_half_and_kept_when_it_validates_better():
    """`average_tail` (SWA over the end of one run): the kept weights are the uniform
    mean of the snapshots after each of the last 16 batches and the final weights."""
    expected = _expected_average(TAIL)
    task = Recorder(target=expected)
    result = fit(task, TAIL, seed=3, progress=False)
    assert result["average"]["snapshots"] == 17 and result["average"]["kept"]
    assert torch.allclose(_weights(task.model), expected, atol=1e-6)
    assert result["best_score"] == pytest.approx(0.0, abs=1e-5)


def test_resuming_a_finished_run_does_not_count_its_last_snapshot_twice(tmp_path):
    expected = _expected_average(TAIL)
    fit(Recorder(target=expected), TAIL, seed=3, checkpoint=tmp_path, progress=False)
    again = Recorder(target=expected)
    assert fit(again, TAIL, seed=3, checkpoint=tmp_path, progress=False)["average"]["snapshots"] == 17
    assert again.calls == 0 and torch.allclose(_weights(again.model), expected, atol=1e-6)


def test_the_tail_average_is_not_kept_when_the_best_epoch_validates_better():
    task = Recorder()  # -MSE: the converging final weights beat the average of the tail
    result = fit(task, TAIL, seed=3, progress=False)
    plain = Recorder()
    fit(plain, TrainArgs(**{**vars(TAIL), "average_tail": 0.0}), seed=3, progress=False)
    assert result["average"]["snapshots"] == 17 and not result["average"]["kept"]
    assert result["average"]["valid_hits@1"] < result["best_score"]
    assert torch.equal(_weights(task.model), _weights(plain.model))
    assert fit(Recorder(), TrainArgs(**{**vars(TAIL), "average_tail": 0.0}), seed=3,
               progress=False)["average"] is None


def test_a_tie_on_validation_goes_to_the_average():
    """What an average gains is on questions unlike the validation set's (re-wordings):
    where it validates as well as the best epoch, it is kept."""

    class Flat(Recorder):
        def validate(self):
            return {"score": 1.0}

    task = Flat()
    result = fit(task, TAIL, seed=3, progress=False)
    assert result["average"]["kept"] and torch.allclose(_weights(task.model), _expected_average(TAIL), atol=1e-6)


def test_the_final_weights_close_the_average_between_snapshots():
    """Snapshots come every eighth of an epoch (here every 3 of 17 batches, from batch
    17 on); the final weights (batch 34) are always the last one, even off that grid."""
    args = TrainArgs(epochs=2, batch_size=1, lr=0.02, patience=5, average_tail=0.5)
    plain = Recorder(n=17)
    fit(plain, TrainArgs(**{**vars(args), "average_tail": 0.0}), seed=3, progress=False)
    after = plain.seen[1:] + [_weights(plain.model)]  # the weights after batch 1, 2, ..., 34
    expected = torch.stack([after[b - 1] for b in (17, 20, 23, 26, 29, 32, 34)]).mean(0)
    task = Recorder(target=expected, n=17)
    result = fit(task, args, seed=3, progress=False)
    assert result["average"]["snapshots"] == 7 and result["average"]["kept"]
    assert torch.allclose(_weights(task.model), expected, atol=1e-6)


GRID = TrainArgs(epochs=2, batch_size=1, lr=0.02, patience=5, average_tail=0.5,
                 checkpoint_minutes=1e-9)  # 17 batches an epoch, a checkpoint after each


def test_an_interrupted_run_resumes_its_tail_average(tmp_path):
    """The running average, its count, the next and the last snapshot's batch are in
    the checkpoint: interrupted between two snapshots of the tail (after batch 21, inside
    an epoch), the run ends with the same average; resuming the finished run adds nothing."""
    plain = Recorder(n=17)
    fit(plain, TrainArgs(**{**vars(GRID), "average_tail": 0.0}), seed=3, progress=False)
    after = plain.seen[1:] + [_weights(plain.model)]
    expected = torch.stack([after[b - 1] for b in (17, 20, 23, 26, 29, 32, 34)]).mean(0)
    cut = Recorder(target=expected, n=17, fail_at=22)
    with pytest.raises(KeyboardInterrupt):
        fit(cut, GRID, seed=3, checkpoint=tmp_path, progress=False)
    state = json.loads((tmp_path / "state.json").read_text())["average"]
    assert {k: v for k, v in state.items() if k != "began"} == {"count": 2, "next": 23, "last": 20, "stepped": 21,
                                                                 "every": 3, "by_epochs": True}
    again = Recorder(target=expected, n=17)
    result = fit(again, GRID, seed=3, checkpoint=tmp_path, progress=False)
    assert result["average"] == {"snapshots": 7, "valid_hits@1": pytest.approx(0.0, abs=1e-5), "kept": True}
    assert torch.allclose(_weights(again.model), expected, atol=1e-6)
    done = Recorder(target=expected, n=17)
    assert fit(done, GRID, seed=3, checkpoint=tmp_path, progress=False)["average"]["snapshots"] == 7
    assert done.calls == 0 and torch.allclose(_weights(done.model), expected, atol=1e-6)
    off = fit(Recorder(n=17), TrainArgs(**{**vars(GRID), "average_tail": 0.0}), seed=3, checkpoint=tmp_path,
              progress=False)
    assert off["average"] is None  # asked for no average: none, whatever the checkpoint holds


def test_snapshots_follow_optimizer_steps_and_early_stopping_can_end_before_the_tail():
    accumulated = fit(Recorder(n=17), TrainArgs(**{**vars(GRID), "grad_accumulation": 4}), seed=3,
                      progress=False)
    # steps end batches 4, 8, 12, 16, 17 of each epoch: the tail's from batch 17 (epoch 1's
    # last), then the first steps at or after 20, 23, ...: 17, 21, 25, 29, 33, and 34 last
    assert accumulated["average"]["snapshots"] == 6

    class Worse(Recorder):
        def validate(self):
            return {"score": -float(self.calls)}  # every epoch worse: patience ends the run

    stopped = fit(Worse(n=17), TrainArgs(**{**vars(GRID), "epochs": 10, "patience": 1}), seed=3, progress=False)
    assert stopped["epochs"] == 2 and stopped["average"] is None


def test_the_tail_starts_at_its_share_of_the_epochs_or_of_the_time_box():
    from kgdistill.training import _TailAverage

    boxed = _TailAverage(TrainArgs(epochs=10, max_minutes=10, average_tail=0.5))
    assert not boxed.in_tail(done=1, per_epoch=100, seconds=299)
    assert boxed.in_tail(done=1, per_epoch=100, seconds=301)  # half the time box
    assert boxed.in_tail(done=500, per_epoch=100, seconds=0)  # half the epochs
    assert not _TailAverage(TrainArgs(epochs=10, average_tail=0.25)).in_tail(740, 100, 1e9)
    assert _TailAverage(TrainArgs(epochs=10, average_tail=0.7)).in_tail(300, 100, 0)  # not 301 (float noise)
    with pytest.raises(ConfigError, match="average_tail"):
        TrainArgs(average_tail=1.5)


class Timed(Recorder):
    """Each batch takes one second of the fake clock ``CLOCK`` (see ``fake_clock``);
    every state validates alike; ``final``: the weights at the first validation."""

    def loss(self, indices):
        CLOCK[0] += 1.0
        return super().loss(indices)

    def validate(self):
        self.final = getattr(self, "final", None)
        self.final = _weights(self.model) if self.final is None else self.final
        return {"score": 1.0}


CLOCK = [0.0]


@pytest.fixture
def fake_clock(monkeypatch):
    """The training loop's clock is ``CLOCK``, advanced one second a batch by ``Timed``."""
    from types import SimpleNamespace

    from kgdistill import training

    CLOCK[0] = 0.0
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: CLOCK[0]))


def test_about_eight_snapshots_fall_in_a_time_boxed_tail_shorter_than_an_epoch(fake_clock):
    """A SmolLM2 run on a CPU may stop well inside its first epoch: the snapshots are
    spread over the tail's estimated batches, not an eighth of an epoch apart (which
    left 3 snapshots in the 125-minute MetaQA run)."""
    from kgdistill.training import _TailAverage

    boxed = _TailAverage(TrainArgs(epochs=10, max_minutes=10, average_tail=0.5))
    assert boxed.interval(done=300, per_epoch=1000, seconds=300) == 38  # 300 batches left at 1 batch/s
    assert _TailAverage(TrainArgs(epochs=10, average_tail=0.5)).interval(5000, 1000, 99.0) == 125  # an 8th of an epoch
    assert _TailAverage(TrainArgs(epochs=2, average_tail=0.5)).interval(100, 100, 9.0) == 13
    task = Timed(n=1000)  # validated first at the stop, with the final weights
    result = fit(task, TrainArgs(epochs=3, batch_size=1, lr=0.01, patience=5, max_minutes=1, average_tail=0.5),
                 seed=3, progress=False)
    assert result["stopped"].startswith("max_minutes") and len(task.seen) == 61
    # the tail begins at batch 30 (30 s): snapshots at 30, 34, ..., 58 and the final weights
    assert result["average"]["snapshots"] == 9
    expected = torch.stack([task.seen[k] for k in range(30, 59, 4)] + [task.final]).mean(0)
    assert result["average"]["kept"] and torch.allclose(_weights(task.model), expected, atol=1e-6)


def test_a_run_resumed_with_a_longer_time_box_averages_only_the_new_boxs_tail(fake_clock, tmp_path):
    """`train --resume RUN --max-minutes LONGER` after the tail had begun kept the old
    box's snapshots (from half of 1 minute on) and their spacing, so the average reached
    back before the new box's last half. Now the resumed run ends with the weights of
    one uninterrupted run in the longer box."""
    args = TrainArgs(epochs=3, batch_size=1, lr=0.01, patience=5, max_minutes=1, average_tail=0.5,
                     checkpoint_minutes=1e-9)
    longer = TrainArgs(**{**vars(args), "max_minutes": 2})
    straight = Timed(n=1000)
    expected = fit(straight, longer, seed=3, progress=False)
    assert expected["average"]["kept"] and expected["average"]["snapshots"] == 9  # 60, 68, ..., 116 and 121
    with pytest.raises(KeyboardInterrupt):
        fit(Timed(n=1000, fail_at=45), args, seed=3, checkpoint=tmp_path, progress=False)
    assert json.loads((tmp_path / "state.json").read_text())["average"]["count"] == 4  # 30, 34, 38, 42
    again = Timed(n=1000)
    result = fit(again, longer, seed=3, checkpoint=tmp_path, progress=False)
    assert result["average"] == expected["average"]
    assert torch.allclose(_weights(again.model), _weights(straight.model), atol=1e-6)
    # A finished run resumed with a longer box trains nothing more and keeps its average.
    done = Timed(n=1000)
    assert fit(done, TrainArgs(**{**vars(longer), "max_minutes": 5}), seed=3, checkpoint=tmp_path,
               progress=False)["average"] == expected["average"]
    assert done.calls == 0 and torch.allclose(_weights(done.model), _weights(straight.model), atol=1e-6)


def test_a_tail_begun_by_its_share_of_the_epochs_is_kept_when_the_time_box_grows(tmp_path):
    """The time box only moves a tail that the time box began: one begun at half of the
    epochs ends, after a resume with a longer box, with the weights of a run never
    interrupted."""
    boxed = TrainArgs(**{**vars(GRID), "max_minutes": 10})  # batches take microseconds: the box never ends it
    straight = Recorder(n=17)
    expected = fit(straight, boxed, seed=3, progress=False)
    with pytest.raises(KeyboardInterrupt):
        fit(Recorder(n=17, fail_at=22), boxed, seed=3, checkpoint=tmp_path, progress=False)
    assert json.loads((tmp_path / "state.json").read_text())["average"]["by_epochs"] is True
    again = Recorder(n=17)
    result = fit(again, TrainArgs(**{**vars(boxed), "max_minutes": 20}), seed=3, checkpoint=tmp_path, progress=False)
    assert result["average"] == expected["average"] and result["average"]["snapshots"] == 7
    assert torch.allclose(_weights(again.model), _weights(straight.model), atol=1e-6)


def test_a_checkpoint_from_before_the_spacing_was_saved_snapshots_an_eighth_of_an_epoch_apart():
    from kgdistill.training import _TailAverage

    w = torch.nn.Parameter(torch.zeros(2))
    tail = _TailAverage(TrainArgs(epochs=4, average_tail=0.5))
    tail.load({"count": 1, "next": 40, "last": 24, "stepped": 39}, {"avg.w": torch.ones(2)}, {"w": w})
    tail.step(40, 128, 1.0, {"w": w})
    assert (tail.count, tail.next, tail.last) == (2, 56, 40) and torch.equal(tail.avg["w"], torch.full((2,), 0.5))


def test_the_candidate_not_kept_comes_back_when_asked():
    """keep_both: where the average is kept, the run returns the weights it would have
    kept without averaging (those of the same run with average_tail 0); where the
    average loses, the average."""
    expected = _expected_average(TAIL)  # validation: closeness to the average, which is kept
    plain = Recorder(target=expected)
    fit(plain, TrainArgs(**{**vars(TAIL), "average_tail": 0.0}), seed=3, progress=False)
    kept = Recorder(target=expected)
    result = fit(kept, TrainArgs(**{**vars(TAIL), "keep_both": True}), seed=3, progress=False)
    assert result["average"]["kept"]
    scores = [c["valid_hits@1"] for c in result["curve"]]
    assert scores.index(max(scores)) < len(scores) - 1  # the state kept without averaging is not the last
    assert result["other"][0] == "unaveraged"
    assert torch.equal(torch.cat([v.flatten() for v in result["other"][1].values()]), _weights(plain.model))
    assert torch.allclose(_weights(kept.model), expected, atol=1e-6)  # the model holds the average
    assert not torch.allclose(_weights(plain.model), expected, atol=1e-3)
    assert fit(Recorder(target=expected), TAIL, seed=3, progress=False)["other"] is None  # not asked
    beaten = fit(Recorder(), TrainArgs(**{**vars(TAIL), "keep_both": True}), seed=3, progress=False)
    assert not beaten["average"]["kept"] and beaten["other"][0] == "average"
    assert torch.allclose(torch.cat([v.flatten() for v in beaten["other"][1].values()]), expected, atol=1e-6)


def test_a_failed_checkpoint_write_keeps_the_last_checkpoint_and_leaves_nothing_behind(tmp_path):
    """Checkpoints and run directories share one atomic writer (io.write_dir_atomic);
    a checkpoint whose write failed used to leave its half-written `.tmp` behind."""
    from kgdistill.io import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "ckpt", {"w": torch.ones(2)}, {"epoch": 1})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {"epoch": object()})  # not JSON-able
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    tensors, state = load_checkpoint(tmp_path / "ckpt")
    assert state == {"epoch": 1} and torch.equal(tensors["w"], torch.ones(2))
    save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {"epoch": 2})
    assert load_checkpoint(tmp_path / "ckpt")[1] == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
