"""Training, evaluation, path distributions and persistence of the GNN teacher.

The teacher is trained from answers (weak supervision): the loss is
``-log sum_{a in answers} p(a)``, the probability mass the steered walk puts on the
gold answers. Where a dataset gives gold paths, ``-log p(gold relation path)`` is added
(weighted by ``TeacherConfig.gold_path_weight``, :func:`gold_path_rows`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from kgdistill.datasets import Question, answer_coverage
from kgdistill.encoder import SentenceEncoder, relation_text
from kgdistill.errors import CheckpointError
from kgdistill.graph import GraphBackend
from kgdistill.paths import EnumerationLimits, enumerate_relation_paths
from kgdistill.subgraph import SubgraphConfig, extract_subgraph
from kgdistill.teacher import PathTeacher, TeacherConfig, normalise_log_probs, path_log_probs
from kgdistill.configs import TEACHER_TRAINING  # noqa: F401 (re-exported)
from kgdistill.training import TrainArgs, TrainTask, fit, seed_everything, significant
from kgdistill.vocabulary import GraphBinding, RelationVocabulary

logger = logging.getLogger(__name__)

TEACHER_FORMAT_VERSION = 2
"""2: relations bound by name, hops and exact_hops beside the architecture config."""



def mask_topic(text: str, topics: Sequence[str]) -> str:
    """Replace topic mentions (also with ``_`` for spaces) by ``X`` so that the question
    embedding carries the question's form, not the entity's name."""
    for topic in sorted(topics, key=len, reverse=True):
        for form in (topic, topic.replace(" ", "_"), topic.replace("_", " ")):
            if form and form in text:
                text = text.replace(form, "X")
    return text


@dataclass
class Example:
    """A question resolved against the graph; ``index`` is its position in the
    question list it came from."""

    question: Question
    topics: np.ndarray
    answers: np.ndarray
    index: int


@dataclass
class QuestionEncoding:
    """Embeddings of the distinct (topic-masked) question texts of a question list.

    Attributes:
        pooled: (num_texts, dim) sentence embeddings.
        tokens: (num_texts, max_tokens, dim) float16 token embeddings, zero-padded.
        mask: (num_texts, max_tokens) bool.
        rows: (num_questions,) row of each question.
    """

    pooled: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor
    rows: np.ndarray

    def select(self, question_indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = torch.from_numpy(self.rows[list(question_indices)])
        return self.pooled[r], self.tokens[r].float(), self.mask[r]


def resolve_examples(graph: GraphBackend, questions: Sequence[Question]) -> tuple[list[Example], int]:
    """Examples for questions whose topic is in the graph; also the count skipped."""
    out, skipped = [], 0
    for i, q in enumerate(questions):
        topics = graph.entity_ids(q.topic_entities)
        topics = topics[topics >= 0]
        if topics.size == 0:
            skipped += 1
            continue
        answers = graph.entity_ids(q.answers)
        out.append(Example(q, topics, answers[answers >= 0], i))
    return out, skipped


def collate(graph: GraphBackend, examples: Sequence[Example], encoding: QuestionEncoding,
            sub_config: SubgraphConfig, binding: GraphBinding) -> dict:
    """Batch subgraphs of ``examples`` into one disjoint graph (PyG-style ``batch``).
    Edge types are the teacher's rows (``binding``); edges along relations the teacher
    does not know are left out."""
    edge_index, edge_type, batch, topic_mask, node_ids, answer_mask = [], [], [], [], [], []
    offset = 0
    for b, ex in enumerate(examples):
        sub = extract_subgraph(graph, ex.topics, sub_config)
        rows = binding.rows(sub.edge_type)
        known = rows >= 0
        edge_index.append(torch.from_numpy(sub.edge_index[:, known] + offset))
        edge_type.append(torch.from_numpy(rows[known]))
        batch.append(torch.full((sub.num_nodes,), b, dtype=torch.long))
        tm = torch.zeros(sub.num_nodes, dtype=torch.bool)
        tm[: sub.num_topics] = True
        topic_mask.append(tm)
        node_ids.append(torch.from_numpy(sub.nodes))
        am = torch.zeros(sub.num_nodes, dtype=torch.bool)
        local = sub.local_ids(ex.answers)
        am[torch.from_numpy(local[local >= 0])] = True
        answer_mask.append(am)
        offset += sub.num_nodes
    question, tokens, token_mask = encoding.select([ex.index for ex in examples])
    return {"question": question, "tokens": tokens, "token_mask": token_mask,
            "edge_index": torch.cat(edge_index, dim=1).long(), "edge_type": torch.cat(edge_type).long(),
            "batch": torch.cat(batch), "topic_mask": torch.cat(topic_mask), "node_ids": torch.cat(node_ids),
            "answer_mask": torch.cat(answer_mask), "size": len(examples)}


def answer_loss(scores: torch.Tensor, answer_mask: torch.Tensor, batch: torch.Tensor, size: int) -> torch.Tensor:
    """Mean over questions of ``-log m_A - log(m_A / m)``, where ``m_A`` is the walk's
    mass on the gold answers and ``m`` its total mass.

    The first term rewards paths that exist and reach answers; the second makes every
    other entity compete with the answers, including mass kept at the topic entity,
    which the first term alone cannot see at the last step. Questions whose answers
    are outside their subgraph are skipped.
    """
    zeros = torch.zeros(size, device=scores.device, dtype=scores.dtype)
    mass = zeros.index_add(0, batch, scores * answer_mask.to(scores.dtype))
    total = zeros.index_add(0, batch, scores)
    has = zeros.index_add(0, batch, answer_mask.to(scores.dtype)) > 0
    if not has.any():
        return scores.sum() * 0.0
    m, z = mass[has] + 1e-9, total[has] + 1e-9
    return (-torch.log(m) - torch.log(m / z)).mean()


@dataclass
class QuestionPaths:
    """The teacher's output for one question (one JSONL record of a dump)."""

    id: str
    question: str
    topic_entities: list[str]
    answers: list[str]
    paths: list[dict]
    """Top-k ``{"path", "prob", "endpoints", "num_endpoints"}`` (probabilities over all
    instantiable candidates; the top-k may sum to less than one)."""
    ranked_answers: list[dict]
    """``{"entity", "score"}`` by decreasing teacher score."""
    num_candidates: int = 0
    capped: list[str] = field(default_factory=list)
    top_path_f1: float | None = None
    """F1 of the top path's full endpoint set against the gold answers in the graph
    (``None`` without gold answers); ``paths`` list at most 50 endpoints each."""

    def to_dict(self) -> dict:
        return asdict(self)


