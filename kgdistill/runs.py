"""One-command training and evaluation runs: teacher -> soft targets -> student in one
run directory, with a typed, versioned configuration.

A run directory holds::

    config.json           the resolved RunConfig (every default written out, versioned)
    teacher/              the GNN teacher (Teacher.save)
    soft_targets.jsonl    the teacher's top-k paths for each training question
    train_set.jsonl       the student's training set (serializer output)
    unlabeled_set.jsonl   soft-target records of the unlabeled questions (with --unlabeled)
    student/              the student (loads with AutoModelForCausalLM) + its metrics
    metrics.json          validation metrics of teacher and student, timings
    valid_predictions.jsonl  one line per validation question
    curves.png            training curves of both models

Each stage is skipped when its output exists and both models resume from their
checkpoints, written per epoch and every few minutes inside one (safetensors + JSON, never pickle), so re-running an interrupted
``kgdistill train`` continues where it stopped. Every file is written atomically and
the directory is locked while a run writes it. The same seed gives the same metrics
(timings aside).
"""
from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kgdistill.datasets import Question
from kgdistill.datasets.formats import infer_hops
from kgdistill.configs import StudentConfig, student_lr
from kgdistill.distill import STUDENT_TRAINING, DistillConfig
from kgdistill.errors import ConfigError, KGDistillError, RunError
from kgdistill.graph import GraphBackend
from kgdistill.io import write_dir_atomic
from kgdistill.sparql import is_store_spec, resolve_graph_location
from kgdistill.pretrained import PRETRAINED
from kgdistill.reasoner import MAX_HOPS
from kgdistill.serializer import SerializerConfig
from kgdistill.teacher import TeacherConfig
from kgdistill.teacher_training import TEACHER_TRAINING
from kgdistill.training import TrainArgs

logger = logging.getLogger(__name__)

RUN_CONFIG = "config.json"
RUN_CONFIG_VERSION = 2
"""2: nested typed sections; hops and temperature in one place each."""


# ---------------------------------------------------------------------- config
_SECTIONS = {"teacher": TeacherConfig, "teacher_training": TrainArgs, "serializer": SerializerConfig,
             "student": StudentConfig, "distill": DistillConfig, "student_training": TrainArgs}


