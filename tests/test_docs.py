"""The project's records: benchmarks/RESULTS.md and README.md must not repeat a section.

A section pasted twice (an edit that replaced every match of a heading instead of one)
reads as a second, independent measurement in another session's record."""
from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def repeated_sections(text: str, min_chars: int = 300) -> list[tuple[str, list[int]]]:
    """``(heading, line numbers)`` of every Markdown section (a ``#`` heading and the text
    up to the next heading) whose heading and text occur more than once, for sections of
    at least ``min_chars`` characters."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if re.match(r"#{1,6} ", line)] + [len(lines)]
    seen: dict[str, list[int]] = collections.defaultdict(list)
    for a, b in zip(starts, starts[1:]):
        body = "\n".join(lines[a:b]).strip()
        if len(body) >= min_chars:
            seen[body].append(a + 1)
    return [(body.split("\n", 1)[0], at) for body, at in seen.items() if len(at) > 1]


def test_repeated_sections_finds_a_pasted_section_and_nothing_else():
    section = "### Defect fixed\n\n" + "what was fixed, and how. " * 20
    once = f"## One\n\n{section}\n\n## Two\n\nother text\n"
    assert repeated_sections(once) == []
    twice = f"## One\n\n{section}\n\n## Two\n\n{section}\n"
    assert repeated_sections(twice) == [("### Defect fixed", [3, 9])]


@pytest.mark.parametrize("name", ["benchmarks/RESULTS.md", "README.md"])
def test_the_records_repeat_no_section(name):
    assert repeated_sections((ROOT / name).read_text(encoding="utf-8")) == []