class Teacher:
    """A trained teacher: the network, its relation vocabulary (bound to a graph by
    name when used) and its question encoder.

    Args:
        model: the network.
        vocabulary: the relations of the network's relation rows.
        encoder: encodes questions.
        metrics: training metrics.
    """

    def __init__(self, model: PathTeacher, vocabulary: RelationVocabulary, encoder: SentenceEncoder,
                 metrics: dict | None = None) -> None:
        self.model, self.vocabulary, self.encoder = model, vocabulary, encoder
        self.config = model.config
        self.metrics = metrics or {}
        self._binding: tuple[int, GraphBinding] | None = None

    @property
    def hops(self) -> int:
        return self.model.num_steps

    @property
    def relations(self) -> list[str]:
        return self.vocabulary.names

    @property
    def sub_config(self) -> SubgraphConfig:
        c = self.config
        return SubgraphConfig(num_hops=self.hops, max_expand_degree=c.max_expand_degree, max_nodes=c.max_nodes)

    @classmethod
    def create(cls, graph: GraphBackend, config: TeacherConfig, hops: int, exact_hops: bool,
               encoder: SentenceEncoder) -> "Teacher":
        """A new teacher over all of ``graph``'s relations."""
        vocabulary = RelationVocabulary.from_graph(graph)
        texts = [relation_text(r.name, r.inverse) for r in vocabulary.relations()]
        rel_emb = torch.from_numpy(encoder.encode(texts))
        return cls(PathTeacher(config, hops, exact_hops, encoder.dim, rel_emb), vocabulary, encoder)

    def bind(self, graph: GraphBackend) -> GraphBinding:
        """The teacher's vocabulary bound to ``graph`` by name (cached per graph).

        Raises:
            VocabularyError: the graph lacks relations the teacher was trained with.
        """
        if self._binding is None or self._binding[0] != id(graph):
            self._binding = (id(graph), self.vocabulary.bind(graph))
        return self._binding[1]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def embed_questions(self, questions: Sequence[Question], progress: bool = False,
                        graph: GraphBackend | None = None) -> QuestionEncoding:
        """Encode the questions, topics masked; with ``graph``, a topic named by its key
        is masked by its label too (as the student's prompts are)."""
        from kgdistill.serializer import topic_labels

        extra = topic_labels(graph, [q.topic_entities for q in questions]) if graph is not None else None
        texts = [mask_topic(q.text, [*q.topic_entities, *(extra[i] if extra else ())])
                 for i, q in enumerate(questions)]
        unique = list(dict.fromkeys(texts))
        row_of = {t: i for i, t in enumerate(unique)}
        pooled = torch.from_numpy(self.encoder.encode(unique, progress=progress))
        toks = self.encoder.encode_tokens(unique, progress=progress)
        width = max((t.shape[0] for t in toks), default=1)
        tokens = torch.zeros(len(unique), width, self.encoder.dim, dtype=torch.float16)
        mask = torch.zeros(len(unique), width, dtype=torch.bool)
        for i, t in enumerate(toks):
            tokens[i, : t.shape[0]] = torch.from_numpy(np.array(t, dtype=np.float16))
            mask[i, : t.shape[0]] = True
        return QuestionEncoding(pooled, tokens, mask, np.array([row_of[t] for t in texts], dtype=np.int64))

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, graph: GraphBackend, questions: Sequence[Question], batch_size: int = 64,
                top_k: int | None = None, progress: bool = False) -> list[QuestionPaths]:
        """Path distributions and answer rankings for ``questions``."""
        from tqdm.auto import tqdm

        binding = self.bind(graph)
        self.model.eval()
        top_k = top_k or self.config.top_k_paths
        emb = self.embed_questions(questions, progress, graph)
        examples, _ = resolve_examples(graph, questions)
        by_index = {ex.index: ex for ex in examples}
        limits = EnumerationLimits(max_hops=self.hops)
        out: list[QuestionPaths] = []
        for start in tqdm(range(0, len(questions), batch_size), desc="teacher", unit="batch",
                          disable=None if progress else True):
            chunk = list(range(start, min(start + batch_size, len(questions))))
            exs = [by_index[i] for i in chunk if i in by_index]
            scores_by_q, alpha, beta = {}, None, None
            if exs:
                b = _to(collate(graph, exs, emb, self.sub_config, binding), self.device)
                scores, alpha, beta = self.model(b["question"], b["tokens"], b["token_mask"], b["edge_index"],
                                                 b["edge_type"], b["batch"], b["topic_mask"])
                keep = self.model.topic_keep(b["question"])
                for j, ex in enumerate(exs):
                    sel = b["batch"] == j
                    scores_by_q[ex.index] = (b["node_ids"][sel].cpu().numpy(), scores[sel].float().cpu().numpy(),
                                             alpha[j].float().cpu().numpy(), beta[j].float().cpu().numpy(),
                                             bool(keep[j, -1] >= 0.5))
            for i in chunk:
                q = questions[i]
                if i not in scores_by_q:
                    out.append(QuestionPaths(q.id, q.text, q.topic_entities, q.answers, [], []))
                    continue
                nodes, sc, a, bt, keep_topic = scores_by_q[i]
                out.append(self._question_paths(graph, by_index[i], nodes, sc, a, bt, keep_topic, limits, top_k))
        return out

    def _question_paths(self, graph, ex: Example, nodes, scores, alpha, beta, keep_topic: bool, limits,
                        top_k) -> QuestionPaths:
        """Candidates are all relation paths from the topic (up to T hops); their
        endpoints leave out the topic unless the teacher's gate keeps it for this
        question, and the answer ranking likewise."""
        q = ex.question
        topic_set = set() if keep_topic else set(ex.topics.tolist())
        cands, drels, ends = [], [], []
        capped = []
        for t in ex.topics.tolist():
            found = enumerate_relation_paths(graph, t, limits)
            capped += found.capped
            for path, end in found.paths.items():
                if not keep_topic:
                    end = end[~np.isin(end, ex.topics)]
                if end.size == 0:
                    continue
                rows = [self.vocabulary.row(r) for r in path.relations]
                if None in rows:  # a relation the teacher does not know: no probability
                    continue
                cands.append(path)
                drels.append(rows)
                ends.append(end)
        probs = normalise_log_probs(path_log_probs(alpha, beta, drels)) if cands else np.zeros(0)
        # Ties (and float noise from another summation order) are broken by name, not
        # by id, so that the same graph in another file order gives the same output.
        texts = [str(c) for c in cands]
        order = sorted(range(len(cands)), key=lambda j: (-significant(probs[j]), texts[j]))[:top_k]
        paths = [{"path": texts[j], "prob": float(probs[j]), "num_endpoints": int(ends[j].size),
                  "endpoints": sorted(graph.entity_label(int(e)) for e in ends[j])[:50]} for j in order]
        top_f1 = None
        if ex.answers.size:
            top_f1 = 0.0
            if order:
                inter = int(np.isin(ends[order[0]], ex.answers).sum())
                top_f1 = 2 * inter / (ends[order[0]].size + np.unique(ex.answers).size)
        live = [r for r in np.flatnonzero(scores > 0).tolist() if int(nodes[r]) not in topic_set]
        labels = {r: graph.entity_label(int(nodes[r])) for r in live}
        rank = sorted(live, key=lambda r: (-significant(scores[r]), labels[r]))[:20]
        ranked = [{"entity": labels[r], "score": float(scores[r])} for r in rank]
        return QuestionPaths(q.id, q.text, q.topic_entities, q.answers, paths, ranked, len(cands), capped[:3],
                             top_f1)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``model.safetensors`` and ``metrics.json``."""
        from safetensors.torch import save_file

        from kgdistill import __version__
        from kgdistill.io import write_json_atomic

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": TEACHER_FORMAT_VERSION, "kgdistill_version": __version__,
                "teacher": asdict(self.config), "hops": self.hops, "exact_hops": self.model.exact_hops,
                "relations": self.vocabulary.to_list(),
                "encoder_path": str(self.encoder.model_path), "encoder_id": self.encoder.model_id,
                "question_dim": self.encoder.dim}
        save_file({k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()},
                  str(d / "model.safetensors"))
        write_json_atomic(d / "metrics.json", self.metrics)
        write_json_atomic(d / "config.json", meta)  # last: a teacher with config.json is complete
        return d

    @classmethod
    def load(cls, directory: str | Path, encoder: SentenceEncoder | None = None) -> "Teacher":
        """Load a teacher saved by :meth:`save` (also the first format). Unknown config
        keys from newer versions are ignored with a warning.

        Raises:
            CheckpointError: a file is missing, truncated or corrupt (named).
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from kgdistill.io import read_json
        from kgdistill.student import _known_fields

        d = Path(directory)
        if not (d / "config.json").is_file():
            raise CheckpointError(f"{d} has no config.json: not a saved teacher")
        meta = read_json(d / "config.json", CheckpointError)
        if not isinstance(meta, dict) or not isinstance(meta.get("teacher"), dict) \
                or not isinstance(meta.get("relations"), list):
            raise CheckpointError(f"{d / 'config.json'}: not a teacher config (needs 'teacher' and 'relations')")
        old = meta["teacher"]
        hops = meta.get("hops", old.get("num_steps"))
        exact = meta.get("exact_hops", old.get("exact_hops", False))
        if not isinstance(hops, int) or hops < 1:
            raise CheckpointError(f"{d / 'config.json'}: 'hops' missing or not a positive integer")
        version1 = {"num_steps", "exact_hops", "lr", "weight_decay", "epochs", "batch_size", "patience", "seed",
                    "max_train_minutes"}  # training settings the first format kept here
        config = TeacherConfig(**_known_fields(TeacherConfig, {k: v for k, v in old.items() if k not in version1},
                                               d / "config.json"))
        if encoder is None:
            path = Path(meta.get("encoder_path", ""))
            encoder = SentenceEncoder(path if meta.get("encoder_path") and path.exists() else None)
        try:
            state = load_file(str(d / "model.safetensors"))
            model = PathTeacher(config, hops, bool(exact), meta.get("question_dim", encoder.dim),
                                state["relation_text"])
            model.load_state_dict(state)
        except (SafetensorError, OSError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"{d / 'model.safetensors'}: cannot load the teacher's weights (missing, "
                                  f"truncated or from another model): {err}") from None
        metrics = read_json(d / "metrics.json", CheckpointError) if (d / "metrics.json").exists() else {}
        return cls(model.eval(), RelationVocabulary(meta["relations"]), encoder, metrics)


