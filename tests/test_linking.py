"""Entity linking: the label scan, its fuzzy fallback, aliases, the cache, and linking
through the reasoner and the command line."""
import json
import numpy as np
import pytest

from kgdistill.datasets import Question
from kgdistill.graph import KnowledgeGraph
from kgdistill.linking import EntityLinker, fold, words

from .conftest import DATA, GRAPHS, need

TRIPLES = [
    ("New York", "located_in", "USA"),
    ("York", "located_in", "England"),
    ("Amélie", "directed_by", "Jean-Pierre Jeunet"),
    ("Gigi", "directed_by", "Vincente Minnelli"),
    ("Gigi", "release_year", "1958"),
    ("frederica_of_mecklenburg-strelitz", "spouse", "ernest_augustus_i_of_hanover"),
    ("Films", "directed_by", "Nobody"),
    ("Ada Lovelace", "born_in", "London"),
    ("London", "city_of", "England"),
]


@pytest.fixture
def kg():
    return KnowledgeGraph.from_triples(TRIPLES, name="linking")


def best(linker, text):
    found = linker.link(text).best
    return None if found is None else found.label


def test_fold_removes_accents_and_case():
    assert fold("Amélie") == "amelie"
    assert words("frederica_of_mecklenburg-strelitz 's couple?") == [
        "frederica", "of", "mecklenburg", "strelitz", "s", "couple"]


def test_longest_match_wins(kg):
    linker = EntityLinker.from_graph(kg)
    assert best(linker, "what is New York located in") == "New York"
    assert best(linker, "where is York") == "York"
    # "York" inside "New York" is not offered at all
    assert "York" not in [c.label for c in linker.link("what is New York located in").candidates]


def test_mention_span_points_into_the_question(kg):
    linker = EntityLinker.from_graph(kg)
    q = "who directed AMELIE?"
    c = linker.link(q).best
    assert c.label == "Amélie" and q[c.start:c.end] == "AMELIE" == c.mention


def test_underscored_names_are_found_in_text(kg):
    linker = EntityLinker.from_graph(kg)
    assert best(linker, "the nation of frederica_of_mecklenburg-strelitz 's couple ?") == \
        "frederica_of_mecklenburg-strelitz"
    assert best(linker, "who married Frederica of Mecklenburg-Strelitz") == "frederica_of_mecklenburg-strelitz"


def test_question_words_lose_to_names(kg):
    linker = EntityLinker.from_graph(kg)
    # "Films" is an entity here, but a word that frames questions
    assert best(linker, "which films did Vincente Minnelli direct") == "Vincente Minnelli"


def test_fit_context_learns_framing_words():
    """"screened" is an entity here and a longer name than "gigi"; only the training
    questions tell that it frames questions ("when was X screened")."""
    kg = KnowledgeGraph.from_triples([("Gigi", "release_year", "1958"), ("Screened", "release_year", "2001")],
                                     name="context")
    linker = EntityLinker.from_graph(kg)
    assert best(linker, "when was gigi screened") == "Screened"  # without context: the longer name
    linker.fit_context([Question(str(i), f"when was {t} screened", [t], []) for i, t in
                        enumerate(["Paris", "Rome", "Oslo"])])
    assert linker.context["screened"] == 1.0 and linker.context["when"] == 1.0 and "paris" not in linker.context
    assert best(linker, "when was gigi screened") == "Gigi"


def test_fuzzy_fallback_for_misspellings(kg):
    linker = EntityLinker.from_graph(kg)
    c = linker.link("where was Ada Lovelce born").best
    assert c.label == "Ada Lovelace" and c.method == "fuzzy"
    assert linker.link("tell me something nice").best is None


