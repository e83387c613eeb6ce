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
from kgdistill.io import read_json, write_dir_atomic, write_json_atomic

WEIGHT_FILES = ("model.safetensors", "adapter/adapter_model.safetensors")
"""The weight files of a saved student (the second only for prompt-learning modes)."""


def _student_dir(run: Path) -> Path:
    d = run / "student"
    if not (d / "kgdistill.json").is_file() or not (d / "model.safetensors").is_file():
        raise RunError(f"{run}: no trained student (expected {d}/kgdistill.json and model.safetensors); "
                       "average the run directories that `kgdistill train` wrote")
    return d


def _adaptation(meta: dict) -> str:
    """A saved student's adaptation for averaging: LoRA is merged into the weights on
    save, so a LoRA student averages like a fully fine-tuned one."""
    mode = meta.get("adaptation", "full")
    return "full" if mode == "lora" else mode


def _check_same(dirs: Sequence[Path]) -> None:
    """Refuse students whose path vocabulary, prompt format, tokenizer, architecture or
    adapter differ."""
    first = dirs[0]
    meta0 = read_json(first / "kgdistill.json", RunError)
    cfg0 = read_json(first / "config.json", RunError)
    for d in dirs[1:]:
        meta = read_json(d / "kgdistill.json", RunError)
        if meta.get("relations") != meta0.get("relations"):
            a, b = set(meta0.get("relations") or []), set(meta.get("relations") or [])
            only = sorted(a ^ b)[:3]
            raise RunError(f"{d.parent} and {first.parent}: the students know different relations "
                           f"({len(a)} and {len(b)}; in one only: {', '.join(only) or 'the same set, in another order'}); "
                           "a box that met new relations cannot be averaged with one that did not")
        if meta.get("serializer") != meta0.get("serializer"):
            raise RunError(f"{d.parent} and {first.parent}: the students were trained on different prompts "
                           f"(serializer {meta.get('serializer')} and {meta0.get('serializer')})")
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
            shown = "; ".join(f"{k}: {cfg0.get(k)!r} and {cfg.get(k)!r}" for k in diff[:3])
            raise RunError(f"{d.parent} and {first.parent}: the students' architectures differ "
                           f"(student/config.json {shown})")
        if (d / "adapter").is_dir() != (first / "adapter").is_dir() or _adaptation(meta) != _adaptation(meta0):
            raise RunError(f"{d.parent} and {first.parent}: different adaptation modes "
                           f"({meta.get('adaptation', 'full')} and {meta0.get('adaptation', 'full')})")


def _hop_settings(runs: Sequence[Path], dirs: Sequence[Path], echo: Callable[[str], None]) -> tuple[dict, dict]:
    """The averaged run's ``config.json`` and student metadata: the last run's, except
    that students trained for different hop counts give the largest, decoded with the
    hop count free (the student ends each path itself)."""
    config = read_json(runs[-1] / "config.json", RunError) if (runs[-1] / "config.json").is_file() else None
    metas = [read_json(d / "kgdistill.json", RunError) for d in dirs]
    meta = dict(metas[-1])
    hops = [m.get("hops") for m in metas]
    longest = [m.get("longest_path") for m in metas]
    meta["longest_path"] = max(longest) if all(isinstance(x, int) for x in longest) else None
    if len(set(map(str, hops))) > 1 and all(isinstance(h, int) for h in hops):
        meta["hops"] = max(hops)
        echo(f"the students were trained for {sorted(set(hops))} hops: the average decodes paths of 1 to "
             f"{max(hops)} hops and ends each path itself")
        if config is not None:
            config.update(hops=max(hops), exact_hops=False)
    return config, meta


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

    Students trained for different hop counts give a run of the largest that learns
    the hop count. The run is built beside ``out`` and renamed into place; an ``out``
    written by an earlier average is replaced, any other existing directory refused.

    Raises:
        RunError: fewer than two runs or one given twice, a run without a trained
            student, students that differ in tokenizer, relations, prompts,
            architecture, adaptation or tensors, bad weights, or an ``out`` that is one
            of ``runs``, inside one, or another existing directory.
    """
    import math

    from safetensors.torch import save_file

    runs = [Path(r) for r in runs]
    out = Path(out)
    if len(runs) < 2:
        raise RunError("give at least two runs to average")
    resolved = [r.resolve() for r in runs]
    if len(set(resolved)) < len(resolved):
        raise RunError("a run is given twice; to give one run more weight, use --weights")
    if out.resolve() in resolved or any(r in out.resolve().parents for r in resolved):
        raise RunError(f"{out}: the output must be a new directory, not one of the averaged runs or inside one")
    if out.exists() and any(out.iterdir()) and not _is_average(out):
        raise RunError(f"{out} exists and is not the output of an earlier `kgdistill average`: "
                       "give a new directory (nothing was written)")
    weights = [1.0] * len(runs) if weights is None else [float(w) for w in weights]
    if len(weights) != len(runs) or any(not (w > 0 and math.isfinite(w)) for w in weights):
        raise RunError(f"--weights needs one positive number per run ({len(runs)}), got {weights}")
    weights = [w / sum(weights) for w in weights]
    dirs = [_student_dir(r) for r in runs]
    _check_same(dirs)
    config, meta = _hop_settings(runs, dirs, echo)
    sources = [{"run": str(r), "weight": w} for r, w in zip(resolved, weights)]

    def write(tmp: Path) -> None:  # the whole run is built beside ``out``, then renamed into place
        shutil.copytree(dirs[-1], tmp / "student", ignore=shutil.ignore_patterns("*.safetensors", "metrics.json"))
        for name in WEIGHT_FILES:
            files = [d / name for d in dirs]
            if not files[0].is_file():
                continue
            echo(f"averaging {name} of {len(files)} students")
            save_file(average_state_dicts(files, weights), str(tmp / "student" / name), metadata={"format": "pt"})
        (tmp / "student" / "kgdistill.json").write_text(json.dumps({**meta, "averaged_from": sources}, indent=2))
        (tmp / "student" / "metrics.json").write_text(json.dumps({"curve": [], "averaged_from": sources}, indent=2))
        if config is not None:
            write_json_atomic(tmp / "config.json", config)
        if (runs[-1] / "teacher").is_dir():
            shutil.copytree(runs[-1] / "teacher", tmp / "teacher")
        write_json_atomic(tmp / "metrics.json", {"averaged_from": sources})

    write_dir_atomic(out, write)
    return out


def _is_average(run: Path) -> bool:
    """Whether ``run`` was written by :func:`average_runs` (its metrics name the sources)."""
    try:
        return isinstance(m := read_json(run / "metrics.json", RunError), dict) and "averaged_from" in m
    except RunError:
        return False
