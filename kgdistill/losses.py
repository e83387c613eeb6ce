"""Distillation losses over path sequences.

``L = alpha * L_hard + (1 - alpha) * T^2 * KL(q_teacher || p_student)``.

* ``L_hard`` is token-level cross-entropy on the hard target paths (mean over tokens of
  each path, then over a question's paths and the batch): with ``alpha = 1`` the loss is
  plain supervised fine-tuning.
* ``L_soft`` is **sequence-level** over the teacher's top-k paths: the student's
  sequence log-probabilities of those k paths, divided by ``T``, are renormalised over
  the k paths and compared with the teacher's re-tempered probabilities. Sequence level
  was chosen over token level because the teacher scores whole relation paths (its
  probabilities do not factor into a prefix tree of tokens with calibrated partial
  sums), and because k is small, so the k sequences cost one batched forward pass.
  Renormalised over the k paths, this term fits only the *ratios* of the student's
  probabilities; the absolute mass on the paths comes from the hard term (with
  ``alpha = 0`` the student barely learns to produce them: PQ-3H, benchmarks/RESULTS.md).
  :func:`soft_loss_with_rest` adds an "any other sequence" category and fixes that
  (``DistillConfig.soft_loss = "rest"``, the default).
"""
from __future__ import annotations

import torch
from torch import Tensor


def hard_loss(logp: Tensor, n_tokens: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean of per-path token-averaged negative log-likelihood.

    Args:
        logp: (n,) summed log-probabilities of each hard path's tokens.
        n_tokens: (n,) token counts.
        weight: (n,) weights (``1 / paths of that question / questions``), summing to 1.

    Returns:
        scalar.
    """
    return -(weight * logp / n_tokens.clamp(min=1)).sum()


def soft_loss(student_logp: Tensor, teacher_probs: Tensor, mask: Tensor, temperature: float) -> Tensor:
    """``T^2 * mean_q KL(q || softmax(student_logp / T))`` over each question's k paths.

    Args:
        student_logp: (B, k) student sequence log-probabilities of the teacher's paths.
        teacher_probs: (B, k) teacher probabilities (rows sum to 1 over the mask).
        mask: (B, k) bool, real entries.
        temperature: T.

    Returns:
        scalar.
    """
    logits = (student_logp / temperature).masked_fill(~mask, -1e9)
    log_p = torch.log_softmax(logits, dim=-1)
    q = teacher_probs * mask
    kl = (q * (torch.log(q.clamp(min=1e-12)) - log_p)).masked_fill(~mask, 0.0).sum(-1)
    return temperature ** 2 * kl.mean()


def soft_loss_with_rest(student_logp: Tensor, teacher_probs: Tensor, mask: Tensor, teacher_rest: Tensor,
                        temperature: float) -> Tensor:
    """Like :func:`soft_loss`, over k + 1 categories: the k paths and "any other
    sequence". The student's share of the rest is ``1 - sum_i p_i`` of its *absolute*
    sequence probabilities, so this term also teaches the student to generate the
    teacher's paths at all (the k-way loss only fits their ratios); the teacher's share
    is the mass it puts outside its top k. Both k + 1 distributions are tempered by T.

    Args:
        student_logp: (B, k) student sequence log-probabilities of the teacher's paths.
        teacher_probs: (B, k) teacher probabilities of the paths, summing to 1 over the mask.
        mask: (B, k) bool, real entries.
        teacher_rest: (B,) the teacher's tempered share outside the top k, in [0, 1).
        temperature: T.
    """
    logp = student_logp.masked_fill(~mask, -1e9)
    inside = torch.logsumexp(logp, dim=-1).clamp(max=-1e-6)
    log_rest = torch.log(-torch.expm1(inside))  # log(1 - sum_i p_i), stable
    logits = torch.cat([logp, log_rest[:, None]], dim=-1) / temperature
    log_p = torch.log_softmax(logits, dim=-1)
    q = torch.cat([teacher_probs * mask * (1 - teacher_rest[:, None]), teacher_rest[:, None]], dim=-1)
    full = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
    kl = (q * (torch.log(q.clamp(min=1e-12)) - log_p)).masked_fill(~full | (q <= 0), 0.0).sum(-1)
    return temperature ** 2 * kl.mean()


def distillation_loss(alpha: float, hard: Tensor | None, soft: Tensor | None) -> Tensor:
    """``alpha * hard + (1 - alpha) * soft``; a missing term counts as zero."""
    zero = torch.tensor(0.0)
    h = hard if hard is not None else zero
    s = soft if soft is not None else zero
    if alpha >= 1.0:
        return h
    if alpha <= 0.0:
        return s
    return alpha * h + (1 - alpha) * s


def kway_soft_loss(student_logp: Tensor, teacher_probs: Tensor, mask: Tensor, teacher_rest: Tensor,
                   temperature: float) -> Tensor:
    """:func:`soft_loss` with the signature of :func:`soft_loss_with_rest` (the rest is ignored)."""
    return soft_loss(student_logp, teacher_probs, mask, temperature)


SOFT_LOSSES = {"rest": soft_loss_with_rest, "kway": kway_soft_loss}
"""Soft (teacher) losses by name: ``rest`` = k paths + "any other sequence" (default),
``kway`` = KL over the k paths renormalised among themselves (the first release's)."""