@dataclass
class RunConfig:
    """Everything a run needs; written resolved to ``config.json``.

    Attributes:
        graph: the knowledge-graph file.
        train: the training question file.
        valid: the validation question file (early stopping, metrics).
        unlabeled: extra questions without answers (any question format; answers in
            it are ignored): the teacher's soft targets on them are added to the
            student's training set (used when ``distill.alpha < 1``).
        soft_targets_from: another run whose *student* (e.g. a SmolLM2 student)
            gives the soft targets instead of this run's teacher: its beam of paths
            per question, probabilities normalised over the beam. This is how a large
            student is compressed into a small one (``kgdistill compress``).
        soft_targets_precision: the weights of that source student while it
            decodes (fp32, bf16, int8; see ``Student.for_inference``).
        graph_format, question_format: file formats (``None``: detected).
        seed: seeds both models' weights and data order.
        hops: the longest reasoning path, in [1, 6]; ``None``: inferred from the
            training questions (:func:`infer_hops`). The one place hops are set.
        exact_hops: every answer is exactly ``hops`` away; ``None``: inferred.
        teacher: the teacher's architecture.
        teacher_training: how the teacher is trained.
        serializer: prompts and targets of the student.
        student: which student (size, or a pretrained base model and adaptation).
        distill: the distillation loss (alpha, temperature, ...).
        student_training: how the student is trained.
        version: the config format version.
        inferred: what was inferred from the data (written by :meth:`resolve`).
    """

    graph: str
    train: str
    valid: str | None = None
    unlabeled: str | None = None
    soft_targets_from: str | None = None
    soft_targets_precision: str = "fp32"
    graph_format: str | None = None
    question_format: str | None = None
    seed: int = 0
    hops: int | None = None
    exact_hops: bool | None = None
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    teacher_training: TrainArgs = field(default_factory=lambda: dataclasses.replace(TEACHER_TRAINING))
    serializer: SerializerConfig = field(default_factory=SerializerConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    student_training: TrainArgs = field(default_factory=lambda: dataclasses.replace(STUDENT_TRAINING))
    version: int = RUN_CONFIG_VERSION
    inferred: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from kgdistill.configs import check_int

        for name in ("graph", "train"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"{name} must be a file path")
        check_int(self, "seed", 0)
        from kgdistill.configs import INFERENCE_PRECISIONS, check_choice

        check_choice(self, "soft_targets_precision", INFERENCE_PRECISIONS)
        if self.hops is not None:
            check_int(self, "hops", 1, MAX_HOPS)
        if self.exact_hops is not None and not isinstance(self.exact_hops, bool):
            raise ConfigError(f"exact_hops must be true, false or null, got {self.exact_hops!r}")
        for name, cls in _SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name} must be a {cls.__name__}")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "RunConfig":
        """Build from JSON; tolerant: unknown keys (a newer version) are warned about
        and ignored, and the first format (flat dict sections) is converted.

        Raises:
            ConfigError: a value of the wrong type or out of range (``source`` named).
        """
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        data = dict(data)
        if data.get("version", 1) == 1:
            data = _from_version_1(data)
        distill = data.get("distill")
        if isinstance(distill, dict) and isinstance(distill.get("soft_rest"), bool):  # before soft_loss
            distill = dict(distill)
            distill["soft_loss"] = "rest" if distill.pop("soft_rest") else "kway"
            data["distill"] = distill
        top = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - top)
        if unknown:
            logger.warning("%s: ignoring unknown setting(s) %s", source, unknown)
        kwargs = {k: v for k, v in data.items() if k in top and k not in _SECTIONS}
        try:
            for name, section in _SECTIONS.items():
                values = data.get(name, {})
                if not isinstance(values, dict):
                    raise ConfigError(f"section {name!r} must be a JSON object")
                known = {f.name for f in dataclasses.fields(section)}
                extra = sorted(set(values) - known)
                if extra:
                    logger.warning("%s: ignoring unknown %s setting(s) %s", source, name, extra)
                kwargs[name] = section(**{k: v for k, v in values.items() if k in known})
            return cls(**kwargs)
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"{source}: {err}") from None

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Check what can be checked before loading any data: the files exist and a
        pretrained base model is a checkpoint directory (so that a typo fails before
        the teacher trains)."""
        for name in ("graph", "train", "valid", "unlabeled"):
            path = getattr(self, name)
            if name == "graph" and is_store_spec(path):
                if path.startswith("oxigraph:") and not Path(path[len("oxigraph:"):]).is_dir():
                    raise ConfigError(f"graph store {path}: no such directory (make it with: kgdistill import "
                                      f"GRAPH --store {path[len('oxigraph:'):]})")
                continue
            if path is not None and not Path(path).exists():
                raise ConfigError(f"{name} file {path}: no such file")
        if self.soft_targets_from is not None and not (Path(self.soft_targets_from) / "student").is_dir():
            raise ConfigError(f"soft_targets_from {self.soft_targets_from}: not a trained run (no student/)")
        self.student.check_base_model()

    def resolve(self, graph: GraphBackend, train: Sequence[Question]) -> "RunConfig":
        """A copy with absolute paths and hops decided (inferred from the training
        questions where not given)."""
        c = dataclasses.replace(self, inferred=dict(self.inferred))
        c.graph, c.train = resolve_graph_location(c.graph), str(Path(c.train).resolve())
        c.valid = str(Path(c.valid).resolve()) if c.valid else None
        c.unlabeled = str(Path(c.unlabeled).resolve()) if c.unlabeled else None
        if c.student.base_model and c.student.base_model not in PRETRAINED:  # names stay names
            c.student = dataclasses.replace(c.student, base_model=str(Path(c.student.base_model).resolve()))
        if c.hops is None:
            hops, exact, counts = infer_hops(graph, train, seed=c.seed)
            c.hops = hops
            c.exact_hops = exact if c.exact_hops is None else c.exact_hops
            c.inferred = {"hops": hops, "exact_hops": exact, "path_lengths_in_sample": counts}
        if c.exact_hops is None:
            c.exact_hops = False
        return c


def _from_version_1(d: dict) -> dict:
    """The first config format: sections were plain dicts with training settings,
    ``hops`` copied into them, and ``adaptation`` at the top."""
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()}
    teacher, distill = d.get("teacher", {}), d.get("distill", {})
    serializer, student = d.get("serializer", {}), d.get("student", {})
    moves = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
             "patience": "patience", "max_train_minutes": "max_minutes"}
    if isinstance(teacher, dict):
        d["teacher_training"] = {new: teacher.pop(old) for old, new in moves.items() if old in teacher}
        for k in ("num_steps", "exact_hops", "seed"):
            teacher.pop(k, None)
    if isinstance(distill, dict):
        d["student_training"] = {new: distill.pop(old) for old, new in moves.items() if old in distill}
        for k in ("max_hops", "seed"):
            distill.pop(k, None)
    if isinstance(serializer, dict):
        for k in ("max_hops", "temperature"):
            serializer.pop(k, None)
    if isinstance(student, dict) and "adaptation" in d:
        student["adaptation"] = d.pop("adaptation")
    d["version"] = RUN_CONFIG_VERSION
    return d


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if k == "inferred" or (k in ("max_minutes", "keep_both", "device") and prefix.endswith("training.")):
            continue  # a time box, the device and what is saved besides the student may change on resume
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} in the run, {vb!r} now")
    return out


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The saved configuration of a run directory.

    Raises:
        RunError: no run there, or its ``config.json`` is malformed (named).
    """
    from kgdistill.io import read_json

    from kgdistill.student import STUDENT_META

    path = Path(run_dir) / RUN_CONFIG
    if (Path(run_dir) / STUDENT_META).is_file():  # its config.json is the language model's
        raise RunError(f"{run_dir} is a student directory, not a run: give it as --student {run_dir} "
                       "with -g GRAPH (or give the run directory above it as --run)")
    if not path.is_file():
        raise RunError(f"{run_dir} is not a kgdistill run directory (no {RUN_CONFIG}); "
                       "train one with 'kgdistill train'")
    try:
        return RunConfig.from_dict(read_json(path, RunError), str(path))
    except ConfigError as err:
        raise RunError(str(err)) from None


