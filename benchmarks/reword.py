"""Re-worded validation questions: the same topics and answers, our own wording.

    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded
    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded-aug \\
        --set augment --split train
    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded --derive
    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded --jsonl
    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded-augment \\
        --set augment --split train --combined
    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded2 --set eval2 \\
        --only metaqa-1hop metaqa-2hop metaqa-3hop --jsonl
    .venv/bin/python benchmarks/reword.py --data ../shared/datasets --out runs/reworded3 --set eval3 \\
        --only metaqa-1hop metaqa-2hop metaqa-3hop --jsonl

A model that memorised MetaQA's or PathQuestion's question templates may fail on a
user's own wording. This script writes copies of the validation files (MetaQA 1/2/3-hop,
PQ-2H, PQ-3H) in which every question keeps its topic entity and its answers (and, for
PathQuestion, its gold path) but is worded with templates that the dataset never uses.
The files have the originals' formats, so every kgdistill command reads them.

JSONL twins (``--jsonl``)
    MetaQA's format has no place for a gold path, so relation-path accuracy cannot be
    measured on it. With ``--jsonl`` each written ``<name>-<split>-reworded.txt`` gets a
    twin ``<name>-<split>-reworded.jsonl`` in kgdistill's JSONL format, and the same
    questions in their ORIGINAL wording go to ``<name>-<split>.jsonl`` (e.g.
    ``metaqa-2hop-valid.jsonl``), so that ``kgdistill evaluate --questions FILE.jsonl``
    reports ``relation_path_accuracy`` for both on the same footing. One record per
    written question, in file order: ``id`` ``<name>-<split>:<line number in the source
    file>`` (the same in both twins), ``question`` and ``topic_entities`` as kgdistill's
    reader of the source format gives them (MetaQA: the topic's brackets removed),
    ``answers``, and ``gold_path`` = the question's type as a relation path in arrow
    form, in the direction kgdistill's predictions are written (``written_by ->
    ~written_by``: ``~`` is a hop against the triple's direction), so a correct top
    path equals it. For PathQuestion that is the relations of the line's gold grounded
    path. Questions left out of the re-worded file (below) are left out of both twins
    and counted in the printed report; every twin is read back with kgdistill's JSONL
    reader and must give the records written.

Where the wordings come from
    ``benchmarks/reword_templates.json`` holds wordings written by hand for this project
    (they are not taken from, or guessed from, any held-out data). A question's *type* is
    its relation path. PathQuestion's type is the relations of the gold path in each line.
    MetaQA gives no paths: the dataset's own template of a question (its text with the
    topic replaced by ``{X}``) is mapped to the majority relation path that
    ``kgdistill.serializer.best_f1_paths`` finds from the topic to the answers over the
    TRAINING file's questions of that template. That map is derived once (``--derive``,
    about a minute) into ``benchmarks/reword_types.json`` with the digests of the
    training files it came from; a run whose training files differ derives it again in
    memory. MetaQA 1-hop types and the three "co-worker" 2-hop types have whole-question
    templates; the other MetaQA paths are composed from a film noun phrase (how the films
    are reached from the topic) and a frame (what is asked about them). PathQuestion
    questions are composed from one phrase per person relation (spouse, parents,
    children), chained hop by hop from the topic, inside a frame for the last relation.

Keeping validation honest
    Training sets (``augment``; ``augment2``, MetaQA only) generate extra training
    questions; validation sets (``eval``; ``eval2``, ``eval3``, ``eval4``, MetaQA only;
    ``--set evalN`` writes ``<name>-valid-rewordedN.txt``) are never used to train. How
    and when each set was written, and what of it has been read, is in the template
    file's ``about`` entry and benchmarks/RESULTS.md: a set whose errors were read no
    longer says how a model meets wordings it has never seen, which is why there are
    four. ``--set augment2 --split train [--combined]`` writes
    ``<name>-train-reworded-augment2.txt`` (``-combined-augment2.jsonl``). The script
    refuses to run when a type seen in the data has fewer than four wordings in
    ``eval``, ``augment`` or the set being written, when two sets share a wording or the
    same words in another order, when a training wording contains a validation wording
    or is contained in one, or when a wording normalises (case, punctuation, film/movie)
    to one of the dataset's own templates; it also refuses every validation set on
    training files. Template choice per question is a seeded ``random.Random`` that
    cycles through a shuffled deck of its type's wordings, so the wordings are spread
    evenly and a seed always gives the same files. A question whose template has no
    derived type, or whose type has no wordings, is left out and counted.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

TEMPLATES = Path(__file__).with_name("reword_templates.json")
TYPES_CACHE = Path(__file__).with_name("reword_types.json")
SETS = ("eval", "augment", "eval2", "eval3", "augment2", "eval4")
REQUIRED_SETS = ("eval", "augment")  # every entry has both; the others only where they were written
EVAL_SETS = ("eval", "eval2", "eval3", "eval4")  # validation-only sets: the training sets stay apart from each
TRAIN_SETS = ("augment", "augment2")  # wordings for training files
SPLITS = ("valid", "train")
MIN_WORDINGS = 4
PLACEHOLDER = "{X}"
_BRACKET = re.compile(r"\[[^\[\]]+\]")


# ---------------------------------------------------------------------- files
@dataclass(frozen=True)
class QuestionFile:
    """One dataset's question files.

    Attributes:
        name: output name stem, e.g. ``metaqa-2hop``.
        kind: ``metaqa`` or ``pathquestion``.
        train, valid: the question files.
        hops: longest relation path of its questions.
    """

    name: str
    kind: str
    train: Path
    valid: Path
    hops: int

    def path(self, split: str) -> Path:
        return self.train if split == "train" else self.valid


def question_files(data: Path) -> list[QuestionFile]:
    """MetaQA 1/2/3-hop and PQ-2H/PQ-3H under the datasets folder ``data``."""
    files = [QuestionFile(f"metaqa-{h}hop", "metaqa", data / "metaqa" / f"{h}-hop" / "qa_train.txt",
                          data / "metaqa" / f"{h}-hop" / "qa_valid.txt", h) for h in (1, 2, 3)]
    files += [QuestionFile(f"pq-{h}h", "pathquestion", data / "pathquestion" / f"PQ-{h}H" / "train.txt",
                           data / "pathquestion" / f"PQ-{h}H" / "valid.txt", h) for h in (2, 3)]
    return files


def metaqa_kb(data: Path) -> Path:
    return data / "metaqa" / "kb.txt"


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a question file (as kgdistill's readers skip blank ones)."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------- dataset templates
def metaqa_template(line: str) -> str:
    """The dataset template of a MetaQA line: its question with ``[topic]`` as ``{X}``."""
    return _BRACKET.sub(PLACEHOLDER, line.split("\t")[0], count=1)


def metaqa_topic(line: str) -> str:
    """The bracketed topic of a MetaQA line, brackets included, exactly as written."""
    m = _BRACKET.search(line.split("\t")[0])
    if m is None:
        raise ValueError(f"no [topic] in MetaQA line {line[:80]!r}")
    return m.group(0)


def pq_fields(line: str) -> tuple[str, str, str]:
    """``(question, answer field, path field)`` of a PathQuestion line."""
    question, answers, path = line.split("\t")
    return question, answers, path


def pq_topic(line: str) -> str:
    return pq_fields(line)[2].split("#")[0].strip()


def pq_type(line: str) -> str:
    """The relations of a PathQuestion line's gold path, e.g. ``spouse -> gender``."""
    tokens = [t.strip() for t in pq_fields(line)[2].split("#")]
    if "<end>" in tokens:
        tokens = tokens[:tokens.index("<end>")]
    return " -> ".join(tokens[1::2])


