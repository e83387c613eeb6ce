"""Knowledge-graph file readers: MetaQA ``s|r|o``, tab-separated triples, RDF (via
rdflib) and RoG-style question files whose per-question graphs merge into one KG.

The format is chosen from the file's extension and first line, or named explicitly
(see :data:`GRAPH_FORMATS`). Any bad input (a missing, unreadable or directory path,
bytes that are not UTF-8, a malformed line, JSON of the wrong shape or type) raises
:class:`KGFormatError` naming the file, the line where there is one, and what was
expected; no graph is returned half-loaded.

Every entity and relation name must pass :func:`kgdistill.graph.check_name`, so that it
prints and parses back in path notation: no ``->``, no surrounding whitespace or
control characters, no relation starting with ``~``. The line formats (MetaQA,
tab-separated) strip whitespace around each field; JSON names and RDF labels are not
stripped but checked (RDF labels are made one line first, see
:func:`kgdistill.rdf.graph_from_rdflib`).
"""
from __future__ import annotations

import json
import logging
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from kgdistill.errors import ConfigError, KGFormatError
from kgdistill.graph import KnowledgeGraph, check_name

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


def check_file(path: PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` once it is known to be an existing file.

    Raises:
        KGFormatError: no such file, a directory, or a path the system cannot look at.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise KGFormatError(path, None, "is a directory, expected a file")
        if not path.exists():
            raise KGFormatError(path, None, "no such file")
    except (OSError, ValueError) as err:  # a name too long, a loop of links, a NUL byte ...
        raise KGFormatError(path, None, f"cannot open the file: {getattr(err, 'strerror', None) or err}") from None
    return path


def read_bytes(path: PathLike) -> bytes:
    """The file's bytes; :class:`KGFormatError` for a missing, unreadable or directory path."""
    path = check_file(path)
    try:
        return path.read_bytes()
    except OSError as err:  # permission denied, a device, ...
        raise KGFormatError(path, None, f"cannot read the file: {err.strerror or err}") from None


def read_text_lines(path: PathLike) -> list[str]:
    """The file's lines as text (UTF-8, BOM and ``\\r`` removed).

    Raises:
        KGFormatError: missing file, directory, unreadable file, or bytes that are not
            UTF-8 (the line with the bad byte is named).
    """
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise KGFormatError(path, line, f"not valid UTF-8 (byte {data[err.start]:#04x} at offset "
                                        f"{err.start}); convert the file to UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class _TripleCollector:
    """Assigns ids while triples are read; the graph is built only at the end.

    Each new name is checked with :func:`~kgdistill.graph.check_name` as it arrives,
    so that a bad one is reported with its file and line.
    """

    def __init__(self, path: PathLike, check: bool = True) -> None:
        self.path, self.check = path, check
        self.entities: dict[str, int] = {}
        self.relations: dict[str, int] = {}
        self.h: list[int] = []
        self.r: list[int] = []
        self.t: list[int] = []

    def add(self, h: str, r: str, t: str, line: int | None) -> None:
        """Add one triple of names read at ``line``; raises :class:`KGFormatError`
        for a name that breaks the name rules."""
        self.h.append(self._id(self.entities, h, "entity", line))
        self.r.append(self._id(self.relations, r, "relation", line))
        self.t.append(self._id(self.entities, t, "entity", line))

    def _id(self, index: dict[str, int], name: str, kind: str, line: int | None) -> int:
        found = index.get(name)
        if found is None:
            problem = check_name(name, kind) if self.check else None
            if problem:
                raise KGFormatError(self.path, line, problem)
            found = index[name] = len(index)
        return found

    def build(self, name: str, entity_labels=None, relation_labels=None) -> KnowledgeGraph:
        """The graph; a structural problem :class:`KnowledgeGraph` finds (such as a
        graph too large for its triple keys) becomes a :class:`KGFormatError`."""
        try:
            return KnowledgeGraph(list(self.entities), list(self.relations),
                                  np.array(self.h, dtype=np.int64), np.array(self.r, dtype=np.int64),
                                  np.array(self.t, dtype=np.int64), entity_labels=entity_labels,
                                  relation_labels=relation_labels, name=name)
        except ValueError as err:
            raise KGFormatError(self.path, None, str(err)) from None


class GraphReader(ABC):
    """Reads one file format into a :class:`KnowledgeGraph`."""

    @abstractmethod
    def read(self, path: PathLike) -> KnowledgeGraph: ...


class DelimitedReader(GraphReader):
    """One triple a line, fields split by ``delimiter`` (``|`` for MetaQA, tab for PQ).

    Blank lines are skipped. Whitespace around each field is removed
    (``Kismet |directed_by| William Dieterle`` reads as ``Kismet``); a line without
    exactly three fields that are non-empty after that, or a name that breaks
    :func:`~kgdistill.graph.check_name` (a relation starting with ``~``, a name
    with ``->`` ...), is an error naming the file and line.
    """

    def __init__(self, delimiter: str, example: str) -> None:
        self.delimiter, self.example = delimiter, example

    def read(self, path: PathLike) -> KnowledgeGraph:
        lines = read_text_lines(path)
        col = _TripleCollector(path)
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(self.delimiter)]
            if len(parts) != 3 or not all(parts):
                raise KGFormatError(path, lineno, self._field_error(line, parts))
            col.add(*parts, lineno)
        if not col.h:
            raise KGFormatError(path, None, "no triples found")
        return col.build(Path(path).name)

    def _field_error(self, line: str, parts: list[str]) -> str:
        shown = repr(self.delimiter) if self.delimiter != "\t" else "a tab"
        empty = f", field {parts.index('') + 1} is empty" if len(parts) == 3 else ""
        return (f"expected 3 non-empty fields separated by {shown} (e.g. {self.example!r}), found "
                f"{len(parts)} field(s){empty} in {line[:120]!r}")


RDF_EXTENSIONS = {".ttl": "turtle", ".nt": "nt", ".n3": "n3", ".rdf": "xml", ".xml": "xml",
                  ".owl": "xml", ".jsonld": "json-ld", ".trig": "trig", ".nq": "nquads"}
"""File extensions read as RDF, with rdflib's format names."""


class _RDF(GraphReader):
    """RDF through rdflib: see :class:`kgdistill.rdf.RDFReader` (imported on use)."""

    def read(self, path: PathLike) -> KnowledgeGraph:
        from kgdistill.rdf import RDFReader

        return RDFReader().read(path)


def iter_rog_records(path: PathLike) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` for every JSON object of a RoG-style file.

    The file is JSONL (one object a line; blank lines skipped), one JSON list of
    objects (the line is where the object starts) or parquet (the "line" is the row,
    counted from 1).

    Raises:
        KGFormatError: unreadable file, invalid JSON, or a record that is not an object.
    """
    path = check_file(path)
    if path.suffix.lower() == ".parquet":
        yield from _parquet_records(path)
        return
    lines = read_text_lines(path)
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("["):
        items = _json_list_items(path, "\n".join(lines))
    else:
        items = ((lineno, parse_json(line, path, lineno)) for lineno, line in enumerate(lines, 1)
                 if line.strip())
    for lineno, record in items:
        if not isinstance(record, dict):
            raise KGFormatError(path, lineno, f"expected a JSON object {{...}} as a record, found "
                                              f"{json_type(record)}")
        yield lineno, record


def parse_json(text: str, path: PathLike, line: int) -> object:
    """``json.loads(text)``, with any failure a :class:`KGFormatError` at ``line``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise KGFormatError(path, line + err.lineno - 1, f"invalid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise KGFormatError(path, line, "invalid JSON: nested too deeply") from None
    except ValueError as err:  # an integer with too many digits
        raise KGFormatError(path, line, f"invalid JSON: {str(err)[:200]}") from None


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_list_items(path: Path, text: str) -> Iterator[tuple[int, object]]:
    """``(line, item)`` for the items of the JSON list that is all of ``text``; the
    line is where each item starts."""
    decoder = json.JSONDecoder()
    line, counted = 1, 0

    def line_at(i: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, i)
        counted = i
        return line

    def fail(i: int, message: str) -> KGFormatError:
        return KGFormatError(path, line_at(i), f"invalid JSON: {message}")

    pos = _JSON_SPACE.match(text, 0).end()
    if not text.startswith("[", pos):
        raise fail(pos, "expected a list '[' or one object a line")
    pos = _JSON_SPACE.match(text, pos + 1).end()
    closed = text.startswith("]", pos)
    while not closed:
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise KGFormatError(path, err.lineno, f"invalid JSON: {err.msg} (column {err.colno})") from None
        except (ValueError, RecursionError) as err:
            raise fail(pos, f"{err}"[:200]) from None
        yield line_at(pos), item
        pos = _JSON_SPACE.match(text, end).end()
        if not text.startswith((",", "]"), pos):
            raise fail(pos, "expected ',' or ']' after a list item")
        closed = text[pos] == "]"
        if not closed:
            pos = _JSON_SPACE.match(text, pos + 1).end()
    rest = _JSON_SPACE.match(text, pos + 1).end()
    if rest != len(text):
        raise fail(rest, "extra data after the list")


def _parquet_records(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise KGFormatError(path, None, "reading parquet needs pyarrow: "
                                        "pip install 'kgdistill[parquet]'") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError, ...
        raise KGFormatError(path, None, f"cannot read as parquet: {err}") from None
    yield from enumerate(rows, 1)


def json_type(value: object) -> str:
    """The JSON name of a value's type with a short preview: ``number 5``, ``null``."""
    if value is None:
        return "null"
    kind = {bool: "boolean", int: "number", float: "number", str: "string", list: "list",
            dict: "object"}.get(type(value), type(value).__name__)
    text = json.dumps(value, ensure_ascii=False, default=str) if kind != "object" else "{...}"
    return f"{kind} {text[:60]}{'...' if len(text) > 60 else ''}"


JSON_WORDS = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
              "null": "null", "object": "an object", "array": "a list"}
_PYDANTIC_KINDS = {"string_type": "string", "int_type": "integer", "float_type": "number", "bool_type": "boolean",
                   "list_type": "array", "dict_type": "object", "model_type": "object",
                   "model_attributes_type": "object", "int_parsing": "integer",
                   "int_from_float": "integer", "float_parsing": "number", "bool_parsing": "boolean"}
_PYDANTIC_BOUNDS = {"greater_than_equal": ("ge", "at least"), "greater_than": ("gt", "more than"),
                    "less_than_equal": ("le", "at most"), "less_than": ("lt", "less than")}


def validation_words(error: dict, where: str, fields: Sequence[str] = (), raw: bool = False) -> str:
    """One pydantic validation error (an item of ``ValidationError.errors()``) of the
    value at ``where`` in plain words, as MCP arguments are refused: "beam must be a
    whole number, got boolean true", not "Input should be a valid integer". Errors of
    kinds not listed here keep pydantic's message. ``fields``: the request's fields,
    named when an unknown one was sent; ``raw``: the value is text as sent (a query
    parameter), shown as it is rather than as a JSON value."""
    kind, ctx, value = error.get("type", ""), error.get("ctx") or {}, error.get("input")
    got = f"got {value}" if raw else f"got {json_type(value)}"
    if kind == "missing":
        return f"{where} is required"
    if kind == "extra_forbidden":
        known = f" (the fields are {', '.join(fields)})" if fields else ""
        return f"{where} is not a field of this request{known}"
    if kind in _PYDANTIC_KINDS:
        return f"{where} must be {JSON_WORDS[_PYDANTIC_KINDS[kind]]}, {got}"
    if kind in _PYDANTIC_BOUNDS and _PYDANTIC_BOUNDS[kind][0] in ctx:
        key, words = _PYDANTIC_BOUNDS[kind]
        return f"{where} must be {words} {ctx[key]}, {got}"
    if kind == "string_too_short" and isinstance(value, str):
        return f"{where} is empty" if not value else f"{where} needs at least {ctx.get('min_length')} characters"
    if kind == "string_too_long" and isinstance(value, str):
        return f"{where} is too long: at most {ctx.get('max_length')} characters, got {len(value):,}"
    return f"{where}: {error.get('msg', 'invalid')}"


class JSONRecord:
    """One JSON object read from ``path`` at ``line``, with field access that checks
    types and reports a :class:`KGFormatError` naming the file, the line, the field
    and what was expected.

    A field that is absent or ``null`` counts as missing.
    """

    def __init__(self, path: PathLike, line: int, data: dict) -> None:
        self.path, self.line, self.data = path, line, data

    def error(self, message: str) -> KGFormatError:
        return KGFormatError(self.path, self.line, message)

    def _missing(self, key: str) -> str:
        return f"field {key!r} is null" if key in self.data else f"record has no {key!r} field"

    def text(self, key: str, required: bool = False) -> str | None:
        """A string field with some non-blank text; ``None`` when missing and optional."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(f"{self._missing(key)} (expected a string)")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"field {key!r} must be a non-empty string, found {json_type(value)}")
        if _SURROGATE.search(value):
            raise self.error(f"field {key!r} holds an unpaired surrogate {_SURROGATE.search(value).group()!r}")
        return value

    def identifier(self, key: str = "id") -> str | None:
        """An id field: a non-empty string or an integer (made a string)."""
        value = self.data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(f"field {key!r} must be a non-empty string or an integer, found {json_type(value)}")
        return self.text(key)

    def names(self, key: str, kind: str, required: bool = False) -> list[str]:
        """A name or a list of names, each passing :func:`~kgdistill.graph.check_name`.

        Names are strings: a number, ``null``, a nested list or object in the list is
        an error, never converted.
        """
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(f"{self._missing(key)} (expected a list of {kind} names)")
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.error(f"field {key!r} must be a string or a list of strings, found {json_type(value)}")
        for i, item in enumerate(items, 1):
            if not isinstance(item, str):
                raise self.error(f"field {key!r}, item {i}: expected a string ({kind} name), found {json_type(item)}")
            problem = check_name(item, kind)
            if problem:
                raise self.error(f"field {key!r}, item {i}: {problem}")
        if required and not items:
            raise self.error(f"field {key!r} is an empty list (expected at least one {kind} name)")
        return list(items)

    def triples(self, key: str = "graph") -> list[tuple[str, str, str]]:
        """A list of ``[head, relation, tail]`` string triples (names checked later)."""
        value = self.data.get(key)
        if value is None:
            raise self.error(f"{self._missing(key)} (expected a list of [head, relation, tail] triples)")
        if not isinstance(value, list):
            raise self.error(f"field {key!r} must be a list of [head, relation, tail] triples, "
                             f"found {json_type(value)}")
        for i, triple in enumerate(value, 1):
            if not (isinstance(triple, list) and len(triple) == 3 and all(isinstance(x, str) for x in triple)):
                raise self.error(f"{key} triple {i}: expected [head, relation, tail] as three "
                                 f"strings, found {json_type(triple)}")
        return value


_SURROGATE = re.compile(r"[\ud800-\udfff]")


class RoGGraphReader(GraphReader):
    """Merges the ``graph`` field (a list of ``[h, r, t]`` strings) of every question
    record; names must pass :func:`~kgdistill.graph.check_name` as they are (JSON
    names are not stripped)."""

    def read(self, path: PathLike) -> KnowledgeGraph:
        col = _TripleCollector(path)
        for lineno, record in iter_rog_records(path):
            for h, r, t in JSONRecord(path, lineno, record).triples("graph"):
                col.add(h, r, t, lineno)
        if not col.h:
            raise KGFormatError(path, None, "no graph triples found")
        return col.build(Path(path).name)


GRAPH_FORMATS: dict[str, GraphReader] = {
    "metaqa": DelimitedReader("|", "Kismet|directed_by|William Dieterle"),
    "tsv": DelimitedReader("\t", "claudius\tparents\tnero_claudius_drusus"),
    "rdf": _RDF(),
    "rog": RoGGraphReader(),
}
"""Graph formats by name: the lookup table behind ``load_graph(format=...)``."""


def first_text_line(path: PathLike) -> tuple[int, str] | None:
    """``(line number, text)`` of the first non-blank line, reading no further; ``None``
    for a blank file. Bytes that are not UTF-8 are replaced (this only guesses).

    Raises:
        KGFormatError: missing, unreadable or directory path.
    """
    path = check_file(path)
    try:
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                line = raw.decode("utf-8", errors="replace").strip("\r\n")
                if lineno == 1:
                    line = line.removeprefix("\ufeff")
                if line.strip():
                    return lineno, line
    except OSError as err:
        raise KGFormatError(path, None, f"cannot read the file: {err.strerror or err}") from None
    return None


def detect_graph_format(path: PathLike) -> str:
    """Guess the format from the extension, then from the first non-blank line.

    Raises:
        KGFormatError: missing, unreadable, directory or empty file, or a first line
            in no known format.
    """
    path = check_file(path)
    suffix = path.suffix.lower()
    if suffix in RDF_EXTENSIONS:
        return "rdf"
    if suffix in (".jsonl", ".json", ".parquet"):
        return "rog"
    first = first_text_line(path)
    if first is None:
        raise KGFormatError(path, None, "file is empty")
    lineno, line = first
    if line.count("\t") == 2:
        return "tsv"
    if line.count("|") == 2:
        return "metaqa"
    if line.lstrip().startswith(("@prefix", "@base", "<", "PREFIX")):
        return "rdf"
    if line.lstrip().startswith(("{", "[")):
        return "rog"
    raise KGFormatError(path, lineno, "cannot tell the graph format: expected 's|r|o' (MetaQA), "
                                      "tab-separated triples, RDF or RoG JSONL; name it with --format (format= in Python)")


def load_graph(path: PathLike, format: str | None = None) -> KnowledgeGraph:
    """Load a knowledge graph file, or open a triple store (``oxigraph:DIR``,
    ``sparql+http://HOST:PORT/PATH``: a :class:`kgdistill.sparql.SparqlGraph`).

    Args:
        path: the file.
        format: one of :data:`GRAPH_FORMATS` (``metaqa``, ``tsv``, ``rdf``, ``rog``), or
            ``None`` to detect it.

    Raises:
        KGFormatError: naming the file and line of the first problem.
    """
    from kgdistill.sparql import is_store_spec, open_graph_spec

    if is_store_spec(path):  # a triple store: oxigraph:DIR or sparql+http://...
        return open_graph_spec(str(path))
    fmt = format or detect_graph_format(path)
    if fmt not in GRAPH_FORMATS:
        raise ConfigError(f"unknown graph format {fmt!r}; choose from {sorted(GRAPH_FORMATS)}")
    kg = GRAPH_FORMATS[fmt].read(path)
    logger.info("loaded %s", kg)
    return kg


def write_triples(kg: KnowledgeGraph, path: PathLike, delimiter: str = "\t") -> None:
    """Write the graph's triples (labels) one a line."""
    with open(path, "w", encoding="utf-8") as fh:
        for h, r, t in kg.triples():
            fh.write(f"{h}{delimiter}{r}{delimiter}{t}\n")


def write_jsonl(rows: Iterable, path: PathLike) -> int:
    """Write one JSON object a line (objects with ``to_dict()`` are converted);
    returns the number of lines."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row.to_dict() if hasattr(row, "to_dict") else row, ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_lines(path: PathLike) -> Iterable[tuple[int, str]]:
    """Non-blank ``(line number, line)`` pairs of a UTF-8 text file."""
    for lineno, line in enumerate(read_text_lines(path), 1):
        if line.strip():
            yield lineno, line