def _to(batch: dict, device: torch.device) -> dict:
    """A collated batch with its tensors on ``device``."""
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


# ---------------------------------------------------------------------- metrics
def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: ``sum_b |B|/n * |acc(B) - conf(B)|`` over equal-width confidence bins."""
    if conf.size == 0:
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def score_predictions(preds: Sequence[QuestionPaths]) -> dict:
    """Strict Hits@1 (top-ranked answer only), answer F1 (top path's endpoints vs gold),
    top-path hit rate and calibration of the top path's probability."""
    hits, f1s, top_hit, conf = [], [], [], []
    for p in preds:
        gold = set(p.answers)
        hits.append(bool(p.ranked_answers) and p.ranked_answers[0]["entity"] in gold)
        if p.paths:
            ends = set(p.paths[0]["endpoints"])  # at most 50 listed: hit test only
            inter = len(ends & gold)
            if p.top_path_f1 is not None:
                f1s.append(p.top_path_f1)
            else:  # a dump from before top_path_f1: exact when the top path has <= 50 endpoints
                f1s.append(2 * inter / (p.paths[0]["num_endpoints"] + len(gold)) if gold else 0.0)
            top_hit.append(inter > 0 or bool(p.top_path_f1))
            conf.append(p.paths[0]["prob"])
        else:
            f1s.append(0.0)
            top_hit.append(False)
            conf.append(0.0)
    n = max(len(preds), 1)
    conf_a, hit_a = np.array(conf), np.array(top_hit, dtype=float)
    return {"questions": len(preds), "hits@1": sum(hits) / n, "f1": float(np.mean(f1s)) if f1s else 0.0,
            "top_path_hit": float(hit_a.mean()) if hit_a.size else 0.0,
            "top_path_mean_prob": float(conf_a.mean()) if conf_a.size else 0.0,
            "top_path_ece": expected_calibration_error(conf_a, hit_a)}


# ---------------------------------------------------------------------- training
def gold_path_rows(graph: GraphBackend, question: Question, binding: GraphBinding, num_steps: int,
                   exact_hops: bool) -> list[int] | None:
    """The teacher rows of the directed relations of a question's gold path, or ``None``
    (no gold path, a relation the graph or the teacher lacks, a path longer than the
    teacher's steps, or of another length when hops are exact)."""
    from kgdistill.graph import directed_relation
    from kgdistill.paths import GroundedPath

    gold = question.gold_path
    if gold is None:
        return None
    rel = gold.relation_path if isinstance(gold, GroundedPath) else gold
    if len(rel) == 0 or len(rel) > num_steps or (exact_hops and len(rel) != num_steps):
        return None
    drels = []
    for r in rel.relations:
        rid = graph.relation_id(r.name)
        if rid is None:
            return None
        drels.append(directed_relation(rid, r.inverse))
    rows = binding.rows(np.array(drels, dtype=np.int64))
    return None if (rows < 0).any() else rows.tolist()


def gold_path_loss(alpha: torch.Tensor, beta: torch.Tensor, gold: Sequence[tuple[int, list[int]]]) -> torch.Tensor:
    """Mean ``-(log beta_L + sum_t log alpha_t(r_t))`` over ``(batch row, rows)`` pairs."""
    terms = []
    for j, rows in gold:
        steps = torch.arange(len(rows), device=alpha.device)
        lp = torch.log(alpha[j, steps, torch.tensor(rows, device=alpha.device)].clamp(min=1e-30)).sum()
        terms.append(lp + torch.log(beta[j, len(rows) - 1].clamp(min=1e-30)))
    return -torch.stack(terms).mean()


class _TeacherTask(TrainTask):
    """The teacher's loss (:func:`answer_loss`, plus :func:`gold_path_loss` where gold
    paths exist) and validation Hits@1 for :func:`fit`."""

    def __init__(self, teacher: Teacher, graph: GraphBackend, examples: list[Example], encoding: QuestionEncoding,
                 valid: Sequence[Question]) -> None:
        self.teacher, self.graph, self.examples, self.encoding, self.valid = teacher, graph, examples, encoding, valid
        self.model = teacher.model
        self.binding = teacher.bind(graph)
        self.gold_weight = float(getattr(teacher.config, "gold_path_weight", 0.0))
        self.gold = [gold_path_rows(graph, ex.question, self.binding, teacher.model.num_steps,
                                    teacher.model.exact_hops) if self.gold_weight > 0 else None for ex in examples]

    def num_examples(self) -> int:
        return len(self.examples)

    def loss(self, indices: Sequence[int]) -> torch.Tensor:
        b = _to(collate(self.graph, [self.examples[i] for i in indices], self.encoding, self.teacher.sub_config,
                        self.binding), self.teacher.device)
        scores, alpha, beta = self.model(b["question"], b["tokens"], b["token_mask"], b["edge_index"],
                                         b["edge_type"], b["batch"], b["topic_mask"])
        loss = answer_loss(scores.float(), b["answer_mask"], b["batch"], b["size"])
        gold = [(j, self.gold[i]) for j, i in enumerate(indices) if self.gold[i] is not None]
        if gold:
            loss = loss + self.gold_weight * gold_path_loss(alpha.float(), beta.float(), gold)
        return loss

    def validate(self) -> dict:
        if not self.valid:
            return {}
        return {"score": score_predictions(self.teacher.predict(self.graph, self.valid))["hits@1"]}


def train_teacher(graph: GraphBackend, train: Sequence[Question], valid: Sequence[Question],
                  config: TeacherConfig, hops: int, exact_hops: bool = False, args: TrainArgs | None = None,
                  seed: int = 0, encoder: SentenceEncoder | None = None, progress: bool = True,
                  checkpoint: str | Path | None = None) -> Teacher:
    """Train a teacher from answers; early stopping on validation Hits@1.

    Args:
        graph, train, valid: the graph and question lists.
        config: the architecture.
        hops: the most hops of a path; ``exact_hops``: every path has exactly ``hops``.
        args: training settings (default :data:`TEACHER_TRAINING`).
        seed: seeds the initial weights and the example order.
        encoder: the question encoder (default: packaged all-MiniLM-L6-v2).
        checkpoint: directory for the training checkpoint (resumed if present).

    Returns the teacher with the best validation Hits@1; its ``metrics`` hold the
    training curve, timings and final validation scores (with the reachability
    ceiling of the validation file).
    """
    args = args or TEACHER_TRAINING
    seed_everything(seed)
    encoder = encoder or SentenceEncoder()
    teacher = Teacher.create(graph, config, hops, exact_hops, encoder)
    t_embed = time.perf_counter()
    train_emb = teacher.embed_questions(train, progress, graph)
    teacher.embed_questions(valid, progress, graph)  # warm the cache before timing training
    t_embed = time.perf_counter() - t_embed
    examples, skipped = resolve_examples(graph, train)
    examples = [ex for ex in examples if ex.answers.size]
    logger.info("training on %d questions (%d without topic in graph)", len(examples), skipped)
    result = fit(_TeacherTask(teacher, graph, examples, train_emb, valid), args, seed=seed, checkpoint=checkpoint,
                 progress=progress, name="teacher")
    final = score_predictions(teacher.predict(graph, valid)) if valid else {}
    if valid:
        final["reachable_ceiling"] = answer_coverage(graph, valid, hops).reachable_share
    teacher.metrics = {"curve": result["curve"], "train_seconds": result["train_seconds"],
                       "stopped": result["stopped"], "embed_seconds": t_embed,
                       "train_questions": len(examples), "train_skipped_no_topic": skipped,
                       "training": asdict(args), "seed": seed, "valid": final}
    return teacher
