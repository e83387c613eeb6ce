"""Implementations of the ``kgdistill`` subcommands (the parser is in :mod:`kgdistill.cli`):
each reads its parsed arguments, calls the library and prints the result."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from kgdistill.configs import PRETRAINED_AVERAGE_TAIL, auto_precision, student_lr
from kgdistill.errors import KGDistillError
from kgdistill.sparql import resolve_graph_location
from kgdistill.readers import write_jsonl

class CLIError(KGDistillError):
    """A user-facing error: printed as ``error: ...`` with exit code 2."""


def _load_graph(args):
    from kgdistill.readers import load_graph

    start = time.perf_counter()
    kg = load_graph(args.graph, args.format)
    logging.getLogger("kgdistill").info("loaded %s in %.2f s", kg, time.perf_counter() - start)
    return kg


# ---------------------------------------------------------------------- teacher
def _print_teacher_metrics(metrics: dict) -> None:
    if not metrics:
        return
    line = (f"Hits@1 {100 * metrics['hits@1']:.1f}  F1 {100 * metrics['f1']:.1f}  "
            f"top path reaches an answer {100 * metrics['top_path_hit']:.1f}  "
            f"top-path ECE {metrics['top_path_ece']:.3f}")
    if "reachable_ceiling" in metrics:
        line += f"  (ceiling: answer within reach {100 * metrics['reachable_ceiling']:.1f})"
    print(f"{metrics['questions']:,} questions: {line}")


def _train_args(defaults, args, prefix: str = ""):
    """``defaults`` (a TrainArgs) with the options given on the command line."""
    import dataclasses

    values = {}
    for name in ("epochs", "batch_size", "lr", "patience", "max_minutes", "grad_accumulation", "device",
                 "precision"):
        given = getattr(args, prefix + name, None)
        if given is not None:
            values[name] = given
    return dataclasses.replace(defaults, **values)


def cmd_teacher_train(args) -> int:
    from kgdistill.encoder import SentenceEncoder
    from kgdistill.io import DirectoryLock
    from kgdistill.runs import load_questions_checked
    from kgdistill.teacher import TeacherConfig
    from kgdistill.teacher_training import TEACHER_TRAINING, train_teacher

    config = TeacherConfig(hidden_dim=args.hidden_dim, max_expand_degree=args.max_expand_degree)
    args.precision = auto_precision(args.precision, False, args.device)  # the GNN is small: fp32 unless told
    train_args = _train_args(TEACHER_TRAINING, args)
    kg = _load_graph(args)
    train = load_questions_checked(args.train, args.question_format, kg, "training questions")
    valid = load_questions_checked(args.valid, args.question_format, kg, "validation questions") if args.valid else []
    with DirectoryLock(args.out, "teacher training"):
        teacher = train_teacher(kg, train, valid, config, args.hops, args.exact_hops, train_args, seed=args.seed,
                                encoder=SentenceEncoder(args.encoder), checkpoint=Path(args.out) / "checkpoint")
        out = teacher.save(args.out)
        import shutil

        shutil.rmtree(Path(args.out) / "checkpoint", ignore_errors=True)
    m = teacher.metrics
    print(f"teacher saved to {out} (trained {m['train_seconds']:.0f} s on {m['train_questions']:,} questions, "
          f"{len(m['curve'])} epochs)")
    _print_teacher_metrics(m.get("valid", {}))
    return 0


def cmd_teacher_dump(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.io import write_atomic
    from kgdistill.teacher_training import Teacher, score_predictions

    teacher = Teacher.load(args.teacher)
    kg = _load_graph(args)
    teacher.bind(kg)
    questions = load_questions(args.questions, args.question_format)
    preds = teacher.predict(kg, questions, top_k=args.top_k, progress=True)
    write_atomic(args.out, lambda p: write_jsonl(preds, p))
    print(f"wrote {len(preds):,} soft-target records to {args.out}")
    if any(q.answers for q in questions):
        _print_teacher_metrics(score_predictions(preds))
    return 0


# ---------------------------------------------------------------------- student
SERIALIZE_SIDECAR = ".serializer.json"


def cmd_serialize(args) -> int:
    from dataclasses import asdict

    from kgdistill.datasets import load_questions
    from kgdistill.io import write_json_atomic
    from kgdistill.serializer import SerializerConfig, build_training_set, load_teacher_dump, save_records
    from kgdistill.verify import check_gold_paths

    config = SerializerConfig(template=args.template, top_k=args.top_k, mask_topic=not args.keep_topic_name)
    kg = _load_graph(args)
    questions = load_questions(args.questions, args.question_format)
    check_gold_paths(kg, questions, args.questions)
    dump = load_teacher_dump(args.teacher_dump) if args.teacher_dump else None
    records = build_training_set(kg, questions, dump, config, args.max_hops, args.temperature, progress=True)
    save_records(records, args.out)
    write_json_atomic(args.out + SERIALIZE_SIDECAR, {**asdict(config), "temperature": args.temperature,
                                                     "hops": args.max_hops})
    sources = {s: sum(r.hard_source == s for r in records) for s in ("gold", "best_f1", "none")}
    print(f"wrote {len(records):,} training records to {args.out} (hard targets: {sources['gold']:,} gold, "
          f"{sources['best_f1']:,} best-F1, {sources['none']:,} none; "
          f"{sum(bool(r.soft) for r in records):,} with teacher soft targets)")
    return 0


def cmd_distill(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.distill import STUDENT_TRAINING, DistillConfig, train_student
    from kgdistill.io import DirectoryLock, read_json
    from kgdistill.serializer import SerializerConfig, load_records
    from kgdistill.student import Student, StudentConfig, adapt
    from kgdistill.training import seed_everything
    from kgdistill.vocabulary import RelationVocabulary

    student_config = _student_config(args)
    student_config.check_base_model()
    config = DistillConfig(alpha=args.alpha, temperature=args.temperature, label_fraction=args.label_fraction,
                           soft_loss=args.soft_loss)
    args.lr = student_lr(student_config, args.lr)
    args.precision = auto_precision(args.precision, bool(student_config.base_model), args.device)
    train_args = _train_args(STUDENT_TRAINING, args)
    side = Path(args.train_set + SERIALIZE_SIDECAR)
    sidecar = read_json(side) if side.exists() else {}
    fields = SerializerConfig.__dataclass_fields__
    serializer = SerializerConfig(**{k: v for k, v in sidecar.items() if k in fields})
    kg = _load_graph(args)
    records = load_records(args.train_set)
    if not records:
        raise CLIError(f"{args.train_set}: no training records")
    valid = load_questions(args.valid, args.question_format) if args.valid else []
    seed_everything(args.seed)  # the student's initial weights follow --seed
    student = Student.create(RelationVocabulary.from_graph(kg), [r.prompt for r in records], student_config)
    adapt(student, args.adaptation)
    with DirectoryLock(args.out, "student training"):
        metrics = train_student(student, kg, records, valid, config, args.max_hops, train_args, seed=args.seed,
                                out_dir=args.out, serializer=serializer)
    best = metrics["best_valid_hits@1"]
    print(f"student saved to {args.out} ({metrics['train_seconds']:.0f} s, {len(metrics['curve'])} epochs"
          + (f", best validation Hits@1 {best:.3f})" if args.valid else ")"))
    return 0


def _run_graph(args):
    """``(graph, run config or None)``: the graph of -g, else of --run's configuration
    (read and checked before the graph is loaded)."""
    cfg = None
    if getattr(args, "run", None):
        from kgdistill.runs import read_run_config

        cfg = read_run_config(args.run)
        if args.graph is None:
            args.graph, args.format = cfg.graph, cfg.graph_format
    elif args.graph is None:
        raise CLIError("--student needs the knowledge graph: give -g/--graph")
    return _load_graph(args), cfg


def _load_reasoner(args, **kwargs):
    """The reasoner of --run or --student (with -g), on the device and precision asked
    for; ``kwargs`` (``None`` values dropped) go to :class:`Reasoner`."""
    from kgdistill.reasoner import Reasoner

    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    kg, _ = _run_graph(args)
    if getattr(args, "run", None):
        reasoner = Reasoner.from_run(args.run, kg, **kwargs)
    else:
        reasoner = Reasoner.from_student(args.student, kg, **kwargs)
    reasoner.student.for_inference(args.device, args.precision)
    return reasoner


def cmd_query(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.reasoner import score_answers

    if not args.file and not args.question:
        raise CLIError("give a QUESTION (its topic is found in the graph unless --topic names it), or --file")
    if args.file and (args.question or args.topic):  # a file's questions carry their own topics
        raise CLIError(f"give a QUESTION (with --topic) or --file, not both: --file answers the questions in it, "
                       f"each with its own topic; drop {'the QUESTION' if args.question else '--topic'}")
    if args.run is None and args.student is None:
        raise CLIError("give --run RUN (a trained run directory) or --student DIR with -g GRAPH")
    reasoner = _load_reasoner(args, beam_size=args.beam, max_hops=args.max_hops, exact_hops=args.exact_hops or None,
                              constrained=not args.unconstrained, decoder=args.decoder)
    kg = reasoner.graph
    start = time.perf_counter()
    if args.file:
        questions = load_questions(args.file, args.question_format)
        from kgdistill.reasoner import check_topics_fit

        check_topics_fit(kg, questions, f"questions in {args.file}")
        results = reasoner.answer(questions)
    else:
        results = [reasoner.ask(args.question, args.topic)]
        if results[0].note and not args.json:
            print(f"no answer: {results[0].note} (name the topic with --topic)")
            return 1
    elapsed = time.perf_counter() - start
    for r in results:
        print(json.dumps(r.to_dict(), ensure_ascii=False) if args.json else r.explain(args.show) + "\n")
    if len(results) > 1 and not args.json and any(q.answers for q in questions):  # Hits@1 needs gold answers
        m = score_answers(results)
        print(f"{len(results):,} questions in {elapsed:.1f} s ({1000 * elapsed / len(results):.1f} ms each); "
              f"Hits@1 {100 * m['hits@1']:.1f}, decoded paths that verify {100 * m['valid_path_share']:.1f}%")
    return 0


def _student_config(args):
    """The student of ``--base-model/--adaptation/--layers/--dim/--heads/--softmax``;
    softmax defaults to ``paths`` for a pretrained base model (a 49k-token softmax per
    step buys a path generator nothing) and ``full`` for the built student."""
    from kgdistill.configs import StudentConfig

    base_model = None if args.base_model in (None, "none") else args.base_model
    softmax = args.softmax or ("paths" if base_model else "full")
    if base_model is None and args.adaptation != "full":
        raise CLIError(f"--adaptation {args.adaptation} adapts a pretrained student: drop --base-model none")
    return StudentConfig(base_model=base_model, adaptation=args.adaptation, n_layer=args.layers,
                         n_embd=args.dim, n_head=args.heads, softmax=softmax)


# ---------------------------------------------------------------------- run
def _run_config_from_args(args):
    import dataclasses

    from kgdistill.distill import STUDENT_TRAINING, DistillConfig
    from kgdistill.runs import RunConfig
    from kgdistill.serializer import SerializerConfig
    from kgdistill.student import StudentConfig
    from kgdistill.teacher_training import TEACHER_TRAINING

    exact = {"auto": None, "yes": True, "no": False}[args.exact_hops]
    where = args.device or "cpu"  # train's --device has no default, so that a resume keeps the saved one
    student = _student_config(args)
    device = {"device": where, "precision": auto_precision(args.precision, bool(student.base_model), where)}
    box = args.max_minutes or 0.0
    teacher_training = dataclasses.replace(TEACHER_TRAINING, epochs=args.teacher_epochs, max_minutes=box,
                                           device=where)
    tail = args.average_tail if args.average_tail is not None else (  # the average is judged on --valid
        PRETRAINED_AVERAGE_TAIL if student.base_model and args.valid else 0.0)
    if args.keep_both and not tail:
        print("kgdistill: --keep-both does nothing here: no weight average is taken (it needs a pretrained "
              "--base-model, --valid and an --average-tail above 0)", file=sys.stderr)
    student_training = dataclasses.replace(STUDENT_TRAINING, epochs=args.student_epochs, max_minutes=box,
                                           lr=student_lr(student, args.lr), average_tail=tail,
                                           keep_both=args.keep_both, **device)
    return RunConfig(graph=args.graph, train=args.train, valid=args.valid, unlabeled=args.unlabeled,
                     graph_format=args.format,
                     question_format=args.question_format, seed=args.seed, hops=args.hops, exact_hops=exact,
                     teacher_training=teacher_training, serializer=SerializerConfig(top_k=args.top_k, template=args.template),
                     student=student,
                     distill=DistillConfig(alpha=args.alpha, temperature=args.temperature,
                                           soft_loss=args.soft_loss),
                     student_training=student_training)


def cmd_train(args) -> int:
    from kgdistill.runs import read_run_config, summary_line, train_run

    if args.resume:
        given = [f for f, v in (("-g", args.graph), ("--train", args.train), ("--valid", args.valid),
                                ("--out", args.out), ("--dataset", args.dataset), ("--unlabeled", args.unlabeled))
                 if v]
        if given:
            raise CLIError(f"--resume continues RUN with its saved configuration; drop {', '.join(given)}")
        import dataclasses

        config = read_run_config(args.resume)

        def both(**changes):  # the teacher's and the student's training settings
            return dataclasses.replace(config, **{k: dataclasses.replace(getattr(config, k), **changes)
                                                  for k in ("teacher_training", "student_training")})

        if args.max_minutes is not None:  # a time box is not a setting of the models: it may change
            config = both(max_minutes=args.max_minutes)
        if args.keep_both:  # what is saved, not how the models train: may be asked for on resume
            config = dataclasses.replace(config, student_training=dataclasses.replace(
                config.student_training, keep_both=True))
        if args.device:  # where the models train, not how: a CPU run may go on on a GPU
            config = both(device=args.device)
        from kgdistill.training import resolve_device

        for device in {config.teacher_training.device, config.student_training.device}:
            resolve_device(device)  # a saved 'cuda' on a machine without one: said before anything loads
        out = args.resume
    else:
        if args.dataset:
            from kgdistill.datasets import dataset

            named = dataset(args.dataset)
            args.graph = args.graph or str(named.path("graph"))
            args.train = args.train or str(named.path("train"))
            args.valid = args.valid or str(named.path("valid"))
        missing = [f for f, v in (("-g/--graph", args.graph), ("--train", args.train), ("--out", args.out)) if not v]
        if missing:
            raise CLIError(f"kgdistill train needs {', '.join(missing)} (or --resume RUN)")
        config = _run_config_from_args(args)
        out = args.out
    metrics = train_run(config, out, progress=not args.quiet, echo=print)
    print(f"run written to {out}/ (config.json, teacher/, soft_targets.jsonl, train_set.jsonl, student/, "
          "metrics.json, curves.png)")
    if "valid" in metrics:
        print(summary_line(metrics["valid"]))
    return 0


def cmd_compress(args) -> int:
    from kgdistill.runs import compress_run, summary_line
    from kgdistill.student import StudentConfig

    if args.from_source:
        from kgdistill.runs import read_run_config

        source = read_run_config(args.run).student
        if not source.base_model:
            raise CLIError(f"--from-source cuts a pretrained student into a smaller one; {args.run}'s student is "
                           "the small built one: drop --from-source")
        student = StudentConfig(base_model=str((Path(args.run) / "student").resolve()), softmax=source.softmax,
                                base_layers=args.from_source, max_length=source.max_length)
    else:
        student = StudentConfig(n_layer=args.layers, n_embd=args.dim, n_head=args.heads)
    metrics = compress_run(args.run, args.out, student, unlabeled=args.unlabeled, max_minutes=args.max_minutes,
                           precision=args.precision, progress=not args.quiet, echo=print)
    print(f"compressed student written to {args.out}/ (query it with --run {args.out})")
    if "valid" in metrics:
        print(summary_line(metrics["valid"]))
    return 0


def check_device_now(args) -> None:
    """``--device cuda`` on a machine without a GPU is said before a command loads a
    run or starts a server (minutes later, otherwise)."""
    if getattr(args, "device", None) == "cuda":
        from kgdistill.training import resolve_device

        resolve_device("cuda")


def cmd_average(args) -> int:
    from kgdistill.soup import average_runs

    out = average_runs(args.runs, args.out, weights=args.weights)
    print(f"averaged student written to {out}/ (score it with: kgdistill evaluate --run {out} --questions FILE)")
    return 0


def cmd_evaluate(args) -> int:
    from kgdistill.datasets import load_questions
    from kgdistill.io import write_atomic, write_json_atomic
    from kgdistill.reasoner import check_answered, check_topics_fit
    from kgdistill.runs import summary_line

    reasoner = _load_reasoner(args, beam_size=args.beam, max_hops=args.max_hops, exact_hops=args.exact_hops or None,
                              constrained=not args.unconstrained, decoder=args.decoder)
    kg = reasoner.graph
    questions = load_questions(args.questions, args.question_format)
    check_topics_fit(kg, questions, f"questions in {args.questions}")
    if not args.link:  # linking is scored on the topics alone
        check_answered(questions, f"questions in {args.questions}")
    if args.link:
        from kgdistill.reasoner import evaluate_linking

        given, _ = reasoner.evaluate(questions, with_teacher=False, with_ceiling=False, progress=True)
        metrics, rows = evaluate_linking(reasoner, questions, progress=True)
        metrics["given_topic_hits@1"] = given["hits@1"]
        metrics["given_topic_ms_per_question"] = given["ms_per_question"]
    else:
        metrics, rows = reasoner.evaluate(questions, with_teacher=not args.no_teacher, progress=True)
    metrics["questions_file"] = str(Path(args.questions).resolve())
    metrics["precision"] = args.precision
    metrics["hops"] = {"max": reasoner.max_hops, "exact": reasoner.exact_hops}
    metrics["graph"] = resolve_graph_location(args.graph)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "metrics.json", metrics)
    write_atomic(out / "predictions.jsonl", lambda p: write_jsonl(rows, p))
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{len(questions):,} questions from {args.questions}")
        print(summary_line(metrics, "student, linked topics" if args.link else "student"))
        if args.link:
            acc = metrics["linking_accuracy"]
            print(f"linking: the marked topic chosen for {100 * acc:.2f}% of the "
                  f"{metrics['questions_with_marked_topic_in_graph']:,} questions whose marked topic is in the graph"
                  if acc is not None else "linking: no marked topic is in the graph")
            print(f"  among the first 3 candidates: {100 * (metrics['linking_top3'] or 0):.2f}%; "
                  f"{metrics['linking_ms_per_question_lexical']:.3f} ms/question for the label scan, "
                  f"{metrics['linking_ms_per_question']:.2f} with the student's rescoring")
            print(f"  Hits@1 with the given topics: {100 * metrics['given_topic_hits@1']:.1f}; with linked topics: "
                  f"{100 * metrics['hits@1']:.1f}")
        print(f"wrote {out / 'metrics.json'} and {out / 'predictions.jsonl'} (one line per question)")
    return 0


def cmd_serve(args) -> int:
    import ipaddress

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CLIError("the service needs FastAPI and uvicorn: pip install 'kgdistill[serve]'") from None
    from kgdistill.service import ServiceConfig, create_app, serve

    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"warning: serving on {args.host}, reachable from other machines; the service has no "
              "authentication", file=sys.stderr)
    config = ServiceConfig(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)
    title = f"kgdistill: {Path(args.run).name}"
    if args.in_process:
        app = create_app(_load_reasoner(args, beam_size=args.beam, batch_size=args.max_batch), config, title=title)
    else:  # the model in its own process; this one holds the graph for /verify, /paths, pictures
        from kgdistill.service import GraphOnly

        kg, cfg = _run_graph(args)
        spec = {"run": str(args.run), "graph": str(args.graph), "beam": args.beam, "max_batch": args.max_batch,
                "device": args.device, "precision": args.precision, "threads": args.threads}
        app = create_app(GraphOnly(kg, args.beam, cfg.student.base_model or "small (built)"), config,
                         title=title, process=spec)
    print(f"kgdistill: serving {args.run} on http://{args.host}:{args.port}/ (API docs at /docs); Ctrl-C stops",
          file=sys.stderr, flush=True)
    serve(app, args.host, args.port, log_level="info" if args.verbose else "warning")
    return 0


def cmd_mcp(args) -> int:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise CLIError("the MCP server needs the mcp package: pip install 'kgdistill[serve]'") from None
    from kgdistill.mcp_server import Loader, build_server, run_stdio

    # a wrong --run fails here, before the server starts (the full check, which imports
    # torch, runs in the loader: clients expect the handshake within seconds)
    student_dir = (Path(args.run) / "kgdistill.json").is_file()  # a run's student/, whose config.json is the LM's
    if student_dir or not (Path(args.run) / "config.json").is_file():
        raise CLIError(f"{args.run} is " + ("a student directory, not a run: give the run directory above it"
                       if student_dir else "not a run directory (no config.json); train one with 'kgdistill train'"))
    try:  # a teacher/ directory has a config.json too
        is_run = "graph" in json.loads((Path(args.run) / "config.json").read_text(encoding="utf-8"))
    except (ValueError, TypeError, OSError):
        is_run = False
    if not is_run:
        raise CLIError(f"{args.run}/config.json is not a run's configuration (a teacher/ directory?): give the run "
                       "directory, the one holding config.json, teacher/ and student/")
    from kgdistill.sparql import is_store_spec  # light: no torch

    if args.graph and not is_store_spec(args.graph) and not Path(args.graph).exists():
        raise CLIError(f"-g {args.graph}: no such file")
    args.max_batch = 64

    def load():
        reasoner = _load_reasoner(args, beam_size=args.beam, batch_size=args.max_batch)
        from kgdistill.service import prepare_linker

        prepare_linker(reasoner)  # build or read the entity index before the first call
        print(f"kgdistill: {args.run} loaded", file=sys.stderr, flush=True)
        return reasoner

    print(f"kgdistill: MCP server for {args.run} on stdio (tools: ask, verify, paths)", file=sys.stderr, flush=True)
    run_stdio(build_server(Loader(load), name=f"kgdistill-{Path(args.run).name}"))
    return 0


def cmd_demo(args) -> int:
    from kgdistill.demo import run_demo

    return run_demo(args.out, args.graph, retrain=args.retrain, echo=print)
