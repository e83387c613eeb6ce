"""One training loop for the teacher and the student.

:func:`fit` runs epochs over a :class:`TrainTask` (the model, a loss over a batch of
example indices, and a validation score) with early stopping on the validation
score, the best state kept (or a uniform average of the weights over the last share
of training, where ``average_tail`` asks for one and it validates as well), a
wall-time limit, gradient accumulation, ``device`` and ``precision`` settings, and a
resumable checkpoint after every epoch (and every ``checkpoint_minutes`` inside one,
at a batch boundary, and after the batch in hand when Ctrl-C or SIGTERM arrives).
Checkpoints hold
only the *trainable* weights, the optimizer's tensors and the RNG state in
safetensors, and everything else in JSON (:func:`kgdistill.io.save_checkpoint`):
nothing is unpickled on resume.
"""
from __future__ import annotations

import logging
import math
import random
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from kgdistill.configs import DEVICES, TrainArgs
from kgdistill.errors import ConfigError, TrainingError

logger = logging.getLogger(__name__)

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
"""Optimizers by name (their names are :data:`kgdistill.configs.OPTIMIZER_NAMES`)."""


class _Interrupts:
    """While :func:`fit` runs in the main thread, Ctrl-C (SIGINT) or SIGTERM (what a
    scheduler or ``kill`` sends) asks it to stop at the next optimizer step, after a
    checkpoint, and then raise ``KeyboardInterrupt``; a second Ctrl-C stops at once.
    Without this, an interruption lost everything since the last periodic checkpoint."""

    def __init__(self, name: str) -> None:
        self.name, self.asked, self._old = name, None, {}

    def __enter__(self) -> "_Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._ask)
        return self

    def _ask(self, signum, frame) -> None:
        if self.asked is not None:
            raise KeyboardInterrupt
        self.asked = signal.Signals(signum).name
        logger.warning("%s: %s received: stopping after this batch, with a checkpoint (Ctrl-C again: at once)",
                       self.name, self.asked)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA): every entry point calls this."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def significant(x: float, digits: int = 10) -> float:
    """``x`` rounded to ``digits`` significant digits: sort keys that ignore float noise
    from another summation order (the same graph in another file order) without
    merging genuinely different small values."""
    return float(f"{float(x):.{digits}g}")


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when available) as a ``torch.device``.

    Raises:
        ConfigError: ``cuda`` asked for on a machine without a usable GPU.
    """
    if name not in DEVICES:
        raise ConfigError(f"device must be one of {DEVICES}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but torch sees no CUDA GPU here (use --device cpu or auto)")
    return torch.device(name)


def autocast(device: torch.device, precision: str):
    """The autocast context for ``precision`` (bf16 on CPU or GPU; fp32: none)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