def pq_template(line: str) -> str:
    """The dataset template of a PathQuestion line: the topic token replaced by ``{X}``."""
    return pq_fields(line)[0].replace(pq_topic(line), PLACEHOLDER)


def dataset_template(kind: str, line: str) -> str:
    return metaqa_template(line) if kind == "metaqa" else pq_template(line)


_SYNONYMS = {"film": "movie", "films": "movies"}


def normalise(template: str) -> str:
    """A template reduced to lower-case words (punctuation and ``'s`` spacing ignored,
    film = movie), the topic as ``xtopicx``: equal forms are trivial variants."""
    text = template.replace(PLACEHOLDER, " xtopicx ").lower()
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_SYNONYMS.get(w, w) for w in words)


# ---------------------------------------------------------------------- our templates
def load_templates(path: Path = TEMPLATES) -> dict:
    """The template data file (see its ``about`` entry)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _relations(path: str) -> list[str]:
    return [r.strip() for r in path.split("->")] if path.strip() else []


def _join(relations: Sequence[str]) -> str:
    return " -> ".join(relations)


def metaqa_wordings(spec: dict, path: str, which: str) -> list[str]:
    """MetaQA wordings of relation path ``path`` in set ``which``: its whole-question
    templates if it has any, else every (film source, frame) composition that spells the
    path; ``[]`` when neither exists."""
    meta = spec["metaqa"]
    if path in meta["types"]:
        return list(dict.fromkeys(meta["types"][path].get(which, [])))
    rels = _relations(path)
    out: list[str] = []
    for source, phrases in meta["compose"]["sources"].items():
        head = _relations(source)
        if rels[:len(head)] != head or len(rels) - len(head) > 1:
            continue
        target = _join(rels[len(head):])
        frames = meta["compose"]["targets"].get(target)
        if frames is None:
            continue
        out += [frame.replace("{F}", phrase) for frame in frames.get(which, []) for phrase in phrases.get(which, [])]
    return list(dict.fromkeys(out))


def pq_wordings(spec: dict, path: str, which: str) -> list[str]:
    """PathQuestion wordings of ``path`` in set ``which``: for each chain style, the
    topic wrapped hop by hop in the style's phrase for each relation but the last, put
    into each frame of the last relation; ``[]`` when a relation has no phrase."""
    pq = spec["pathquestion"]["compose"]
    rels = _relations(path)
    if not rels or rels[-1] not in pq["finals"]:
        return []
    out: list[str] = []
    for style in pq["chains"].get(which, []):
        person = PLACEHOLDER
        for rel in rels[:-1]:
            if rel not in style:
                break
            person = style[rel].replace("{P}", person)
        else:
            out += [frame.replace("{P}", person) for frame in pq["finals"][rels[-1]].get(which, [])]
    return list(dict.fromkeys(out))


def wordings(spec: dict, kind: str, path: str, which: str) -> list[str]:
    """The wordings (``{X}`` = topic) of a question type in one set, duplicates removed."""
    if which not in SETS:
        raise ValueError(f"unknown template set {which!r}; choose from {SETS}")
    return metaqa_wordings(spec, path, which) if kind == "metaqa" else pq_wordings(spec, path, which)


# ---------------------------------------------------------------------- question types
def derive_metaqa_types(graph, lines: Sequence[str], questions: Sequence, max_hops: int,
                        per_template: int) -> tuple[dict[str, str], dict[str, float]]:
    """Map each dataset template of a MetaQA training file to its majority relation path.

    For up to ``per_template`` questions of each template (file order), the relation
    paths from the topic whose endpoints best match the answers (by F1) vote, a tie of
    ``k`` paths giving each ``1/k``. Returns ``(template -> path, template -> share of
    the votes won by that path)``; a template whose questions reach no answer is absent.
    """
    from kgdistill.serializer import best_f1_paths

    by_template: dict[str, list] = defaultdict(list)
    for line, question in zip(lines, questions):
        group = by_template[metaqa_template(line)]
        if len(group) < per_template:
            group.append(question)
    types, shares = {}, {}
    for template, group in by_template.items():
        votes: Counter = Counter()
        for question in group:
            paths, _ = best_f1_paths(graph, question, max_hops, 10)
            for path in paths:
                votes[str(path)] += 1 / len(paths)
        if votes:
            # most votes first, then the shorter path, then by text: deterministic
            path, won = min(votes.items(), key=lambda kv: (-kv[1], len(_relations(kv[0])), kv[0]))
            types[template], shares[template] = path, won / sum(votes.values())
    return types, shares


@dataclass
class TypeMaps:
    """MetaQA template -> relation path (and the share of votes it won), per MetaQA
    question file name."""

    metaqa: dict[str, dict[str, str]] = field(default_factory=dict)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)

    def type_of(self, qfile: QuestionFile, line: str) -> str | None:
        """The type of a line of ``qfile`` (``None``: its template has no derived type)."""
        if qfile.kind == "pathquestion":
            return pq_type(line)
        return self.metaqa[qfile.name].get(metaqa_template(line))


def build_type_maps(files: Iterable[QuestionFile], kb: Path, per_template: int = 0) -> TypeMaps:
    """Derive the template -> path maps of every MetaQA file from its TRAINING questions
    (``per_template`` questions per template vote; 0: all of them)."""
    from kgdistill.datasets import load_questions
    from kgdistill.readers import load_graph

    maps = TypeMaps()
    graph = None
    for qfile in files:
        if qfile.kind != "metaqa":
            continue
        graph = graph or load_graph(kb)
        lines = read_lines(qfile.train)
        questions = load_questions(qfile.train, format="metaqa")
        if len(lines) != len(questions):
            raise ValueError(f"{qfile.train}: {len(lines)} lines but {len(questions)} questions")
        maps.metaqa[qfile.name], maps.shares[qfile.name] = derive_metaqa_types(
            graph, lines, questions, qfile.hops, per_template or len(lines))
    return maps


def file_digest(path: Path) -> str:
    """A short SHA-256 of a file: the cache of derived types names its sources by it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def save_type_maps(maps: TypeMaps, files: Iterable[QuestionFile], per_template: int,
                   path: Path = TYPES_CACHE) -> None:
    """Write the derived maps with the digests of the training files they came from
    (entries of other files already in the cache are kept)."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["files"] if Path(path).exists() else {}
    for qfile in files:
        if qfile.name in maps.metaqa:
            entries[qfile.name] = {
                "train_sha256": file_digest(qfile.train),
                "types": dict(sorted(maps.metaqa[qfile.name].items())),
                "vote_shares": {t: round(s, 3) for t, s in sorted(maps.shares[qfile.name].items())}}
    doc = {"about": "MetaQA dataset template -> majority relation path, derived from the TRAINING files by "
                    "'benchmarks/reword.py --derive' (kgdistill.serializer.best_f1_paths votes).",
           "per_template": per_template or "all", "files": entries}
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_type_maps(files: Iterable[QuestionFile], path: Path = TYPES_CACHE) -> TypeMaps | None:
    """The cached maps of every MetaQA file in ``files``, or ``None`` when the cache is
    missing or was derived from other training files."""
    if not Path(path).exists():
        return None
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["files"]
    maps = TypeMaps()
    for qfile in files:
        if qfile.kind != "metaqa":
            continue
        entry = entries.get(qfile.name)
        if entry is None or entry["train_sha256"] != file_digest(qfile.train):
            return None
        maps.metaqa[qfile.name], maps.shares[qfile.name] = entry["types"], entry["vote_shares"]
    return maps


def type_maps(files: Sequence[QuestionFile], kb: Path, per_template: int = 0, derive: bool = False,
              cache: Path = TYPES_CACHE) -> tuple[TypeMaps, bool]:
    """The MetaQA type maps: cached unless ``derive`` or the cache does not fit the
    training files, else derived (and written to the cache when ``derive``). Returns the
    maps and whether they came from the cache."""
    if not derive:
        cached = load_type_maps(files, cache)
        if cached is not None:
            return cached, True
    maps = build_type_maps(files, kb, per_template)
    if derive:
        save_type_maps(maps, files, per_template, cache)
    return maps, False


# ---------------------------------------------------------------------- checks
def dataset_templates(files: Iterable[QuestionFile]) -> dict[str, set[str]]:
    """Normalised dataset templates per kind, from the training and validation files."""
    out: dict[str, set[str]] = defaultdict(set)
    for qfile in files:
        for split in SPLITS:
            out[qfile.kind].update(normalise(dataset_template(qfile.kind, line))
                                   for line in read_lines(qfile.path(split)))
    return out


def _bag(normalised: str) -> tuple[str, ...]:
    """A normalised wording's words, sorted: "{X} was released in what year" and "what
    year was {X} released in" are one wording in another order."""
    return tuple(sorted(normalised.split()))


