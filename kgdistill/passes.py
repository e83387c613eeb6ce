"""Forward passes that put several sequences in one row, for the KV-cache decoder
(:func:`kgdistill.decoding.decode_paths_cached`).

A causal LM's cost on a CPU has two parts: a fixed cost per pass (30 layers of
kernel launches for SmolLM2, about the whole time of one question's pass) and a cost
per token (the matrix products, most of a batch's time). Two passes here trade one
for the other, both through a 4-D boolean attention mask (which sequence attends
where) and explicit position ids, on models whose attention takes such a mask
(``sdpa``) and whose cache holds plain key/value tensors:

* the **lookahead** pass (few questions): each prompt followed by every first relation
  the graph allows, as one-token branches that attend to their prompt and to
  themselves, so one pass gives the first two decoding steps' scores;
* the **packed** prompt pass (many questions): the prompts laid end to end in rows
  instead of left-padded to the longest (MetaQA prompts vary by a factor of two:
  a padded batch is about a third padding), the cache then unpacked into the
  left-padded layout the later steps expect.

Both return the states the plain passes would compute (tested against them); prompt
learning's virtual tokens and other cache kinds take the plain passes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from kgdistill.student import output_cache

LOOKAHEAD_TOKENS = 128
"""The most first-hop candidate tokens (questions x candidates, padded) that
:func:`decode_paths_cached` puts into the prompt pass; above it the second step runs
as a pass of its own (a lookahead only pays where the pass's fixed cost dominates:
few questions, as when one user asks)."""

PACK_ROW = 64
"""Tokens per row of a packed prompt pass (at least the longest prompt)."""


def takes_row_masks(student) -> bool:
    """Whether ``student`` can run the passes of this module: no adapter tokens before
    the prompt, and an attention that takes a boolean 4-D mask."""
    return not student.n_virtual and getattr(student._causal_lm().config, "_attn_implementation", None) == "sdpa"


def _rewrite_cache(cache, edit) -> bool:
    """Replace every layer's keys and values ``t`` by ``edit(t)``; ``False`` (cache
    untouched) for a cache whose layers are not plain key/value tensors."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(type(l).__name__ == "DynamicLayer" and isinstance(l.keys, torch.Tensor)
                             for l in layers):
        return False
    for layer in layers:
        layer.keys, layer.values = edit(layer.keys), edit(layer.values)
    return True


@dataclass
class Lookahead:
    """The prompt pass run with every allowed first-hop token appended (see
    :func:`lookahead_pass`): ``hidden`` (n, P + K, H), ``column[q][token]`` the
    column of question ``q``'s candidate ``token``."""

    hidden: torch.Tensor
    prompt_width: int
    column: list[dict[int, int]]


def use_lookahead(student, n_questions: int, candidates: list[list[int]], limit: int) -> bool:
    """Whether the first two steps fit one pass (see :data:`LOOKAHEAD_TOKENS`)."""
    if not limit or not candidates or not all(candidates) or not takes_row_masks(student):
        return False
    return n_questions * max(len(c) for c in candidates) <= limit


def lookahead_pass(student, ids: torch.Tensor, mask: torch.Tensor, candidates: list[list[int]]):
    """The prompt pass plus, after each question's prompt, its first-hop candidate
    tokens as parallel one-token continuations: a candidate attends to its prompt and
    to itself only and sits at the position right after the prompt, so its state is
    the one the next decoding step would compute for that token.

    Returns:
        ``(lookahead, cache)``: the cache holds the prompt columns, then the candidate
        columns (the prompts' attention mask is ``mask``).
    """
    n, width = ids.shape
    k = max(len(c) for c in candidates)
    cand = torch.full((n, k), student.tokenizer.pad_token_id, dtype=torch.long)
    for q, c in enumerate(candidates):
        cand[q, :len(c)] = torch.tensor(c, dtype=torch.long)
    real = mask.bool()
    full = width + k
    allowed = torch.zeros((n, 1, full, full), dtype=torch.bool)
    causal = torch.tril(torch.ones((width, width), dtype=torch.bool))
    # a padding row attends to itself (a row that attends nothing would be NaN)
    allowed[:, 0, :width, :width] = (causal & real[:, None, :]) | torch.eye(width, dtype=torch.bool)
    allowed[:, 0, width:, :width] = real[:, None, :]
    allowed[:, 0, width:, width:] = torch.eye(k, dtype=torch.bool)
    lengths = mask.sum(1)
    positions = torch.cat([(mask.cumsum(-1) - 1).clamp(min=0), lengths[:, None].expand(n, k)], dim=1)
    dev = student.device
    out = student._body()(input_ids=torch.cat([ids, cand], dim=1).to(dev), attention_mask=allowed.to(dev),
                          position_ids=positions.to(dev), use_cache=True)
    column = [{t: width + j for j, t in enumerate(c)} for c in candidates]
    return Lookahead(out.last_hidden_state, width, column), output_cache(out)


