"""One-command training and evaluation: teacher -> soft targets -> student in one run
directory, and evaluation of a run (or a student alone) on any question file.

A run directory holds::

    config.json           the resolved configuration (every default written out)
    teacher/              the GNN teacher (Teacher.save)
    soft_targets.jsonl    the teacher's top-k paths for each training question
    train_set.jsonl       the student's training set (serializer output)
    student/              the student (loads with AutoModelForCausalLM) + its metrics
    metrics.json          validation metrics of teacher and student, timings
    valid_predictions.jsonl  one line per validation question (see :func:`evaluate`)
    curves.png            training curves of both models

Each stage is skipped when its output exists, and the student resumes from its
per-epoch checkpoint, so re-running an interrupted ``kgdistill train`` continues where
it stopped. The same seed gives the same metrics (timings aside).
"""
from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from kgdistill.datasets import Question
from kgdistill.graph import GraphBackend

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"


class RunError(ValueError):
    """A run directory that cannot be used as asked."""


# ---------------------------------------------------------------------- hops
def infer_hops(graph: GraphBackend, questions: Sequence[Question], max_hops: int = 3, sample: int = 200,
               seed: int = 0) -> tuple[int, bool, dict[int, int]]:
    """How many hops the questions need, from a sample of them.

    Per sampled question the length of its gold path, or else of the shortest relation
    path whose endpoints best match the answers (the serializer's best-F1 search).
    Returns ``(hops, exact, counts)``: the longest length held by at least 10% of the
    sample, whether at least 90% have exactly that length (then the teacher is told
    so: MetaQA's k-hop files), and the length counts.
    """
    from kgdistill.paths import GroundedPath
    from kgdistill.serializer import best_f1_paths

    rng = random.Random(seed)
    chosen = rng.sample(list(questions), min(sample, len(questions)))
    counts: Counter[int] = Counter()
    for q in chosen:
        if q.gold_path is not None:
            rel = q.gold_path.relation_path if isinstance(q.gold_path, GroundedPath) else q.gold_path
            counts[len(rel)] += 1
        elif q.answers:
            paths, _ = best_f1_paths(graph, q, max_hops, 1)
            if paths:
                counts[len(paths[0])] += 1
    if not counts:
        raise RunError("cannot infer the number of hops: no sampled question has a gold path or an answer "
                       f"within {max_hops} hops of its topic entity; pass --hops")
    total = sum(counts.values())
    hops = max(k for k, c in counts.items() if c >= 0.1 * total)
    exact = counts[hops] >= 0.9 * total
    return hops, exact, dict(sorted(counts.items()))


