"""benchmarks/reword.py: re-worded validation questions with our own templates.

Checks on the real MetaQA and PathQuestion files (skipped without ../shared/datasets):
every question type seen in the data has enough eval and augment wordings, the two sets
are disjoint, no wording is one of the dataset's own templates, and a re-worded file
reads back with the same topics and answers in the same order, deterministically.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT, need

SCRIPT = ROOT / "benchmarks" / "reword.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("reword", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reword", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


R = _load_script()


@pytest.fixture(scope="module")
def files():
    need(DATA / "metaqa" / "kb.txt")
    need(DATA / "pathquestion" / "PQ-3H" / "valid.txt")
    return R.question_files(DATA)


@pytest.fixture(scope="module")
def spec():
    return R.load_templates()


@pytest.fixture(scope="module")
def maps(files):
    """The cached template -> path maps (derived again, with 20 votes per template,
    only if the cache does not fit these training files)."""
    maps, _ = R.type_maps(files, R.metaqa_kb(DATA), per_template=20)
    return maps


@pytest.fixture(scope="module")
def forbidden(files):
    return R.dataset_templates(files)


def _types(qfile, maps, split):
    return {t for t in (maps.type_of(qfile, line) for line in R.read_lines(qfile.path(split))) if t}


def test_types_are_the_expected_paths(files, maps):
    counts = {f.name: len(_types(f, maps, "valid")) for f in files}
    assert counts["metaqa-2hop"] == 21 and counts["metaqa-3hop"] == 15
    assert counts["metaqa-1hop"] >= 12 and counts["pq-2h"] >= 30 and counts["pq-3h"] >= 90
    assert maps.type_of(files[0], "who directed [Heat]\tMichael Mann") == "directed_by"
    assert maps.type_of(files[1], "who co-starred with [Tom Hanks]\tx") == "~starred_actors -> starred_actors"
    assert R.pq_type("q ?\ta(a/)\tx#spouse#y#gender#male#<end>#male") == "spouse -> gender"


def test_derivation_agrees_with_the_cache(files, maps):
    """The method (majority of best-F1 paths over training questions) gives the cached
    map again on a sample of 10 questions per template (1- and 2-hop: about a second)."""
    sample = [f for f in files if f.name in ("metaqa-1hop", "metaqa-2hop")]
    derived = R.build_type_maps(sample, R.metaqa_kb(DATA), per_template=10)
    for qfile in sample:
        assert derived.metaqa[qfile.name] == maps.metaqa[qfile.name]


def test_every_type_has_four_wordings_per_set(files, maps, spec):
    for qfile in files:
        types = _types(qfile, maps, "valid") | _types(qfile, maps, "train")
        assert types
        for path in types:
            for which in R.REQUIRED_SETS + (("eval2", "eval3", "augment2", "eval4") if qfile.kind == "metaqa" else ()):
                found = {R.normalise(w) for w in R.wordings(spec, qfile.kind, path, which)}
                assert len(found) >= 4, (qfile.name, path, which, found)


def test_eval_and_augment_share_no_wording(spec, files, maps):
    for kind in ("metaqa", "pathquestion"):
        types = set().union(*(_types(f, maps, s) for f in files if f.kind == kind for s in R.SPLITS))
        sets = {which: {R.normalise(w) for t in types for w in R.wordings(spec, kind, t, which)}
                for which in R.SETS}
        assert not sets["eval"] & sets["augment"]
        assert not sets["eval2"] & (sets["eval"] | sets["augment"])
        assert not sets["eval3"] & (sets["eval"] | sets["augment"] | sets["eval2"])
        assert not (sets["augment2"] | sets["eval4"]) & (sets["eval"] | sets["augment"] | sets["eval2"] | sets["eval3"])
        assert not sets["augment2"] & sets["eval4"]


def test_no_wording_is_a_dataset_template(spec, files, maps, forbidden):
    problems = []
    for qfile in files:
        types = _types(qfile, maps, "valid") | _types(qfile, maps, "train")
        problems += R.check_templates(spec, qfile.kind, types, forbidden[qfile.kind])
    assert problems == []


def test_composed_wordings_read_cleanly(spec, files, maps):
    """A source phrase that starts with an article inside a frame that has one read
    "list the the films ..." (found in the first draft of the longer augment set)."""
    for qfile in files:
        for which in R.SETS:
            for t in _types(qfile, maps, "valid") | _types(qfile, maps, "train"):
                for w in R.wordings(spec, qfile.kind, t, which):
                    assert " the the " not in f" {w.lower()} ", (t, which, w)


def test_a_dataset_template_is_refused(spec, forbidden):
    bad = copy.deepcopy(spec)
    bad["metaqa"]["types"]["release_year"]["eval"].append("The movie {X} -- when was it released?")
    bad["pathquestion"]["compose"]["finals"]["gender"]["augment"].append("{P} 's sex ?")
    meta = R.check_templates(bad, "metaqa", ["release_year"], forbidden["metaqa"])
    pq = R.check_templates(bad, "pathquestion", ["parents -> gender"], forbidden["pathquestion"])
    assert any("dataset template" in p for p in meta) and any("dataset template" in p for p in pq)
    bad["metaqa"]["types"]["release_year"]["augment"].append("In which year did {X} come out?")
    assert any("both" in p for p in R.check_templates(bad, "metaqa", ["release_year"], set()))
    for inside, outside in [("could you say in which year did {X} come out", "in which year did {X} come out"),
                            ("{X} came out", "{X} came out when")]:  # augment around eval, eval around augment
        near = copy.deepcopy(spec)
        near["metaqa"]["types"]["release_year"]["augment"].append(inside)
        assert outside in near["metaqa"]["types"]["release_year"]["eval"]
        assert any(inside.replace("{X}", "xtopicx") in p and "contain one another" in p
                   for p in R.check_templates(near, "metaqa", ["release_year"], set()))


def _reword(qfile, maps, spec, tmp_path: Path, seed=0, limit=None):
    lines = R.read_lines(qfile.valid)[:limit]
    written, report = R.reword_lines(qfile, lines, maps, spec, "eval", seed)
    original = tmp_path / f"{qfile.name}-{seed}-original.txt"
    reworded = tmp_path / f"{qfile.name}-{seed}-reworded.txt"
    original.write_text("".join(line + "\n" for line in lines
                                if maps.type_of(qfile, line) is not None), encoding="utf-8")
    reworded.write_text("".join(line + "\n" for line in written), encoding="utf-8")
    return original, reworded, report


@pytest.mark.parametrize("name,limit", [("metaqa-1hop", None), ("metaqa-2hop", 300), ("metaqa-3hop", 300),
                                        ("pq-2h", None), ("pq-3h", None)])
def test_reworded_file_reads_back(files, maps, spec, tmp_path, name, limit):
    from kgdistill.datasets import load_questions

    qfile = next(f for f in files if f.name == name)
    original, reworded, report = _reword(qfile, maps, spec, tmp_path, limit=limit)
    before, after = load_questions(original), load_questions(reworded)
    assert report.written == len(after) == len(before) and report.no_template == 0
    assert report.no_type <= 5
    for old, new in zip(before, after):
        assert new.topic_entities == old.topic_entities and new.answers == old.answers
        assert R.normalise(new.text) != R.normalise(old.text)
        if qfile.kind == "pathquestion":
            assert str(new.gold_path) == str(old.gold_path)
            assert old.topic_entities[0] in new.text  # the underscored topic, as PQ writes it


def test_wordings_are_spread_evenly(files, maps, spec):
    qfile = next(f for f in files if f.name == "metaqa-1hop")
    lines = [line for line in R.read_lines(qfile.valid) if maps.type_of(qfile, line) == "~starred_actors"]
    written, _ = R.reword_lines(qfile, lines, maps, spec, "eval", 0)
    used = Counter(R.metaqa_template(line) for line in written)
    assert len(used) == len(R.wordings(spec, "metaqa", "~starred_actors", "eval"))
    assert max(used.values()) - min(used.values()) <= 1


def test_deterministic_for_a_seed(files, maps, spec):
    qfile = next(f for f in files if f.name == "pq-3h")
    lines = R.read_lines(qfile.valid)
    first, _ = R.reword_lines(qfile, lines, maps, spec, "eval", 0)
    again, _ = R.reword_lines(qfile, lines, maps, spec, "eval", 0)
    other, _ = R.reword_lines(qfile, lines, maps, spec, "eval", 1)
    assert first == again and first != other


def test_second_validation_set_stays_apart(spec):
    """eval2 is held to what eval is held to: no wording shared with another set, no
    augment wording around or inside one of its wordings, and enough wordings when it
    is the set to be written (PathQuestion has none)."""
    assert R.check_templates(spec, "metaqa", ["directed_by"], set(), sets=("eval", "augment", "eval2")) == []
    shared = copy.deepcopy(spec)
    shared["metaqa"]["types"]["directed_by"]["eval2"].append("who made {X}")  # an eval wording
    assert any("both the eval and the eval2 set" in p for p in R.check_templates(shared, "metaqa", ["directed_by"], set()))
    around = copy.deepcopy(spec)
    around["metaqa"]["types"]["directed_by"]["augment"].append("so who called the shots on {X}")  # around an eval2 wording
    assert any("eval2 wording 'who called the shots on xtopicx' contain one another" in p
               for p in R.check_templates(around, "metaqa", ["directed_by"], set()))
    composed = copy.deepcopy(spec)
    composed["metaqa"]["compose"]["targets"]["directed_by"]["augment"].append("who were the directors of the {F}")
    composed["metaqa"]["compose"]["sources"]["~starred_actors"]["augment"].append("films that {X} acted in")
    assert any("in both the augment and the eval2 set" in p
               for p in R.check_templates(composed, "metaqa", ["~starred_actors -> directed_by"], set()))
    reordered = copy.deepcopy(spec)  # eval2 had two of these: "{X} was released in what year"
    reordered["metaqa"]["types"]["release_year"]["augment"].append("{X} first released when was")
    assert any("'when was xtopicx first released' have the same words in another order" in p
               for p in R.check_templates(reordered, "metaqa", ["release_year"], set()))
    assert any("0 distinct eval2 wordings" in p
               for p in R.check_templates(spec, "pathquestion", ["parents -> gender"], set(), sets=("eval2",)))
    assert R.check_templates(spec, "pathquestion", ["parents -> gender"], set()) == []


def test_command_line_second_validation_set(tmp_path, files, capsys):
    args = ["--data", str(DATA), "--out", str(tmp_path), "--set", "eval2"]
    assert R.main(args + ["--only", "metaqa-1hop"]) == 0
    first = (tmp_path / "metaqa-1hop-valid-reworded2.txt").read_text(encoding="utf-8").splitlines()
    eval1 = tmp_path / "eval1"
    assert R.main(["--data", str(DATA), "--out", str(eval1), "--only", "metaqa-1hop"]) == 0
    other = (eval1 / "metaqa-1hop-valid-reworded.txt").read_text(encoding="utf-8").splitlines()
    assert len(first) == len(other) > 900 and sum(a != b for a, b in zip(first, other)) > 0.9 * len(first)
    capsys.readouterr()
    assert R.main(args + ["--only", "pq-2h"]) == 1  # PathQuestion has no eval2 wordings
    assert "distinct eval2 wordings" in capsys.readouterr().err
    assert R.main(args + ["--split", "train", "--only", "metaqa-1hop"]) == 2  # validation wordings on training files
    third = tmp_path / "eval3"  # the third set: its own file, other wordings than either
    assert R.main(["--data", str(DATA), "--out", str(third), "--set", "eval3", "--only", "metaqa-1hop"]) == 0
    lines = (third / "metaqa-1hop-valid-reworded3.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(first) and sum(a != b and a != c for a, b, c in zip(lines, first, other)) > 0.9 * len(lines)
    assert R.main(["--data", str(DATA), "--out", str(third), "--set", "eval3", "--split", "train"]) == 2


def test_command_line(tmp_path, files, capsys):
    args = ["--data", str(DATA), "--out", str(tmp_path), "--only", "metaqa-1hop", "pq-2h"]
    assert R.main(args) == 0
    out = capsys.readouterr().out
    assert "metaqa-1hop-valid-reworded.txt: " in out and "pq-2h-valid-reworded.txt: " in out
    assert "templates used" in out
    first = (tmp_path / "pq-2h-valid-reworded.txt").read_bytes()
    assert R.main(args) == 0
    assert (tmp_path / "pq-2h-valid-reworded.txt").read_bytes() == first
    assert R.main(["--data", str(DATA), "--out", str(tmp_path), "--split", "train"]) == 2  # eval on train: refused


def test_command_line_refuses_a_dataset_template(tmp_path, files, spec, capsys):
    bad = copy.deepcopy(spec)
    bad["metaqa"]["types"]["directed_by"]["eval"].append("Who directed {X}?")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    out = tmp_path / "out"
    assert R.main(["--data", str(DATA), "--out", str(out), "--only", "metaqa-1hop", "--templates", str(path)]) == 1
    assert "'Who directed {X}?' is a dataset template" in capsys.readouterr().err
    assert not out.exists()


def test_combined_training_file(tmp_path, files):
    """--combined: the originals then their re-wordings, every record labelled, ids distinct."""
    from kgdistill.datasets import load_questions

    args = ["--data", str(DATA), "--out", str(tmp_path), "--only", "pq-2h", "--set", "augment", "--split", "train"]
    assert R.main(args + ["--combined"]) == 0
    both = load_questions(tmp_path / "pq-2h-train-combined.jsonl", format="jsonl")
    half = len(both) // 2
    assert len(both) == 2 * half and half > 1000
    assert len({q.id for q in both}) == len(both)
    for old, new in zip(both[:half], both[half:]):
        assert new.id == old.id + ":reworded" and new.text != old.text
        assert (new.answers, new.topic_entities, new.gold_path) == (old.answers, old.topic_entities, old.gold_path)
        assert new.answers and new.gold_path is not None
    assert R.main(["--data", str(DATA), "--out", str(tmp_path), "--only", "pq-2h", "--combined"]) == 2  # eval set


def test_second_training_set(tmp_path, spec):
    """augment2 (written blind on 2026-12-07) writes its own combined file beside
    augment's, with other wordings and ids, and is held apart from every validation set
    as augment is: a wording around an eval4 wording is refused."""
    from kgdistill.datasets import load_questions

    args = ["--data", str(DATA), "--out", str(tmp_path), "--only", "metaqa-1hop", "--split", "train", "--combined"]
    assert R.main(args + ["--set", "augment"]) == 0 and R.main(args + ["--set", "augment2"]) == 0
    one = load_questions(tmp_path / "metaqa-1hop-train-combined.jsonl", format="jsonl")
    two = load_questions(tmp_path / "metaqa-1hop-train-combined-augment2.jsonl", format="jsonl")
    half = len(one) // 2
    assert len(two) == len(one) > 10_000 and [q.text for q in one[:half]] == [q.text for q in two[:half]]
    assert all(b.id == a.id.replace(":reworded", ":reworded-augment2") for a, b in zip(one[half:], two[half:]))
    assert not {q.text for q in one[half:]} & {q.text for q in two[half:]}  # the sets share no wording
    assert all(a.gold_path == b.gold_path and a.answers == b.answers for a, b in zip(one, two))
    assert (tmp_path / "metaqa-1hop-train-reworded-augment2.txt").exists()
    around = copy.deepcopy(spec)
    fourth = around["metaqa"]["types"]["directed_by"]["eval4"][0]
    around["metaqa"]["types"]["directed_by"]["augment2"].append("so " + fourth)
    assert any("augment2 wording" in p and "eval4 wording" in p and "contain one another" in p
               for p in R.check_templates(around, "metaqa", ["directed_by"], set()))
    assert R.main(["--data", str(DATA), "--out", str(tmp_path), "--set", "eval4", "--split", "train"]) == 2