def keep_columns(cache, parents: torch.Tensor, width: int, columns: torch.Tensor) -> bool:
    """Reduce a lookahead pass's cache to one row per beam: its question's prompt
    columns (``:width``) and the column of the candidate it took. ``False`` (cache
    untouched) for a cache whose layers are not plain key/value tensors."""
    def edit(t):
        rows, cols = parents.to(t.device), columns.to(t.device)
        return torch.cat([t[rows, :, :width], t[rows, :, cols][:, :, None]], dim=2)
    return _rewrite_cache(cache, edit)


def pack_rows(lengths: list[int], capacity: int) -> list[tuple[int, int]]:
    """First-fit decreasing: per sequence, ``(row, start)`` in rows of ``capacity``
    tokens (a sequence longer than ``capacity`` gets a row of its own)."""
    fill: list[int] = []
    place = [(0, 0)] * len(lengths)
    for q in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        for r, used in enumerate(fill):
            if used + lengths[q] <= capacity:
                place[q] = (r, used)
                fill[r] += lengths[q]
                break
        else:
            place[q] = (len(fill), 0)
            fill.append(lengths[q])
    return place


def packed_prompt_pass(student, ids: torch.Tensor, mask: torch.Tensor, capacity: int = PACK_ROW,
                       min_saving: float = 0.1):
    """The prompt pass of :meth:`Student.run_prompts` over left-padded ``ids`` with
    the prompts packed end to end into rows (each attends only to itself, positions
    restart at each prompt), the cache then unpacked to the left-padded layout.

    Returns:
        ``(last, cache)``: (n, H) states of each prompt's last token and the cache as
        :meth:`Student.run_prompts` gives it for ``mask``; ``None`` where
        packing would save less than ``min_saving`` of the tokens, or the model or
        its cache cannot take it (the caller then runs the plain pass).
    """
    n, width = ids.shape
    if n < 2 or not takes_row_masks(student):
        return None
    lengths = mask.sum(1).tolist()
    place = pack_rows(lengths, max(capacity, width))
    n_rows = max(r for r, _ in place) + 1
    row_width = max(s + length for (_, s), length in zip(place, lengths))
    if n_rows * row_width > (1 - min_saving) * n * width:
        return None
    x = torch.full((n_rows, row_width), student.tokenizer.pad_token_id, dtype=torch.long)
    positions = torch.zeros((n_rows, row_width), dtype=torch.long)
    segment = torch.full((n_rows, row_width), -1, dtype=torch.long)
    for q, ((r, s), length) in enumerate(zip(place, lengths)):
        x[r, s:s + length] = ids[q, width - length:]
        positions[r, s:s + length] = torch.arange(length)
        segment[r, s:s + length] = q
    same = (segment[:, :, None] == segment[:, None, :]) & (segment[:, :, None] >= 0)
    eye = torch.eye(row_width, dtype=torch.bool)
    allowed = (same & torch.tril(torch.ones((row_width, row_width), dtype=torch.bool))) | eye
    dev = student.device
    out = student._body()(input_ids=x.to(dev), attention_mask=allowed[:, None].to(dev),
                          position_ids=positions.to(dev), use_cache=True)
    rows = torch.tensor([r for r, _ in place], dtype=torch.long)
    starts = torch.tensor([s for _, s in place], dtype=torch.long)
    # per question, its columns left-padded to ``width`` (padding points at its start)
    offset = torch.arange(width)[None, :] - (width - torch.tensor(lengths))[:, None]
    cols = starts[:, None] + offset.clamp(min=0)
    cache = output_cache(out)
    if not _rewrite_cache(cache, lambda t: t[rows[:, None].to(t.device), :, cols.to(t.device)]
                          .permute(0, 2, 1, 3).contiguous()):
        return None
    last_cols = starts + torch.tensor(lengths) - 1
    return out.last_hidden_state[rows.to(dev), last_cols.to(dev)], cache