# ---------------------------------------------------------------------- config
@dataclass
class RunConfig:
    """Everything a run needs; written resolved to ``config.json``.

    ``teacher``, ``serializer``, ``student`` and ``distill`` hold the fields of
    :class:`~kgdistill.teacher.TeacherConfig`, :class:`~kgdistill.serializer.SerializerConfig`,
    :class:`~kgdistill.student.StudentConfig` and :class:`~kgdistill.distill.DistillConfig`
    (only overrides need be given; :meth:`resolve` fills in the rest). ``hops`` of
    ``None`` is inferred from the training questions (:func:`infer_hops`).
    """

    graph: str
    train: str
    valid: str | None = None
    graph_format: str | None = None
    question_format: str | None = None
    seed: int = 0
    hops: int | None = None
    exact_hops: bool | None = None
    adaptation: str = "full"
    teacher: dict = field(default_factory=dict)
    serializer: dict = field(default_factory=dict)
    student: dict = field(default_factory=dict)
    distill: dict = field(default_factory=dict)
    inferred: dict = field(default_factory=dict)

    def check(self) -> None:
        """Validate the settings without data (so that a typo fails before loading)."""
        RunConfig(**{**asdict(self), "hops": self.hops or 1, "inferred": {}}).resolve(None, [])

    def resolve(self, graph: GraphBackend | None, train: Sequence[Question]) -> "RunConfig":
        """A copy with hops decided and every sub-config complete and validated."""
        from kgdistill.distill import DistillConfig
        from kgdistill.serializer import SerializerConfig
        from kgdistill.student import ADAPTATION_MODES, StudentConfig
        from kgdistill.teacher import TeacherConfig

        c = RunConfig(**asdict(self))
        c.graph, c.train = str(Path(c.graph).resolve()), str(Path(c.train).resolve())
        c.valid = str(Path(c.valid).resolve()) if c.valid else None
        if c.student.get("base_model"):
            c.student["base_model"] = str(Path(c.student["base_model"]).resolve())
        if c.hops is None:
            hops, exact, counts = infer_hops(graph, train, seed=c.seed)
            c.hops = hops
            c.exact_hops = exact if c.exact_hops is None else c.exact_hops
            c.inferred = {"hops": hops, "exact_hops": exact, "path_lengths_in_sample": counts}
        if c.exact_hops is None:
            c.exact_hops = False
        if c.adaptation not in ADAPTATION_MODES:
            raise RunError(f"unknown adaptation {c.adaptation!r}; choose from {ADAPTATION_MODES}")
        try:
            c.teacher = asdict(TeacherConfig(**{**c.teacher, "num_steps": c.hops, "exact_hops": c.exact_hops,
                                                "seed": c.seed}))
            c.serializer = asdict(SerializerConfig(**{**c.serializer, "max_hops": c.hops}))
            c.student = asdict(StudentConfig(**c.student))
            c.distill = asdict(DistillConfig(**{**c.distill, "max_hops": c.hops, "seed": c.seed}))
        except (TypeError, ValueError) as err:
            raise RunError(f"invalid setting: {err}") from None
        if c.adaptation != "full" and not c.student["base_model"]:
            raise RunError(f"adaptation {c.adaptation!r} needs a pretrained student (student base_model)")
        return c


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if k == "inferred":
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} in the run, {vb!r} now")
    return out


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write to ``path.tmp`` first, so that an interrupted stage leaves no half output."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.is_dir():
        shutil.rmtree(tmp)
    write(tmp)
    if path.is_dir():
        shutil.rmtree(path)
    tmp.replace(path)