def check_templates(spec: dict, kind: str, types: Iterable[str], forbidden: set[str],
                    minimum: int = MIN_WORDINGS, sets: Sequence[str] = REQUIRED_SETS) -> list[str]:
    """Problems with the wordings of ``types`` (empty when all is well): fewer than
    ``minimum`` distinct wordings in one of ``sets`` (wordings equal after
    :func:`normalise` count once), a wording in two sets (or its words in another
    order), a training (augment, augment2) wording that
    contains a validation (eval, eval2, eval3, eval4) wording or is contained in one (whole words after
    :func:`normalise`: "can you tell me who directed {X}" would teach "tell me who
    directed {X}"), or a wording that normalises to a dataset template (``forbidden``,
    already normalised). Sets not in ``sets`` are checked against the others where
    they have wordings."""
    problems = []
    for path in sorted(set(types)):
        normal = {}
        for which in SETS:
            words = wordings(spec, kind, path, which)
            normal[which] = {normalise(w) for w in words}
            if which in sets and len(normal[which]) < minimum:
                problems.append(f"{kind} '{path}': {len(normal[which])} distinct {which} wordings "
                                f"(at least {minimum} needed)")
            problems += [f"{kind} '{path}': {which} wording {w!r} is a dataset template"
                         for w in words if normalise(w) in forbidden]
        for i, one in enumerate(SETS):
            for other in SETS[i + 1:]:
                problems += [f"{kind} '{path}': {w!r} is in both the {one} and the {other} set"
                             for w in sorted(normal[one] & normal[other])]
                shuffled = {_bag(w): w for w in normal[other] - normal[one]}
                problems += [f"{kind} '{path}': {one} wording {w!r} and {other} wording {shuffled[_bag(w)]!r} have "
                             "the same words in another order" for w in sorted(normal[one] - normal[other])
                             if _bag(w) in shuffled]
        for train in TRAIN_SETS:
            for held in EVAL_SETS:
                problems += [f"{kind} '{path}': {train} wording {a!r} and {held} wording {e!r} contain one another"
                             for a in sorted(normal[train] - normal[held]) for e in sorted(normal[held])
                             if f" {e} " in f" {a} " or f" {a} " in f" {e} "]
    return problems