def load_questions_checked(path: str, fmt: str | None, graph: GraphBackend, what: str) -> list[Question]:
    """Read a question file, refusing repeated ids and a graph that does not hold the
    questions' topics."""
    from kgdistill.datasets import load_questions
    from kgdistill.reasoner import check_answered, check_topics_fit
    from kgdistill.serializer import check_unique_ids
    from kgdistill.verify import check_gold_paths

    questions = load_questions(path, fmt)
    if not questions:
        raise RunError(f"{path}: no questions")
    check_unique_ids([q.id for q in questions], str(path))
    check_topics_fit(graph, questions, f"{what} in {path}")
    if what != "unlabeled questions":  # their gold paths are not used
        check_gold_paths(graph, questions, path)
    if what == "validation questions" or (what == "training questions" and not any(q.gold_path for q in questions)):
        check_answered(questions, f"{what} in {path}", scoring=what.startswith("validation"))
    return questions


# ---------------------------------------------------------------------- training
def _say_box_not_extended(done: dict, cfg: RunConfig, run: Path, echo: Callable[[str], None]) -> None:
    """A finished student stopped by its time box is not trained further by a longer
    ``--resume RUN --max-minutes`` (or none): say so, and how to train on."""
    box = re.search(r"max_minutes=([0-9.]+)", str(done.get("stopped")))
    new = cfg.student_training.max_minutes or 0
    if box is None or (new and new <= float(box.group(1))):
        return
    on = (f"start a new run from it: kgdistill train ... --base-model {run}/student --out NEW_RUN"
          if cfg.student.adaptation in ("full", "lora") and cfg.student.base_model not in (None, "none")
          else "start a new run with a longer --max-minutes")
    echo(f"student: it finished at its {float(box.group(1)):g}-minute time box, and a finished run is not "
         f"trained further (the time box now saved, {f'{new:g} minutes' if new else 'none'}, changes nothing "
         f"here); to train on, {on}")


