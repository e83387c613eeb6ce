"""The errors kgdistill raises for bad input, bad settings and unusable saved files.

Every one derives from :class:`KGDistillError`, so a caller (the command line, the
service, a test that fuzzes the readers) can tell "the input is wrong, here is why"
from a bug: anything else that escapes is a defect. Each also derives from the
builtin it refines (``ValueError``, ``KeyError``), so older ``except`` clauses keep
working.
"""
from __future__ import annotations

import os


class KGDistillError(Exception):
    """Base class: a problem with what the user gave, explained in the message."""


class KGFormatError(KGDistillError, ValueError):
    """A graph, question or run file could not be read. ``str()`` gives ``file:line: why``."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class PathSyntaxError(KGDistillError, ValueError):
    """A path's text could not be parsed."""


class UnknownNameError(KGDistillError, KeyError):
    """An entity or relation name is not in the graph."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class ConfigError(KGDistillError, ValueError):
    """A setting is out of range or of the wrong type."""


class ArgumentTypeError(KGDistillError, TypeError):
    """A Python API call got a value of the wrong kind (e.g. one string where a list of
    questions was expected): the message says what was expected."""


class RunError(KGDistillError, ValueError):
    """A run directory that cannot be used as asked."""


class VocabularyError(KGDistillError, ValueError):
    """A model and a graph do not share the relations the model needs."""


class CheckpointError(KGDistillError, ValueError):
    """A saved model or checkpoint is missing, incomplete or corrupt."""


class TrainingError(KGDistillError, RuntimeError):
    """Training cannot go on (e.g. the loss became NaN): the message says what to change."""


def check_sequence_of(kind: type, values, call: str, name: str, expected: str) -> None:
    """Refuse, with what was expected, a ``values`` that is not a list (or tuple) of
    ``kind``: a lone string would otherwise be read letter by letter."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise ArgumentTypeError(f"{call}: {name} must be a list of {expected}, got {type(values).__name__}")
    for i, v in enumerate(values):
        if not isinstance(v, kind):
            raise ArgumentTypeError(f"{call}: {name}[{i}] must be one of the {expected}, got {type(v).__name__}")
