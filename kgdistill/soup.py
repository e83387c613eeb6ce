"""Weight averaging of trained students (``kgdistill average``): a "model soup".

Students fine-tuned from the same pretrained model, for instance the successive
boxes of a chain of ``train --base-model RUN/student`` runs, can be averaged weight by
weight into one student that costs nothing to train and answers as fast as each of
them (Wortsman et al., 2022, "Model soups"). Measured on MetaQA (benchmarks/RESULTS.md),
the average of three successive boxes of the mixed-hop SmolLM2 student answered our
re-worded 2-hop validation questions better than any of the three.

Only students that share a tokenizer (so the same path tokens sit at the same rows),
an architecture and an adaptation mode can be averaged; anything else is refused
with the run and the tensor that differ.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Sequence

import torch

from kgdistill.errors import RunError
from kgdistill.io import read_json, write_json_atomic

WEIGHT_FILES = ("model.safetensors", "adapter/adapter_model.safetensors")
"""The weight files of a saved student (the second only for prompt-learning modes)."""


def _student_dir(run: Path) -> Path:
    d = run / "student"
    if not (d / "kgdistill.json").is_file() or not (d / "model.safetensors").is_file():
        raise RunError(f"{run}: no trained student (expected {d}/kgdistill.json and model.safetensors); "
                       "average the run directories that `kgdistill train` wrote")
    return d


def _check_same(dirs: Sequence[Path]) -> None:
    """Refuse students whose path vocabulary, tokenizer, architecture or adapter differ."""
    first = dirs[0]
    meta0 = read_json(first / "kgdistill.json", RunError)
    cfg0 = read_json(first / "config.json", RunError)
    for d in dirs[1:]:
        meta = read_json(d / "kgdistill.json", RunError)
        if meta.get("relations") != meta0.get("relations"):
            raise RunError(f"{d.parent} and {first.parent}: the students know different relations; "
                           "average only students trained on the same graph")
        for name in ("tokenizer.json", "vocab.json"):
            a, b = first / name, d / name
            if a.is_file() != b.is_file() or (a.is_file() and a.read_bytes() != b.read_bytes()):
                raise RunError(f"{d.parent} and {first.parent}: the students' tokenizers ({name}) differ, so "
                               "their token rows do not match; average only students trained from the same "
                               "base model (or one from another with --base-model RUN/student)")
        cfg = read_json(d / "config.json", RunError)
        diff = sorted(k for k in set(cfg) | set(cfg0)
                      if k not in ("_name_or_path", "transformers_version", "dtype", "torch_dtype")
                      and cfg.get(k) != cfg0.get(k))
        if diff:
            raise RunError(f"{d.parent} and {first.parent}: the students' architectures differ "
                           f"({', '.join(diff[:5])} in config.json)")
        if (d / "adapter").is_dir() != (first / "adapter").is_dir() or \
                meta.get("adaptation", "full") != meta0.get("adaptation", "full"):
            raise RunError(f"{d.parent} and {first.parent}: different adaptation modes "
                           f"({meta.get('adaptation', 'full')} and {meta0.get('adaptation', 'full')})")


def average_state_dicts(files: Sequence[Path], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """The weighted mean, tensor by tensor, of safetensors files with the same keys and
    shapes (summed in float32, stored in each tensor's own dtype)."""
    from safetensors.torch import load_file

    total = None
    for f, w in zip(files, weights):
        sd = load_file(str(f))
        if total is None:
            total = {k: v.float() * w if v.is_floating_point() else v for k, v in sd.items()}
            dtypes = {k: v.dtype for k, v in sd.items()}
            continue
        if set(sd) != set(total):
            missing = sorted(set(total) ^ set(sd))
            raise RunError(f"{f}: its tensors differ from {files[0]}'s ({missing[0]} in only one of them)")
        for k, v in sd.items():
            if v.shape != total[k].shape:
                raise RunError(f"{f}: tensor {k} has shape {tuple(v.shape)}, {files[0]} has {tuple(total[k].shape)}")
            if v.is_floating_point():
                total[k] += v.float() * w
            elif not torch.equal(v, total[k]):
                raise RunError(f"{f}: integer tensor {k} differs from {files[0]}'s and cannot be averaged")
    return {k: v.to(dtypes[k]).contiguous() for k, v in total.items()}


def average_runs(runs: Sequence[str | Path], out: str | Path, weights: Sequence[float] | None = None,
                 echo: Callable[[str], None] = print) -> Path:
    """Average the students of ``runs`` into a new run directory ``out``: the averaged
    student, plus the last run's configuration and teacher (so ``evaluate``, ``query``
    and ``serve`` take ``--run OUT`` as usual). ``weights`` (default: equal) need not
    sum to 1; they are normalised.

    Raises:
        RunError: fewer than two runs, a run without a trained student, students that
            differ in tokenizer, relations, architecture, adaptation or tensors, bad
            weights, or ``out`` being one of ``runs``.
    """
    from safetensors.torch import save_file

    runs = [Path(r) for r in runs]
    out = Path(out)
    if len(runs) < 2:
        raise RunError("give at least two runs to average")
    if out.resolve() in {r.resolve() for r in runs}:
        raise RunError(f"{out}: the output must be a new directory, not one of the averaged runs")
    weights = [1.0] * len(runs) if weights is None else [float(w) for w in weights]
    if len(weights) != len(runs) or any(not w > 0 for w in weights):
        raise RunError(f"--weights needs one positive number per run ({len(runs)}), got {weights}")
    weights = [w / sum(weights) for w in weights]
    dirs = [_student_dir(r) for r in runs]
    _check_same(dirs)
    last = runs[-1]
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "student.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(dirs[-1], tmp, ignore=shutil.ignore_patterns("*.safetensors", "metrics.json"))
    try:
        for name in WEIGHT_FILES:
            files = [d / name for d in dirs]
            if not files[0].is_file():
                continue
            echo(f"averaging {name} of {len(files)} students")
            save_file(average_state_dicts(files, weights), str(tmp / name), metadata={"format": "pt"})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    sources = [{"run": str(r.resolve()), "weight": w} for r, w in zip(runs, weights)]
    meta = read_json(tmp / "kgdistill.json", RunError)
    meta["averaged_from"] = sources
    (tmp / "kgdistill.json").write_text(json.dumps(meta, indent=2))
    (tmp / "metrics.json").write_text(json.dumps({"curve": [], "averaged_from": sources}, indent=2))
    shutil.rmtree(out / "student", ignore_errors=True)
    tmp.replace(out / "student")
    if (last / "config.json").is_file():
        shutil.copy(last / "config.json", out / "config.json")
    if (last / "teacher").is_dir() and not (out / "teacher").exists():
        shutil.copytree(last / "teacher", out / "teacher")
    write_json_atomic(out / "metrics.json", {"averaged_from": sources})
    return out