def train_run(config: RunConfig, run_dir: str | Path, progress: bool = True,
              echo: Callable[[str], None] | None = None) -> dict:
    """Train teacher and student into ``run_dir`` (resuming what is there); returns
    the run's metrics (also written to ``metrics.json``). Stage messages go to
    ``echo`` (the command line passes ``print``), by default to the log.

    Raises:
        RunError: the directory holds another run or is in use; bad data.
        ConfigError: a bad setting.
    """
    from kgdistill.io import DirectoryLock

    echo = echo or logger.info
    config.check()
    with DirectoryLock(run_dir):
        return _train_locked(config, Path(run_dir), progress, echo)


def _train_locked(config: RunConfig, run: Path, progress: bool, echo: Callable[[str], None]) -> dict:
    from kgdistill.distill import OTHER_KINDS, train_student
    from kgdistill.encoder import SentenceEncoder
    from kgdistill.io import read_json, write_atomic, write_json_atomic
    from kgdistill.readers import load_graph, write_jsonl
    from kgdistill.serializer import build_training_set, load_records, load_teacher_dump, save_records
    from kgdistill.student import Student, adapt
    from kgdistill.teacher_training import Teacher, train_teacher
    from kgdistill.training import seed_everything
    from kgdistill.vocabulary import RelationVocabulary

    t_start = time.perf_counter()
    graph = load_graph(config.graph, config.graph_format)
    train = load_questions_checked(config.train, config.question_format, graph, "training questions")
    valid = (load_questions_checked(config.valid, config.question_format, graph, "validation questions")
             if config.valid else [])
    cfg = config.resolve(graph, train)
    started = any((run / p).exists() for p in ("teacher", "teacher.ckpt", "soft_targets.jsonl", "student"))
    if (run / RUN_CONFIG).exists() and started:
        old = read_run_config(run)
        diff = _differences(old.to_dict(), cfg.to_dict())
        if diff:
            raise RunError(f"{run} holds a run with another configuration ({'; '.join(diff[:5])}); "
                           "resume it with the same settings or choose a new --out")
        echo(f"resuming the run in {run}")
    write_json_atomic(run / RUN_CONFIG, cfg.to_dict())
    if cfg.inferred:
        echo(f"hops: {cfg.hops} ({'exactly' if cfg.exact_hops else 'at most'}; inferred from path lengths "
             f"{dict(sorted((int(k), v) for k, v in cfg.inferred['path_lengths_in_sample'].items()))} "
             "of a sample of training questions)")  # int keys: a resumed run reads them back as text
    timings: dict[str, float] = {}

    # 1. teacher
    if (run / "teacher" / "config.json").exists():
        teacher = Teacher.load(run / "teacher")
        echo("teacher: trained already, loaded")
    else:
        echo(f"teacher: training on {len(train):,} questions ({cfg.hops} hops)")
        t0 = time.perf_counter()
        teacher = train_teacher(graph, train, valid, cfg.teacher, cfg.hops, cfg.exact_hops, cfg.teacher_training,
                                seed=cfg.seed, encoder=SentenceEncoder(), progress=progress,
                                checkpoint=run / "teacher.ckpt")
        timings["teacher_seconds"] = time.perf_counter() - t0
        write_dir_atomic(run / "teacher", teacher.save)
        shutil.rmtree(run / "teacher.ckpt", ignore_errors=True)
        for stale in run.glob("soft_targets*.jsonl.partial"):  # another teacher's, were there any
            stale.unlink()
    # 2. soft targets and the student's training set
    source = teacher if cfg.soft_targets_from is None else StudentSource(cfg, graph)
    if not (run / "soft_targets.jsonl").exists():
        t0 = time.perf_counter()
        if cfg.soft_targets_from is not None:
            echo(f"source student ({cfg.soft_targets_from}): path distributions of {len(train):,} questions")
        _predict_to(run / "soft_targets.jsonl", source, graph, train, cfg, progress, echo)
        timings["soft_target_seconds"] = time.perf_counter() - t0
    if (run / "train_set.jsonl").exists():
        records = load_records(run / "train_set.jsonl")
    else:
        t0 = time.perf_counter()
        dump = load_teacher_dump(run / "soft_targets.jsonl")
        records = build_training_set(graph, train, dump, cfg.serializer, cfg.hops, cfg.distill.temperature,
                                     progress=progress)
        save_records(records, run / "train_set.jsonl")
        timings["serialize_seconds"] = time.perf_counter() - t0
    if cfg.unlabeled:
        records = records + _unlabeled_records(cfg, graph, source, run, progress, echo)
    # 3. student
    student_dir = run / "student"
    if (student_dir / "kgdistill.json").exists() and (student_dir / "metrics.json").exists():
        student = Student.load(student_dir)
        echo("student: trained already, loaded")
        _say_box_not_extended(read_json(student_dir / "metrics.json", RunError), cfg, run, echo)
        if cfg.student_training.keep_both and not any((run / f"student-{k}").exists() for k in OTHER_KINDS):
            echo("student: no second student can be kept now (the run finished without one)")
    else:
        seed_everything(cfg.seed)
        echo(f"student: distilling on {len(records):,} records (alpha {cfg.distill.alpha})")
        student = Student.create(RelationVocabulary.from_graph(graph), [r.prompt for r in records], cfg.student)
        adapt(student, cfg.student.adaptation)
        t0 = time.perf_counter()
        train_student(student, graph, records, valid, cfg.distill, cfg.hops, cfg.student_training, seed=cfg.seed,
                      out_dir=student_dir, progress=progress, serializer=cfg.serializer,
                      exact_hops=bool(cfg.exact_hops))
        timings["student_seconds"] = time.perf_counter() - t0
    # 4. validation metrics, predictions and pictures
    metrics = {}
    if (run / "metrics.json").exists():  # rewritten below; a damaged one only loses old timings
        try:
            metrics = read_json(run / "metrics.json", RunError)
        except RunError as err:
            logger.warning("%s; writing it anew", err)
        metrics = metrics if isinstance(metrics, dict) else {}
    metrics.setdefault("timings", {}).update(timings)
    metrics["teacher_curve"] = teacher.metrics.get("curve", [])
    metrics["student_curve"] = read_json(student_dir / "metrics.json", RunError).get("curve", [])
    if valid:
        from kgdistill.reasoner import Reasoner

        reasoner = Reasoner(graph, student, teacher, beam_size=cfg.distill.beam_size, max_hops=cfg.hops,
                            exact_hops=bool(cfg.exact_hops))
        m, rows = reasoner.evaluate(valid, progress=progress)
        metrics["valid"] = m
        write_atomic(run / "valid_predictions.jsonl", lambda p: write_jsonl(rows, p))
    metrics["sizes"] = {"teacher_parameters": sum(p.numel() for p in teacher.model.parameters()),
                        "student_parameters": sum(p.numel() for p in student.model.parameters())}
    metrics["timings"]["total_seconds_this_call"] = time.perf_counter() - t_start
    write_json_atomic(run / "metrics.json", metrics)
    try:
        from kgdistill.plots import plot_curves

        plot_curves(metrics["teacher_curve"], metrics["student_curve"], run / "curves.png")
    except ImportError as err:  # matplotlib is a dependency; keep training usable without it
        logger.warning("no training-curve picture: %s", err)
    return metrics