# ---------------------------------------------------------------------- training
def train_run(config: RunConfig, run_dir: str | Path, progress: bool = True,
              echo: Callable[[str], None] | None = None) -> dict:
    """Train teacher and student into ``run_dir`` (resuming what is there); returns
    the run's metrics (also written to ``metrics.json``). Stage messages go to
    ``echo`` (the command line passes ``print``), by default to the log."""
    echo = echo or logger.info
    from kgdistill.datasets import load_questions
    from kgdistill.distill import DistillConfig, train_student
    from kgdistill.encoder import SentenceEncoder
    from kgdistill.readers import load_graph, write_jsonl
    from kgdistill.serializer import SerializerConfig, build_training_set, load_records, save_records
    from kgdistill.student import Student, StudentConfig, adapt
    from kgdistill.teacher import TeacherConfig
    from kgdistill.teacher_training import Teacher, train_teacher

    run = Path(run_dir)
    t_start = time.perf_counter()
    config.check()
    graph = load_graph(config.graph, config.graph_format)
    train = load_questions(config.train, config.question_format)
    valid = load_questions(config.valid, config.question_format) if config.valid else []
    cfg = config.resolve(graph, train)
    started = any((run / p).exists() for p in ("teacher", "teacher.tmp", "soft_targets.jsonl", "student"))
    if (run / RUN_CONFIG).exists() and started:
        old = json.loads((run / RUN_CONFIG).read_text())
        diff = _differences(old, asdict(cfg))
        if diff:
            raise RunError(f"{run} holds a run with another configuration ({'; '.join(diff[:5])}); "
                           "resume it with the same settings or choose a new --out")
        echo(f"resuming the run in {run}")
    run.mkdir(parents=True, exist_ok=True)
    (run / RUN_CONFIG).write_text(json.dumps(asdict(cfg), indent=2))
    if cfg.inferred:
        echo(f"hops: {cfg.hops} ({'exactly' if cfg.exact_hops else 'at most'}; inferred from path lengths "
             f"{cfg.inferred['path_lengths_in_sample']} of a sample of training questions)")
    timings: dict[str, float] = {}

    # 1. teacher
    if (run / "teacher" / "model.safetensors").exists():
        teacher = Teacher.load(run / "teacher")
        echo("teacher: trained already, loaded")
    else:
        echo(f"teacher: training on {len(train):,} questions ({cfg.hops} hops)")
        t0 = time.perf_counter()
        teacher = train_teacher(graph, train, valid, TeacherConfig(**cfg.teacher), SentenceEncoder(),
                                progress=progress)
        timings["teacher_seconds"] = time.perf_counter() - t0
        _write_atomic(run / "teacher", teacher.save)
    # 2. soft targets and the student's training set
    if not (run / "soft_targets.jsonl").exists():
        t0 = time.perf_counter()
        preds = teacher.predict(graph, train, top_k=cfg.serializer["top_k"], progress=progress)
        _write_atomic(run / "soft_targets.jsonl", lambda p: write_jsonl(preds, p))
        timings["soft_target_seconds"] = time.perf_counter() - t0
    serializer = SerializerConfig(**cfg.serializer)
    if (run / "train_set.jsonl").exists():
        records = load_records(run / "train_set.jsonl")
    else:
        t0 = time.perf_counter()
        dump = [json.loads(line) for line in (run / "soft_targets.jsonl").read_text(encoding="utf-8").splitlines()]
        records = build_training_set(graph, train, dump, serializer, progress=progress)
        _write_atomic(run / "train_set.jsonl", lambda p: save_records(records, p))
        timings["serialize_seconds"] = time.perf_counter() - t0
    # 3. student
    student_dir = run / "student"
    if (student_dir / "kgdistill.json").exists() and (student_dir / "metrics.json").exists():
        student = Student.load(student_dir)
        echo("student: trained already, loaded")
    else:
        from kgdistill.teacher_training import seed_everything

        seed_everything(cfg.seed)
        echo(f"student: distilling on {len(records):,} records (alpha {cfg.distill['alpha']})")
        student = Student.create(graph.relation_labels_all(), [r.prompt for r in records],
                                 StudentConfig(**cfg.student))
        adapt(student, cfg.adaptation)
        t0 = time.perf_counter()
        train_student(student, graph, records, valid, DistillConfig(**cfg.distill), out_dir=student_dir,
                      progress=progress, serializer=serializer)
        timings["student_seconds"] = time.perf_counter() - t0
    # 4. validation metrics, predictions and pictures
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
    metrics.setdefault("timings", {}).update(timings)
    metrics["teacher_curve"] = teacher.metrics.get("curve", [])
    student_metrics = json.loads((student_dir / "metrics.json").read_text())
    metrics["student_curve"] = student_metrics.get("curve", [])
    if valid:
        m, rows = evaluate(student, graph, valid, max_hops=cfg.hops, beam_size=max(5, cfg.distill["beam_size"]),
                           teacher=teacher, progress=progress)
        metrics["valid"] = m
        write_jsonl(rows, run / "valid_predictions.jsonl")
    metrics["sizes"] = {"teacher_parameters": sum(p.numel() for p in teacher.model.parameters()),
                        "student_parameters": sum(p.numel() for p in student.model.parameters())}
    metrics["timings"]["total_seconds_this_call"] = time.perf_counter() - t_start
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
    try:
        from kgdistill.plots import plot_curves

        plot_curves(metrics["teacher_curve"], metrics["student_curve"], run / "curves.png")
    except ImportError as err:  # matplotlib is a dependency; keep training usable without it
        logger.warning("no training-curve picture: %s", err)
    return metrics