# ---------------------------------------------------------------------- progress
def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _say(line: str) -> None:
    """A progress line on stderr, between the progress bars when there are any."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)
    sys.stderr.flush()


REPORT_SECONDS = 120.0
"""Seconds between progress lines where stderr is not a terminal."""


class _LineReport:
    """Where stderr is not a terminal (a log file, a pipe) progress bars are off: one
    line every ``seconds`` instead, so a long run in the background shows it is alive."""

    def __init__(self, name: str, seconds: float | None = None) -> None:
        self.name = name
        self.seconds = REPORT_SECONDS if seconds is None else seconds
        self.start = self.last = time.perf_counter()
        self.done = 0

    def batch(self, epoch: int, k: int, total: int, losses: Sequence[float], batch_size: int) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self.last < self.seconds:
            return
        self.last = now
        per_batch = (now - self.start) / self.done
        _say(f"{self.name} epoch {epoch}: batch {k:,}/{total:,} ({100 * k / total:.0f}%), "
             f"loss {np.mean(losses[-50:]):.4f}, {batch_size / per_batch:.1f} examples/s, "
             f"epoch ends in ~{per_batch * (total - k) / 60:.0f} min")


def line_reporter(desc: str, unit: str, progress: bool = True):
    """Where stderr is not a terminal (a log file) and ``progress`` is on, a function
    ``report(k, total)`` to call as work advances, first with what is done before it
    starts (0, or what an interrupted run kept): every :data:`REPORT_SECONDS` it writes
    ``"DESC: UNIT k/total (pct%), ends in ~N min"``, the time left estimated from the
    pace since that first call; nothing once ``k`` reaches ``total``. ``None`` on a
    terminal, where a progress bar shows it, and without ``progress``."""
    if not progress or _is_tty():
        return None
    first: list = []

    def report(k: int, total: int) -> None:
        now = time.perf_counter()
        if not first:
            first.extend([k, now, now])
            return
        k0, start, last = first
        if now - last >= REPORT_SECONDS and k0 < k < total:
            first[2] = now
            _say(f"{desc}: {unit} {k:,}/{total:,} ({100 * k / total:.0f}%), "
                 f"ends in ~{(now - start) / (k - k0) * (total - k) / 60:.0f} min")
    return report


def progress_steps(items: Sequence, desc: str, unit: str = "batch", progress: bool = True):
    """Iterate over ``items`` with a progress bar on a terminal, or, where stderr is
    not one (a log file), a line every :data:`REPORT_SECONDS`; nothing without
    ``progress``."""
    from tqdm.auto import tqdm

    report = line_reporter(desc, unit, progress)
    if report is None:
        yield from tqdm(items, desc=desc, unit=unit, disable=None if progress else True)
        return
    total = len(items)
    report(0, total)
    for k, item in enumerate(items, 1):
        yield item
        report(k, total)


# ---------------------------------------------------------------------- the loop
class TrainTask(ABC):
    """What :func:`fit` trains: a model, a loss over a batch, a validation score."""

    model: torch.nn.Module

    @abstractmethod
    def num_examples(self) -> int:
        """Training examples per epoch."""

    @abstractmethod
    def loss(self, indices: Sequence[int]) -> torch.Tensor:
        """Mean loss of the examples at ``indices`` (a scalar with grad)."""

    def validate(self) -> dict:
        """Validation metrics; ``"score"`` (higher is better) drives early stopping.
        Return ``{}`` when there is nothing to validate on (the training loss decides)."""
        return {}


def _trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer's state into tensors (for safetensors) and JSON."""
    sd = opt.state_dict()
    tensors, state = {}, {}
    for idx, entry in sd["state"].items():
        state[str(idx)] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value
                state[str(idx)][key] = "tensor"
            else:
                state[str(idx)][key] = value
    return tensors, {"state": state, "param_groups": sd["param_groups"]}