def compress_run(source: str | Path, out: str | Path, student: StudentConfig | None = None,
                 unlabeled: str | None = None, max_minutes: float | None = None, precision: str = "fp32",
                 progress: bool = True, echo: Callable[[str], None] = logger.info) -> dict:
    """Distil the student of run ``source`` (e.g. a SmolLM2 student) into a smaller one
    in a new run ``out``: the same data, hops, serializer and loss, the soft targets
    being the source student's path distributions (``soft_targets_from``) on the
    training questions and on ``unlabeled`` ones (default: the source run's). The
    source's teacher is copied (for comparison in metrics; it is not used to train).
    Resumable like :func:`train_run`.

    Args:
        student: the small student (default: :class:`StudentConfig`'s defaults).
        precision: the source student's weights while it decodes (bf16 is about twice
            as fast for SmolLM2 on CPUs with AVX512-BF16).
    """
    src = read_run_config(source)
    if not (Path(source) / "student" / "kgdistill.json").exists():
        raise RunError(f"{source}: no trained student to compress")
    student = student or StudentConfig()
    training = dataclasses.replace(STUDENT_TRAINING, device=src.student_training.device, lr=student_lr(student, None))
    if max_minutes is not None:
        training = dataclasses.replace(training, max_minutes=max_minutes)
    cfg = dataclasses.replace(src, student=student, student_training=training,
                              unlabeled=unlabeled if unlabeled is not None else src.unlabeled,
                              soft_targets_from=str(Path(source).resolve()), soft_targets_precision=precision,
                              inferred={})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "teacher").exists() and (Path(source) / "teacher").is_dir():
        shutil.copytree(Path(source) / "teacher", out / "teacher")
    return train_run(cfg, out, progress=progress, echo=echo)


