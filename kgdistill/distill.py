"""One trainer for the student, with pluggable losses (:mod:`kgdistill.losses`).

``alpha = 1`` is plain supervised fine-tuning on the hard targets; ``alpha < 1`` adds
the teacher's soft path distribution. Validation each epoch decodes paths for the
validation questions (graph-constrained) and measures strict Hits@1; the best epoch
is kept (early stopping), and a checkpoint is written after every epoch (and every
``checkpoint_minutes`` inside one) so that an interrupted run resumes.
"""
from __future__ import annotations

import logging
import random
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch

from kgdistill.datasets import Question
from kgdistill.graph import GraphBackend
from kgdistill.configs import STUDENT_TRAINING, DistillConfig  # noqa: F401 (re-exported)
from kgdistill.losses import SOFT_LOSSES, distillation_loss, hard_loss
from kgdistill.serializer import TrainingRecord, longest_path
from kgdistill.student import Student
from kgdistill.training import TrainArgs, TrainTask, fit, seed_everything

logger = logging.getLogger(__name__)

OTHER_KINDS = ("unaveraged", "average")
"""Suffixes of the second student ``keep_both`` saves beside ``student/``."""


def batch_loss(student: Student, records: Sequence[TrainingRecord], config: DistillConfig,
               use_hard: Sequence[bool], shared_prompts: bool = True) -> torch.Tensor:
    """The distillation loss of one batch. With ``shared_prompts`` (the default) each
    question's prompt is encoded once and its hard and soft paths are scored against it
    (:meth:`Student.shared_prompt_log_probs`); otherwise every (prompt, path) pair is one
    sequence (the naive way, kept for comparison and for prompt-learning adapters)."""
    prompts, paths, roles = [], [], []
    for i, rec in enumerate(records):
        if config.alpha > 0 and use_hard[i]:
            for p in rec.hard:
                prompts.append(rec.prompt), paths.append(p), roles.append(("hard", i, len(rec.hard)))
        if config.alpha < 1:
            for j, s in enumerate(rec.soft):
                prompts.append(rec.prompt), paths.append(s["path"]), roles.append(("soft", i, j))
    if not prompts:
        return torch.zeros((), requires_grad=True, device=student.device)
    if shared_prompts and student.shares_prompts:  # each prompt once, its paths against its KV cache
        groups: dict[int, list[int]] = {}
        for k, role in enumerate(roles):
            groups.setdefault(role[1], []).append(k)
        order = [k for ks in groups.values() for k in ks]
        logp_o, n_o = student.shared_prompt_log_probs([records[i].prompt for i in groups],
                                                      [[paths[k] for k in ks] for ks in groups.values()])
        back = torch.empty(len(order), dtype=torch.long)
        back[torch.tensor(order)] = torch.arange(len(order))
        logp, n_tok = logp_o[back.to(logp_o.device)], n_o[back.to(n_o.device)]
    else:  # every (prompt, path) pair re-encodes its prompt
        logp, n_tok = student.sequence_log_probs(student.encode_pairs(prompts, paths))
    logp, n_tok = logp.float().cpu(), n_tok.float().cpu()
    hard_idx = [k for k, r in enumerate(roles) if r[0] == "hard"]
    hard = None
    if hard_idx:
        n_q = len({roles[k][1] for k in hard_idx})
        weight = torch.tensor([1.0 / roles[k][2] / n_q for k in hard_idx])
        hard = hard_loss(logp[hard_idx], n_tok[hard_idx], weight)
    soft = None
    soft_recs = sorted({r[1] for r in roles if r[0] == "soft"})
    if soft_recs:
        k_max = max(len(records[i].soft) for i in soft_recs)
        s_logp = torch.zeros(len(soft_recs), k_max)
        probs = torch.zeros(len(soft_recs), k_max)
        mask = torch.zeros(len(soft_recs), k_max, dtype=torch.bool)
        row = {i: r for r, i in enumerate(soft_recs)}
        ks = [k for k, r in enumerate(roles) if r[0] == "soft"]
        rows = torch.tensor([row[roles[k][1]] for k in ks])
        cols = torch.tensor([roles[k][2] for k in ks])
        s_logp = s_logp.index_put((rows, cols), logp[ks])
        probs[rows, cols] = torch.tensor([records[roles[k][1]].soft[roles[k][2]]["prob"] for k in ks])
        mask[rows, cols] = True
        rest = torch.tensor([records[i].soft_rest for i in soft_recs], dtype=torch.float32)
        soft = SOFT_LOSSES[config.soft_loss](s_logp, probs, mask, rest, config.temperature)
    return distillation_loss(config.alpha, hard, soft)


class _StudentTask(TrainTask):
    """The distillation loss and validation Hits@1 for :func:`kgdistill.training.fit`."""

    def __init__(self, student: Student, graph: GraphBackend, records: list[TrainingRecord],
                 use_hard: list[bool], valid: Sequence[Question], config: DistillConfig, hops: int,
                 exact_hops: bool = False) -> None:
        self.student, self.graph, self.records, self.use_hard = student, graph, records, use_hard
        self.valid, self.config, self.hops, self.exact_hops = valid, config, hops, exact_hops
        self.model = student.model

    def num_examples(self) -> int:
        return len(self.records)

    def loss(self, indices: Sequence[int]) -> torch.Tensor:
        return batch_loss(self.student, [self.records[i] for i in indices], self.config,
                          [self.use_hard[i] for i in indices])

    def validate(self) -> dict:
        if not self.valid:
            return {}
        from kgdistill.reasoner import Reasoner

        reasoner = Reasoner(self.graph, self.student, beam_size=self.config.beam_size, max_hops=self.hops,
                            exact_hops=self.exact_hops)
        return {"score": reasoner.evaluate(self.valid, with_ceiling=False)[0]["hits@1"]}


