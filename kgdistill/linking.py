"""Entity linking: find the topic entity of a question written without markup.

The graph's entity labels (and aliases, e.g. ``skos:altLabel``) are folded (Unicode
accents removed, case-folded, ``_`` and punctuation made word breaks) and put into an
Aho-Corasick automaton (``pyahocorasick``); a question is folded the same way and
scanned once for every label that occurs in it on word boundaries. Mentions inside a
longer mention are dropped (longest match), the rest are ranked by a lexical score:
longer mentions first, mentions made of the words that frame questions (``what``,
``films``, ``directed``, learnt from training questions with :meth:`EntityLinker.fit_context`,
else a small built-in list) last. A question without any exact match falls back to
fuzzy matching of its word n-grams against the labels (``rapidfuzz``), for misspelt
names. Several entities may share a label (films with one title): they become
separate candidates, ordered by their number of edges.

The :class:`~kgdistill.reasoner.Reasoner` then lets the student decide among the best
few candidates: the question with each candidate's mention masked is decoded from that
candidate, and the log-probability of its best graph-constrained path is added to the
lexical score (a question reads naturally only with the right span masked, and only
the right entity has the edges the question asks about).
"""
from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import logging
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kgdistill.errors import ConfigError

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+")
INDEX_VERSION = 2

# Words that frame questions rather than name things: the context prior used when no
# training questions are given (fit_context learns a better one from them).
BUILTIN_CONTEXT_WORDS = frozenset("""
a an the of in on at to for from by with about as and or but if than then so not no nor is are was were be been
being am do does did doing done have has had having will would shall should can could may might must
what which who whom whose when where why how many much that this these those there here it its itself
s t his her hers him their them they theirs my mine your yours our ours me you he she we i us one ones
all any some each every both either neither few more most other others another such same own only also very
just too again once ever never always often still yet already even up down out over under into onto off
between through during before after above below against among around behind across along within without
name names list tell give gave given show shown find found know known say said get got make made
take took taken see seen come came go went gone want like look use used work works worked call called
write wrote written writer writers direct directed director directors star starred stars starring
act acted acting actor actors actress actresses cast play played plays appear appeared appears feature
featured features featuring release released come came out premiere premiered film films movie movies
picture pictures book books story stories series show shows year years date dates time times type types
genre genres kind kinds language languages tag tags topic topics keyword keywords subject subjects person
people man men woman women thing things place places part parts people someone somebody anyone whoever
whatever whichever main same first last new old other others together also share shared sharing
""".split())


def fold(text: str) -> str:
    """Accents removed, case-folded: the form in which labels and questions are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text`` (``_`` and punctuation separate words)."""
    return _WORD.findall(fold(text))


def _words_with_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Folded words of ``text`` and each word's (start, end) in the original text."""
    if text.isascii():  # folding is lower-casing: offsets are unchanged
        toks, spans = [], []
        for m in _WORD.finditer(text.lower()):
            toks.append(m.group())
            spans.append(m.span())
        return toks, spans
    out_chars: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        f = fold(c)
        out_chars.append(f)
        origin.extend([i] * len(f))
    folded = "".join(out_chars)
    toks, spans = [], []
    for m in _WORD.finditer(folded):
        toks.append(m.group())
        spans.append((origin[m.start()], origin[m.end() - 1] + 1))
    return toks, spans


@dataclass
class LinkCandidate:
    """One entity the question may be about."""

    entity: int
    """The entity's id in the graph."""
    label: str
    key: str
    mention: str
    """The words of the question that name it."""
    start: int
    end: int
    """Character span of the mention in the question."""
    score: float
    """Lexical score (higher is better); the reasoner adds the student's path score."""
    method: str = "exact"
    """``exact`` (a label or alias occurs in the question) or ``fuzzy``."""
    alias: str | None = None
    """The alias that matched, when it was not the label."""
    path_score: float | None = None
    """Log-probability of the best constrained path from it (set by the reasoner)."""
    decoded: tuple | None = field(default=None, repr=False, compare=False)
    """``(beam size, decoded paths)`` of the student from it, when the reasoner scored
    it (reused to answer the question, so that a linked question is decoded once)."""

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("entity", "decoded")}
        return d