def _optimizer_state(tensors: dict, meta: dict) -> dict:
    state = {}
    for idx, entry in meta["state"].items():
        state[int(idx)] = {k: tensors[f"optim.{idx}.{k}"] if v == "tensor" else v for k, v in entry.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def fit(task: TrainTask, args: TrainArgs, seed: int = 0, checkpoint: str | Path | None = None,
        progress: bool = True, name: str = "model") -> dict:
    """Train ``task.model`` in place and leave it at its best validation state.

    Args:
        task: the model, loss and validation.
        args: :class:`TrainArgs`.
        seed: seeds the per-epoch example order (from a ``random.Random``).
        checkpoint: directory for the checkpoint (after each epoch, and every
            ``args.checkpoint_minutes`` inside one); if it holds one, training
            resumes from it (the same result as an uninterrupted run).
        progress: show a progress bar per epoch.
        name: what is trained, for messages.

    Returns:
        ``{"curve": [{"epoch", "train_loss", "valid_hits@1", "seconds"}, ...], "best_score",
        "train_seconds", "stopped": why, "epochs", "average"}``; ``"average"`` is
        ``{"snapshots", "valid_hits@1", "kept"}`` where ``args.average_tail`` is set and
        training reached its tail (early stopping may end it before), else None;
        ``"other"``: with ``args.keep_both`` and a validated average, the candidate
        not kept, ``("unaveraged" or "average", trainable weights by name)``, else None.

    Raises:
        TrainingError: the loss became NaN or infinite.
    """
    from tqdm.auto import tqdm

    from kgdistill.io import load_checkpoint, save_checkpoint

    device = resolve_device(args.device)
    model = task.model
    model.to(device)
    params = _trainable(model)
    opt = OPTIMIZERS[args.optimizer](list(params.values()), lr=args.lr, weight_decay=args.weight_decay)
    rng = random.Random(seed)
    start_epoch, curve, best, bad, best_state, elapsed, stopped = 0, [], -math.inf, 0, None, 0.0, None
    partial = None
    tail = _TailAverage(args)
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and (ckpt / "state.json").exists():
        tensors, state = load_checkpoint(ckpt)
        missing = [n for n in params if f"model.{n}" not in tensors]
        if missing:
            from kgdistill.errors import CheckpointError

            raise CheckpointError(f"{ckpt}: the checkpoint lacks weights {missing[:3]}: it belongs to another "
                                  "model; delete it to start over")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(tensors[f"model.{n}"])
        opt.load_state_dict(_optimizer_state(tensors, state["optimizer"]))
        if state.get("has_best"):
            best_state = {n: tensors[f"best.{n}"] for n in params}
        start_epoch, curve, best, bad = state["epoch"], state["curve"], state["best"], state["bad"]
        elapsed, stopped, partial = state["seconds"], state.get("stopped"), state.get("partial")
        tail.load(state.get("average") or {}, tensors, params)
        if not stopped and start_epoch < args.epochs:  # training goes on: a longer box moves the tail
            tail.regrow(state["args"].get("max_minutes"), name)
        v, internal, gauss = state["rng"]
        rng.setstate((v, tuple(internal), gauss))
        torch.set_rng_state(tensors["torch_rng"])
        logger.info("%s: resuming at epoch %d%s", name, start_epoch + 1,
                    f", batch {partial['batch'] + 1}" if partial else "")
    t0 = time.perf_counter() - elapsed
    limit = 60 * args.max_minutes if args.max_minutes else math.inf
    every = 60 * args.checkpoint_minutes if ckpt is not None and args.checkpoint_minutes else math.inf
    last_save = time.perf_counter()
    n = task.num_examples()
    report = _LineReport(name) if progress and not _is_tty() else None

    def save(epoch_done: int, partial: dict | None) -> None:
        tensors, opt_meta = _optimizer_tensors(opt)
        tensors.update({f"model.{k}": v for k, v in params.items()})
        if best_state is not None:
            tensors.update({f"best.{k}": v for k, v in best_state.items()})
        tensors.update(tail.tensors())
        tensors["torch_rng"] = torch.get_rng_state()
        v, internal, gauss = rng.getstate()
        save_checkpoint(ckpt, tensors, {
            "epoch": epoch_done, "curve": curve, "best": best, "bad": bad, "stopped": stopped,
            "seconds": time.perf_counter() - t0, "has_best": best_state is not None,
            "rng": [v, list(internal), gauss], "optimizer": opt_meta, "args": asdict(args), "partial": partial,
            "average": tail.state()})

    with _Interrupts(name) as interrupts:
        for epoch in range(start_epoch, args.epochs):
            if stopped:
                break
            model.train()
            if partial is not None:  # resume inside this epoch, at the batch after the last save
                order, losses, first = partial["order"], partial["losses"], partial["batch"]
                partial = None
            else:
                order = list(range(n))
                rng.shuffle(order)
                losses, first = [], 0
            starts = range(0, n, args.batch_size)
            bar = tqdm(starts[first:], desc=f"{name} epoch {epoch + 1}", unit="batch", initial=first, total=len(starts),
                       disable=None if progress else True)
            opt.zero_grad()
            for k, s in enumerate(bar, start=first):
                with autocast(device, args.precision):
                    loss = task.loss(order[s:s + args.batch_size])
                if not torch.isfinite(loss):
                    raise TrainingError(f"{name}: the loss became {float(loss)} in epoch {epoch + 1} (batch {k + 1}); "
                                        "lower the learning rate, or check temperature and alpha")
                (loss / args.grad_accumulation).backward()
                stepped = (k + 1) % args.grad_accumulation == 0 or k + 1 == len(starts)
                if stepped:
                    if args.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(list(params.values()), args.max_grad_norm)
                    opt.step()
                    opt.zero_grad()
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
                if report is not None:
                    report.batch(epoch + 1, k + 1, len(starts), losses, args.batch_size)
                if stepped:
                    tail.step(epoch * len(starts) + k + 1, len(starts), time.perf_counter() - t0, params)
                if time.perf_counter() - t0 > limit:
                    stopped = f"max_minutes={args.max_minutes} reached in epoch {epoch + 1}"
                    break
                if stepped and k + 1 < len(starts) and time.perf_counter() - last_save >= every:
                    save(epoch, {"batch": k + 1, "order": order, "losses": losses})
                    last_save = time.perf_counter()
                if interrupts.asked and stepped and k + 1 < len(starts):
                    if ckpt is not None:
                        save(epoch, {"batch": k + 1, "order": order, "losses": losses})
                    raise KeyboardInterrupt
            model.eval()
            with torch.no_grad():
                val = task.validate()
            train_loss = float(np.mean(losses)) if losses else None
            score = val.get("score", -train_loss if train_loss is not None else 0.0)
            curve.append({"epoch": epoch + 1, "train_loss": train_loss, "valid_hits@1": val.get("score"),
                          "seconds": time.perf_counter() - t0})
            logger.info("%s epoch %d: loss %s, validation %s", name, epoch + 1, train_loss, val.get("score"))
            if progress:
                shown = val.get("score")
                shown = "none" if shown is None else f"{shown:.4f}"
                _say(f"{name} epoch {epoch + 1}: training loss {train_loss if train_loss is None else round(train_loss, 4)}, "
                     f"validation {shown}, {(time.perf_counter() - t0) / 60:.1f} min in all")
            if score > best:
                best, bad = score, 0
                best_state = {k: v.detach().clone() for k, v in params.items()}
            else:
                bad += 1
                if bad >= args.patience:
                    stopped = f"no better validation score for {args.patience} epochs"
            if stopped is None and time.perf_counter() - t0 > limit:
                stopped = f"max_minutes={args.max_minutes} reached"
            if ckpt is not None:
                save(epoch + 1, None)
                last_save = time.perf_counter()
            if interrupts.asked:
                raise KeyboardInterrupt
    if stopped and "max_minutes" in stopped:
        logger.warning("%s: stopping, %s", name, stopped)
    average = tail.finish(task, params, best, name, progress)
    other = None  # with keep_both, the candidate not kept
    if args.keep_both and average is not None and average["valid_hits@1"] is not None:
        if not average["kept"]:
            other = ("average", tail.avg)
        else:  # what the run would have kept without the average
            other = ("unaveraged", best_state or {k: v.detach().clone() for k, v in params.items()})
    if average is not None and average["kept"]:
        best, best_state = average["valid_hits@1"], tail.avg
    if best_state is not None:
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(best_state[k])
    model.eval()
    return {"curve": curve, "best_score": best if best > -math.inf else None,
            "train_seconds": time.perf_counter() - t0, "stopped": stopped or "epochs done",
            "epochs": len(curve), "average": average, "other": other}


class _TailAverage:
    """The uniform average of the weights over the last ``args.average_tail`` share of
    training (stochastic weight averaging): a snapshot at the first optimizer step in
    that share, then every eighth of an epoch or, over a shorter tail, about eight more
    (:meth:`interval`), and the final weights;
    kept in fp32 on the weights' device, and in the checkpoint (``avg.*`` tensors and
    :meth:`state`)."""

    def __init__(self, args: TrainArgs) -> None:
        self.args = args
        self.avg: dict[str, torch.Tensor] | None = None
        self.count = 0
        self.next: int | None = None  # batch (counted over all epochs) of the next snapshot
        self.last: int | None = None  # batch of the last snapshot
        self.stepped: int | None = None  # batch of the last optimizer step
        self.every: int | None = None  # batches between snapshots, fixed when the tail begins
        self.began: float | None = None  # seconds into training when the tail began
        self.by_epochs: bool | None = None  # whether it began by its share of the epochs (not the time box)

    def state(self) -> dict:
        return {"count": self.count, "next": self.next, "last": self.last, "stepped": self.stepped,
                "every": self.every, "began": self.began, "by_epochs": self.by_epochs}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"avg.{k}": v for k, v in (self.avg or {}).items()}

    def load(self, state: dict, tensors: dict, params: dict) -> None:
        self.count, self.next = state.get("count", 0), state.get("next")
        self.last, self.stepped, self.every = state.get("last"), state.get("stepped"), state.get("every")
        self.began, self.by_epochs = state.get("began"), state.get("by_epochs")
        if self.count:
            self.avg = {k: tensors[f"avg.{k}"].to(p.device) for k, p in params.items()}

    def regrow(self, saved_minutes: float | None, name: str) -> None:
        """A run resumed with a longer time box (``--resume RUN --max-minutes``, or
        none) than the one its tail began under by time: that tail began too early for
        the new box, so its snapshots are dropped and the tail begins again where the
        new box's last share does (at once where training is already in it). A tail
        begun by its share of the epochs, or by time no earlier than the new box's
        share, is kept. ``saved_minutes``: the box of the checkpoint, for checkpoints
        that did not record when their tail began."""
        if not self.args.average_tail or self.next is None:
            return
        began = self.began if self.began is not None else self._time_start(saved_minutes)
        if self.by_epochs or began >= self._time_start(self.args.max_minutes):
            return
        if self.count:
            logger.warning("%s: the time box grew from %s to %s: the weight average of the old box's tail "
                           "(%d snapshots) is dropped and begins again in the new one's", name,
                           f"{saved_minutes:g} minutes" if saved_minutes else "no limit",
                           f"{self.args.max_minutes:g} minutes" if self.args.max_minutes else "no limit", self.count)
        self.avg, self.count, self.next, self.last, self.every = None, 0, None, None, None

    def in_tail(self, done: int, per_epoch: int, seconds: float) -> bool:
        """Whether training has entered its last share: of the batches of all epochs,
        or of ``max_minutes``, whichever is reached first."""
        return seconds >= self._time_start(self.args.max_minutes) or self._in_tail_by_epochs(done, per_epoch)

    def _time_start(self, minutes: float | None) -> float:
        """Seconds into training where the tail of a ``minutes`` time box begins (none: never)."""
        return (1.0 - self.args.average_tail) * 60 * minutes if minutes else math.inf

    def _in_tail_by_epochs(self, done: int, per_epoch: int) -> bool:
        return done >= math.ceil((1.0 - self.args.average_tail) * self.args.epochs * per_epoch - 1e-9)

    def step(self, done: int, per_epoch: int, seconds: float, params: dict) -> None:
        """After the optimizer step that ends batch ``done``."""
        if not self.args.average_tail:
            return
        self.stepped = done
        if self.next is None and self.in_tail(done, per_epoch, seconds):
            self.next, self.every = done, self.interval(done, per_epoch, seconds)
            self.began = seconds
            self.by_epochs = self._in_tail_by_epochs(done, per_epoch)
        if self.next is not None and done >= self.next:
            self._add(params)
            every = self.every or max(1, math.ceil(per_epoch / 8))  # a checkpoint from before `every`
            self.next, self.last = done + every, done

    def interval(self, done: int, per_epoch: int, seconds: float) -> int:
        """Batches between snapshots for the tail that begins after batch ``done``: an
        eighth of an epoch, or an eighth of the tail where that is shorter. A time
        box's tail is estimated in batches from the speed so far (a SmolLM2 run on a
        CPU may stop well inside its first epoch, where an eighth of an epoch apart
        left two or three snapshots); the spacing is kept for the rest of the run."""
        left = self.args.epochs * per_epoch - done
        if self.args.max_minutes and seconds > 0:
            left = min(left, (60 * self.args.max_minutes - seconds) * done / seconds)
        return max(1, math.ceil(min(per_epoch, left) / 8))

    def _add(self, params: dict) -> None:
        with torch.no_grad():
            if self.avg is None:
                self.avg = {k: v.detach().float().clone() for k, v in params.items()}
            else:
                for k, v in params.items():
                    self.avg[k].add_(v.detach().float() - self.avg[k], alpha=1.0 / (self.count + 1))
        self.count += 1

    def finish(self, task: TrainTask, params: dict, best: float, name: str, progress: bool) -> dict | None:
        """Add the final weights and validate the average: ``{"snapshots",
        "valid_hits@1", "kept"}``, None where the tail was never reached. It is kept
        unless it scores below ``best``, the best epoch (a tie goes to the average: what
        an average gains is on questions unlike the validation set's). ``params`` are
        left as they were."""
        if self.avg is None or not self.args.average_tail:
            return None
        if self.last != self.stepped:  # the final weights are the last snapshot
            self._add(params)
            self.last = self.stepped
        score = None
        if self.count >= 2:
            current = {k: v.detach().clone() for k, v in params.items()}
            with torch.no_grad():
                for k, p in params.items():
                    p.copy_(self.avg[k])
                task.model.eval()
                score = task.validate().get("score")
                for k, p in params.items():
                    p.copy_(current[k])
        kept = score is not None and score >= best
        if progress and score is not None:
            _say(f"{name}: the average of the last {self.count} snapshots scores {score:.4f} on validation "
                 f"({'kept' if kept else 'not kept'}; best epoch {best:.4f})")
        return {"snapshots": self.count, "valid_hits@1": score, "kept": kept}
