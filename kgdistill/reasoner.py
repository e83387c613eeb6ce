"""The :class:`Reasoner`: one runtime object that holds a graph, a student (and
optionally a teacher) and answers questions with verified reasoning paths.

``query``, ``evaluate``, ``demo``, the benchmarks and the coming service all call it.
Inside it everything is an id: the student's relation vocabulary is bound to the
graph *by name* when the reasoner is built (a graph lacking the student's relations
is refused), topics and answers are entity ids, and labels appear only in the
results. Two entities with the same label stay distinct (each answer carries its key).

Answers are ranked path first: the endpoints of the most probable decoded path come
first, then those that only the second path reaches, and so on; within one path by
the mass that a uniform random walk along the path puts on them, endpoints of equal
mass by their score (below), so that the answers of one path appear in the order of
the scores shown with them. Each answer's
``score`` is ``sum_paths prob(path) * walk(v | path)``, its total probability under the
student, where ``walk`` is the endpoint distribution of a uniform random walk along
the path (the teacher's reading of a path, see :mod:`kgdistill.teacher`), with mass
returning to the topic dropped unless the student was trained on data whose answers
include the topic. Ranking by the mixture score alone lets a less probable path with
one endpoint outrank a likely path with many (measured on MetaQA 2-hop validation:
96.2 strict Hits@1 by mixture, 97.6 path first).

Each decoded path is executed once (the walk keeps its per-hop frontiers, from which
the proving grounded path of every answer is rebuilt); the grounded paths are then
checked by the verifier in one batch.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from kgdistill.answers import QueryResult, RankedAnswer, answer_scores, rank_answers
from kgdistill.datasets import Question
from kgdistill.decoding import DECODERS, DecodedPath, walk_many
from kgdistill.configs import DEFAULT_BEAM, MAX_HOPS  # noqa: F401 (MAX_HOPS re-exported)
from kgdistill.errors import ArgumentTypeError, ConfigError, RunError, UnknownNameError, check_sequence_of
from kgdistill.graph import GraphBackend
from kgdistill.paths import GroundedPath, PathExecution, first_groundings_many, resolve_relation
from kgdistill.serializer import SerializerConfig, make_prompt, topic_labels
from kgdistill.verify import Failure, verify_id_paths

logger = logging.getLogger(__name__)


def check_topics_fit(graph: GraphBackend, questions: Sequence[Question], what: str,
                     min_share: float = 0.5) -> int:
    """Count questions whose topic is in ``graph``; refuse a graph that holds the topic
    of fewer than ``min_share`` of them (the wrong graph for these questions).

    Returns:
        the number of questions whose topic is missing.

    Raises:
        RunError: naming the share and examples of missing topics.
    """
    missing = [q for q in questions if not (graph.entity_ids(q.topic_entities) >= 0).any()]
    if questions and len(missing) > (1 - min_share) * len(questions):
        names = ", ".join(repr(t) for q in missing[:5] for t in q.topic_entities[:1])
        raise RunError(f"{len(missing):,} of the {len(questions):,} {what} name a topic entity that is not in the "
                       f"graph {getattr(graph, 'name', '')!r} (e.g. {names}): is this the graph the questions "
                       "were written for?")
    if missing:
        logger.warning("%d of %d %s have a topic entity that is not in the graph (no answer for them)",
                       len(missing), len(questions), what)
    return len(missing)


def check_answered(questions: Sequence[Question], what: str, scoring: bool = True) -> int:
    """Refuse questions none of which has gold answers, for scoring (it would report a
    Hits@1 of 0) or for learning; warn about those that lack them.

    Returns:
        the number of questions without answers.
    """
    missing = sum(not q.answers for q in questions)
    if questions and missing == len(questions):
        raise RunError(f"none of the {len(questions):,} {what} has gold answers (the field 'answers'), so there is "
                       f"nothing to {'score' if scoring else 'learn from'}; 'kgdistill query --file FILE' answers "
                       "questions without them" + ("" if scoring else ", and --unlabeled FILE learns from them"))
    if missing:
        logger.warning("%d of %d %s have no gold answers (%s)", missing, len(questions), what,
                       "they count as misses" if scoring else "only their teacher paths are learnt")
    return missing


class Reasoner:
    """Graph + student (+ optional teacher): questions in, verified answers out.

    Args:
        graph: the knowledge graph.
        student: a :class:`kgdistill.student.Student`.
        teacher: optionally the run's teacher (scored beside the student in
            :meth:`evaluate`).
        beam_size: paths decoded per question.
        max_hops: longest decoded path (default: the hops the student was trained for).
        constrained: constrain decoding by the graph (paths always exist).
        batch_size: questions decoded together.
        max_answers: answers kept per question.
        decoder: a name from :data:`kgdistill.decoding.DECODERS` (default: the
            student's ``decoder`` setting).
        exact_hops: every answer is exactly ``max_hops`` away (the run's
            ``exact_hops``, e.g. MetaQA): decoded paths are that long, never shorter.

    Raises:
        VocabularyError: the graph lacks relations the student (or teacher) needs.
        ConfigError: a setting out of range.
    """

    def __init__(self, graph: GraphBackend, student, teacher=None, beam_size: int = DEFAULT_BEAM, max_hops: int | None = None,
                 constrained: bool = True, batch_size: int = 64, max_answers: int = 10,
                 decoder: str | None = None, exact_hops: bool = False) -> None:
        self.graph, self.student, self.teacher = graph, student, teacher
        self.exact_hops = bool(exact_hops)
        if decoder is None:  # the student's own setting
            decoder = getattr(student.config, "decoder", "kv")
        if decoder not in DECODERS:
            raise ConfigError(f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}")
        self.decoder = DECODERS[decoder]()
        if max_hops is None:
            max_hops = int(getattr(student, "hops", None) or student.serializer.get("max_hops", 3))
        for name, value, high in (("beam_size", beam_size, 100), ("max_hops", max_hops, MAX_HOPS),
                                  ("batch_size", batch_size, 100_000), ("max_answers", max_answers, 100_000)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ConfigError(f"{name} must be an integer in [1, {high}], got {value!r}")
        self.beam_size, self.max_hops, self.constrained = beam_size, max_hops, constrained
        self.batch_size, self.max_answers = batch_size, max_answers
        self.binding = student.vocabulary.bind(graph)
        if teacher is not None:
            teacher.bind(graph)
        fields = {k: v for k, v in student.serializer.items() if k in SerializerConfig.__dataclass_fields__}
        self.serializer = SerializerConfig(**fields)
        self.exclude_topic = getattr(student, "exclude_topic", True)
        self.cache_dir: Path | None = None
        """Where the entity index is cached (the run directory, else kgdistill's cache)."""
        self.context_questions: Sequence[Question] | None = None
        """Questions with known topics that teach the linker which words frame questions."""
        self._linker = None
        self._context_file: tuple[str | None, str | None] | None = None

    @property
    def min_hops(self) -> int:
        """Shortest decoded path: ``max_hops`` where every answer is exactly that far."""
        return self.max_hops if self.exact_hops else 1

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_run(cls, run_dir: str | Path, graph: GraphBackend | str | None = None, **kwargs) -> "Reasoner":
        """The reasoner of a trained run directory; ``graph`` (a backend or a file)
        defaults to the run's graph file."""
        from kgdistill.runs import load_run

        config, student, teacher = load_run(run_dir)
        if graph is None or isinstance(graph, (str, Path)):
            from kgdistill.readers import load_graph

            graph = load_graph(graph or config.graph, None if graph else config.graph_format)
        kwargs.setdefault("max_hops", config.hops)
        kwargs.setdefault("exact_hops", bool(config.exact_hops) and kwargs["max_hops"] == config.hops)
        reasoner = cls(graph, student, teacher, **kwargs)
        reasoner.cache_dir = Path(run_dir)
        reasoner._context_file = (getattr(config, "train", None), getattr(config, "question_format", None))
        return reasoner

    @classmethod
    def from_student(cls, student_dir: str | Path, graph: GraphBackend, **kwargs) -> "Reasoner":
        """The reasoner of a saved student directory on ``graph``."""
        from kgdistill.student import Student

        return cls(graph, Student.load(student_dir), **kwargs)

    # ------------------------------------------------------------------ asking
    def ask(self, question: str, topics: Sequence[str] | None = None) -> QueryResult:
        """Answer one question about the named topic entities; without ``topics`` the
        topic is found by entity linking (see :meth:`ask_linked`).

        Raises:
            UnknownNameError: a topic is not in the graph.
        """
        if not isinstance(question, str):
            raise ArgumentTypeError(f"ask: the question must be text, got {type(question).__name__}")
        if isinstance(topics, str):  # one name, not its letters
            topics = [topics]
        if not topics:
            return self.ask_linked([question])[0]
        for t in topics:
            if self.graph.entity_id(t) is None:
                raise UnknownNameError(f"unknown topic entity {t!r}: not in the graph")
        return self.answer([Question("query", question, list(topics), [])])[0]

    # ------------------------------------------------------------------ linking
    @property
    def linker(self):
        """The graph's :class:`~kgdistill.linking.EntityLinker`, built on first use and
        cached in :attr:`cache_dir` (the run directory) or kgdistill's cache."""
        if self._linker is None:
            from kgdistill.linking import EntityLinker

            cache = self.cache_dir
            if cache is None:
                from kgdistill.encoder import default_cache_dir

                # a context given by hand is not cached (the shared cache is per graph)
                cache = None if self.context_questions is not None else default_cache_dir() / "linking"

            def context():
                if self.context_questions is not None:
                    return self.context_questions
                return _read_context(*self._context_file) if self._context_file else None

            if getattr(self.graph, "dense", True):
                linker = EntityLinker.cached(self.graph, cache, context)
            else:  # a triple store: the question's words are looked up in the store
                from kgdistill.linking import StoreLinker

                linker = StoreLinker(self.graph)
                questions = context()
                if questions:
                    linker.fit_context(questions)
            self._linker = linker
        return self._linker

    def link(self, texts: Sequence[str], rescore: int = 3, margin: float = 0.3, weight: float = 1.0,
             beam_size: int | None = None) -> list:
        """Topic candidates of each question, best first (:class:`LinkResult` each).

        The student settles near-ties of the label scan: the linker's candidates within
        ``margin`` of its best (at most ``rescore``) are decoded from, each with its
        mention masked, and the log-probability of the best constrained path, times
        ``weight``, is added to the lexical score. It settles ties only because a student
        that knows just its training wordings reads a new wording best with the wrong
        span masked (measured on our re-worded MetaQA 1-hop questions: with a margin of 1
        and weight 0.5 the small student chose "camera" in "who was behind the camera
        for Vabank" and linking fell from 99.7% to 98.3%). The decoded paths are kept on
        each scored candidate (``decoded``, ``beam_size`` beams) and :meth:`ask_linked`
        answers from them.
        """
        return self._link(texts, rescore, margin, weight, beam_size)[0]

    def _link(self, texts: Sequence[str], rescore: int = 3, margin: float = 0.3, weight: float = 1.0,
              beam_size: int | None = None, decode_settled: bool = False) -> tuple[list, dict]:
        """:meth:`link`; with ``decode_settled`` (a constrained reasoner), the questions
        whose topic the label scan settles alone are decoded in the same decoder calls
        as the near-ties (one pass over the batch instead of two): returns also
        ``{question index: (topic ids, decoded paths)}`` for them, decoded as
        :meth:`answer` would."""
        beam = self.beam_size if beam_size is None else int(beam_size)
        results = [self.linker.link(t) for t in texts]
        jobs = []
        for qi, r in enumerate(results):
            if len(r.candidates) < 2:
                continue
            top = r.candidates[0].score
            for c in r.candidates[:rescore]:
                if top - c.score <= margin:
                    jobs.append((qi, c))
        work = [(make_prompt(results[qi].question[:c.start] + c.label + results[qi].question[c.end:], [c.label],
                             self.serializer), np.array([c.entity])) for qi, c in jobs]
        settled: list[int] = []
        if decode_settled and self.constrained:
            ambiguous = {qi for qi, _ in jobs}
            for qi, r in enumerate(results):
                best = r.best
                if best is None or qi in ambiguous:
                    continue
                ids = self.graph.entity_ids([best.key])
                topics = np.unique(ids[ids >= 0])
                if topics.size:  # (as answer() builds its prompt and topics)
                    settled.append(qi)
                    work.append((make_prompt(texts[qi], [best.label], self.serializer, [best.key, best.mention]),
                                 topics))
        decoded: list = []
        for s in range(0, len(work), self.batch_size):
            chunk = work[s:s + self.batch_size]
            decoded += self.decoder.decode(self.student, [p for p, _ in chunk], beam, self.max_hops, self.graph,
                                           [t for _, t in chunk], binding=self.binding, min_hops=self.min_hops)
        ready = {qi: (work[len(jobs) + k][1], decoded[len(jobs) + k]) for k, qi in enumerate(settled)}
        if jobs:
            for (qi, c), paths in zip(jobs, decoded):
                c.path_score = max((p.logprob for p in paths), default=-50.0)
                if self.constrained:
                    c.decoded = (beam, paths)
            for r in results:
                scored = [c for c in r.candidates if c.path_score is not None]
                if scored:
                    rest = [c for c in r.candidates if c.path_score is None]
                    scored.sort(key=lambda c: (-(c.score + weight * c.path_score), c.start, c.entity))
                    r.candidates = scored + rest
        return results, ready

    def ask_linked(self, texts: Sequence[str], ids: Sequence[str] | None = None,
                   gold: Sequence[Sequence[str]] | None = None, links: Sequence | None = None,
                   beam_size: int | None = None, max_answers: int | None = None) -> list[QueryResult]:
        """Answer questions whose topic is not given: link each (unless ``links`` holds
        their :meth:`link` results), then answer about the best candidate. A question
        with no candidate gets a result with a ``note``."""
        check_sequence_of(str, texts, "ask_linked", "texts", "question texts (one question: ask)")
        beam = self.beam_size if beam_size is None else int(beam_size)
        if not 1 <= beam <= 100:
            raise ConfigError(f"beam_size must be in [1, 100], got {beam_size!r}")
        settled: dict = {}
        if links is None:
            links, settled = self._link(texts, beam_size=beam, decode_settled=True)
        questions, mentions, where = [], [], []
        ready: list = []  # (question, topic, paths) of those decoded while linking
        ready_at: list[int] = []
        results: list[QueryResult | None] = [None] * len(texts)
        for i, (text, link) in enumerate(zip(texts, links)):
            qid = ids[i] if ids is not None else "query"
            answers = list(gold[i]) if gold is not None else []
            best = link.best
            if best is None:
                results[i] = QueryResult(qid, text, [], answers, linking=link.to_dict(),
                                         note="no entity of the graph is named in the question")
                continue
            question = Question(qid, text, [best.key], answers)
            if i in settled:  # decoded while linking, its topic settled by the label scan
                ready.append((question, *settled[i]))
                ready_at.append(i)
            elif best.decoded is not None and best.decoded[0] == beam:  # decoded while linking, a near-tie
                ready.append((question, np.array([best.entity], dtype=np.int64), best.decoded[1]))
                ready_at.append(i)
            else:
                questions.append(question)
                mentions.append([best.mention, best.label])
                where.append(i)
        for i, res in zip(ready_at, self._results(ready, max_answers)):
            results[i] = res
        for i, res in zip(where, self.answer(questions, mentions=mentions, beam_size=beam, max_answers=max_answers)):
            results[i] = res
        for i, link in enumerate(links):
            if link.best is not None:
                results[i].linking = link.to_dict()
                results[i].topic_entities = [link.best.label]
        return results  # type: ignore[return-value]

    def answer(self, questions: Sequence[Question], mentions: Sequence[Sequence[str]] | None = None,
               beam_size: int | None = None, max_answers: int | None = None) -> list[QueryResult]:
        """Decode paths for ``questions`` and turn them into verified, ranked answers.
        ``mentions``: per question, more strings to mask in its prompt (the words that
        named a linked topic); ``beam_size``: instead of the reasoner's."""
        check_sequence_of(Question, questions, "answer", "questions", "Question objects (question text: ask or ask_linked)")
        beam = self.beam_size if beam_size is None else int(beam_size)
        if not 1 <= beam <= 100:
            raise ConfigError(f"beam_size must be in [1, 100], got {beam_size!r}")
        results: list[QueryResult] = []
        graph = self.graph
        for s in range(0, len(questions), self.batch_size):
            chunk = questions[s:s + self.batch_size]
            extra = mentions[s:s + self.batch_size] if mentions is not None else [[]] * len(chunk)
            topics = []
            for q in chunk:
                ids = graph.entity_ids(q.topic_entities)
                topics.append(np.unique(ids[ids >= 0]))
            live = [i for i, t in enumerate(topics) if t.size]
            labels = topic_labels(graph, [chunk[i].topic_entities for i in live])  # a topic given by its key
            prompts = [make_prompt(chunk[i].text, chunk[i].topic_entities, self.serializer, [*more, *extra[i]])
                       for i, more in zip(live, labels)]
            decoded = self.decoder.decode(self.student, prompts, beam, self.max_hops,
                                          graph if self.constrained else None, [topics[i] for i in live],
                                          binding=self.binding, min_hops=self.min_hops)
            built = iter(self._results([(chunk[i], topics[i], d) for i, d in zip(live, decoded)], max_answers))
            for i, q in enumerate(chunk):
                results.append(next(built) if topics[i].size else
                               QueryResult(q.id, q.text, q.topic_entities, q.answers,
                                           note="no topic entity of the question is in the graph"))
        return results

    def _results(self, items: Sequence[tuple[Question, np.ndarray, Sequence[DecodedPath]]],
                 max_answers: int | None = None) -> list[QueryResult]:
        """Ranked, grounded and verified answers for ``(question, topic ids, decoded
        paths)`` items, built for the whole batch at once: the walks advance together
        (:func:`walk_many`), the answers are grounded together
        (:func:`first_groundings_many`) and verified in one call."""
        if not items:
            return []
        graph = self.graph
        limit = self.max_answers if max_answers is None else max_answers
        keys = getattr(graph, "entity_keys", None)
        walked = walk_many(graph, [(topics, [d.path for d in decoded]) for _, topics, decoded in items],
                           self.exclude_topic)
        if self.exclude_topic:  # a path that only returns to the topic is kept: walked again with the topic
            again = [(k, r) for k, walks in enumerate(walked) for r, (ents, _, _) in enumerate(walks) if not ents.size]
            rewalked = walk_many(graph, [(items[k][1], [items[k][2][r].path]) for k, r in again], False) if again else []
            for (k, r), (walk,) in zip(again, rewalked):
                walked[k][r] = walk
        results: list[QueryResult] = []
        per_item: list[tuple[list, list, list]] = []  # (runs, ranked, best path per answer)
        requests: list[tuple[PathExecution, np.ndarray]] = []
        asked: list[tuple[int, list[int]]] = []  # (item, answer positions) per request
        for k, ((q, topics, decoded), walks_q) in enumerate(zip(items, walked)):
            res = QueryResult(q.id, q.text, q.topic_entities, q.answers)
            walks: list[tuple[np.ndarray, np.ndarray]] = []
            runs: list[PathExecution | None] = []
            gold = set(graph.entity_ids(q.answers).tolist()) - {-1}
            for rank, (d, (ents, mass, frontiers)) in enumerate(zip(decoded, walks_q)):
                valid = len(frontiers) == len(d.path) + 1 and frontiers[-1].size > 0
                failing, reason = None, None
                if not valid:
                    # the walk stops at the hop that reaches nothing (or names an unknown relation)
                    failing = max(len(frontiers) - (2 if frontiers[-1].size == 0 else 1), 0)
                    rel = d.path.relations[failing] if failing < len(d.path) else None
                    known = rel is not None and graph.relation_id(rel.name) is not None
                    reason = (Failure.NO_GROUNDING if known else Failure.UNKNOWN_RELATION).value
                res.paths.append({"path": str(d.path), "prob": d.prob, "valid": valid,
                                  "num_endpoints": int(ents.size), "failing_hop": failing, "reason": reason})
                runs.append(PathExecution(graph, d.path, [resolve_relation(graph, r) for r in d.path.relations],
                                          list(frontiers)) if valid else None)
                if rank == 0 and gold and ents.size:
                    inter = len(gold & set(ents.tolist()))
                    res.top_path_f1 = 2 * inter / (ents.size + len(gold))
                walks.append((ents, mass))
            probs = [d.prob for d in decoded]
            chosen = rank_answers(graph, walks, limit, keys, probs)
            scores = answer_scores(probs, walks, np.array([e for e, _ in chosen], dtype=np.int64))
            ranked = [(e, sc) for (e, _), sc in zip(chosen, scores.tolist())]
            best_path = dict(chosen)
            for rank, run in enumerate(runs):
                mine = [i for i, (e, _) in enumerate(ranked) if best_path[e] == rank]
                if run is not None and mine:
                    requests.append((run, np.array([ranked[i][0] for i in mine], dtype=np.int64)))
                    asked.append((k, mine))
            results.append(res)
            per_item.append((runs, ranked, best_path))
        # The proving grounded path of each answer, in ids, verified in one batch by
        # the verifier's id-level core (labels may be shared by several entities).
        groundings: list[list[list[int] | None]] = [[None] * len(ranked) for _, ranked, _ in per_item]
        for (k, mine), found in zip(asked, first_groundings_many(requests)):
            for i, g in zip(mine, found):
                groundings[k][i] = g
        checked = [(g, runs[best_path[e]].drels)
                   for (runs, ranked, best_path), gs in zip(per_item, groundings)
                   for (e, _), g in zip(ranked, gs) if g is not None]
        verdicts = iter([])
        if checked:
            ents = np.array([x for g, _ in checked for x in g], dtype=np.int64)
            drels = np.array([d for _, ds in checked for d in ds], dtype=np.int64)
            failing, _ = verify_id_paths(graph, ents, drels, np.array([len(ds) for _, ds in checked]))
            verdicts = iter((failing < 0).tolist())
        for res, (_, _, decoded), (runs, ranked, best_path), gs in zip(results, items, per_item, groundings):
            for (e, sc), g in zip(ranked, gs):
                rank = best_path[e]
                ok = bool(next(verdicts)) if g is not None else False
                text = str(GroundedPath(tuple(graph.entity_label(x) for x in g), decoded[rank].path.relations)) if g else ""
                res.answers.append(RankedAnswer(graph.entity_label(int(e)), float(sc), text, float(decoded[rank].prob),
                                                ok, keys[int(e)] if keys is not None else graph.entity_label(int(e))))
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, questions: Sequence[Question], with_teacher: bool = True, with_ceiling: bool = True,
                 progress: bool = False) -> tuple[dict, list[dict]]:
        """Score the student (and the teacher, if any) on ``questions``.

        Returns ``(metrics, rows)``. Metrics: strict Hits@1 (the top-ranked answer
        only), answer F1 of the top path's endpoints, share of decoded paths that
        verify, relation-path accuracy (top path equals the gold relation path, where
        questions have one), milliseconds per question (batched, end to end), and the
        reachability ceiling: the share of questions with an answer within
        ``max_hops`` of a topic entity. Rows: one dict per question with its gold
        answers, ranked predicted answers with grounded paths and verdicts, and every
        decoded path.
        """
        check_sequence_of(Question, questions, "evaluate", "questions", "Question objects (kgdistill.load_questions)")
        from kgdistill.datasets import answer_coverage
        from kgdistill.training import progress_steps

        results = []
        t0 = time.perf_counter()
        for s in progress_steps(range(0, len(questions), self.batch_size), "evaluating", progress=progress):
            results += self.answer(questions[s:s + self.batch_size])
        elapsed = time.perf_counter() - t0
        metrics = score_answers(results)
        metrics["ms_per_question"] = 1000 * elapsed / max(len(questions), 1)
        rows, path_hits, with_gold = [], 0, 0
        for q, r in zip(questions, results):
            row = r.to_dict()
            row["hit"] = r.hit
            if q.gold_path is not None:
                gold_rel = q.gold_path.relation_path if isinstance(q.gold_path, GroundedPath) else q.gold_path
                with_gold += 1
                row["gold_path"] = str(q.gold_path)
                row["path_correct"] = bool(r.paths) and r.paths[0]["path"] == str(gold_rel)
                path_hits += row["path_correct"]
            rows.append(row)
        metrics["relation_path_accuracy"] = path_hits / with_gold if with_gold else None
        metrics["questions_with_gold_path"] = with_gold
        metrics["topic_not_in_graph"] = sum(r.note is not None for r in results)
        if with_ceiling:
            metrics["reachable_ceiling"] = answer_coverage(self.graph, questions, self.max_hops).reachable_share
            metrics["ceiling_hops"] = self.max_hops
        if self.teacher is not None and with_teacher:
            from kgdistill.teacher_training import score_predictions

            t0 = time.perf_counter()
            preds = self.teacher.predict(self.graph, questions)
            t_ms = 1000 * (time.perf_counter() - t0) / max(len(questions), 1)
            metrics["teacher"] = {**score_predictions(preds), "ms_per_question": t_ms}
        return metrics, rows


def evaluate_linking(reasoner: Reasoner, questions: Sequence[Question], progress: bool = False
                     ) -> tuple[dict, list[dict]]:
    """Link the questions of a file that marks their topics (the marks are ignored),
    then answer them about the linked entity.

    Returns ``(metrics, rows)``: linking accuracy over the questions whose marked topic
    is in the graph (the linked entity is the marked one; any of the marked ones for
    several), the marked topic among the first three candidates, the lexical scan's
    and the whole linking's (with the student's rescoring) milliseconds per question,
    and end-to-end strict Hits@1 over all questions; one row per question.
    """
    from kgdistill.training import progress_steps

    graph = reasoner.graph

    def ids_of(name: str) -> set[int]:
        i = graph.entity_id(name)
        return {i} if i is not None else set()

    linker = reasoner.linker  # built (or read) before the clock starts
    t0 = time.perf_counter()
    for q in questions:
        linker.link(q.text)
    lexical_ms = 1000 * (time.perf_counter() - t0) / max(len(questions), 1)
    results: list[QueryResult] = []
    t0 = time.perf_counter()
    links = []
    step = reasoner.batch_size
    for s in progress_steps(range(0, len(questions), step), "linking", progress=progress):
        links += reasoner.link([q.text for q in questions[s:s + step]])
    link_ms = 1000 * (time.perf_counter() - t0) / max(len(questions), 1)
    t0 = time.perf_counter()
    for s in progress_steps(range(0, len(questions), step), "answering", progress=progress):
        chunk = questions[s:s + step]
        results += reasoner.ask_linked([q.text for q in chunk], [q.id for q in chunk], [q.answers for q in chunk],
                                       links=links[s:s + step])
    total_ms = link_ms + 1000 * (time.perf_counter() - t0) / max(len(questions), 1)
    rows, linked_ok, top3, in_graph = [], 0, 0, 0
    for q, link, r in zip(questions, links, results):
        marked = set().union(*(ids_of(t) for t in q.topic_entities))
        row = r.to_dict()
        row["hit"] = r.hit
        row["marked_topics"] = q.topic_entities
        if marked:
            in_graph += 1
            ok = link.best is not None and link.best.entity in marked
            linked_ok += ok
            top3 += any(c.entity in marked for c in link.candidates[:3])
            row["linked_correctly"] = ok
        rows.append(row)
    metrics = score_answers(results)
    metrics.update({"linking_accuracy": linked_ok / in_graph if in_graph else None,
                    "linking_top3": top3 / in_graph if in_graph else None,
                    "questions_with_marked_topic_in_graph": in_graph,
                    "linking_ms_per_question_lexical": lexical_ms,
                    "linking_ms_per_question": link_ms,
                    "ms_per_question": total_ms,
                    "no_candidate": sum(r.note is not None for r in results)})
    return metrics, rows


def _read_context(path, format=None) -> list[Question] | None:
    """The run's training questions (to teach the linker question framing), or ``None``
    when they cannot be read any more."""
    from kgdistill.datasets import load_questions

    try:
        return load_questions(path, format) if path else None
    except Exception as exc:  # the linker then uses its built-in word list
        logger.info("linker context not learnt from %s (%s)", path, exc)
        return None


def score_answers(results: Sequence[QueryResult]) -> dict:
    """Strict Hits@1, F1 of the top path's endpoints (via its answers), and the share
    of decoded paths that verify."""
    hits, f1s, valid, total = [], [], 0, 0
    for r in results:
        hits.append(r.hit)
        f1s.append(r.top_path_f1)
        valid += sum(p["valid"] for p in r.paths)
        total += len(r.paths)
    n = max(len(results), 1)
    return {"questions": len(results), "hits@1": sum(hits) / n, "f1": float(np.mean(f1s)) if f1s else 0.0,
            "valid_path_share": valid / total if total else 0.0, "paths": total}
