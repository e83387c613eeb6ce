"""The compression table: a trained student's weights as trained (fp32), cast to bf16
and quantized to int8, and any smaller students given, each scored end to end (decode,
constrain, execute, verify) on original and re-worded questions.

    .venv/bin/python benchmarks/bench_compression.py --run runs/smol-mq2-lora-unlabeled \\
        --questions runs/reworded/metaqa-2hop-valid.jsonl \\
        --reworded runs/reworded/metaqa-2hop-valid-reworded.jsonl [--small runs/small-run ...] \\
        [--precisions fp32,bf16,int8] [--small-precisions fp32] [--single 32] [--out runs/compression-metaqa-2hop]

Columns: size of the student's serialized weights (``torch.save`` of its state dict in
that precision), ms/question batched (``Reasoner.evaluate``, batches of 64 or ``--batch-size``, end to
end; cold unless ``--warm-up``) and one question at a time (the first ``--single`` questions, after one warm-up),
Hits@1 and relation-path accuracy on both files, the share of decoded paths that
verify, and how often the top path equals the fp32 student's. The JSONL question files
with gold relation paths come from ``benchmarks/reword.py --jsonl``.
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import torch


def weight_bytes(model) -> int:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="the run of the student to compress")
    p.add_argument("--questions", required=True, help="original-wording questions (JSONL with gold paths)")
    p.add_argument("--reworded", required=True, help="the same questions re-worded")
    p.add_argument("--small", nargs="*", default=[], help="runs of smaller students")
    p.add_argument("--small-precisions", default="fp32",
                   help="weights the smaller students are scored in (e.g. fp32,bf16 for one cut from SmolLM2)")
    p.add_argument("--precisions", default="fp32,bf16,int8")
    p.add_argument("--single", type=int, default=32)
    p.add_argument("--out", default=None)
    p.add_argument("--max-hops", type=int, default=None,
                   help="decode paths of at most this many hops (default: the run's)")
    p.add_argument("--exact-hops", action="store_true", help="decode only paths of exactly --max-hops hops")
    p.add_argument("--batch-size", type=int, default=None,
                   help="questions decoded together in the batched figures (default: the Reasoner's, 64)")
    p.add_argument("--warm-up", type=int, default=0, metavar="N",
                   help="answer N questions (the first of the original file) in one batch before the batched timings, "
                        "so that they leave out one-time costs such as the first pass's kernel set-up (default 0: "
                        "cold, as in earlier RESULTS figures)")
    args = p.parse_args()

    from kgdistill.datasets import load_questions
    from kgdistill.readers import load_graph
    from kgdistill.reasoner import Reasoner
    from kgdistill.runs import read_run_config

    cfg = read_run_config(args.run)
    kg = load_graph(cfg.graph, cfg.graph_format)
    files = {"original": load_questions(args.questions), "reworded": load_questions(args.reworded)}
    precisions = args.precisions.split(",")
    precisions.sort(key=lambda prec: prec != "fp32")  # fp32 first: the others' top paths are compared with it
    variants = [(args.run, prec) for prec in precisions] + [(r, prec) for r in args.small
                                                            for prec in args.small_precisions.split(",")]
    rows, reference = [], {}
    hops = {k: v for k, v in (("max_hops", args.max_hops), ("exact_hops", args.exact_hops or None)) if v is not None}
    for run, prec in variants:
        reasoner = Reasoner.from_run(run, kg, **hops)
        reasoner.student.for_inference("cpu", prec)
        if args.batch_size:
            reasoner.batch_size = args.batch_size
        if args.warm_up:
            reasoner.answer(files["original"][: args.warm_up])
        row = {"run": run, "precision": prec, "bytes": weight_bytes(reasoner.student.model),
               "parameters": sum(p.numel() for p in reasoner.student.model.parameters())}
        for name, qs in files.items():
            m, preds = reasoner.evaluate(qs, with_teacher=False, with_ceiling=False)
            tops = [r["paths"][0]["path"] if r["paths"] else None for r in preds]
            if (args.run, "fp32") == (run, prec):
                reference[name] = tops
            # without an fp32 run of the source there is nothing to compare with ("-", not 100%)
            same = (sum(a == b for a, b in zip(tops, reference[name])) / len(tops)
                    if name in reference and (run, prec) != (args.run, "fp32") else None)
            row[name] = {"hits@1": m["hits@1"], "relation_path_accuracy": m.get("relation_path_accuracy"),
                         "valid_path_share": m["valid_path_share"], "ms_per_question": m["ms_per_question"],
                         "top_path_as_fp32": same}
        singles = files["original"][: args.single + 1]
        reasoner.answer(singles[:1])  # warm-up
        t0 = time.perf_counter()
        for q in singles[1:]:
            reasoner.answer([q])
        row["ms_single"] = 1000 * (time.perf_counter() - t0) / max(len(singles) - 1, 1)
        rows.append(row)
        o, r = row["original"], row["reworded"]
        print(f"{run} {prec}: {row['bytes'] / 2**20:.1f} MiB, {o['ms_per_question']:.1f} ms batched, "
              f"{row['ms_single']:.1f} ms single, Hits@1 {pct(o['hits@1'])} / {pct(r['hits@1'])}", flush=True)
    lines = ["| student | weights | size (MiB) | ms/question batched / single | Hits@1 original / re-worded "
             "| rel.-path acc. original / re-worded | valid paths | top path as fp32 (orig. / re-worded) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        o, r = row["original"], row["reworded"]
        lines.append(f"| {row['run']} ({row['parameters'] / 1e6:.1f} M) | {row['precision']} "
                     f"| {row['bytes'] / 2**20:.1f} | {o['ms_per_question']:.1f} / {row['ms_single']:.1f} "
                     f"| {pct(o['hits@1'])} / {pct(r['hits@1'])} "
                     f"| {pct(o['relation_path_accuracy'])} / {pct(r['relation_path_accuracy'])} "
                     f"| {pct(o['valid_path_share'])} | {pct(o['top_path_as_fp32'])} / {pct(r['top_path_as_fp32'])} |")
    print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "rows.json").write_text(json.dumps(rows, indent=2))
        (out / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
