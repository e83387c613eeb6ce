"""Decoding relation paths from the student, optionally constrained by the graph.

Beam search over the path vocabulary (one token per directed relation, plus the end
token). With a graph constraint, each beam carries the *frontier*: the set of entities
its relation prefix reaches from the topic entity. At each step only relations that
leave the frontier may be generated (looked up in the graph for just those entities,
no index that grows with the KG), and the end token only when the frontier is not
empty, so every returned path can be instantiated. Without the constraint, any path
token may be generated (the unconstrained mode, for comparison).

The loop re-runs the (short) prompt + prefix for all live beams of all questions in
one batched forward per step instead of calling ``generate()``, whose fixed overhead
dominates for small models.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from kgdistill.arrays import KEY_SPACE, concat_ranges, edge_ranges
from kgdistill.graph import GraphBackend, directed_relation
from kgdistill.passes import (LOOKAHEAD_TOKENS, keep_columns, lookahead_pass, packed_prompt_pass,
                               use_lookahead)
from kgdistill.paths import RelationPath, sorted_member
from kgdistill.student import output_cache
from kgdistill.vocabulary import GraphBinding


@dataclass
class DecodedPath:
    """A decoded relation path with its (length-unnormalised) log-probability, its
    probability renormalised over the returned beams, and, when decoding was
    constrained by a graph, the entity ids it reaches from the topic entities."""

    path: RelationPath
    logprob: float
    prob: float = 0.0
    endpoints: np.ndarray | None = None


@dataclass
class _Beam:
    question: int
    tokens: list[int]
    logprob: float
    frontier: np.ndarray | None


def _step_scorer(student):
    """``(score, column)``: ``score(hidden)`` turns (n, H) last hidden states into
    next-token log-probabilities, (n, columns) on the CPU; ``column[token]`` is a
    token's column. With ``softmax="paths"`` only the path vocabulary's logits are
    computed (the output rows of the path tokens), otherwise the full vocabulary's."""
    head = student._causal_lm().get_output_embeddings()
    if student.config.softmax == "paths":
        cols = student.output_ids.to(student.device)
        weight = head.weight[cols]
        bias = head.bias[cols] if getattr(head, "bias", None) is not None else None
        column = torch.zeros(int(student.output_ids.max()) + 1, dtype=torch.long)
        column[student.output_ids] = torch.arange(len(student.output_ids))

        def score(hidden):
            logits = torch.nn.functional.linear(hidden, weight, bias)
            return torch.log_softmax(logits.float().cpu(), dim=-1)
        return score, column

    def score(hidden):
        return student.log_softmax(head(hidden).float().cpu())
    return score, torch.arange(len(student.tokenizer) + 1)


def _start(topics) -> np.ndarray:
    """The sorted topic ids a beam starts from (``-1``, an unknown topic, dropped)."""
    ids = np.unique(np.asarray(topics, dtype=np.int64))
    return ids[ids >= 0]


def _leaving(graph: GraphBackend | None, beams: Sequence[_Beam], may_extend: bool) -> list | None:
    """Per beam, the directed relations leaving its frontier (one batched graph call
    for all beams of a step), or ``None`` without a graph."""
    if graph is None:
        return None
    empty = np.empty(0, dtype=np.int64)
    return graph.outgoing_relations([b.frontier if may_extend else empty for b in beams])


def _expand(graph: GraphBackend | None, binding, steps: list[tuple[_Beam, int]], row_of_token) -> list:
    """The frontiers of the beams that grow by ``token``: one batched graph call."""
    if graph is None:
        return [None] * len(steps)
    return graph.neighbors_many([(b.frontier, int(binding.drel_of_row[row_of_token[t]])) for b, t in steps])


