"""Print the results tables (markdown) from the outputs of bench_teacher.py and
bench_student.py: per dataset the teacher, the student without distillation
(alpha = 1) and the distilled student (alpha = 0.5), then the data-efficiency
ablation (alpha x share of training labels).

    python benchmarks/bench_table.py --teachers runs/bench_teacher --students runs/bench_student

Nothing is measured here; every figure comes from the JSON the benchmarks wrote
(later result files override earlier ones for the same dataset, alpha and fraction).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_teacher import DATASETS

NAMES = {"metaqa-1hop": "MetaQA 1-hop", "metaqa-2hop": "MetaQA 2-hop", "metaqa-3hop": "MetaQA 3-hop",
         "pq-2h": "PQ-2H", "pq-3h": "PQ-3H"}


def teacher_parameters(directory: Path) -> int:
    """Trainable weights of a saved teacher (``relation_text`` is a frozen buffer of
    relation-name sentence embeddings, not counted)."""
    from safetensors.torch import load_file

    return sum(v.numel() for k, v in load_file(str(directory / "model.safetensors")).items() if k != "relation_text")


def load_students(directories: list[Path]) -> tuple[dict, dict]:
    """``(k-way loss rows, rest-loss rows)`` keyed by (dataset, alpha, fraction)."""
    rows: dict[tuple[str, float, float], dict] = {}
    rest: dict[tuple[str, float, float], dict] = {}
    for directory in directories:
        for f in sorted(directory.glob("results_*.json")):
            for r in json.loads(f.read_text()):
                (rest if r.get("soft_rest") or r.get("soft_loss") == "rest" else rows)[(r["dataset"], r["alpha"], r["label_fraction"])] = r
    return rows, rest


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def print_compact(teachers: dict, students: dict) -> None:
    print("| | teacher (GNN) | student, alpha 1 | student, distilled (alpha 0.5) | student F1 | "
          "paths verified | student query ms (batched / single) |")
    print("|---|---|---|---|---|---|---|")
    for name in DATASETS:
        s1, s5 = students.get((name, 1.0, 1.0)), students.get((name, 0.5, 1.0))
        if s5 is None:
            continue
        print(f"| {NAMES[name]} | {pct(s5['teacher_hits@1'])} | {pct(s1['hits@1']) if s1 else '–'} | "
              f"{pct(s5['hits@1'])} | {pct(s5['f1'])} | {pct(s5['valid_paths_constrained'])}% | "
              f"{s5['query_ms_batched']:.1f} / {s5['query_ms_batch1']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--teachers", default=str(root / "runs" / "bench_teacher"))
    parser.add_argument("--students", default=str(root / "runs" / "bench_student"),
                        help="bench_student.py --out directories, comma-separated")
    parser.add_argument("--compact", action="store_true", help="one line per dataset (README summary)")
    args = parser.parse_args()
    teachers = json.loads((Path(args.teachers) / "results.json").read_text())
    students, rest = load_students([Path(d) for d in args.students.split(",")])
    if args.compact:
        print_compact(teachers, students)
        return
    print("| dataset | model | Hits@1 | F1 | paths verified | train time | query ms (batched / single) | parameters |")
    print("|---|---|---|---|---|---|---|---|")
    for name in DATASETS:
        t = teachers.get(name)
        s1, s5 = students.get((name, 1.0, 1.0)), students.get((name, 0.5, 1.0))
        if t is None and s1 is None and s5 is None:
            continue
        if t is not None:
            n = teacher_parameters(Path(args.teachers) / name / "teacher")
            latest = s5 or s1 or {}  # teacher re-scored with the current code in the student runs
            ms = latest.get("teacher_ms_per_question", t["predict_ms_per_question"])
            hits, f1 = latest.get("teacher_hits@1", t["hits@1"]), latest.get("teacher_f1", t["f1"])
            print(f"| {NAMES[name]} | GNN teacher | {pct(hits)} | {pct(f1)} | 100% (paths come from the graph) "
                  f"| {t['train_seconds']:.0f} s | {ms:.1f} (batched) | {n / 1e6:.2f} M |")
        for label, s in (("student, alpha 1 (no distillation)", s1), ("student, alpha 0.5 (distilled)", s5)):
            if s is None:
                continue
            print(f"| {NAMES[name]} | {label} | {pct(s['hits@1'])} | {pct(s['f1'])} | "
                  f"{pct(s['valid_paths_constrained'])}% (unconstrained {pct(s['valid_paths_unconstrained'])}%) | "
                  f"{s['train_seconds']:.0f} s ({s['epochs']} ep) | {s['query_ms_batched']:.1f} / "
                  f"{s['query_ms_batch1']:.1f} | {s['parameters'] / 1e6:.2f} M |")
    ablation = sorted({(d, f) for d, a, f in students if f < 1.0 or a == 0.0})
    if ablation:
        print("\n| dataset | training labels | alpha 1.0 | alpha 0.5 | alpha 0.0 (teacher only) |")
        print("|---|---|---|---|---|")
        for name in DATASETS:
            for frac in (1.0, 0.1):
                cells = []
                for a in (1.0, 0.5, 0.0):
                    # alpha 0 uses no labels: the same run serves every fraction
                    r = students.get((name, a, frac)) or (students.get((name, a, 1.0)) if a == 0.0 else None)
                    cells.append("–" if r is None else f"{pct(r['hits@1'])} / {pct(r['f1'])}")
                if all(c == "–" for c in cells[:2]) or not any((name, a, f) in students for a, f in
                                                                  ((1.0, frac), (0.5, frac))):
                    continue
                if not any((d == name) for d, _ in ablation):
                    continue
                print(f"| {NAMES[name]} | {frac:.0%} | " + " | ".join(cells) + " |")
    if rest:
        print("\n| dataset | training labels | alpha | soft loss over top-k only | with the 'rest' category |")
        print("|---|---|---|---|---|")
        for (name, a, frac), r in sorted(rest.items()):
            base = students.get((name, a, frac)) or (students.get((name, a, 1.0)) if a == 0.0 else None)
            print(f"| {NAMES[name]} | {frac:.0%} | {a} | "
                  f"{'–' if base is None else pct(base['hits@1']) + ' / ' + pct(base['f1'])} | "
                  f"{pct(r['hits@1'])} / {pct(r['f1'])} |")


if __name__ == "__main__":
    main()