# ---------------------------------------------------------------------- re-wording
class Chooser:
    """Picks a wording per question: a seeded shuffled deck per type, dealt in turn and
    reshuffled when used up, so a type's wordings are spread evenly."""

    def __init__(self, spec: dict, kind: str, which: str, seed: int) -> None:
        self.spec, self.kind, self.which = spec, kind, which
        self.rng = random.Random(seed)
        self.decks: dict[str, list[str]] = {}
        self.options: dict[str, list[str]] = {}

    def choose(self, path: str) -> str | None:
        """The next wording for type ``path`` (``None`` when it has none)."""
        if path not in self.options:
            self.options[path] = wordings(self.spec, self.kind, path, self.which)
        if not self.options[path]:
            return None
        deck = self.decks.setdefault(path, [])
        if not deck:
            deck.extend(self.options[path])
            self.rng.shuffle(deck)
        return deck.pop()


def reword_line(kind: str, line: str, wording: str) -> str:
    """``line`` with its question replaced by ``wording`` (topic filled in), every other
    field unchanged."""
    if kind == "metaqa":
        answers = line.split("\t")[1]
        return f"{wording.replace(PLACEHOLDER, metaqa_topic(line))}\t{answers}"
    _, answers, path = pq_fields(line)
    return f"{wording.replace(PLACEHOLDER, pq_topic(line))}\t{answers}\t{path}"