@dataclass
class LinkResult:
    """The chosen topic entity and the alternatives, best first."""

    question: str
    candidates: list[LinkCandidate] = field(default_factory=list)

    @property
    def best(self) -> LinkCandidate | None:
        return self.candidates[0] if self.candidates else None

    def to_dict(self, alternatives: int = 5) -> dict:
        best = self.best
        return {"entity": best.label if best else None, "key": best.key if best else None,
                "mention": best.mention if best else None, "span": [best.start, best.end] if best else None,
                "method": best.method if best else None, "score": best.score if best else None,
                "path_score": best.path_score if best else None,
                "alternatives": [c.to_dict() for c in self.candidates[1:1 + alternatives]]}


class EntityLinker:
    """Longest-match label scan with a fuzzy fallback (see the module docstring).

    Args:
        labels: entity labels in id order.
        keys: entity keys in id order (default: the labels).
        aliases: extra names per entity id.
        degrees: edges per entity (orders entities that share a label); default: none.
        min_chars: labels shorter than this (folded, without spaces) are not indexed
            unless they are all digits (years).
        fuzzy_cutoff: the least rapidfuzz ratio (0-100) a fuzzy match needs.
    """

    def __init__(self, labels: Sequence[str], keys: Sequence[str] | None = None,
                 aliases: dict[int, Sequence[str]] | None = None, degrees: np.ndarray | None = None,
                 min_chars: int = 2, fuzzy_cutoff: float = 88.0,
                 index: tuple[list[str], list[list[tuple[int, str | None]]]] | None = None) -> None:
        if not 0 <= fuzzy_cutoff <= 100:
            raise ConfigError(f"fuzzy_cutoff must be in [0, 100], got {fuzzy_cutoff}")
        self.labels = list(labels)
        self.keys = list(keys) if keys is not None else self.labels
        if len(self.keys) != len(self.labels):
            raise ConfigError(f"{len(self.keys)} keys for {len(self.labels)} labels")
        self.degrees = (np.asarray(degrees, dtype=np.int64) if degrees is not None
                        else np.zeros(len(self.labels), dtype=np.int64))
        self.fuzzy_cutoff = fuzzy_cutoff
        self.context: dict[str, float] = {}
        if index is None:  # fold every name (the part a cache saves)
            by_name: dict[str, list[tuple[int, str | None]]] = {}
            names = [(i, lab, None) for i, lab in enumerate(self.labels)]
            for i, extra in (aliases or {}).items():
                names += [(int(i), a, a) for a in extra]
            for i, name, alias in names:
                toks = words(name)
                joined = " ".join(toks)
                if not toks or (len(joined.replace(" ", "")) < min_chars and not joined.isdigit()):
                    continue
                by_name.setdefault(joined, []).append((i, alias))
            index = (list(by_name), [sorted(set(by_name[n]), key=lambda e: (-int(self.degrees[e[0]]), e[0]))
                                     for n in by_name])
        self.names, self.name_entities = index
        self._build_automaton()
        self._fuzzy_names: dict[int, tuple] | None = None

    def _build_automaton(self) -> None:
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        for n, name in enumerate(self.names):
            self.automaton.add_word(f" {name} ", n)
        self.automaton.make_automaton()

    # ------------------------------------------------------------------ building
    @classmethod
    def from_graph(cls, graph, **kwargs) -> "EntityLinker":
        """The linker of a graph backend: its labels, keys, aliases and degrees."""
        labels = graph.entity_labels_all()
        keys = getattr(graph, "entity_keys", None)
        aliases = getattr(graph, "entity_aliases", None) or {}
        degrees = graph.degree(np.arange(len(labels), dtype=np.int64)) if len(labels) else None
        return cls(labels, keys, aliases, degrees, **kwargs)

    @staticmethod
    def fingerprint(graph) -> str:
        """Identifies the graph's names (labels, keys, aliases): the cache key."""
        h = hashlib.sha1(f"kgdistill-linker-{INDEX_VERSION}".encode())
        for part in (graph.entity_labels_all(), getattr(graph, "entity_keys", None) or ()):
            h.update("\x1f".join(part).encode("utf-8", "surrogatepass"))
        aliases = getattr(graph, "entity_aliases", None) or {}
        h.update(repr(sorted((int(k), list(v)) for k, v in aliases.items())).encode())
        h.update(str(getattr(graph, "num_triples", "")).encode())
        return h.hexdigest()[:16]

    @classmethod
    def cached(cls, graph, cache_dir: str | Path | None, context=None) -> "EntityLinker":
        """The graph's linker, read from ``cache_dir`` when it holds one built for the
        same names, else built and (where the directory is writable) saved there.
        ``context``: a callable returning questions with known topics for
        :meth:`fit_context` (or ``None``), called only when the index is built."""
        def build():
            linker = cls.from_graph(graph)
            questions = context() if context is not None else None
            if questions:
                linker.fit_context(questions)
            return linker

        if cache_dir is None:
            return build()
        fingerprint = cls.fingerprint(graph)
        path = Path(cache_dir) / f"linker-{fingerprint}.json"
        if path.is_file():
            try:  # plain JSON: a cache file can hold data, never code
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") != INDEX_VERSION or data.get("fingerprint") != fingerprint:
                    raise ValueError("built for another graph or version")
                n = len(graph.entity_labels_all())
                entities = [[(int(e), a if a is None else str(a)) for e, a in ents] for ents in data["entities"]]
                if len(entities) != len(data["names"]) or any(not 0 <= e < n for ents in entities for e, _ in ents):
                    raise ValueError("entity ids out of range")
                linker = cls.from_graph(graph, index=([str(x) for x in data["names"]], entities))
                linker.context = {str(k): float(v) for k, v in data["context"].items()}
                return linker
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                # a stale or damaged cache is rebuilt, never trusted
                logger.warning("ignoring the entity index cache %s (%s)", path, exc)
        linker = build()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"version": INDEX_VERSION, "fingerprint": fingerprint, "names": linker.names,
                                       "entities": linker.name_entities, "context": linker.context}),
                           encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            logger.info("entity index not cached in %s (%s)", cache_dir, exc)
        return linker

    def fit_context(self, questions: Iterable) -> "EntityLinker":
        """Learn how often each word frames questions (occurs outside the topic
        mention) from questions with known topics (``Question`` objects)."""
        counts: dict[str, int] = {}
        n = 0
        for q in questions:
            text = q.text
            for t in sorted(q.topic_entities, key=len, reverse=True):
                for form in (t, t.replace("_", " ")):
                    text = text.replace(form, " ")
            n += 1
            for w in set(words(text)):
                counts[w] = counts.get(w, 0) + 1
        self.context = {w: c / n for w, c in counts.items()} if n else {}
        return self

    # ------------------------------------------------------------------ linking
    def _commonness(self, toks: Sequence[str]) -> float:
        """Share (0-1) of a mention's words that frame questions rather than name things:
        how often each word framed the training questions (:meth:`fit_context`), and
        at least 0.7 for a common English word."""
        ctx = self.context
        return sum(max(min(1.0, 20 * ctx.get(t, 0.0)), 0.7 * (t in BUILTIN_CONTEXT_WORDS)) for t in toks) / len(toks)

    def _score(self, toks: Sequence[str], degree: int) -> float:
        chars = sum(len(t) for t in toks)
        return math.log1p(chars) + 0.5 * math.log1p(len(toks)) - 3.0 * self._commonness(toks) \
            + 0.01 * math.log1p(degree)

    def link(self, question: str, limit: int = 10) -> LinkResult:
        """Candidate topic entities of ``question``, best first (at most ``limit``)."""
        toks, spans = _words_with_spans(question)
        result = LinkResult(question)
        if not toks:
            return result
        hay = " " + " ".join(toks) + " "
        starts, pos = {}, 1
        for i, t in enumerate(toks):
            starts[pos] = i
            pos += len(t) + 1
        found = []  # (first word, last word + 1, name index)
        for end, n in self.automaton.iter(hay):
            name = self.names[n]
            first = starts[end - len(name) - 1 + 1]
            found.append((first, first + name.count(" ") + 1, n))
        # longest match: drop mentions inside a longer one
        kept = [m for m in found if not any(o[0] <= m[0] and m[1] <= o[1] and (o[1] - o[0]) > (m[1] - m[0])
                                            for o in found)]
        cands = []
        for a, b, n in kept:
            mention_toks = toks[a:b]
            s, e = spans[a][0], spans[b - 1][1]
            for ent, alias in self.name_entities[n]:
                name = alias or self.labels[ent]
                mention = question[s:e]
                # A name written exactly as the graph writes it: a strong sign where the
                # user capitalised it, a tie-breaker between names that differ by case.
                exact = name == mention or name.replace("_", " ") == mention
                same = (1.0 if mention != mention.lower() else 0.05) if exact else 0.0
                cands.append(LinkCandidate(ent, self.labels[ent], self.keys[ent], question[s:e], s, e,
                                           self._score(mention_toks, int(self.degrees[ent])) + same, "exact",
                                           alias))
        if not cands:
            cands = self._fuzzy(question, toks, spans)
        cands.sort(key=lambda c: (-c.score, c.start, c.entity))
        seen, out = set(), []
        for c in cands:  # an entity once, at its best mention
            if c.entity not in seen:
                seen.add(c.entity)
                out.append(c)
        result.candidates = out[:limit]
        return result

    def _fuzzy_index(self) -> dict[int, tuple[list[str], list[int], list[int], list[int]]]:
        """Per word count n, the names of n - 1 to n + 1 words (a misspelling rarely
        changes the count by more than one), sorted by length: ``(names, their
        lengths, their name numbers, their places in the bucket unsorted)``. Built once (about 0.1 s for
        MetaQA's 40,000 names); :meth:`prepare` builds it ahead of the first question."""
        if self._fuzzy_names is None:
            buckets: dict[int, list[int]] = {}
            for i, name in enumerate(self.names):
                buckets.setdefault(name.count(" ") + 1, []).append(i)
            index: dict[int, tuple[list[str], list[int], list[int]]] = {}
            for n in range(1, max(buckets, default=0) + 2):
                members = [i for m in (n - 1, n, n + 1) for i in buckets.get(m, [])]
                order = sorted(range(len(members)), key=lambda k: (len(self.names[members[k]]), k))
                names = [self.names[members[k]] for k in order]
                index[n] = (names, [len(x) for x in names], [members[k] for k in order], order)
            self._fuzzy_names = index
        return self._fuzzy_names

    def prepare(self) -> "EntityLinker":
        """Build what linking builds lazily (the fuzzy fallback's index), so that the
        first misspelt question is not the one that waits for it (the service calls
        this before its first request)."""
        self._fuzzy_index()
        return self

    def _fuzzy(self, question: str, toks: list[str], spans: list[tuple[int, int]]) -> list[LinkCandidate]:
        """Word n-grams of the question matched against the labels by rapidfuzz ratio.

        Only names whose length can reach the cutoff are compared: a ratio is at most
        ``200 * min(a, b) / (a + b)`` for strings of lengths a and b, so at cutoff 88
        an 11-character n-gram is compared with the names of 9 to 14 characters, not
        all 40,000 (a misspelt MetaQA question took 50 ms, now about 10). The best
        three are the same as over the whole bucket, ties in the bucket's order."""
        from rapidfuzz import fuzz, process

        index = self._fuzzy_index()
        r = self.fuzzy_cutoff / 100
        cands = []
        for n in range(min(len(toks), 8), 0, -1):
            names, lengths, members, order = index.get(n, ([], [], [], []))
            if not names:
                continue
            for a in range(len(toks) - n + 1):
                gram = toks[a:a + n]
                if self._commonness(gram) >= 0.5:
                    continue
                text = " ".join(gram)
                if len(text) < 4:
                    continue
                size = len(text)
                lo = bisect.bisect_left(lengths, math.floor(size * r / (2 - r)) - 1)
                longest = size * (2 - r) / r if r > 1e-6 else math.inf  # a tiny cutoff: any length
                hi = bisect.bisect_right(lengths, math.ceil(longest) + 1) if longest < lengths[-1] else len(names)
                found = process.extract(text, names[lo:hi], scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff,
                                        limit=None)
                best = heapq.nsmallest(3, ((ratio, lo + j) for _, ratio, j in found), key=lambda x: (-x[0], order[x[1]]))
                for ratio, j in best:
                    s, e = spans[a][0], spans[a + n - 1][1]
                    for ent, alias in self.name_entities[members[j]]:
                        score = self._score(gram, int(self.degrees[ent])) - (100 - ratio) / 10
                        cands.append(LinkCandidate(ent, self.labels[ent], self.keys[ent], question[s:e], s, e,
                                                   score, "fuzzy", alias))
        return cands


