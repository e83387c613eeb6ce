"""The GNN teacher: question-conditioned relational message passing that turns a
question and its subgraph into a distribution over relation paths and answers.

Model (in the spirit of NSM / TransferNet). From the question embedding ``q`` the
teacher derives, for each reasoning step ``t = 1..T``, an instruction and from it a
softmax ``alpha_t`` over the directed relations (``r`` and ``~r``), plus a softmax
``beta`` over the number of hops. Relations are represented by the sentence embedding
of their *names* (plus a learned residual for relations seen in training), so a
relation never seen in training still gets a score.

Message passing is a random walk steered by the question: starting with all mass on
the topic entities, at step ``t`` every entity ``u`` sends along each edge
``u --r--> v`` the share ``x_t(u) * alpha_t(r) / deg_r(u)`` (``deg_r(u)`` = number of
``r``-edges leaving ``u``). Mass that returns to a topic entity is dropped
unless a question-conditioned gate keeps it (``topic_policy``): MetaQA's answers never
are, and never pass through, the topic, while PathQuestion's "X's spouse's spouse" is X.

Path distribution (the soft targets). Under this walk, the answer distribution is
exactly a mixture over relation paths::

    p(v) = sum_L beta_L * sum_{paths r_1..r_L} prod_t alpha_t(r_t) * walk(v | r_1..r_L)

so the teacher's probability of relation path ``r_1..r_L`` is
``beta_L * prod_t alpha_t(r_t)``, renormalised over the paths that can be instantiated
from the topic entity. Path probabilities and answer scores are therefore two views
of one model, which is why this choice was made over, e.g., answer mass at endpoints.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from kgdistill.configs import TeacherConfig  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)


class RelationalWalk(MessagePassing):
    """One step of question-steered walk: ``x'_v = sum_{(u, v)} w_(u,v) * x_u``.

    Shapes:
        x: (num_nodes, F); edge_index: (2, num_edges); edge_weight: (num_edges,);
        output: (num_nodes, F).
    """

    def __init__(self) -> None:
        super().__init__(aggr="add", flow="source_to_target")

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        return self.propagate(edge_index, x=x, edge_weight=edge_weight)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return x_j * edge_weight.unsqueeze(-1)


def relation_degree_norm(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_types: int) -> Tensor:
    """``1 / deg_r(u)`` for every edge ``u --r--> v``: (num_edges,) float."""
    key = edge_index[0] * num_types + edge_type
    uniq, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].to(torch.float32)


class PathTeacher(nn.Module):
    """The teacher network.

    Args:
        config: :class:`TeacherConfig`.
        num_steps: T, the most hops a reasoning path may have.
        exact_hops: every path has exactly ``num_steps`` hops (datasets such as
            MetaQA's k-hop files and PQ-kH fix k); otherwise the hop count is learned.
        question_dim: size of question embeddings.
        relation_text: (num_directed_relations, text_dim) embeddings of relation names,
            one row per row of the teacher's :class:`~kgdistill.vocabulary.RelationVocabulary`.
    """

    def __init__(self, config: TeacherConfig, num_steps: int, exact_hops: bool, question_dim: int,
                 relation_text: Tensor) -> None:
        super().__init__()
        self.config, self.num_steps, self.exact_hops = config, num_steps, exact_hops
        h = config.hidden_dim
        self.register_buffer("relation_text", relation_text.clone().float())
        self.num_directed = int(relation_text.shape[0])
        self.q_proj = nn.Linear(question_dim, h)
        self.steps = nn.ModuleList(nn.Linear(2 * h, h) for _ in range(num_steps))
        self.tok_proj = nn.Linear(question_dim, h)
        self.step_out = nn.ModuleList(nn.Linear(2 * h, h) for _ in range(num_steps))
        self.rel_proj = nn.Linear(relation_text.shape[1], h)
        self.direction = nn.Embedding(2, h)
        self.rel_residual = nn.Embedding(self.num_directed, h)
        self.hop_head = nn.Linear(h, num_steps)
        self.topic_gate = nn.Linear(h, num_steps)
        self.dropout = nn.Dropout(config.dropout)
        self.walk = RelationalWalk()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in [self.q_proj, self.rel_proj, self.hop_head, self.topic_gate, self.tok_proj,
                      *self.steps, *self.step_out]:
            layer.reset_parameters()
        nn.init.normal_(self.direction.weight, std=0.1)
        nn.init.zeros_(self.rel_residual.weight)

    def relation_keys(self) -> Tensor:
        """(num_directed, hidden) keys of the directed relations."""
        inverse = torch.arange(self.num_directed, device=self.relation_text.device) % 2
        keys = torch.tanh(self.rel_proj(self.relation_text)) + self.direction(inverse)
        if self.config.learn_relation_embeddings:
            keys = keys + self.rel_residual.weight
        return keys

    def step_distributions(self, question: Tensor, tokens: Tensor, token_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Per-step relation and hop distributions.

        At each step a query built from the question and the previous instruction
        attends over the question's tokens (as in NSM's instruction component), so that
        "X's spouse's father" and "X's father's spouse" give different step orders.

        Args:
            question: (batch, question_dim) pooled question embedding.
            tokens: (batch, num_tokens, question_dim) contextual token embeddings.
            token_mask: (batch, num_tokens) bool, real tokens.

        Returns:
            ``alpha``: (batch, T, num_directed) relation probabilities per step;
            ``beta``: (batch, T) probability that the path has ``t + 1`` hops.
        """
        q = self.dropout(torch.tanh(self.q_proj(question)))
        tok = torch.tanh(self.tok_proj(tokens))
        keys = self.relation_keys()
        instr = torch.zeros_like(q)
        logits = []
        scale = 1.0 / math.sqrt(keys.shape[1])
        for step, out in zip(self.steps, self.step_out):
            query = torch.tanh(step(torch.cat([q, instr], dim=-1)))
            att = torch.einsum("bh,blh->bl", query, tok) * scale
            att = torch.softmax(att.masked_fill(~token_mask, -1e9), dim=-1)
            context = torch.einsum("bl,blh->bh", att, tok)
            instr = torch.tanh(out(torch.cat([query, context], dim=-1)))
            logits.append(instr @ keys.T * scale * 4.0)
        alpha = torch.softmax(torch.stack(logits, dim=1), dim=-1)
        beta = torch.softmax(self.hop_head(q), dim=-1)
        if self.exact_hops:
            beta = torch.zeros_like(beta)
            beta[:, -1] = 1.0
        return alpha, beta

    def topic_keep(self, question: Tensor) -> Tensor:
        """(batch, T) share of the mass returning to a topic entity that is kept."""
        if self.config.topic_policy == "exclude":
            return torch.zeros(question.shape[0], self.num_steps, device=question.device)
        if self.config.topic_policy == "keep":
            return torch.ones(question.shape[0], self.num_steps, device=question.device)
        return torch.sigmoid(self.topic_gate(torch.tanh(self.q_proj(question))))

    def forward(self, question: Tensor, tokens: Tensor, token_mask: Tensor, edge_index: Tensor,
                edge_type: Tensor, batch: Tensor, topic_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Answer scores on a batch of subgraphs.

        Args:
            question: (B, question_dim).
            tokens, token_mask: as in :meth:`step_distributions`.
            edge_index: (2, E) node ids of the batched subgraphs.
            edge_type: (E,) directed relations.
            batch: (N,) subgraph of each node.
            topic_mask: (N,) bool, topic entities.

        Returns:
            ``scores``: (N,) answer probability mass per node (sums to at most 1 per
            subgraph; the rest was lost on dead ends); ``alpha`` and ``beta`` as in
            :meth:`step_distributions`.
        """
        alpha, beta = self.step_distributions(question, tokens, token_mask)
        norm = relation_degree_norm(edge_index, edge_type, topic_mask.shape[0], self.num_directed)
        src_graph = batch[edge_index[0]]
        topics_per_graph = torch.zeros(question.shape[0], device=question.device).index_add_(
            0, batch, topic_mask.float())
        x = (topic_mask.float() / topics_per_graph[batch].clamp(min=1)).unsqueeze(-1)
        keep = self.topic_keep(question)
        topic = topic_mask.float().unsqueeze(-1)
        scores = torch.zeros_like(x)
        for t in range(self.num_steps):
            weight = alpha[src_graph, t, edge_type] * norm
            x = self.walk(x, edge_index, weight)
            x = x * (1.0 - topic * (1.0 - keep[batch, t].unsqueeze(-1)))
            scores = scores + beta[batch, t].unsqueeze(-1) * x
        return scores.squeeze(-1), alpha, beta


def path_log_probs(alpha: np.ndarray, beta: np.ndarray, drel_paths: list[list[int]]) -> np.ndarray:
    """Unnormalised log-probabilities ``log beta_L + sum_t log alpha_t(r_t)``.

    Args:
        alpha: (T, num_directed) for one question.
        beta: (T,).
        drel_paths: candidate paths as lists of directed relations (length 1..T).

    Returns:
        (num_paths,) float64.
    """
    la, lb = np.log(np.clip(alpha, 1e-30, None)), np.log(np.clip(beta, 1e-30, None))
    out = np.empty(len(drel_paths))
    for i, path in enumerate(drel_paths):
        out[i] = lb[len(path) - 1] + sum(la[t, d] for t, d in enumerate(path))
    return out


def normalise_log_probs(logp: np.ndarray) -> np.ndarray:
    """Softmax of log-probabilities: (n,) -> (n,) summing to one."""
    if logp.size == 0:
        return logp
    z = np.exp(logp - logp.max())
    return z / z.sum()