@pytest.mark.parametrize("cutoff", [100.0, 88.0, 60.0, 1e-300, 0.0])
def test_fuzzy_length_window_finds_what_the_whole_bucket_finds(cutoff):
    """The fuzzy fallback compares an n-gram only with names whose length can reach
    the cutoff; the candidates (entities, mentions, scores, order) must be those of
    comparing it with every name of its bucket, ties included."""
    import random

    from rapidfuzz import fuzz, process

    from kgdistill.linking import _words_with_spans

    rng = random.Random(int(cutoff) + (cutoff == 1e-300))
    letters = "abcdefgh"  # few letters: many near and equal ratios, so ties occur
    labels = sorted({" ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))
                               for _ in range(rng.randint(1, 3))) for _ in range(400)})
    kg = KnowledgeGraph.from_triples([(x, "r", labels[0]) for x in labels], name="fuzzy")
    linker = EntityLinker.from_graph(kg, fuzzy_cutoff=cutoff)

    def reference(question):
        toks, spans = _words_with_spans(question)
        out = []
        for n in range(min(len(toks), 8), 0, -1):
            # names of n - 1, n, n + 1 words, in that order (ties keep it)
            members = [i for m in (n - 1, n, n + 1) for i, name in enumerate(linker.names) if name.count(" ") + 1 == m]
            names = [linker.names[i] for i in members]
            for a in range(len(toks) - n + 1):
                gram = toks[a:a + n]
                if linker._commonness(gram) >= 0.5 or len(" ".join(gram)) < 4 or not names:
                    continue
                for _, ratio, j in process.extract(" ".join(gram), names, scorer=fuzz.ratio,
                                                   score_cutoff=cutoff, limit=3):
                    for ent, _ in linker.name_entities[members[j]]:
                        out.append((ent, spans[a][0], spans[a + n - 1][1],
                                    round(linker._score(gram, int(linker.degrees[ent])) - (100 - ratio) / 10, 9)))
        return out

    checked = 0
    for _ in range(60):
        label = rng.choice(labels)
        chars = list(label)
        for _ in range(rng.randint(0, 2)):
            chars[rng.randrange(len(chars))] = rng.choice(letters)
        question = "what is " + "".join(chars)
        toks, spans = _words_with_spans(question)
        got = [(c.entity, c.start, c.end, round(c.score, 9)) for c in linker._fuzzy(question, toks, spans)]
        want = reference(question)
        assert got == want, question
        checked += bool(want)
    assert checked > (5 if cutoff == 100 else 30)


def test_entities_sharing_a_label_are_all_candidates():
    kg = KnowledgeGraph(["film/gigi-1958", "film/gigi-1949", "Minnelli", "1958", "1949"],
                        ["directed_by", "release_year"],
                        np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([2, 3, 4]),
                        entity_labels=["Gigi", "Gigi", "Minnelli", "1958", "1949"])
    found = EntityLinker.from_graph(kg).link("who directed Gigi").candidates
    assert [c.key for c in found] == ["film/gigi-1958", "film/gigi-1949"]  # more edges first


def test_aliases_from_skos_altlabel(tmp_path):
    from kgdistill.readers import load_graph

    ttl = tmp_path / "g.ttl"
    ttl.write_text("""@prefix e: <http://e.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
e:us rdfs:label "United States" ; skos:altLabel "USA", "the States"@en, "Etats-Unis"@fr .
e:dc rdfs:label "Washington, D.C." ; e:capital_of e:us .
""")
    kg = load_graph(ttl)
    assert kg.num_triples == 1  # aliases are names, not edges
    linker = EntityLinker.from_graph(kg)
    c = linker.link("what is the capital of the USA").best
    assert c.key == "http://e.org/us" and c.alias == "USA" and c.label == "United States"
    assert best(linker, "Etats-Unis capital") != "United States"  # a French alias is not indexed


def test_cache_is_reused_and_a_damaged_one_rebuilt(kg, tmp_path):
    first = EntityLinker.cached(kg, tmp_path, context=lambda: [Question("1", "where is Paris", ["Paris"], [])])
    files = list(tmp_path.glob("linker-*.json"))
    assert len(files) == 1 and first.context["where"] == 1.0
    data = json.loads(files[0].read_text())
    assert data["names"] == first.names  # plain JSON data, nothing executable

    def no_context():
        raise AssertionError("the cached index must not be rebuilt")

    again = EntityLinker.cached(kg, tmp_path, context=no_context)
    assert again.names == first.names and again.context == first.context
    assert best(again, "where is York") == "York"
    for damage in ("not json", json.dumps({**data, "entities": [[[10**6, None]]] * len(data["names"])}),
                   json.dumps({**data, "version": -1})):
        files[0].write_text(damage)
        rebuilt = EntityLinker.cached(kg, tmp_path)
        assert best(rebuilt, "where is York") == "York"
        assert json.loads(files[0].read_text())["names"] == first.names  # and saved again
    other = KnowledgeGraph.from_triples(TRIPLES[:2], name="other")
    EntityLinker.cached(other, tmp_path)
    assert len(list(tmp_path.glob("linker-*.json"))) == 2  # another graph, another index


def test_metaqa_labels_link_marked_topics(metaqa_kg):
    """On real MetaQA validation questions (marks removed) the label scan alone finds
    the marked topic for nearly all; the reasoner's student rescoring is measured by
    ``evaluate --link`` (benchmarks/RESULTS.md)."""
    from kgdistill.datasets import load_questions

    linker = EntityLinker.from_graph(metaqa_kg)
    linker.fit_context(load_questions(need(DATA / "metaqa" / "1-hop" / "qa_train.txt"))[:3000])
    questions = load_questions(DATA / "metaqa" / "2-hop" / "qa_valid.txt")[:400]
    ok = n = 0
    for q in questions:
        if metaqa_kg.entity_id(q.topic_entities[0]) is None:
            continue
        n += 1
        ok += best(linker, q.text) == q.topic_entities[0]
    assert n > 390 and ok / n >= 0.99