class StoreLinker:
    """Entity linking over a triple store, which is never listed whole: the question's
    word n-grams (up to ``max_words`` words) are looked up in the store with one query
    (its folded search keys where ``kgdistill import`` wrote them, else the exact label
    in the question's, lower and title case), and the entities found are ranked exactly
    as :class:`EntityLinker` ranks them. There is no fuzzy fallback for misspellings
    here (it would need every label).

    Args:
        graph: a :class:`~kgdistill.sparql.SparqlGraph`.
        max_words: the longest mention looked up.
        min_chars: as :class:`EntityLinker`.
    """

    def __init__(self, graph, max_words: int = 8, min_chars: int = 2) -> None:
        self.graph, self.max_words, self.min_chars = graph, max_words, min_chars
        self.context: dict[str, float] = {}

    def fit_context(self, questions: Iterable) -> "StoreLinker":
        """See :meth:`EntityLinker.fit_context`."""
        self.context = EntityLinker([]).fit_context(questions).context
        return self

    def _found(self, question: str, toks: list[str], spans: list[tuple[int, int]]) -> list[str]:
        grams = [(a, b) for n in range(1, min(self.max_words, len(toks)) + 1) for a in range(len(toks) - n + 1)
                 for b in (a + n,)]
        if self.graph.has_search_keys:
            return [iri for _, iri in self.graph.search_keys([" ".join(toks[a:b]) for a, b in grams])]
        texts = set()
        for a, b in grams:
            text = question[spans[a][0]:spans[b - 1][1]]
            texts.update((text, text.lower(), text.title()))
        return [iri for _, iri in self.graph.labels_matching(sorted(texts))]

    def link(self, question: str, limit: int = 10) -> LinkResult:
        """Candidate topic entities of ``question``, best first (at most ``limit``)."""
        toks, spans = _words_with_spans(question)
        if not toks:
            return LinkResult(question)
        relations = set(self.graph.relation_keys)  # a relation's own label is no entity
        iris = sorted(set(self._found(question, toks, spans)) - relations)
        if not iris:
            return LinkResult(question)
        graph = self.graph
        ids = graph.intern_many(iris)
        aliases = graph.aliases(ids)
        local = {int(e): n for n, e in enumerate(ids.tolist())}
        sub = EntityLinker(graph.entity_labels(ids), iris, {local[e]: a for e, a in aliases.items()},
                           graph.degree(ids), min_chars=self.min_chars)
        sub.context = self.context
        result = sub.link(question, limit)
        for c in result.candidates:
            c.entity = int(ids[c.entity])
        return result