def _allowed(n_rows: int, n_beams: int, step: int, may_extend: bool, graph: GraphBackend | None,
             binding: GraphBinding | None, leaving: list | None, min_hops: int) -> torch.Tensor:
    """(n_beams, n_rows + 1) booleans: the path rows, then the end token, each beam may
    take at ``step`` (see :func:`_select`)."""
    allowed = torch.zeros((n_beams, n_rows + 1), dtype=torch.bool)
    if may_extend:
        if graph is None:
            allowed[:, :n_rows] = True
        else:
            sizes = np.fromiter((x.size for x in leaving), dtype=np.int64, count=n_beams)
            rows = binding.rows(np.concatenate(leaving)) if sizes.sum() else np.empty(0, np.int64)
            owner = np.repeat(np.arange(n_beams, dtype=np.int64), sizes)
            known = rows >= 0
            allowed[torch.from_numpy(owner[known]), torch.from_numpy(rows[known])] = True
    if step >= min_hops:
        allowed[:, n_rows] = True
    return allowed


def _select(student, beams: Sequence[_Beam], logp: torch.Tensor, column: torch.Tensor, step: int,
            may_extend: bool, graph: GraphBackend | None, binding: GraphBinding | None, leaving: list | None,
            min_hops: int, beam_size: int) -> list[tuple[int, list[tuple[float, int, int]]]]:
    """One beam-search step for every live beam at once: per question (in order of its
    first beam), its best ``beam_size`` continuations ``(score, beam index, token)``,
    best first, over all its beams' allowed tokens.

    A beam may take the path tokens of the relations leaving its frontier
    (``leaving``; any path token without a graph) while it may still grow, and the end
    token once it has ``min_hops`` relations (every live beam has ``step``). The scores
    (``logp``: one row per beam, ``column[token]`` a token's column) are added to the
    beams' log-probabilities in float64, as Python floats add, and the best are taken
    with one ``topk`` over each question's beams."""
    n_rows = len(student.path_token_ids)
    n_beams = len(beams)
    allowed = _allowed(n_rows, n_beams, step, may_extend, graph, binding, leaving, min_hops)
    scores = logp[:, column[student.output_ids]].double()
    total = torch.tensor([b.logprob for b in beams], dtype=torch.float64)[:, None] + scores
    total = torch.where(allowed, total, torch.tensor(-math.inf, dtype=torch.float64))
    # each question's beams side by side, padded with a row that allows nothing
    order: dict[int, list[int]] = {}
    for i, b in enumerate(beams):
        order.setdefault(b.question, []).append(i)
    width = max(len(v) for v in order.values())
    index = torch.full((len(order), width), n_beams, dtype=torch.long)
    for k, members in enumerate(order.values()):
        index[k, :len(members)] = torch.tensor(members)
    padded = torch.cat([total, torch.full((1, n_rows + 1), -math.inf, dtype=torch.float64)])
    flat = padded[index].reshape(len(order), -1)
    top = torch.topk(flat, min(beam_size, flat.shape[1]), dim=1)
    out_ids = student.output_ids.tolist()
    picked = []
    for (q, _), vals, where, members in zip(order.items(), top.values.tolist(), top.indices.tolist(),
                                            index.tolist()):
        cands = [(v, members[f // (n_rows + 1)], out_ids[f % (n_rows + 1)])
                 for v, f in zip(vals, where) if v != -math.inf]
        if cands:
            picked.append((q, cands))
    return picked


def _end_is_forced(student, max_hops: int, min_hops: int) -> bool:
    """Whether a beam that reaches ``max_hops`` relations ends without a forward pass
    (:func:`_forced_end`): when decoding is exact (``min_hops >= max_hops``), and when
    ``max_hops`` is the longest path the student was trained on
    (``student.longest_path``), after which every path it learned from ended. Below
    that length (a 3-hop run decoded with ``--max-hops 2``) the student may want
    another hop, and above it (a hop limit its data never reached) it never learned
    what follows, so the end token's log-probability is still scored there."""
    return min_hops >= max_hops or getattr(student, "longest_path", None) == max_hops


def _forced_end(beams: Sequence[_Beam], finished: list[list[_Beam]], end: int) -> None:
    """Finish ``beams`` that have reached ``max_hops`` relations where
    :func:`_end_is_forced`: the end token is the only one allowed, so it is taken with
    probability one, without the forward pass whose only use would be that token's
    log-probability (a third of a 2-hop question's passes, half of a 1-hop one's)."""
    for b in beams:
        finished[b.question].append(_Beam(b.question, b.tokens + [end], b.logprob, b.frontier))


def _finish(student, finished: list[list[_Beam]], beam_size: int, row_of_token: dict[int, int]
            ) -> list[list[DecodedPath]]:
    """The best ``beam_size`` finished beams per question as paths, with their
    probabilities renormalised over the returned beams."""
    out = []
    vocab = student.vocabulary
    for beams in finished:
        done = sorted(beams, key=lambda b: -b.logprob)[:beam_size]
        paths = [DecodedPath(RelationPath(tuple(vocab.relation(row_of_token[t]) for t in b.tokens[:-1])),
                             b.logprob, endpoints=b.frontier) for b in done]
        if paths:
            m = max(p.logprob for p in paths)
            z = sum(math.exp(p.logprob - m) for p in paths)
            for p in paths:
                p.prob = math.exp(p.logprob - m) / z
        out.append(paths)
    return out


@torch.no_grad()
def decode_paths(student, prompts: Sequence[str], beam_size: int = 5, max_hops: int = 3,
                 graph: GraphBackend | None = None, topics: Sequence[Sequence[int]] | None = None,
                 binding: GraphBinding | None = None, min_hops: int = 1) -> list[list[DecodedPath]]:
    """Top-``beam_size`` relation paths per prompt.

    Args:
        student: a :class:`kgdistill.student.Student`.
        prompts: one prompt per question.
        beam_size: beams kept per question.
        max_hops: longest path.
        graph: constrain decoding to paths that exist from ``topics`` in this graph.
        topics: per question, topic entity ids (needed with ``graph``).
        binding: the student's vocabulary bound to ``graph`` (made here if not given).
        min_hops: shortest path (``max_hops`` for data whose answers are all exactly
            that far, as in MetaQA; a beam that cannot grow that long is dropped).
            With ``min_hops == max_hops``, or ``max_hops`` the longest path the
            student was trained on, the end token is forced after the last relation: it adds nothing
            to a path's log-probability and costs no forward pass.

    Returns:
        per question, up to ``beam_size`` paths, best first.

    Raises:
        VocabularyError: ``graph`` lacks relations the student knows.
    """
    model, tok = student.model, student.tokenizer
    model.eval()
    path_ids = student.path_token_ids  # vocabulary row -> token id
    row_of_token = {int(t): i for i, t in enumerate(path_ids.tolist())}
    if graph is not None and binding is None:
        binding = student.vocabulary.bind(graph)
    end = student.end_id
    prompt_ids = student.fit_prompts(prompts, room=max_hops + 1)  # a long question must leave room for the path
    beams = [_Beam(q, [], 0.0, _start(topics[q]) if graph is not None else None) for q in range(len(prompts))]
    finished: list[list[_Beam]] = [[] for _ in prompts]
    forced = _end_is_forced(student, max_hops, min_hops)
    for step in range(max_hops + 1):
        if not beams:
            break
        if step == max_hops and forced:
            _forced_end(beams, finished, end)
            break
        seqs = [prompt_ids[b.question] + b.tokens for b in beams]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
        att = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            att[i, : len(s)] = 1
        logits = student.logits(ids, att)
        dev = logits.device
        last = logits[torch.arange(len(seqs), device=dev), (att.sum(1) - 1).to(dev)].float().cpu()
        logp_all = student.log_softmax(last)
        may_extend = step < max_hops
        picked = _select(student, beams, logp_all, torch.arange(logp_all.shape[1]), step, may_extend, graph,
                         binding, _leaving(graph, beams, may_extend), min_hops, beam_size)
        grow = []
        for q, cands in picked:
            for score, i, token in cands:
                beam = beams[i]
                if token == end:
                    finished[q].append(_Beam(q, beam.tokens + [token], score, beam.frontier))
                else:
                    grow.append((beam, token, score))
        frontiers = _expand(graph, binding, [(b, t) for b, t, _ in grow], row_of_token)
        beams = [_Beam(b.question, b.tokens + [t], sc, f) for (b, t, sc), f in zip(grow, frontiers)]
    return _finish(student, finished, beam_size, row_of_token)


class PathDecoder(ABC):
    """Turns prompts into relation paths (a plug-in point: see :data:`DECODERS`)."""

    @abstractmethod
    def decode(self, student, prompts: Sequence[str], beam_size: int, max_hops: int,
               graph: GraphBackend | None = None, topics: Sequence[Sequence[int]] | None = None,
               binding: GraphBinding | None = None, min_hops: int = 1) -> list[list[DecodedPath]]:
        """Per prompt, up to ``beam_size`` paths, best first (see :func:`decode_paths`)."""


class BeamSearchDecoder(PathDecoder):
    """Batched beam search that re-runs prompt + prefix at each step
    (:func:`decode_paths`): the fastest choice for small students."""

    def decode(self, student, prompts, beam_size, max_hops, graph=None, topics=None, binding=None, min_hops=1):
        return decode_paths(student, prompts, beam_size, max_hops, graph, topics, binding, min_hops)


@torch.no_grad()
def decode_paths_cached(student, prompts: Sequence[str], beam_size: int = 5, max_hops: int = 3,
                        graph: GraphBackend | None = None, topics: Sequence[Sequence[int]] | None = None,
                        binding: GraphBinding | None = None, min_hops: int = 1,
                        lookahead: int = LOOKAHEAD_TOKENS, pack: bool = True) -> list[list[DecodedPath]]:
    """:func:`decode_paths` with a KV cache: the prompts are encoded once (left-padded,
    batched across questions), and each step feeds only the last token of every live
    beam, with the cache rows reordered to follow their beams. Same arguments, same
    result (up to float rounding); the right choice for large students.

    For a few questions (at most ``lookahead`` first-hop candidates in all) the
    prompt pass also scores every allowed first relation's continuation
    (:func:`kgdistill.passes.lookahead_pass`), so a 2-hop question costs one forward
    pass instead of two; ``lookahead=0`` turns this off. For more questions the
    prompts are packed end to end instead of padded (``pack``;
    :func:`kgdistill.passes.packed_prompt_pass`).

    Every adaptation mode is decoded here: the virtual tokens or prefix of a
    prompt-learning adapter enter the cache with the prompt
    (:meth:`kgdistill.student.Student.run_prompts`).
    """
    student.model.eval()
    dev = student.device
    path_ids = student.path_token_ids
    row_of_token = {int(t): i for i, t in enumerate(path_ids.tolist())}
    if graph is not None and binding is None:
        binding = student.vocabulary.bind(graph)
    end = student.end_id
    if not prompts:
        return []
    # every prompt ends at the last column; a long question is cut to leave room for the
    # path, or a learned position table (the built student's) overflows
    ids, mask = student._batch_left(student.fit_prompts(prompts, room=max_hops + 1))
    scorer, column = _step_scorer(student)
    body = student._body()
    beams = [_Beam(q, [], 0.0, _start(topics[q]) if graph is not None else None) for q in range(len(prompts))]
    leaving = _leaving(graph, beams, max_hops > 0)
    look = None
    if max_hops > 1:
        first = _allowed(len(path_ids), len(beams), 0, True, graph, binding, leaving, min_hops)[:, :len(path_ids)]
        candidates = [path_ids[row].tolist() for row in first]
        if use_lookahead(student, len(prompts), candidates, lookahead):
            look, cache = lookahead_pass(student, ids, mask, candidates)
            last = look.hidden[:, look.prompt_width - 1]
    packed = packed_prompt_pass(student, ids, mask) if look is None and pack else None
    if packed is not None:
        last, cache = packed
    elif look is None:
        hidden, cache, mask = student.run_prompts(ids, mask)
        last = hidden[:, -1]
    logp_rows = scorer(last)
    lengths = mask.sum(1)  # attended positions, virtual tokens included
    rows = list(range(len(prompts)))  # cache row of each live beam
    finished: list[list[_Beam]] = [[] for _ in prompts]
    forced = _end_is_forced(student, max_hops, min_hops)
    for step in range(max_hops + 1):
        if not beams:
            break
        may_extend = step < max_hops
        if step:
            leaving = _leaving(graph, beams, may_extend)
        picked = _select(student, beams, logp_rows, column, step, may_extend, graph, binding,
                         leaving, min_hops, beam_size)
        grow, parents, tokens = [], [], []
        for q, cands in picked:
            for score, i, token in cands:
                beam = beams[i]
                if token == end:
                    finished[q].append(_Beam(q, beam.tokens + [token], score, beam.frontier))
                    continue
                grow.append((beam, token, score))
                parents.append(rows[i])
                tokens.append(token)
        frontiers = _expand(graph, binding, [(b, t) for b, t, _ in grow], row_of_token)
        beams = [_Beam(b.question, b.tokens + [t], sc, f) for (b, t, sc), f in zip(grow, frontiers)]
        if not beams or step == max_hops:
            break
        if step + 1 == max_hops and forced:
            _forced_end(beams, finished, end)
            break
        index = torch.tensor(parents, dtype=torch.long)
        looked = False
        if look is not None:  # step 1's states were computed by the lookahead pass
            cols = torch.tensor([look.column[p][t] for p, t in zip(parents, tokens)], dtype=torch.long)
            looked = keep_columns(cache, index, ids.shape[1], cols)
            if looked:
                logp_rows = scorer(look.hidden[index.to(look.hidden.device), cols.to(look.hidden.device)])
            else:  # a cache of another kind: the plain way
                _, cache, _ = student.run_prompts(ids, mask)
            look = None
        lengths = lengths[index]
        mask = torch.cat([mask[index], torch.ones((len(parents), 1), dtype=torch.long)], dim=1)
        rows = list(range(len(parents)))
        if looked:
            continue
        # one step for every live beam: its last token against its (reordered) cache row
        cache.reorder_cache(index.to(dev))
        out = body(input_ids=torch.tensor(tokens, dtype=torch.long)[:, None].to(dev), attention_mask=mask.to(dev),
                   position_ids=(lengths + step)[:, None].to(dev), cache=cache, use_cache=True)
        cache = output_cache(out)
        logp_rows = scorer(out.last_hidden_state[:, -1])
    return _finish(student, finished, beam_size, row_of_token)


Walk = tuple[np.ndarray, np.ndarray, list[np.ndarray]]
"""A walk's endpoint ids (sorted), their mass, and the entity ids reached after each
hop, the start first (see :func:`walk_many`)."""


def walk_distribution(graph: GraphBackend, topics: np.ndarray, path: RelationPath,
                      exclude_topic: bool, frontiers: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Endpoint distribution of a uniform random walk along ``path`` from ``topics``
    (one walk of :func:`walk_many`); if ``frontiers`` is a list, the entity ids reached
    after each hop are appended to it."""
    ents, mass, trail = walk_many(graph, [(topics, [path])], exclude_topic)[0][0]
    if frontiers is not None:
        frontiers.extend(trail)
    return ents, mass


def walk_many(graph: GraphBackend, jobs: Sequence[tuple[np.ndarray, Sequence[RelationPath]]],
              exclude_topic: bool) -> list[list[Walk]]:
    """Endpoint distributions of uniform random walks: for each ``(topics, paths)``
    job, one walk per path from the job's topic entities. At each hop an entity splits
    its mass equally among its neighbours along the hop's relation; with
    ``exclude_topic`` mass that returns to a topic is dropped.

    All walks advance together, one hop at a time: the graph is asked once per hop and
    directed relation for the whole batch, and a job's paths walk each relation prefix
    they share once (the beams of a question mostly share their first hops). A walk
    stops where a hop reaches nothing or names a relation the graph lacks: it returns
    no endpoints, and its frontiers end before that hop.

    Returns:
        per job, per path, ``(entities, mass, frontiers)``: the sorted endpoint ids and
        their mass (summing to at most 1), and the entity ids reached after each hop
        (the topic dropped where ``exclude_topic``), the start first. Arrays may be
        shared between walks: do not modify them.
    """
    empty_e, empty_m = np.empty(0, np.int64), np.empty(0)
    # a node per (job, relation prefix): its entities, mass and frontiers (None: stopped)
    ents: list[np.ndarray] = []
    mass: list[np.ndarray] = []
    trails: list[list[np.ndarray]] = []
    live: list[bool] = []
    node_of: dict[tuple[int, tuple], int] = {}
    starts: list[np.ndarray] = []
    for j, (topics, _) in enumerate(jobs):
        start = np.unique(np.asarray(topics, dtype=np.int64))
        starts.append(start)
        node_of[(j, ())] = len(ents)
        ents.append(start)
        mass.append(np.full(start.size, 1.0 / max(start.size, 1)))
        trails.append([start])
        live.append(True)
    depth = max((len(p) for _, paths in jobs for p in paths), default=0)
    for h in range(depth):
        groups: dict[int, list[tuple[int, int, int]]] = {}  # drel -> (job, parent, child)
        for j, (_, paths) in enumerate(jobs):
            for p in paths:
                rels = p.relations
                if len(rels) <= h or (j, rels[:h + 1]) in node_of:
                    continue
                parent = node_of[(j, rels[:h])]
                child = node_of[(j, rels[:h + 1])] = len(ents)
                ents.append(empty_e)
                mass.append(empty_m)
                trails.append(trails[parent])
                live.append(False)
                rid = graph.relation_id(rels[h].name)
                if live[parent] and ents[parent].size and rid is not None:
                    groups.setdefault(directed_relation(rid, rels[h].inverse), []).append((j, parent, child))
        for drel, members in groups.items():
            sizes = np.array([ents[par].size for _, par, _ in members])
            src = np.concatenate([ents[par] for _, par, _ in members])
            dst, lo, hi = edge_ranges(graph, src, drel)
            deg = hi - lo
            idx = concat_ranges(lo, hi)
            # each edge carries its source's mass share, in the order (walk, source, edge)
            weight = np.concatenate([mass[par] for _, par, _ in members])
            share = np.repeat(weight[deg > 0] / deg[deg > 0], deg[deg > 0])
            group = np.repeat(np.repeat(np.arange(len(members), dtype=np.int64), sizes), deg)
            keys, inv = np.unique(dst[idx] + KEY_SPACE * group, return_inverse=True)
            total = np.bincount(inv.reshape(-1), weights=share, minlength=keys.size)
            if exclude_topic:
                topic_keys = np.concatenate([starts[j] + KEY_SPACE * g for g, (j, _, _) in enumerate(members)])
                keep = ~sorted_member(topic_keys, keys)
                keys, total = keys[keep], total[keep]
            reached = np.bincount(group, minlength=len(members))  # edges per walk
            bounds = np.searchsorted(keys, np.arange(len(members) + 1, dtype=np.int64) * KEY_SPACE)
            for g, (_, parent, child) in enumerate(members):
                if not reached[g]:  # no edge along this hop: the walk stops
                    continue
                e = keys[bounds[g]:bounds[g + 1]] - KEY_SPACE * g
                ents[child], mass[child], live[child] = e, total[bounds[g]:bounds[g + 1]], True
                trails[child] = trails[parent] + [e]
    out: list[list[Walk]] = []
    for j, (_, paths) in enumerate(jobs):
        row = []
        for p in paths:
            n = node_of[(j, p.relations)]
            row.append((ents[n], mass[n], trails[n]) if live[n] else (empty_e, empty_m, trails[n]))
        out.append(row)
    return out


class CachedBeamSearchDecoder(PathDecoder):
    """Batched beam search with a KV cache (:func:`decode_paths_cached`): the prompt
    and each beam's prefix are not re-encoded at every step."""

    def decode(self, student, prompts, beam_size, max_hops, graph=None, topics=None, binding=None, min_hops=1):
        return decode_paths_cached(student, prompts, beam_size, max_hops, graph, topics, binding, min_hops)


DECODERS: dict[str, type[PathDecoder]] = {"beam": BeamSearchDecoder, "kv": CachedBeamSearchDecoder}
"""Path decoders by name."""
