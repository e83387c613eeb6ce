"""Every setting of kgdistill as a typed dataclass, with a docstring per field and
checks in ``__post_init__``: the training loop (:class:`TrainArgs`), the teacher's
architecture (:class:`TeacherConfig`), the student (:class:`StudentConfig`) and the
distillation loss (:class:`DistillConfig`). The serializer's settings live with it
(:class:`kgdistill.serializer.SerializerConfig`), the run's in
:class:`kgdistill.runs.RunConfig`.

This module imports neither torch nor torch_geometric, so the command line reads its
defaults and choices from here and starts in a fraction of a second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from kgdistill.errors import ConfigError

MAX_HOPS = 6
"""The longest path any setting may ask for (enumeration grows exponentially)."""
DEFAULT_BEAM = 5
"""Paths decoded per question by query, evaluate and serve, and by the training's
validation and final report: one width, so the state a training keeps is chosen on
the score that ``evaluate`` then reports."""
DEVICES = ("cpu", "cuda", "auto")
PRECISIONS = ("fp32", "bf16")
INFERENCE_PRECISIONS = ("fp32", "bf16", "int8")
"""How a student's weights are held for answering: as trained (fp32), cast to bf16, or
int8 (dynamic quantization of the transformer's linear layers, per output channel; CPU)."""
OPTIMIZER_NAMES = ("adam", "adamw")
SOFT_LOSS_NAMES = ("rest", "kway")
DECODER_NAMES = ("beam", "kv")
"""Names of :data:`kgdistill.decoding.DECODERS`."""
"""Names of :data:`kgdistill.losses.SOFT_LOSSES`."""
ADAPTATION_MODES = ("full", "lora", "prompt_tuning", "prefix_tuning", "p_tuning", "p_tuning_v2")
"""How a pretrained student is adapted: all weights, or one of peft's methods
(:data:`kgdistill.student.ADAPTERS`)."""


# ---------------------------------------------------------------------- checks
def check_int(obj, name: str, low: int | None = None, high: int | None = None) -> None:
    """``obj.name`` must be an int (not a bool) in ``[low, high]``."""
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]" if low is not None else f"<= {high}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")


def check_float(obj, name: str, low: float | None = None, high: float | None = None, low_open: bool = False,
                high_open: bool = False) -> None:
    """``obj.name`` must be a finite number within the bounds (ints are accepted)."""
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    setattr(obj, name, float(value))


def check_choice(obj, name: str, choices: Sequence) -> None:
    value = getattr(obj, name)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


# ---------------------------------------------------------------------- settings
@dataclass
class TrainArgs:
    """How a model is trained (shared by teacher and student).

    Attributes:
        epochs: most epochs (early stopping may end sooner).
        batch_size: examples per forward pass.
        lr: learning rate.
        weight_decay: weight decay.
        optimizer: ``adam`` or ``adamw``.
        patience: epochs without a better validation score before stopping.
        max_minutes: wall-time limit in minutes, also checked between batches; 0 = none.
        grad_accumulation: batches whose gradients are summed before one optimizer step.
        max_grad_norm: gradient-norm clip; 0 = none.
        device: ``cpu``, ``cuda`` or ``auto``.
        precision: ``fp32`` or ``bf16`` (autocast).
        checkpoint_minutes: with a checkpoint directory, also write the checkpoint
            inside an epoch every this many minutes (an interrupted run resumes at that
            batch; a SmolLM2 epoch can take an hour on a CPU); 0 = only after epochs.
        average_tail: average the weights over this last share of the training budget
            (the epochs, or ``max_minutes`` where that comes first): a snapshot every
            eighth of an epoch, or about eight over a tail shorter than an epoch (a
            time box's tail is estimated in batches from the speed so far when it
            begins; the spacing then stays), and the final weights, uniformly (stochastic weight
            averaging, Izmailov et al. 2018); the average is kept unless it validates
            below the best epoch. A run resumed with a longer ``max_minutes`` (or none)
            than the one its tail began under by time begins the tail again in the new
            box's last share; otherwise a begun tail keeps its start. LoRA factors are averaged one by one (not their
            product). 0 = off.
        keep_both: with ``average_tail``, also keep the one of the two candidates the
            run did not keep (the average, or the best validated state without it), to
            compare them on other questions.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: int = 2
    max_minutes: float = 0.0
    grad_accumulation: int = 1
    max_grad_norm: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"
    checkpoint_minutes: float = 10.0
    average_tail: float = 0.0
    keep_both: bool = False

    def __post_init__(self) -> None:
        check_int(self, "epochs", 0)
        check_int(self, "batch_size", 1)
        check_int(self, "patience", 1)
        check_int(self, "grad_accumulation", 1)
        check_float(self, "lr", low=0.0, low_open=True)
        check_float(self, "weight_decay", low=0.0)
        check_float(self, "max_minutes", low=0.0)
        check_float(self, "max_grad_norm", low=0.0)
        check_float(self, "checkpoint_minutes", low=0.0)
        check_float(self, "average_tail", low=0.0, high=1.0)
        check_choice(self, "optimizer", OPTIMIZER_NAMES)
        check_choice(self, "device", DEVICES)
        check_choice(self, "precision", PRECISIONS)


TEACHER_TRAINING = TrainArgs(epochs=10, batch_size=64, lr=3e-3, optimizer="adam", patience=2)
"""The teacher's default training settings."""