@dataclass
class FileReport:
    """What one re-worded file holds."""

    name: str
    total: int = 0            # questions given
    written: int = 0
    no_type: int = 0          # MetaQA template with no derived relation path
    no_template: int = 0      # a type without wordings in the set
    types: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    kept: list[tuple[int, str]] = field(default_factory=list)  # (index in the input, type) per written line

    @property
    def left_out(self) -> int:
        return self.no_type + self.no_template


def reword_lines(qfile: QuestionFile, lines: Sequence[str], maps: TypeMaps, spec: dict,
                 which: str, seed: int) -> tuple[list[str], FileReport]:
    """Re-word ``lines`` of ``qfile``: returns the written lines (in order, the left-out
    questions dropped) and a report."""
    chooser = Chooser(spec, qfile.kind, which, seed)
    report = FileReport(qfile.name, total=len(lines))
    out = []
    for index, line in enumerate(lines):
        path = maps.type_of(qfile, line)
        if path is None:
            report.no_type += 1
            continue
        wording = chooser.choose(path)
        if wording is None:
            report.no_template += 1
            continue
        out.append(reword_line(qfile.kind, line, wording))
        report.kept.append((index, path))
        report.types.add(path)
        report.used.add(wording)
    report.written = len(out)
    return out, report


def output_path(out: Path, qfile: QuestionFile, split: str, which: str) -> Path:
    """``DIR/<name>-<split>-reworded.txt``; ``-augment`` is added for augment wordings of
    validation files so that they never overwrite the eval ones, ``-augment2`` for the
    second training set, ``2``, ``3`` and ``4`` for the later validation sets
    (``-reworded2`` ...)."""
    suffix = {"augment": "-augment" if split == "valid" else "", "augment2": "-augment2", "eval2": "2", "eval3": "3",
              "eval4": "4"}.get(which, "")
    return out / f"{qfile.name}-{split}-reworded{suffix}.txt"


