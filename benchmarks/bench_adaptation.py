"""The prompt-learning table: one pretrained base model adapted by every mode
(full fine-tuning, LoRA, prompt tuning, prefix tuning, P-tuning v1, P-tuning v2), each
distilled from an existing run's teacher under the same time box, scored on the
validation questions and on our re-worded ones.

    .venv/bin/python benchmarks/bench_adaptation.py --datasets pq-2h,pq-3h --max-minutes 4 \\
        [--modes lora,prompt_tuning] [--alphas 0.5,1.0] [--alpha-modes lora] [--sample 2000] [--valid-sample 300] \\
        [--runs runs] [--reworded runs/reworded] [--out runs/adaptation]

For each dataset the teacher, its soft targets and the training records come from
``RUNS/remeasure-DATASET`` (a run made by ``kgdistill train --dataset DATASET``); every
cell trains only the student (``benchmarks/bench_pretrained.py``'s configuration:
path-vocabulary softmax, bf16 autocast, batch 32) for at most ``--max-minutes`` of
training, on all training records or a seeded ``--sample``. Each mode trains at its own
learning rate (``LEARNING_RATES``, from the methods' papers' ranges, not tuned here).
Alpha 1 (hard targets only, no teacher) is run for ``--alpha-modes``. Cells already done
(their ``cell.json`` exists) are read, not trained again, so an interrupted table
resumes. The table is printed as Markdown and written to ``OUT/table.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from kgdistill.configs import PRETRAINED_LR as LEARNING_RATES  # noqa: E402


def reworded_file(reworded: Path, dataset: str) -> Path | None:
    for name in (f"{dataset}-valid-reworded.jsonl", f"{dataset}-valid-reworded.txt"):
        if (reworded / name).exists():
            return reworded / name
    return None


def valid_sample(original: Path, reworded: Path | None, n: int, out: Path) -> tuple[Path, Path | None]:
    """A seeded sample of ``n`` validation questions (the original-wording JSONL of
    ``benchmarks/reword.py --jsonl``) and the same questions from the re-worded twin,
    written once into ``out`` (every cell of a dataset uses the same sample)."""
    import random

    out.mkdir(parents=True, exist_ok=True)
    files = [original] + ([reworded] if reworded is not None else [])
    written = [out / f.name for f in files]
    if not all(w.exists() for w in written):
        lines = [f.read_text(encoding="utf-8").splitlines(keepends=True) for f in files]
        if any(len(x) != len(lines[0]) for x in lines):
            raise SystemExit(f"{files}: the twins differ in length")
        keep = sorted(random.Random(0).sample(range(len(lines[0])), min(n, len(lines[0]))))
        for w, x in zip(written, lines):
            w.write_text("".join(x[i] for i in keep), encoding="utf-8")
    return written[0], (written[1] if reworded is not None else None)


def scores(m: dict) -> dict:
    return {"hits@1": m["hits@1"], "valid_path_share": m["valid_path_share"],
            "relation_path_accuracy": m.get("relation_path_accuracy"), "ms_per_question": m["ms_per_question"]}


def run_cell(dataset: str, mode: str, alpha: float, args) -> dict:
    import torch
    from bench_pretrained import pretrained_config

    from kgdistill.datasets import load_questions
    from kgdistill.io import read_json, write_json_atomic
    from kgdistill.reasoner import Reasoner
    from kgdistill.runs import train_run

    out = Path(args.out) / f"{dataset}-{mode}-a{alpha:g}"
    if (out / "cell.json").exists():
        return read_json(out / "cell.json")
    original, rw = Path(args.reworded) / f"{dataset}-valid.jsonl", reworded_file(Path(args.reworded), dataset)
    valid = None
    if args.valid_sample:
        original, rw = valid_sample(original, rw, args.valid_sample, Path(args.out) / f"{dataset}-valid-sample")
        valid = str(original)
    cfg = pretrained_config(Path(args.runs) / f"remeasure-{dataset}", out, args.base_model, mode,
                            LEARNING_RATES[mode], max_minutes=args.max_minutes, patience=args.patience,
                            alpha=alpha, sample=args.sample, valid=valid)
    t0 = time.time()
    metrics = train_run(cfg, out, progress=False, echo=lambda *a: None)
    student = read_json(out / "student" / "metrics.json")
    cell = {"dataset": dataset, "mode": mode, "alpha": alpha, "lr": LEARNING_RATES[mode],
            "trainable_parameters": student["trainable_parameters"], "parameters": student["parameters"],
            "train_minutes": student["train_seconds"] / 60, "epochs": len(student["curve"]),
            "stopped": student["stopped"], "train_records": student["train_records"], "sample": args.sample,
            "max_minutes": args.max_minutes, "valid": scores(metrics["valid"]),
            "teacher_valid": metrics["valid"]["teacher"]["hits@1"], "wall_seconds": None,
            "valid_questions": metrics["valid"]["questions"], "precision": student["training"]["precision"],
            "threads": torch.get_num_threads()}
    # the same questions with gold relation paths (MetaQA's own file has none)
    if cell["valid"]["relation_path_accuracy"] is None and original.exists():
        m, _ = Reasoner.from_run(out).evaluate(load_questions(original), with_teacher=False)
        cell["valid"]["relation_path_accuracy"] = m.get("relation_path_accuracy")
    if rw is not None:
        reasoner = Reasoner.from_run(out)
        m, _ = reasoner.evaluate(load_questions(rw), with_teacher=True)
        cell["reworded"] = scores(m) | {"file": str(rw)}
        cell["teacher_reworded"] = m["teacher"]["hits@1"]
    cell["wall_seconds"] = time.time() - t0
    write_json_atomic(out / "cell.json", cell)
    return cell


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table(cells: list[dict]) -> str:
    rows = ["| dataset | mode | alpha | trainable params | train min (epochs) | valid Hits@1 | re-worded Hits@1 "
            "| valid paths | rel.-path acc. orig / re-worded |", "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        rw = c.get("reworded", {})
        rows.append(f"| {c['dataset']} | {c['mode']} | {c['alpha']:g} | {c['trainable_parameters'] / 1e6:.2f} M "
                    f"| {c['train_minutes']:.1f} ({c['epochs']}) | {pct(c['valid']['hits@1'])} "
                    f"| {pct(rw.get('hits@1'))} | {pct(c['valid']['valid_path_share'])} "
                    f"| {pct(c['valid']['relation_path_accuracy'])} / {pct(rw.get('relation_path_accuracy'))} |")
    teachers = {c["dataset"]: (c["teacher_valid"], c.get("teacher_reworded")) for c in cells}
    for d, (v, r) in teachers.items():
        rows.append(f"| {d} | teacher | - | - | - | {pct(v)} | {pct(r)} | - | - |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="pq-2h,pq-3h,metaqa-1hop,metaqa-2hop")
    p.add_argument("--modes", default=",".join(LEARNING_RATES))
    p.add_argument("--alphas", default="0.5,1.0")
    p.add_argument("--alpha-modes", default="lora", help="modes that also run the alphas after the first")
    p.add_argument("--max-minutes", type=float, default=4.0)
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--sample", type=int, default=0, help="a seeded sample of this many training records")
    p.add_argument("--valid-sample", type=int, default=0,
                   help="validate (early stopping and scores) on a seeded sample of this many validation questions "
                        "and their re-wordings (JSONL twins of benchmarks/reword.py --jsonl; default: all)")
    p.add_argument("--base-model", default="smollm2-135m")
    p.add_argument("--runs", default="runs")
    p.add_argument("--reworded", default="runs/reworded")
    p.add_argument("--out", default="runs/adaptation")
    args = p.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    cells = []
    for dataset in args.datasets.split(","):
        for mode in args.modes.split(","):
            for alpha in alphas if mode in args.alpha_modes.split(",") else alphas[:1]:
                t0 = time.time()
                cell = run_cell(dataset, mode, alpha, args)
                cells.append(cell)
                print(f"{dataset} {mode} alpha {alpha:g}: valid {pct(cell['valid']['hits@1'])}, re-worded "
                      f"{pct(cell.get('reworded', {}).get('hits@1'))} ({time.time() - t0:.0f} s)", flush=True)
    text = table(cells)
    print(text)
    (Path(args.out) / "table.md").write_text(text + "\n")
    (Path(args.out) / "cells.json").write_text(json.dumps(cells, indent=2))


if __name__ == "__main__":
    main()