@dataclass
class TeacherConfig:
    """Architecture of the teacher (the number of hops is the run's ``hops``, training
    settings are :class:`kgdistill.training.TrainArgs`).

    Attributes:
        hidden_dim: width of instructions and relation keys.
        dropout: dropout on the question representation.
        topic_policy: what happens to mass that returns to a topic entity: ``"learned"``
            (a question-conditioned gate per step decides how much of it stays; MetaQA
            learns to drop it, PathQuestion's "X's spouse's spouse" keeps it),
            ``"exclude"`` (always dropped) or ``"keep"``.
        learn_relation_embeddings: add a learned residual to each seen relation's key.
        max_expand_degree: subgraph hub cap (see :class:`kgdistill.subgraph.SubgraphConfig`).
        max_nodes: subgraph node cap.
        top_k_paths: paths kept per question in dumps.
        gold_path_weight: weight of a path loss, ``-log p(gold relation path)`` under
            the teacher's step distributions, added to the answer loss for training
            questions whose dataset gives a gold path (PathQuestion, the example
            graph). Without it a teacher trained from answers alone may prefer
            another path that happens to reach the same answers ("the country of the
            university where X studied" through ``born_in``); its soft targets then
            contradict the gold path the student learns. 0: answers only.
    """

    hidden_dim: int = 128
    dropout: float = 0.1
    topic_policy: str = "learned"
    learn_relation_embeddings: bool = True
    max_expand_degree: int = 1000
    max_nodes: int = 50_000
    top_k_paths: int = 10
    gold_path_weight: float = 1.0

    def __post_init__(self) -> None:
        check_int(self, "hidden_dim", 1, 4096)
        check_float(self, "gold_path_weight", 0.0, 100.0)
        check_float(self, "dropout", 0.0, 1.0, high_open=True)
        check_choice(self, "topic_policy", ("learned", "exclude", "keep"))
        check_int(self, "max_expand_degree", 1)
        check_int(self, "max_nodes", 1)
        check_int(self, "top_k_paths", 1)


@dataclass
class StudentConfig:
    """Which student: a small model built from this config, or a pretrained checkpoint.

    Attributes:
        base_model: a pretrained causal LM: a known name (``smollm2-135m``, see
            :mod:`kgdistill.pretrained`) or a local Hugging Face checkpoint directory;
            ``None`` builds a small GPT-2-style model from this config.
        adaptation: how ``base_model`` is trained: ``full`` fine-tuning, ``lora``,
            ``prompt_tuning``, ``prefix_tuning`` or ``p_tuning`` (peft).
        n_layer, n_embd, n_head: transformer size of the built model.
        max_length: longest prompt + path, in tokens.
        vocab_size: BPE vocabulary trained on the prompts (before relation tokens).
        softmax: where the next-token distribution lives: ``full``, the whole
            vocabulary (the language model's own); ``paths``, the path tokens and the
            end token only (what a path generator needs; for a 49k-token pretrained
            vocabulary it also saves computing every other logit in training).
        base_layers: keep only this many of ``base_model``'s transformer layers (its
            first ``base_layers - 1`` and its last; 0: all of them): a smaller student
            that starts from a larger one's weights, tokenizer and word knowledge
            (``kgdistill compress --from-source``).
        decoder: how the student decodes (:data:`kgdistill.decoding.DECODERS`):
            ``kv`` with a KV cache (the default: 3.6x faster than ``beam`` batched even
            for the 0.5 M-parameter default student, benchmarks/RESULTS.md), ``beam``
            re-running prompt + prefix at each step. Both return the same beams.
    """

    base_model: str | None = None
    adaptation: str = "full"
    n_layer: int = 2
    n_embd: int = 128
    n_head: int = 4
    max_length: int = 96
    vocab_size: int = 2000
    softmax: str = "full"
    decoder: str = "kv"
    base_layers: int = 0

    def __post_init__(self) -> None:
        check_choice(self, "adaptation", ADAPTATION_MODES)
        check_choice(self, "softmax", ("full", "paths"))
        check_choice(self, "decoder", DECODER_NAMES)
        check_int(self, "n_layer", 1, 96)
        check_int(self, "n_embd", 1, 16384)
        check_int(self, "n_head", 1, 256)
        check_int(self, "max_length", 8, 1 << 16)
        check_int(self, "vocab_size", 260, 1 << 20)
        check_int(self, "base_layers", 0, 1024)
        if self.base_layers and not self.base_model:
            raise ConfigError("base_layers keeps layers of a pretrained student: it needs base_model")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if self.base_model is not None and not isinstance(self.base_model, str):
            raise ConfigError(f"base_model must be a directory path, got {self.base_model!r}")
        if self.adaptation != "full" and not self.base_model:
            raise ConfigError(f"adaptation {self.adaptation!r} needs a pretrained student (--base-model)")

    def check_base_model(self) -> None:
        """Check that ``base_model`` (a known name such as ``smollm2-135m``, or a
        checkpoint directory) can be loaded, before any training starts.

        Raises:
            ConfigError: what is missing (and how to install it).
        """
        if self.base_model:
            from kgdistill.pretrained import check_base_model

            check_base_model(self.base_model)