# ---------------------------------------------------------------------- JSONL twins
def jsonl_path(target: Path) -> Path:
    """The JSONL twin of a re-worded file: ``<name>-<split>-reworded[-augment|2].jsonl``."""
    return target.with_suffix(".jsonl")


def original_jsonl_path(out: Path, qfile: QuestionFile, split: str) -> Path:
    """``DIR/<name>-<split>.jsonl``: the original wording of the questions re-worded."""
    return out / f"{qfile.name}-{split}.jsonl"


def jsonl_twins(qfile: QuestionFile, split: str, source: Path, reworded: Path,
                report: FileReport) -> tuple[list, list]:
    """The questions of a re-worded file as kgdistill ``Question`` records, original
    wording and re-worded, one pair per written line in the same order.

    ``source`` is the file that was re-worded, ``reworded`` the written file and
    ``report`` what :func:`reword_lines` returned for them. Both files are read with
    kgdistill's reader of their format, so question text and topics are what every
    kgdistill command sees (MetaQA: the brackets around the topic removed). Each pair
    shares its id, ``<name>-<split>:<line number in source>``, its topics and answers,
    and its gold path: the question's type as a relation path (for PathQuestion, the
    relations of the line's gold grounded path). Raises ``ValueError`` when the files do
    not correspond line for line.
    """
    from kgdistill.datasets import Question, load_questions
    from kgdistill.paths import GroundedPath, RelationPath
    from kgdistill.readers import iter_lines

    originals = load_questions(source, format=qfile.kind)
    linenos = [n for n, _ in iter_lines(source)]
    new = load_questions(reworded, format=qfile.kind) if report.written else []
    if len(new) != len(report.kept) or len(originals) != report.total:
        raise ValueError(f"{reworded}: {len(new)} questions for {len(report.kept)} written lines, "
                         f"{source}: {len(originals)} questions for {report.total} re-worded")
    before, after = [], []
    for (index, path), now in zip(report.kept, new):
        old, gold = originals[index], RelationPath.parse(path)
        qid = f"{qfile.name}-{split}:{linenos[index]}"
        if now.topic_entities != old.topic_entities or now.answers != old.answers:
            raise ValueError(f"{qid}: the re-worded question's topics or answers differ from the original's")
        if isinstance(old.gold_path, GroundedPath) and old.gold_path.relation_path != gold:
            raise ValueError(f"{qid}: type {path!r} is not the relation path of {old.gold_path}")
        before.append(Question(qid, old.text, old.topic_entities, old.answers, gold))
        after.append(Question(qid, now.text, now.topic_entities, now.answers, gold))
    return before, after