def test_query_without_topic_links_it(world_run, capsys):
    from kgdistill.cli import main

    assert main(["query", "--run", str(world_run), "--json", "Where was Ada Lovelace born?"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["linking"]["entity"] == "Ada Lovelace" and res["topic_entities"] == ["Ada Lovelace"]
    assert res["linking"]["mention"] == "Ada Lovelace"
    assert res["answers"] and res["answers"][0]["path"].startswith("Ada Lovelace -> ")
    assert main(["query", "--run", str(world_run), "Where was Ada Lovelce born?"]) == 0
    out = capsys.readouterr().out
    assert "linked 'Ada Lovelce' -> Ada Lovelace" in out
    assert main(["query", "--run", str(world_run), "qwertyuiop zxcvbnm"]) == 1
    assert "no entity of the graph is named in the question" in capsys.readouterr().out
    assert len(list(world_run.glob("linker-*.json"))) == 1  # cached in the run


def test_evaluate_link_on_world(world_run, tmp_path, capsys):
    from kgdistill.cli import main

    out = tmp_path / "ev"
    assert main(["evaluate", "--run", str(world_run), "--questions", str(GRAPHS / "world_valid.jsonl"),
                 "--link", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["linking_accuracy"] >= 0.95, m
    assert abs(m["hits@1"] - m["given_topic_hits@1"]) <= 0.05
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert all("linking" in r and "linked_correctly" in r for r in rows)
    assert "linking: the marked topic chosen for" in capsys.readouterr().out


def test_names_that_differ_only_by_case_follow_the_question():
    """MetaQA has the director `Petter Næss` and the tag `petter næss`: the name written
    as in the question wins (the first linker tied them and took the busier one)."""
    kg = KnowledgeGraph.from_triples([("Elling", "directed_by", "Petter Næss"), ("Mozart", "directed_by", "Petter Næss"),
                                      ("Elling", "has_tags", "petter næss")], name="case")
    linker = EntityLinker.from_graph(kg)
    assert best(linker, "which films can be described by petter næss") == "petter næss"
    assert best(linker, "which films did Petter Næss direct") == "Petter Næss"


def test_a_capitalised_title_beats_a_common_word_label():
    """"who was behind the camera for Ripe": `camera` (a tag) is a longer label than
    `Ripe`, but the user capitalised the title as the graph writes it."""
    kg = KnowledgeGraph.from_triples([("Ripe", "directed_by", "Mo Ogrodnik"), ("Jaws", "has_tags", "camera")],
                                     name="camera")
    assert best(EntityLinker.from_graph(kg), "who was behind the camera for Ripe") == "Ripe"


def test_linked_batch_is_decoded_in_one_pass(world_run):
    """``ask_linked`` decodes a batch's near-ties (to choose the topic) and the questions
    whose topic the label scan settles alone in the same decoder calls: one call for
    the batch instead of two, and the answers of the two-pass way (link, then answer),
    up to float rounding."""
    from kgdistill.reasoner import Reasoner

    reasoner = Reasoner.from_run(world_run)
    rows = [json.loads(x) for x in (GRAPHS / "world_valid.jsonl").read_text().splitlines()]
    texts = [r["question"] for r in rows] + ["Where was Ada Lovelace born?", "qwertyuiop zxcvbnm",
                                            "Is Paris in France?", "Where was Apple founded, in France or in USA?"]
    calls: list[int] = []  # prompts per decoder call
    decode = reasoner.decoder.decode
    reasoner.decoder.decode = lambda *a, **k: calls.append(len(a[1])) or decode(*a, **k)
    links = reasoner.link(texts)
    near_ties = [i for i, r in enumerate(links) if r.best is not None and r.best.decoded is not None]
    settled = [i for i, r in enumerate(links) if r.best is not None and r.best.decoded is None]
    assert near_ties and settled, (len(near_ties), len(settled))  # the batch has both kinds
    two_pass = reasoner.ask_linked(texts, links=links)
    two_calls, calls[:] = list(calls), []
    one_pass = reasoner.ask_linked(texts)
    assert sum(calls) == sum(two_calls)  # the same prompts...
    assert len(calls) == -(-sum(calls) // reasoner.batch_size) < len(two_calls), (calls, two_calls)  # ...in fewer calls
    for a, b in zip(two_pass, one_pass):
        assert a.linking["entity"] == b.linking["entity"] and a.note == b.note
        assert [(x.entity, x.path, x.verified) for x in a.answers] == [(x.entity, x.path, x.verified) for x in b.answers]
        assert all(abs(x.score - y.score) < 1e-5 for x, y in zip(a.answers, b.answers))
