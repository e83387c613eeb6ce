"""benchmarks/bench_compression.py: its "top path as fp32" column compares with an fp32
run of the source, or says "-"; it compared a bf16-only run with itself (100%)."""
import json
import runpy
import sys

from tests.conftest import WORLD_VALID

SCRIPT = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks" / "bench_compression.py")


def bench(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", [SCRIPT, *args])
    runpy.run_path(SCRIPT, run_name="__main__")


def test_top_path_agreement_needs_an_fp32_run(world_run, tmp_path, monkeypatch, capsys):
    common = ["--run", str(world_run), "--questions", str(WORLD_VALID), "--reworded", str(WORLD_VALID),
              "--single", "2", "--warm-up", "4", "--batch-size", "16"]
    bench(monkeypatch, *common, "--precisions", "bf16", "--out", str(tmp_path / "a"))
    (row,) = json.loads((tmp_path / "a" / "rows.json").read_text())
    assert row["precision"] == "bf16" and row["original"]["top_path_as_fp32"] is None
    assert "| - / - |" in (tmp_path / "a" / "table.md").read_text()
    bench(monkeypatch, *common, "--precisions", "bf16,fp32", "--out", str(tmp_path / "b"))
    rows = json.loads((tmp_path / "b" / "rows.json").read_text())
    assert [r["precision"] for r in rows] == ["fp32", "bf16"]  # fp32 first, the reference
    assert rows[0]["original"]["top_path_as_fp32"] is None
    assert 0.8 <= rows[1]["original"]["top_path_as_fp32"] <= 1.0
    capsys.readouterr()