def write_jsonl_twin(questions: Sequence, path: Path) -> None:
    """Write ``questions`` as kgdistill JSONL and read the file back with kgdistill's
    JSONL reader: every record must come back equal, gold path included (a relation
    path whose first relation is named like the topic would read as a grounded path)."""
    from kgdistill.datasets import load_questions, save_questions

    save_questions(questions, path)
    if not questions:
        return
    back = load_questions(path, format="jsonl")
    for want, got in zip(questions, back):
        if got.to_dict() != want.to_dict() or got.gold_path != want.gold_path:
            raise ValueError(f"{path}: question {want.id!r} does not read back as written "
                             f"(gold path {want.gold_path} read as {got.gold_path!r})")
    if len(back) != len(questions):
        raise ValueError(f"{path}: {len(back)} questions read back, {len(questions)} written")


# ---------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="the datasets folder")
    p.add_argument("--out", type=Path, required=True, help="folder for the re-worded files")
    p.add_argument("--set", dest="which", choices=SETS, default="eval", help="template set (default eval)")
    p.add_argument("--split", choices=SPLITS, default="valid", help="files to re-word (default valid)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--templates", type=Path, default=TEMPLATES, help=f"template file (default {TEMPLATES.name})")
    p.add_argument("--derive", action="store_true",
                   help="derive the MetaQA template -> path maps again and rewrite " + TYPES_CACHE.name)
    p.add_argument("--per-template", type=int, default=0,
                   help="when deriving: training questions per dataset template that vote (default 0: all)")
    p.add_argument("--only", nargs="*", help="file names to write (e.g. metaqa-1hop pq-2h); default all")
    p.add_argument("--combined", action="store_true",
                   help="with --set augment (or augment2) --split train: also write <name>-train-combined.jsonl "
                        "(-combined-augment2.jsonl), the training questions in their original wording followed by their re-wordings (ids "
                        "suffixed ':reworded', or ':reworded-augment2'), each with its answers and gold path: a "
                        "LABELLED training file")
    p.add_argument("--jsonl", action="store_true",
                   help="also write kgdistill JSONL twins with the question type as gold path: "
                        "<name>-<split>-reworded.jsonl and the original wording <name>-<split>.jsonl")
    return p.parse_args(argv)


