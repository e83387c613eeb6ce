"""Bad input found by an audit of the command line (2026-12-07): each case gave a
traceback, a confusing message after all the work, or a silently wrong answer."""
import json
import logging

import pytest

from kgdistill.cli import main
from tests.conftest import GRAPHS

WORLD = str(GRAPHS / "world.ttl")
ONE = {"id": "q1", "question": "Where was Joe Biden born?", "topic_entities": ["Joe Biden"], "answers": ["Scranton"]}


def _jsonl(path, *records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_evaluate_refuses_questions_without_gold_answers(world_run, tmp_path, capsys):
    # the file without answers scored Hits@1 0.0 without a word
    bare = _jsonl(tmp_path / "bare.jsonl", {k: v for k, v in ONE.items() if k != "answers"})
    assert main(["evaluate", "--run", str(world_run), "--questions", bare, "--out", str(tmp_path / "ev"),
                 "--no-teacher"]) == 2
    err = capsys.readouterr().err
    assert "has gold answers" in err and "kgdistill query --file" in err
    assert not (tmp_path / "ev" / "metrics.json").exists()


def test_a_misspelt_field_is_named(tmp_path, caplog):
    from kgdistill.datasets import load_questions

    f = _jsonl(tmp_path / "q.jsonl", {**{k: v for k, v in ONE.items() if k != "answers"}, "answer": ["Scranton"],
                                      "template": "free-form"})
    with caplog.at_level(logging.WARNING):
        assert load_questions(f)[0].answers == []
    said = [r.getMessage() for r in caplog.records]
    assert any(f"{f}:1: field 'answer'" in m and "did you mean 'answers'" in m for m in said), said
    assert not any("template" in m for m in said)  # an extra field unlike ours is the user's business


def test_validation_questions_without_answers_are_refused(tmp_path, capsys):
    bare = _jsonl(tmp_path / "bare.jsonl", {k: v for k, v in ONE.items() if k != "answers"})
    train = _jsonl(tmp_path / "train.jsonl", ONE)
    assert main(["train", "-g", WORLD, "--train", train, "--valid", bare, "--out", str(tmp_path / "run"),
                 "--base-model", "none", "--quiet"]) == 2
    assert "validation questions" in capsys.readouterr().err
    assert main(["train", "-g", WORLD, "--train", bare, "--out", str(tmp_path / "run"), "--base-model", "none",
                 "--quiet"]) == 2  # training questions with neither answers nor gold paths
    assert "nothing to learn from" in capsys.readouterr().err


def test_evaluate_link_needs_no_answers(world_run, tmp_path):
    # linking is scored on the marked topics: refusing the file for lack of answers was wrong
    bare = _jsonl(tmp_path / "bare.jsonl", {k: v for k, v in ONE.items() if k != "answers"})
    assert main(["evaluate", "--run", str(world_run), "--questions", bare, "--out", str(tmp_path / "ev"),
                 "--link", "--no-teacher"]) == 0
    assert "given_topic_hits@1" in json.loads((tmp_path / "ev" / "metrics.json").read_text())


def test_gold_paths_of_unlabeled_questions_are_not_checked(tmp_path):
    # unlabeled questions' gold paths are thrown away: one that does not fit must not stop a run
    from kgdistill.readers import load_graph
    from kgdistill.runs import load_questions_checked

    f = _jsonl(tmp_path / "u.jsonl", {**ONE, "gold_path": "born_inn"})
    assert len(load_questions_checked(f, None, load_graph(WORLD), "unlabeled questions")) == 1
    from kgdistill.errors import KGFormatError

    with pytest.raises(KGFormatError, match="born_inn"):
        load_questions_checked(f, None, load_graph(WORLD), "training questions")


@pytest.mark.parametrize("gold, says", [
    ("Joe Biden -> born_in", "relation 'Joe Biden' is not in the graph (it is the question's topic entity"),
    ("born_inn", "relation 'born_inn' is not in the graph; did you mean born_in?"),
    ("Joe Biden -> born_in -> Wilmington", "does not hold in the graph: hop 1"),
])
def test_gold_paths_that_do_not_fit_the_graph_are_refused(tmp_path, capsys, gold, says):
    # "Joe Biden -> born_in" became the training target <r:Joe Biden><r:born_in><eop>
    f = _jsonl(tmp_path / "q.jsonl", {**ONE, "gold_path": gold})
    assert main(["serialize", "-g", WORLD, "--questions", f, "--out", str(tmp_path / "ts.jsonl")]) == 2
    err = capsys.readouterr().err
    assert says in err and "question 'q1'" in err, err
    assert main(["questions", f, "-g", WORLD]) == 2
    assert not (tmp_path / "ts.jsonl").exists()


def test_a_few_bad_gold_paths_are_dropped_with_a_warning(tmp_path, caplog):
    from kgdistill.datasets import load_questions
    from kgdistill.readers import load_graph
    from kgdistill.verify import check_gold_paths

    good = {**ONE, "gold_path": "Joe Biden -> born_in -> Scranton"}
    f = _jsonl(tmp_path / "q.jsonl", good, {**good, "id": "q2"}, {**good, "id": "q3", "gold_path": "born_inn"})
    questions = load_questions(f)
    with caplog.at_level(logging.WARNING):
        assert check_gold_paths(load_graph(WORLD), questions, f) == 1
    assert [q.gold_path is None for q in questions] == [False, False, True]
    assert "1 of 3 gold paths do not fit the graph" in caplog.text


@pytest.mark.parametrize("command, out, says", [
    (["evaluate", "--run", "RUN", "--questions", "Q"], "afile", "afile is a file; expected a directory"),
    (["serialize", "-g", WORLD, "--questions", "Q"], "nodir/ts.jsonl", "the directory 'nodir' does not exist"),
    (["serialize", "-g", WORLD, "--questions", "Q"], "outdir", "outdir is a directory; expected a file"),
    (["teacher", "dump", "-g", WORLD, "--teacher", "T", "--questions", "Q"], "nodir/d.jsonl", "'nodir' does not"),
])
def test_out_is_checked_before_any_work(tmp_path, monkeypatch, capsys, command, out, says):
    # these failed after all the work, naming a hidden temporary file ([Errno 2] ... '.ts.jsonl.14118.tmp')
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("", encoding="utf-8")
    (tmp_path / "outdir").mkdir()
    assert main([*command, "--out", out]) == 2
    err = capsys.readouterr().err
    assert says in err and ".tmp" not in err, err


def test_a_student_directory_given_as_run_is_named(world_run, capsys):
    # a 30-name warning, then "RunConfig.__init__() missing 2 required positional arguments"
    assert main(["query", "--run", str(world_run / "student"), "--topic", "Joe Biden", "where was he born"]) == 2
    err = capsys.readouterr().err
    assert "is a student directory, not a run" in err and f"--student {world_run / 'student'}" in err
    assert "RunConfig" not in err and "ignoring unknown" not in err


def test_query_refuses_a_question_and_a_file_together(world_run, capsys):
    f = str(GRAPHS / "world_valid.jsonl")
    assert main(["query", "--run", str(world_run), "where was Joe Biden born", "--file", f]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["query", "--run", str(world_run), "--file", f, "--topic", "Nobody"]) == 2
    assert "drop --topic" in capsys.readouterr().err


def test_verify_applies_topic_to_file_lines_and_refuses_an_empty_file(tmp_path, capsys):
    # `--topic "Joe Biden" --file` said "unknown entity 'born_in'"; an empty file "checked" nothing, exit 0
    rels = tmp_path / "rels.txt"
    rels.write_text('born_in\nborn_in -> city_of\nUnited States\tcity_of\n'
                    '{"path": "Joe Biden -> born_in -> Scranton", "topic": null}\n', encoding="utf-8")
    assert main(["verify", "-g", WORLD, "--topic", "Joe Biden", "--file", str(rels)]) == 1  # the third line's own topic
    out = capsys.readouterr().out
    assert "3/4 paths valid" in out and "unknown entity 'born_in'" not in out  # "topic": null stays grounded
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    assert main(["verify", "-g", WORLD, "--file", str(tmp_path / "empty.txt")]) == 2
    assert "no paths in it" in capsys.readouterr().err


def test_a_deeply_nested_teacher_dump_line_names_file_and_line(tmp_path):
    from kgdistill.errors import KGFormatError
    from kgdistill.serializer import load_teacher_dump

    dump = tmp_path / "deep.jsonl"
    dump.write_text('{"id": "a", "paths": []}\n' + "[" * 100000 + "]" * 100000 + "\n", encoding="utf-8")
    with pytest.raises(KGFormatError, match="deep.jsonl:2: invalid JSON: nested too deeply"):
        load_teacher_dump(dump)


def test_a_teacher_dump_of_other_questions_is_refused(tmp_path):
    from kgdistill.datasets import load_questions
    from kgdistill.errors import ConfigError
    from kgdistill.readers import load_graph
    from kgdistill.serializer import SerializerConfig, build_training_set

    questions = load_questions(_jsonl(tmp_path / "q.jsonl", ONE))
    dump = [{"id": "other", "paths": [{"path": "born_in", "prob": 1.0}]}]
    with pytest.raises(ConfigError, match="none of the teacher dump's 1 question ids"):
        build_training_set(load_graph(WORLD), questions, dump, SerializerConfig(), 2, 1.0, progress=False)
    assert build_training_set(load_graph(WORLD), questions, [{**dump[0], "id": "q1"}], SerializerConfig(), 2, 1.0,
                              progress=False)[0].soft


def test_mcp_names_a_student_directory_before_starting(world_run, capsys):
    pytest.importorskip("mcp")
    assert main(["mcp", "--run", str(world_run / "student")]) == 2
    assert "is a student directory, not a run" in capsys.readouterr().err


@pytest.mark.parametrize("where, extra, says", [
    ("teacher", [], "config.json is not a run's configuration (a teacher/ directory?)"),  # started, then failed every call
    ("", ["-g", "no/such/graph.ttl"], "-g no/such/graph.ttl: no such file"),  # the same
])
def test_mcp_refuses_a_teacher_directory_and_a_missing_graph_before_starting(world_run, capsys, where, extra, says):
    pytest.importorskip("mcp")
    assert main(["mcp", "--run", str(world_run / where), *extra]) == 2
    assert says in capsys.readouterr().err


def test_mcp_says_on_stderr_at_once_when_the_run_cannot_be_loaded(capsys):
    from kgdistill.errors import RunError
    from kgdistill.mcp_server import Loader

    def fail():
        raise RunError("the graph is gone")

    loader = Loader(fail)
    with pytest.raises(RunError):
        loader.get()  # every tool call reports it too
    assert "kgdistill: the run could not be loaded: the graph is gone" in capsys.readouterr().err


def test_a_bad_n_triples_line_is_named(tmp_path):
    # rdflib names only the text ("Invalid line: ."): the error gave no line number
    from kgdistill.errors import KGFormatError
    from kgdistill.readers import load_graph

    nt = tmp_path / "bad.nt"
    nt.write_text("<http://e/a> <http://e/r> <http://e/b> .\n\n<http://e/b> <http://e/r> <http://e/c> .\n.\n",
                  encoding="utf-8")
    with pytest.raises(KGFormatError, match=r"bad.nt:4: cannot parse as RDF"):
        load_graph(nt)


def test_query_prints_no_hits_at_1_for_questions_without_answers(world_run, tmp_path, capsys):
    bare = _jsonl(tmp_path / "bare.jsonl", {k: v for k, v in ONE.items() if k != "answers"},
                  {**{k: v for k, v in ONE.items() if k != "answers"}, "id": "q2"})
    assert main(["query", "--run", str(world_run), "--file", bare]) == 0
    assert "Hits@1" not in capsys.readouterr().out  # it printed "Hits@1 0.0" for questions without answers


def test_import_names_a_bad_base_iri_option(tmp_path, capsys):
    # "Invalid IRI code point ' '", without naming --base
    kb = tmp_path / "kb.txt"
    kb.write_text("a|r|b\n", encoding="utf-8")
    assert main(["import", str(kb), "--store", str(tmp_path / "s"), "--base", "not an iri"]) == 2
    err = capsys.readouterr().err
    assert "argument --base: expected an absolute IRI" in err and not (tmp_path / "s").exists()


# ---------------------------------------------------------------- the Python API (audit of 2026-12-07, second)
@pytest.fixture(scope="module")
def world_reasoner(world_run):
    from kgdistill.reasoner import Reasoner

    return Reasoner.from_run(world_run)


def test_ask_takes_one_topic_name_as_a_string(world_reasoner):
    # a string was read letter by letter: "unknown topic entity 'A'"
    got = world_reasoner.ask("Where was X born?", topics="Ada Lovelace")
    assert got.topic_entities == ["Ada Lovelace"] and got.answers[0].entity == "London"


@pytest.mark.parametrize("call, says", [
    (lambda r: r.ask(5), "ask: the question must be text, got int"),
    (lambda r: r.ask_linked("Where was Ada Lovelace born?"),  # answered the letters 'W', 'h', ... silently
     "ask_linked: texts must be a list of question texts (one question: ask), got str"),
    (lambda r: r.answer("Where was Ada Lovelace born?"), "answer: questions must be a list of Question objects"),
    (lambda r: r.answer(["Where was Ada Lovelace born?"]), "answer: questions[0] must be one of the Question objects"),
    (lambda r: r.evaluate("questions.jsonl"), "evaluate: questions must be a list of Question objects"),
])
def test_wrong_kinds_of_argument_say_what_was_expected(world_reasoner, call, says):
    from kgdistill.errors import ArgumentTypeError

    with pytest.raises(ArgumentTypeError) as err:  # was AttributeError: 'str' object has no attribute ...
        call(world_reasoner)
    assert says in str(err.value) and isinstance(err.value, TypeError)


def test_verify_relation_path_takes_a_list_of_relation_names(world_reasoner):
    from kgdistill import verify_relation_path
    from kgdistill.errors import PathSyntaxError

    g = world_reasoner.graph
    as_list = verify_relation_path(g, "Ada Lovelace", ["born_in", "city_of"])  # was AttributeError
    assert as_list == verify_relation_path(g, "Ada Lovelace", "born_in -> city_of") and as_list.valid
    with pytest.raises(PathSyntaxError, match="a relation path must be text"):
        verify_relation_path(g, "Ada Lovelace", 5)
    with pytest.raises(PathSyntaxError, match="the topic must be an entity's name"):
        verify_relation_path(g, 5, "born_in")


def test_a_topic_named_by_its_key_is_masked_like_its_label(world_reasoner):
    # the IRI was not in the question, so the student read "Joe Biden" unmasked and
    # answered United States through held_position -> office_of, marked verified
    by_label = world_reasoner.ask("Who is the spouse of Joe Biden?", ["Joe Biden"])
    by_key = world_reasoner.ask("Who is the spouse of Joe Biden?", ["http://kgdistill.org/world/Joe_Biden"])
    assert by_label.answers[0].entity == "Jill Biden"
    assert [(a.entity, a.path) for a in by_key.answers] == [(a.entity, a.path) for a in by_label.answers]


def test_verify_payload_counts_the_endpoints_it_cuts(world_reasoner):
    # the MCP tool cut the list at 50 and did not say so (the paths tool said 51)
    from kgdistill.api import verify_payload

    whole = verify_payload(world_reasoner.graph, "born_in -> city_of", "Ada Lovelace")
    cut = verify_payload(world_reasoner.graph, "born_in -> city_of", "Ada Lovelace", max_endpoints=0)
    assert whole["endpoints"] == ["United Kingdom"] and whole["num_endpoints"] == 1
    assert cut["endpoints"] == [] and cut["num_endpoints"] == 1