def train_student(student: Student, graph: GraphBackend, train: Sequence[TrainingRecord],
                  valid: Sequence[Question], config: DistillConfig, hops: int, args: TrainArgs | None = None,
                  seed: int = 0, out_dir: str | Path | None = None, progress: bool = True,
                  serializer=None, exact_hops: bool = False) -> dict:
    """Train ``student`` in place; returns metrics (curve, timings, best validation).

    ``exact_hops``: every answer is exactly ``hops`` away; validation then decodes only
    paths of that length (as the run's reasoner does).

    With ``out_dir``, a checkpoint (``checkpoint/``: trainable weights, optimizer and
    RNG state in safetensors + JSON) is written after each epoch and picked up again
    if present, and the best student is saved to ``out_dir`` at the end; with
    ``args.keep_both`` and a validated weight average, the candidate not kept goes
    beside it: ``<out_dir>-unaveraged`` (the run's choice without averaging) where the
    average was kept, else ``<out_dir>-average``; the metrics' ``"kept_beside"`` names
    it (a failed save of it only logs a warning).
    """
    from kgdistill.io import write_json_atomic

    args = args or STUDENT_TRAINING
    seed_everything(seed)
    if serializer is not None:
        student.serializer = asdict(serializer)
    rng = random.Random(seed)
    records = [r for r in train if r.hard or r.soft]
    # validation decodes as the saved student will (see decoding._end_is_forced)
    student.hops, student.longest_path = hops, longest_path(records)
    # Answers that are the topic itself (PathQuestion's "X's spouse's spouse") keep
    # topic mass at query time; MetaQA never has them.
    answered = [r for r in records if r.answers]  # unlabeled questions have none
    with_topic = sum(bool(set(r.topic_entities) & set(r.answers)) for r in answered)
    student.exclude_topic = with_topic < 0.01 * max(len(answered), 1)
    labelled = set(rng.sample(range(len(records)), int(round(config.label_fraction * len(records)))))
    use_hard = [i in labelled for i in range(len(records))]
    ckpt = Path(out_dir) / "checkpoint" if out_dir else None
    task = _StudentTask(student, graph, records, use_hard, valid, config, hops, exact_hops)
    trainable = sum(p.numel() for p in student.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in student.model.parameters())
    result = fit(task, args, seed=seed, checkpoint=ckpt, progress=progress, name="student")
    metrics = {"curve": result["curve"], "train_seconds": result["train_seconds"],
               "trainable_parameters": trainable, "parameters": total, "adaptation": student.adaptation,
               "best_valid_hits@1": result["best_score"], "stopped": result["stopped"],
               "weight_average": result["average"],
               "exclude_topic": student.exclude_topic, "distill": asdict(config), "training": asdict(args),
               "hops": hops, "seed": seed, "train_records": len(records), "labelled_records": len(labelled),
               "unlabeled_records": sum(r.id.startswith("unlabeled:") for r in records)}
    if out_dir:  # metrics first: a student directory with kgdistill.json is complete
        import shutil

        out = Path(out_dir).resolve()
        extra = {"distill": asdict(config), "hops": hops, "longest_path": student.longest_path}
        kind, weights = result["other"] or (None, None)
        for k in OTHER_KINDS:  # an earlier training's second student belongs to another one
            if k != kind and out.with_name(f"{out.name}-{k}").exists():
                shutil.rmtree(out.with_name(f"{out.name}-{k}"))
        if kind is not None:  # before the student: a complete student implies it
            twin = out.with_name(f"{out.name}-{kind}")
            try:
                _save_twin(student, weights, twin, {**extra, "twin_of": out.name, "twin_kind": kind})
                metrics["kept_beside"] = twin.name
            except (OSError, RuntimeError) as err:  # the twin is optional: the student is still saved
                logger.warning("could not save the %s student to %s: %s", kind, twin, err)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "metrics.json", metrics)
        student.save(out, extra=extra)
        if ckpt and ckpt.exists():
            shutil.rmtree(ckpt)
    return metrics


def _save_twin(student: Student, weights: dict, target: Path, extra: dict) -> None:
    """Save a copy of ``student`` holding the trainable ``weights`` (by parameter name)
    to ``target``, atomically; ``student`` itself is left as it is (saving merges LoRA,
    so the copy is what gets saved)."""
    import copy

    from kgdistill.io import write_dir_atomic

    twin = copy.deepcopy(student)
    params = dict(twin.model.named_parameters())
    unknown = sorted(set(weights) - set(params))
    if unknown:  # never save the average under the twin's name
        raise RuntimeError(f"the copied student lacks the trained weights {unknown[:3]}")
    with torch.no_grad():
        for n, w in weights.items():
            params[n].copy_(w)
    write_dir_atomic(target, lambda tmp: twin.save(tmp, extra=extra))