class StudentSource:
    """Soft targets from another run's student (``RunConfig.soft_targets_from``): per
    question its graph-constrained beam of ``top_k`` paths with their probabilities
    normalised over the beam, in the teacher-dump format. The source student runs on
    the training device with ``soft_targets_precision`` weights."""

    def __init__(self, cfg: RunConfig, graph: GraphBackend) -> None:
        self.cfg, self.graph = cfg, graph
        self._reasoner = None

    def reasoner(self, top_k: int):
        from kgdistill.reasoner import Reasoner

        if self._reasoner is None:
            source = read_run_config(self.cfg.soft_targets_from)
            if source.hops != self.cfg.hops:
                raise RunError(f"soft_targets_from {self.cfg.soft_targets_from} decodes up to {source.hops} hops, "
                               f"this run needs {self.cfg.hops}")
            self._reasoner = Reasoner.from_run(self.cfg.soft_targets_from, self.graph, beam_size=top_k)
            self._reasoner.student.for_inference(self.cfg.student_training.device,
                                                 self.cfg.soft_targets_precision)
        return self._reasoner

    def predict(self, graph: GraphBackend, questions: Sequence[Question], top_k: int, progress: bool = True
                ) -> list[dict]:
        from kgdistill.serializer import make_prompt, topic_labels
        from kgdistill.training import progress_steps

        reasoner = self.reasoner(top_k)
        out = []
        bs = reasoner.batch_size
        for s in progress_steps(range(0, len(questions), bs), "source student", progress=progress):
            chunk = questions[s:s + bs]
            topics = [np.unique(ids[ids >= 0]) for ids in (graph.entity_ids(q.topic_entities) for q in chunk)]
            live = [i for i, t in enumerate(topics) if t.size]
            labels = topic_labels(graph, [chunk[i].topic_entities for i in live])
            prompts = [make_prompt(chunk[i].text, chunk[i].topic_entities, reasoner.serializer, extra)
                       for i, extra in zip(live, labels)]
            decoded = dict(zip(live, reasoner.decoder.decode(reasoner.student, prompts, top_k, reasoner.max_hops,
                                                             graph, [topics[i] for i in live],
                                                             binding=reasoner.binding,
                                                             min_hops=reasoner.min_hops)))
            for i, q in enumerate(chunk):
                out.append({"id": q.id, "question": q.text, "topic_entities": list(q.topic_entities),
                            "answers": list(q.answers),
                            "paths": [{"path": str(d.path), "prob": float(d.prob)} for d in decoded.get(i, [])]})
        return out


SOFT_TARGET_CHUNK = 4096  # questions a chunk of soft targets: what an interruption loses at most