# ---------------------------------------------------------------------- evaluation
def evaluate(student, graph: GraphBackend, questions: Sequence[Question], max_hops: int, beam_size: int = 5,
             batch_size: int = 64, teacher=None, constrained: bool = True,
             progress: bool = False) -> tuple[dict, list[dict]]:
    """Score ``student`` (and ``teacher`` if given) on ``questions``.

    Returns ``(metrics, rows)``. Metrics: strict Hits@1 (the top-ranked answer only),
    answer F1 of the top path's endpoints, share of decoded paths that verify,
    relation-path accuracy (top path equals the gold relation path, where questions
    have one), milliseconds per question (batched, end to end), and the reachability
    ceiling: the share of questions with an answer within ``max_hops`` of a topic
    entity. Rows: one dict per question with its gold answers, ranked predicted
    answers with grounded paths and verdicts, and every decoded path.
    """
    from tqdm.auto import tqdm

    from kgdistill.datasets import answer_coverage
    from kgdistill.paths import GroundedPath
    from kgdistill.query import answer_questions, score_answers
    from kgdistill.teacher_training import score_predictions

    results = []
    t0 = time.perf_counter()
    for s in tqdm(range(0, len(questions), batch_size), desc="evaluating", unit="batch",
                  disable=None if progress else True):
        results += answer_questions(student, graph, questions[s:s + batch_size], beam_size=beam_size,
                                    max_hops=max_hops, constrained=constrained, batch_size=batch_size)
    elapsed = time.perf_counter() - t0
    metrics = score_answers(results)
    metrics["ms_per_question"] = 1000 * elapsed / max(len(questions), 1)
    rows, path_hits, with_gold = [], 0, 0
    for q, r in zip(questions, results):
        row = r.to_dict()
        row["hit"] = bool(r.answers) and r.answers[0].entity in set(q.answers)
        gold_rel = None
        if q.gold_path is not None:
            gold_rel = q.gold_path.relation_path if isinstance(q.gold_path, GroundedPath) else q.gold_path
            with_gold += 1
            row["gold_path"] = str(q.gold_path)
            row["path_correct"] = bool(r.paths) and r.paths[0]["path"] == str(gold_rel)
            path_hits += row["path_correct"]
        rows.append(row)
    metrics["relation_path_accuracy"] = path_hits / with_gold if with_gold else None
    metrics["questions_with_gold_path"] = with_gold
    cov = answer_coverage(graph, questions, max_hops)
    metrics["reachable_ceiling"] = cov.reachable_share
    metrics["ceiling_hops"] = max_hops
    metrics["topic_not_in_graph"] = sum(
        not (graph.entity_ids(q.topic_entities) >= 0).any() for q in questions)
    if teacher is not None:
        t0 = time.perf_counter()
        preds = teacher.predict(graph, questions)
        t_ms = 1000 * (time.perf_counter() - t0) / max(len(questions), 1)
        metrics["teacher"] = {**score_predictions(preds), "ms_per_question": t_ms}
    return metrics, rows


def summary_line(metrics: dict, name: str = "student") -> str:
    """``student: Hits@1 95.1 (ceiling 97.7 within 2 hops)  F1 ...``."""
    line = (f"{name}: Hits@1 {100 * metrics['hits@1']:.1f} (ceiling {100 * metrics['reachable_ceiling']:.1f} "
            f"within {metrics['ceiling_hops']} hops)  F1 {100 * metrics['f1']:.1f}  "
            f"paths verified {100 * metrics['valid_path_share']:.1f}%")
    if metrics.get("relation_path_accuracy") is not None:
        line += f"  relation-path accuracy {100 * metrics['relation_path_accuracy']:.1f}"
    line += f"  {metrics['ms_per_question']:.1f} ms/question"
    if "teacher" in metrics:
        t = metrics["teacher"]
        line += (f"\nteacher: Hits@1 {100 * t['hits@1']:.1f}  F1 {100 * t['f1']:.1f}  "
                 f"{t['ms_per_question']:.1f} ms/question")
    return line


def load_run(run_dir: str | Path):
    """``(config dict, student, teacher or None)`` of a trained run directory."""
    from kgdistill.student import Student
    from kgdistill.teacher_training import Teacher

    run = Path(run_dir)
    if not (run / RUN_CONFIG).exists():
        raise RunError(f"{run} is not a kgdistill run directory (no {RUN_CONFIG}); train one with 'kgdistill train'")
    if not (run / "student" / "kgdistill.json").exists():
        raise RunError(f"{run} has no trained student yet; finish it with 'kgdistill train --resume {run}'")
    cfg = json.loads((run / RUN_CONFIG).read_text())
    teacher = Teacher.load(run / "teacher") if (run / "teacher" / "model.safetensors").exists() else None
    return cfg, Student.load(run / "student"), teacher


__all__ = ["RunConfig", "RunError", "evaluate", "infer_hops", "load_run", "summary_line", "train_run"]