@dataclass
class DistillConfig:
    """What the student learns from (training settings are :class:`TrainArgs`).

    Attributes:
        alpha: weight of the hard loss, in [0, 1]; 1 = supervised fine-tuning only.
        temperature: T (> 0): the teacher's path probabilities are re-tempered
            ``q ∝ p ** (1/T)`` and the soft term is scaled by T^2. The one place the
            distillation temperature is set.
        label_fraction: share of training questions whose hard targets are used (the
            data-efficiency ablation); soft targets are used for all.
        beam_size: beams for the training's validation and its final report; the
            default is :data:`DEFAULT_BEAM`, the width ``evaluate`` uses (it was 3
            while the report used 5, and a training could keep a state on a score
            ``evaluate`` did not reproduce).
        soft_loss: the soft term, one of :data:`kgdistill.losses.SOFT_LOSSES`: ``rest``
            covers the k paths and "any other sequence" (the teacher's mass outside its
            top k against the student's), :func:`kgdistill.losses.soft_loss_with_rest`;
            ``kway``: KL over the k paths renormalised among themselves (the first
            release's loss). On PQ-3H with alpha 0: 98.3 strict Hits@1 with ``rest``,
            69.2 with ``kway``; alpha 0.5: 98.8 both.
    """

    alpha: float = 0.5
    temperature: float = 1.0
    label_fraction: float = 1.0
    beam_size: int = DEFAULT_BEAM
    soft_loss: str = "rest"

    def __post_init__(self) -> None:
        check_float(self, "alpha", 0.0, 1.0)
        check_float(self, "temperature", 0.0, 100.0, low_open=True)
        check_float(self, "label_fraction", 0.0, 1.0, low_open=True)
        check_int(self, "beam_size", 1, 100)
        check_choice(self, "soft_loss", SOFT_LOSS_NAMES)


DEFAULT_BASE_MODEL = "smollm2-135m"
"""The student ``kgdistill train`` and ``distill`` build unless ``--base-model`` says
otherwise (``none``: the small model built from scratch). A pretrained language model
reads users' own wording; the small student learns only its training set's templates
(re-worded MetaQA 1-hop validation: 65.5 Hits@1 for the small student, 91.5 for SmolLM2,
both with the same teacher and data; benchmarks/RESULTS.md)."""


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 is
    faster than fp32 for SmolLM2 (1.35x training, 2x decoding, measured); elsewhere it
    is emulated and about 4x slower. Linux only (``cpuinfo``); False when unknown."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def auto_precision(precision: str, pretrained: bool, device: str = "cpu") -> str:
    """``auto``: bf16 for a pretrained student where the hardware computes bf16 (a CUDA
    device that supports it, or a CPU with AVX512-BF16/AMX), fp32 otherwise (and
    always for the small built student, which bf16 does not speed up)."""
    if precision != "auto":
        return precision
    if not pretrained:
        return "fp32"
    if device in ("cuda", "auto"):
        import torch

        if torch.cuda.is_available():
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


PRETRAINED_LR = {"full": 5e-5, "lora": 5e-4, "prompt_tuning": 1e-2, "p_tuning": 1e-2,
                 "prefix_tuning": 5e-3, "p_tuning_v2": 5e-3}
"""Default learning rate per adaptation mode of a pretrained student (the methods' usual
ranges; the small built student's default is ``STUDENT_TRAINING.lr``). Full fine-tuning
of a pretrained LM at the small student's 2e-3 destroys what it knows."""


PRETRAINED_AVERAGE_TAIL = 0.5
"""Default ``average_tail`` of a pretrained student (``kgdistill train`` with
``--valid``, which judges the average). Averaging the students of a chain of trainings
(``kgdistill average``) is what made the mixed-hop SmolLM2 student read re-worded
questions best (benchmarks/RESULTS.md, 2026-12-06 "ninth"); averaging along one run is
the one-command form of it. Measured (2026-12-07): on PQ-3H the average tied the final
weights on validation and answered re-worded questions better (98.65 against 97.88,
both saved by ``keep_both``); on MetaQA 1-3 hops it tied and was kept; on MetaQA 2-hop
it scored one question of 1,487 below them and was not kept. It costs one validation.
The small built student keeps 0."""


def student_lr(student: StudentConfig, lr: float | None = None) -> float:
    """``lr`` if given, else the default for ``student``: :data:`PRETRAINED_LR` of its
    adaptation mode for a pretrained base model, ``STUDENT_TRAINING.lr`` otherwise."""
    if lr is not None:
        return lr
    return PRETRAINED_LR[student.adaptation] if student.base_model else STUDENT_TRAINING.lr


STUDENT_TRAINING = TrainArgs(epochs=30, batch_size=32, lr=2e-3, weight_decay=0.01, optimizer="adamw", patience=3,
                             max_grad_norm=1.0)
"""The student's default training settings."""