def _predict_to(path: Path, source, graph: GraphBackend, questions: Sequence[Question], cfg: RunConfig,
                progress: bool, echo: Callable[[str], None]) -> None:
    """``source``'s top-k paths for ``questions`` into ``path``, resumable a chunk at a
    time (:func:`kgdistill.io.write_jsonl_resumable`)."""
    from kgdistill.io import write_jsonl_resumable
    from kgdistill.training import line_reporter

    write_jsonl_resumable(path, [q.id for q in questions],
                          lambda a, b: source.predict(graph, questions[a:b], top_k=cfg.serializer.top_k, progress=False),
                          chunk=SOFT_TARGET_CHUNK, progress=progress, desc="soft targets", echo=echo,
                          texts=[q.text for q in questions], report=line_reporter("soft targets", "questions", progress))


def _unlabeled_records(cfg: RunConfig, graph: GraphBackend, teacher, run: Path, progress: bool,
                       echo: Callable[[str], None]) -> list:
    """Soft-target-only records for the unlabeled questions (written once to
    ``unlabeled_set.jsonl``): the teacher's top-k paths, no hard targets."""
    from kgdistill.serializer import build_training_set, load_records, load_teacher_dump, save_records

    path = run / "unlabeled_set.jsonl"
    if path.exists():
        return load_records(path)
    questions = load_questions_checked(cfg.unlabeled, cfg.question_format, graph, "unlabeled questions")
    questions = [Question(f"unlabeled:{q.id}", q.text, q.topic_entities, []) for q in questions]
    if cfg.distill.alpha >= 1.0:
        logger.warning("alpha is 1: the %d unlabeled questions teach nothing (they have only soft targets)",
                       len(questions))
    echo(f"{'teacher' if cfg.soft_targets_from is None else 'source student'}: soft targets for "
         f"{len(questions):,} unlabeled questions")
    _predict_to(run / "soft_targets_unlabeled.jsonl", teacher, graph, questions, cfg, progress, echo)
    preds = load_teacher_dump(run / "soft_targets_unlabeled.jsonl")
    records = build_training_set(graph, questions, preds, cfg.serializer, cfg.hops,
                                 cfg.distill.temperature, hard_targets=False)
    save_records(records, path)
    return records


def summary_line(metrics: dict, name: str = "student") -> str:
    """``student: Hits@1 95.1 (ceiling 97.7 within 2 hops)  F1 ...``."""
    line = f"{name}: Hits@1 {100 * metrics['hits@1']:.1f}"
    if "reachable_ceiling" in metrics:
        line += f" (ceiling {100 * metrics['reachable_ceiling']:.1f} within {metrics['ceiling_hops']} hops)"
    line += f"  F1 {100 * metrics['f1']:.1f}  paths verified {100 * metrics['valid_path_share']:.1f}%"
    if metrics.get("relation_path_accuracy") is not None:
        line += f"  relation-path accuracy {100 * metrics['relation_path_accuracy']:.1f}"
    line += f"  {metrics['ms_per_question']:.1f} ms/question"
    if metrics.get("topic_not_in_graph"):
        line += f"\n  ({metrics['topic_not_in_graph']:,} questions have no topic entity in the graph)"
    if "teacher" in metrics:
        t = metrics["teacher"]
        line += (f"\nteacher: Hits@1 {100 * t['hits@1']:.1f}  F1 {100 * t['f1']:.1f}  "
                 f"{t['ms_per_question']:.1f} ms/question")
    return line


def load_run(run_dir: str | Path):
    """``(RunConfig, student, teacher or None)`` of a trained run directory.

    Raises:
        RunError: not a run, or its student is not trained yet.
        CheckpointError: a saved model is incomplete or corrupt.
    """
    from kgdistill.student import Student
    from kgdistill.teacher_training import Teacher

    run = Path(run_dir)
    cfg = read_run_config(run)
    if not (run / "student" / "kgdistill.json").exists():
        raise RunError(f"{run} has no trained student yet; finish it with 'kgdistill train --resume {run}'")
    teacher = Teacher.load(run / "teacher") if (run / "teacher" / "config.json").exists() else None
    return cfg, Student.load(run / "student"), teacher


__all__ = ["RunConfig", "RunError", "KGDistillError", "infer_hops", "load_run", "read_run_config", "summary_line",
           "train_run"]