def print_maps(maps: TypeMaps, cached: bool, derived_to: Path | None) -> None:
    """Say where the MetaQA maps came from and how clear their majorities were."""
    if cached:
        print(f"MetaQA template -> path maps read from {TYPES_CACHE}")
    else:
        print("MetaQA template -> path maps derived from the training files"
              + (f", written to {derived_to}" if derived_to else ""))
    for name, shares in maps.shares.items():
        weak = sum(share < 0.5 for share in shares.values())
        print(f"{name}: {len(shares)} training templates -> {len(set(maps.metaqa[name].values()))} relation "
              f"paths ({weak} templates won by under half of the votes)")


def template_problems(spec: dict, files: Sequence[QuestionFile], all_files: Sequence[QuestionFile],
                      maps: TypeMaps, split: str, which: str = "eval") -> list[str]:
    """:func:`check_templates` for the types of ``files``' ``split``, against the
    dataset templates of every file (training and validation) in ``all_files``; set
    ``which`` (the one to be written) must have enough wordings too."""
    forbidden = dataset_templates(all_files)
    problems = []
    for qfile in files:
        types = {t for t in (maps.type_of(qfile, line) for line in read_lines(qfile.path(split))) if t}
        problems += check_templates(spec, qfile.kind, types, forbidden[qfile.kind],
                                    sets=tuple(dict.fromkeys((*REQUIRED_SETS, which))))
    return list(dict.fromkeys(problems))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.combined and (args.which not in TRAIN_SETS or args.split != "train"):
        print("refusing: --combined writes labelled training files; use it with --set augment (or augment2) "
              "--split train",
              file=sys.stderr)
        return 2
    if args.which in EVAL_SETS and args.split == "train":
        print(f"refusing: {args.which} wordings are for validation only; use --set augment or augment2 for training files",
              file=sys.stderr)
        return 2
    all_files = question_files(args.data)
    unknown = sorted(set(args.only or ()) - {f.name for f in all_files})
    if unknown:
        print(f"unknown file names {unknown}; choose from {[f.name for f in all_files]}", file=sys.stderr)
        return 2
    files = [f for f in all_files if not args.only or f.name in args.only]
    spec = load_templates(args.templates)
    maps, cached = type_maps(files, metaqa_kb(args.data), args.per_template, args.derive)
    print_maps(maps, cached, TYPES_CACHE if args.derive else None)
    problems = template_problems(spec, files, all_files, maps, args.split, args.which)
    if problems:
        print("refusing: template problems\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for qfile in files:
        source = qfile.path(args.split)
        lines, report = reword_lines(qfile, read_lines(source), maps, spec, args.which, args.seed)
        target = output_path(args.out, qfile, args.split, args.which)
        target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"{target}: {report.written} written, {report.left_out} left out ({report.no_type} with no "
              f"derived type, {report.no_template} with no template), {len(report.types)} types, "
              f"{len(report.used)} templates used")
        if args.combined:
            import dataclasses

            before, after = jsonl_twins(qfile, args.split, source, target, report)
            tag = ":reworded" if args.which == "augment" else f":reworded-{args.which}"
            combined = before + [dataclasses.replace(q, id=f"{q.id}{tag}") for q in after]
            path = args.out / f"{qfile.name}-{args.split}-combined{'' if args.which == 'augment' else '-' + args.which}.jsonl"
            write_jsonl_twin(combined, path)
            print(f"{path}: {len(before)} original + {len(after)} re-worded questions with answers and gold paths")
        if args.jsonl:
            before, after = jsonl_twins(qfile, args.split, source, target, report)
            for questions, path in ((after, jsonl_path(target)),
                                    (before, original_jsonl_path(args.out, qfile, args.split))):
                write_jsonl_twin(questions, path)
                print(f"{path}: {len(questions)} questions, gold path = type ({report.left_out} of "
                      f"{report.total} left out: {report.no_type} with no derived type, "
                      f"{report.no_template} with no template)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
