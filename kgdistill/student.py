"""The LLM student: any Hugging Face causal LM that maps a prompt to a serialized path.

By default a small GPT-2-style model is built from a config (sized for 2 CPU cores)
with a BPE tokenizer trained by ``tokenizers`` on the training prompts, to which every
directed-relation token and the end-of-path token are added as single tokens. A local
checkpoint directory works too: its tokenizer gets the relation tokens added and its
embeddings are resized. The saved student is a directory that plain
``transformers.AutoModelForCausalLM.from_pretrained`` loads, plus ``kgdistill.json``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch

from kgdistill.configs import ADAPTATION_MODES, StudentConfig
from kgdistill.model_edits import fuse_gelu, keep_layers

__all__ = ["ADAPTATION_MODES", "ADAPTERS", "Student", "StudentConfig", "adapt", "train_tokenizer"]

from kgdistill.errors import CheckpointError
from kgdistill.serializer import END_OF_PATH, relation_token
from kgdistill.vocabulary import RelationVocabulary

logger = logging.getLogger(__name__)

STUDENT_META = "kgdistill.json"


def train_tokenizer(prompts: Sequence[str], path_tokens: Sequence[str], vocab_size: int):
    """A byte-level BPE tokenizer for ``prompts`` with ``path_tokens`` as single tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<pad>", "<s>", "</s>", "<unk>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(prompts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>")
    fast.add_special_tokens({"additional_special_tokens": list(path_tokens)})
    return fast


def add_path_tokens(tokenizer, path_tokens: Sequence[str]) -> list[str]:
    """Add the relation / end tokens that ``tokenizer`` lacks; returns those added (a
    kgdistill student given as a base model has most of them, trained)."""
    missing = [t for t in path_tokens if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": list(missing)}, replace_extra_special_tokens=False)
    return missing


def init_path_token_embeddings(model, tokenizer, path_tokens: Sequence[str]) -> None:
    """Start each new relation token's input embedding at the mean embedding of the
    word pieces of its name ("<r:~directed_by>" -> "inverse of directed by")."""
    from kgdistill.encoder import relation_text

    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        for token in path_tokens:
            name = token[3:-1] if token.startswith("<r:") else "end of path"
            words = relation_text(name.lstrip("~"), name.startswith("~")) if token.startswith("<r:") else name
            pieces = tokenizer(" " + words, add_special_tokens=False)["input_ids"]
            pieces = [p for p in pieces if p < emb.shape[0]]
            if pieces:
                emb[tokenizer.convert_tokens_to_ids(token)] = emb[pieces].mean(0)


def _lora(student: "Student", settings: dict):
    import peft

    r = settings.get("lora_r", 8)
    ids = student.path_token_ids.tolist() + [student.end_id]
    return peft.LoraConfig(task_type=peft.TaskType.CAUSAL_LM, r=r, lora_alpha=2 * r, lora_dropout=0.0,
                           trainable_token_indices=ids)


def _prompt_tuning(student: "Student", settings: dict):
    """Prompt tuning (Lester et al. 2021): trainable virtual-token input embeddings in
    front of the prompt."""
    import peft

    return peft.PromptTuningConfig(task_type=peft.TaskType.CAUSAL_LM,
                                   num_virtual_tokens=settings.get("num_virtual_tokens", 10))


def _prefix_tuning(student: "Student", settings: dict):
    """Prefix tuning (Li & Liang 2021): per-layer key/value prefixes produced by a
    small MLP from virtual-token embeddings (the reparameterisation)."""
    import peft

    return peft.PrefixTuningConfig(task_type=peft.TaskType.CAUSAL_LM, prefix_projection=True,
                                   num_virtual_tokens=settings.get("num_virtual_tokens", 10),
                                   encoder_hidden_size=settings.get("encoder_hidden_size", 64))


def _p_tuning_v2(student: "Student", settings: dict):
    """P-tuning v2 (Liu et al. 2022): deep prompts, trainable key/value prefixes at
    every layer, learned directly (no reparameterisation)."""
    import peft

    return peft.PrefixTuningConfig(task_type=peft.TaskType.CAUSAL_LM, prefix_projection=False,
                                   num_virtual_tokens=settings.get("num_virtual_tokens", 10))


def _p_tuning(student: "Student", settings: dict):
    """P-tuning (v1, Liu et al. 2021): virtual-token input embeddings produced by a
    prompt encoder (an MLP) in front of the prompt."""
    import peft

    return peft.PromptEncoderConfig(task_type=peft.TaskType.CAUSAL_LM,
                                    num_virtual_tokens=settings.get("num_virtual_tokens", 10),
                                    encoder_hidden_size=64)


def adapt(student: "Student", mode: str, lora_r: int = 8, num_virtual_tokens: int = 10) -> "Student":
    """Wrap a pretrained student for parameter-efficient training (peft); ``full``
    leaves it as it is (every weight trains). The methods are in :data:`ADAPTERS`.

    ``lora`` also trains the embeddings of the added path tokens
    (``trainable_token_indices``); the prompt-learning modes train only their virtual
    tokens, so new path tokens keep their initial embeddings
    (:func:`init_path_token_embeddings`).
    """
    from kgdistill.errors import ConfigError

    if mode not in ADAPTERS:
        raise ConfigError(f"unknown adaptation mode {mode!r}; choose from {', '.join(ADAPTERS)}")
    build = ADAPTERS[mode]
    if build is None:
        return student
    import peft

    cfg = build(student, {"lora_r": lora_r, "num_virtual_tokens": num_virtual_tokens})
    student.model = peft.get_peft_model(student.model, cfg)
    student.adaptation = mode
    return student


def output_cache(out):
    """The KV cache of a model output: ``cache`` in transformers 5, ``past_key_values``
    before (the old name is read only where the new one does not exist)."""
    return out.cache if hasattr(out, "cache") else out.past_key_values


class Student:
    """A causal LM plus its tokenizer and the ids of the path tokens.

    Args:
        model: a ``transformers`` causal LM (possibly wrapped by peft).
        tokenizer: its tokenizer, holding every path token.
        vocabulary: the relations of the path tokens; path token ``i`` is row ``i`` of
            the vocabulary (bound to a graph by name at query time).
        config: :class:`StudentConfig`.
    """

    def __init__(self, model, tokenizer, vocabulary: RelationVocabulary, config: StudentConfig) -> None:
        self.model, self.tokenizer, self.vocabulary, self.config = model, tokenizer, vocabulary, config
        self.serializer: dict = {}
        """The :class:`kgdistill.serializer.SerializerConfig` fields prompts were made with."""
        self.exclude_topic = True
        """Drop answer mass that returns to the topic (set from the training data)."""
        self.adaptation = "full"
        self.precision = "fp32"
        """Weights for answering (:meth:`for_inference`)."""
        self.hops: int | None = None
        self.longest_path: int | None = None
        """The most relations in a path it was trained on (``None``: not recorded)."""
        """The longest path the student was trained for (decoding default)."""
        self.path_tokens = [relation_token(r) for r in vocabulary.relations()]
        ids = tokenizer.convert_tokens_to_ids(self.path_tokens + [END_OF_PATH])
        lacking = [t for t, i in zip(self.path_tokens + [END_OF_PATH], ids) if i is None or i == tokenizer.unk_token_id]
        if lacking:
            raise CheckpointError(f"the tokenizer lacks {len(lacking)} path token(s), e.g. {lacking[:3]}: it is not "
                                  "the tokenizer this student was trained with")
        self.path_token_ids = torch.tensor(ids[:-1])
        self.end_id = int(ids[-1])
        self.output_ids = torch.tensor(ids)
        """Token ids of the path vocabulary (every relation token, then the end token)."""
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    @property
    def relations(self) -> list[str]:
        """Relation names of the path tokens (the vocabulary's names)."""
        return self.vocabulary.names

    @classmethod
    def create(cls, vocabulary: RelationVocabulary, prompts: Sequence[str], config: StudentConfig) -> "Student":
        """Build the default student (or adapt ``config.base_model``) for the relations
        of ``vocabulary``."""
        from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

        from kgdistill.encoder import quiet_transformers

        quiet_transformers()
        tokens = [relation_token(r) for r in vocabulary.relations()] + [END_OF_PATH]
        if config.base_model:
            from kgdistill.pretrained import resolve_base_model

            base = str(resolve_base_model(config.base_model))
            tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True)
            added = add_path_tokens(tokenizer, tokens)
            if added:  # only the new tokens start from their names: the others keep what they learned
                model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
                init_path_token_embeddings(model, tokenizer, added)
            if config.base_layers:
                keep_layers(model, config.base_layers)
        else:
            tokenizer = train_tokenizer(prompts, tokens, config.vocab_size)
            gpt = GPT2Config(vocab_size=len(tokenizer), n_positions=config.max_length, n_embd=config.n_embd,
                             n_layer=config.n_layer, n_head=config.n_head, bos_token_id=tokenizer.bos_token_id,
                             eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            model = GPT2LMHeadModel(gpt)
        return cls(model, tokenizer, vocabulary, config)

    # ------------------------------------------------------------------ encoding
    def encode_pairs(self, prompts: Sequence[str], paths: Sequence[str]) -> dict:
        """Tokenize prompt + path pairs, right-padded.

        Returns:
            ``input_ids``, ``attention_mask``: (n, L); ``labels_mask``: (n, L) bool,
            true on the path tokens (the positions whose tokens are predicted).
        """
        tok = self.tokenizer
        ids, label_masks = [], []
        for prompt, path in zip(prompts, paths):
            p = tok(prompt, add_special_tokens=False)["input_ids"]
            t = tok(path, add_special_tokens=False)["input_ids"]
            seq = [tok.bos_token_id] + p + t
            seq = seq[-self.config.max_length:]
            ids.append(seq)
            label_masks.append([False] * (len(seq) - len(t)) + [True] * len(t))
        width = max(len(s) for s in ids)
        input_ids = torch.full((len(ids), width), tok.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(ids), width), dtype=torch.long)
        labels = torch.zeros((len(ids), width), dtype=torch.bool)
        for i, (s, m) in enumerate(zip(ids, label_masks)):
            input_ids[i, : len(s)] = torch.tensor(s)
            attention[i, : len(s)] = 1
            labels[i, : len(s)] = torch.tensor(m)
        return {"input_ids": input_ids, "attention_mask": attention, "labels_mask": labels}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def n_virtual(self) -> int:
        """How many virtual tokens (prompt tuning, P-tuning) or prefix positions (prefix
        tuning, P-tuning v2) the adapter puts before every prompt; 0 for full and LoRA."""
        if self.adaptation in ("full", "lora"):
            return 0
        return int(self.model.active_peft_config.num_virtual_tokens)

    def run_prompts(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, use_cache: bool = True):
        """Run padded sequences through the transformer body, after the adapter's
        virtual tokens or prefix (one code path for every adaptation mode, used by
        training, the naive loss and both decoders; peft's own forward is not used).

        Positions count the attended tokens (virtual ones included), so left and right
        padding give the same states.

        Returns:
            ``(hidden, cache, mask)``: (n, L, H) last hidden states of the input
            positions, the KV cache (virtual tokens or prefix first; ``None`` without
            ``use_cache``) and the (n, n_virtual + L) attention mask it was built with
            (CPU), to be extended by later steps.
        """
        lm, dev, body = self._causal_lm(), self.device, self._body()
        n, nv = input_ids.shape[0], self.n_virtual
        mask = torch.cat([torch.ones((n, nv), dtype=torch.long), attention_mask.cpu().long()], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        common = {"attention_mask": mask.to(dev), "use_cache": use_cache}
        if nv == 0:
            out = body(input_ids=input_ids.to(dev), position_ids=positions.to(dev), **common)
        else:
            prompt = self.model.get_prompt(batch_size=n)
            if isinstance(prompt, torch.Tensor):  # virtual token embeddings (prompt tuning, P-tuning)
                words = lm.get_input_embeddings()(input_ids.to(dev))
                out = body(inputs_embeds=torch.cat([prompt.to(words.dtype), words], dim=1),
                           position_ids=positions.to(dev), **common)
            else:  # a prefix: per-layer keys and values (prefix tuning, P-tuning v2)
                out = body(input_ids=input_ids.to(dev), position_ids=positions[:, nv:].to(dev), cache=prompt,
                           **common)
        # without use_cache there is none to read (reading ``past_key_values`` of a
        # transformers 5 output only logs a deprecation warning and returns None)
        cache = output_cache(out) if use_cache else None
        return out.last_hidden_state[:, -input_ids.shape[1]:], cache, mask

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(n, L, vocab) next-token logits aligned with ``input_ids`` (the adapter's
        virtual tokens are not included). Inputs are moved to the model's device."""
        hidden, _, _ = self.run_prompts(input_ids, attention_mask, use_cache=False)
        return self._causal_lm().get_output_embeddings()(hidden)

    def sequence_log_probs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum and count of the log-probabilities of the path tokens.

        Returns:
            ``(logp, n_tokens)``: (n,) summed log-probabilities and (n,) token counts.
        """
        logits = self.logits(batch["input_ids"], batch["attention_mask"])[:, :-1].float()
        target = batch["input_ids"][:, 1:].to(logits.device)
        mask = batch["labels_mask"][:, 1:].float().to(logits.device)
        logp = self.log_softmax(logits).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        return logp.masked_fill(mask == 0, 0.0).sum(1), mask.sum(1)  # prompt tokens may be -inf

    def log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Next-token log-probabilities from full-vocabulary ``logits`` (..., vocab), over
        the whole vocabulary or, with ``softmax="paths"``, over the path vocabulary
        (every other token gets ``-inf``)."""
        if self.config.softmax == "full":
            return torch.log_softmax(logits, dim=-1)
        cols = self.output_ids.to(logits.device)
        out = torch.full_like(logits, float("-inf"))
        out[..., cols] = torch.log_softmax(logits[..., cols], dim=-1)
        return out

    def _causal_lm(self):
        """The causal LM inside a peft wrapper (LoRA layers stay active; the virtual
        tokens of prompt-learning modes are added by :meth:`run_prompts`)."""
        return self.model if self.adaptation == "full" else self.model.get_base_model()

    def _body(self):
        """The transformer body of :meth:`_causal_lm` (no output head)."""
        lm = self._causal_lm()
        return getattr(lm, lm.base_model_prefix)

    @property
    def shares_prompts(self) -> bool:
        """Whether :meth:`shared_prompt_log_probs` applies (every adaptation mode)."""
        return True

    def left_padded(self, prompts: Sequence[str], reserve: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts (BOS first) as a left-padded batch, every prompt ending at the last
        column, each cut from the left to leave ``reserve`` tokens of ``max_length``
        (``reserve=0``: not cut).

        Returns:
            ``(input_ids, attention_mask)``: (n, L) on the CPU.
        """
        tok = self.tokenizer
        encoded = [[tok.bos_token_id] + e for e in tok(list(prompts), add_special_tokens=False)["input_ids"]]
        if reserve:
            encoded = [e[-max(1, self.config.max_length - reserve):] for e in encoded]
        return self._batch_left(encoded)

    def fit_prompts(self, prompts: Sequence[str], room: int) -> list[list[int]]:
        """Prompts (BOS first) as token ids, each at most ``max_length - room`` long so
        that ``room`` path tokens fit after it: a longer one (a user's long question)
        keeps its beginning and its last tokens (the template's ``path:``), where the
        question and its ending are, and loses the middle."""
        if not prompts:
            return []
        tok = self.tokenizer
        keep = max(2, self.config.max_length - room)
        tail = max(1, min(8, keep // 4))
        encoded = [[tok.bos_token_id] + e for e in tok(list(prompts), add_special_tokens=False)["input_ids"]]
        return [e if len(e) <= keep else e[:keep - tail] + e[-tail:] for e in encoded]

    def _batch_left(self, encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token id lists as a left-padded batch ``(input_ids, attention_mask)``."""
        tok = self.tokenizer
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e):] = torch.tensor(e)
            mask[i, width - len(e):] = 1
        return ids, mask

    def shared_prompt_log_probs(self, prompts: Sequence[str], paths: Sequence[Sequence[str]]
                                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of several paths per prompt, each prompt encoded once.

        The prompts run as one left-padded batch whose KV cache is then repeated for
        every path of a prompt; the paths (a few tokens each) run in one batch against
        it. Gradients flow through the prompt's pass, so training costs one prompt
        encoding per question instead of one per (prompt, path) pair. Only the path
        tokens' logits are computed.

        Args:
            prompts: (n,) prompts.
            paths: per prompt, its serialized paths (hard targets and teacher paths).

        Returns:
            ``(logp, n_tokens)``: (sum_i len(paths[i]),) summed log-probabilities of the
            path tokens and their counts, in the order prompt by prompt.
        """
        tok, dev = self.tokenizer, self.device
        body = self._body()
        conts = [tok(x, add_special_tokens=False)["input_ids"] for group in paths for x in group]
        index = torch.tensor([i for i, group in enumerate(paths) for _ in group], dtype=torch.long)
        c_max = max(len(c) for c in conts)
        ids, mask = self.left_padded(prompts, reserve=c_max)
        states, cache, mask = self.run_prompts(ids, mask, use_cache=c_max > 1)
        hidden = states[:, -1][index.to(dev)].unsqueeze(1)  # predicts each path's first token
        target = torch.full((len(conts), c_max), tok.pad_token_id, dtype=torch.long)
        tmask = torch.zeros((len(conts), c_max), dtype=torch.float32)
        for j, c in enumerate(conts):
            target[j, : len(c)] = torch.tensor(c)
            tmask[j, : len(c)] = 1.0
        if c_max > 1:
            cache.reorder_cache(index.to(dev))
            lengths = mask.sum(1)[index]  # virtual tokens included
            att = torch.cat([mask[index], tmask[:, :-1].long()], dim=1)
            pos = lengths[:, None] + torch.arange(c_max - 1)[None]
            more = body(input_ids=target[:, :-1].to(dev), attention_mask=att.to(dev), position_ids=pos.to(dev),
                        cache=cache, use_cache=False).last_hidden_state
            hidden = torch.cat([hidden, more], dim=1)
        head = self._causal_lm().get_output_embeddings()
        if self.config.softmax == "paths":  # only the path vocabulary's logits are computed
            cols = self.output_ids.to(dev)
            weight = head.weight[cols]
            bias = head.bias[cols] if getattr(head, "bias", None) is not None else None
            logits = torch.nn.functional.linear(hidden, weight, bias).float()
            column = torch.full((int(self.output_ids.max()) + 1,), -1, dtype=torch.long)
            column[self.output_ids] = torch.arange(len(self.output_ids))
            target = column[target.clamp(max=len(column) - 1)].clamp(min=0)  # padding is masked below
        else:
            logits = head(hidden).float()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, target.to(dev).unsqueeze(-1)).squeeze(-1)
        tmask = tmask.to(dev)
        return (logp * tmask).sum(1), tmask.sum(1)

    def for_inference(self, device: str = "cpu", precision: str = "fp32") -> "Student":
        """Put the student on ``device`` (cpu, cuda, auto) for answering, its weights in
        ``precision``: ``fp32``, ``bf16`` (all weights cast) or ``int8`` (dynamic
        quantization of the transformer body's linear layers with per-output-channel
        scales; the embeddings and the output layer stay in fp32; CPU only). In place.

        Raises:
            ConfigError: an unknown precision, int8 on a GPU, or cuda without one.
        """
        from kgdistill.configs import INFERENCE_PRECISIONS
        from kgdistill.errors import ConfigError
        from kgdistill.training import resolve_device

        if precision not in INFERENCE_PRECISIONS:
            raise ConfigError(f"precision must be one of {INFERENCE_PRECISIONS}, got {precision!r}")
        dev = resolve_device(device)
        if precision == "int8" and dev.type != "cpu":
            raise ConfigError("int8 (dynamic quantization) runs on the CPU only: use --precision bf16 on a GPU")
        self.model.to(dev)
        self.model.eval()
        if precision == "bf16":
            self.model.to(torch.bfloat16)
        elif precision == "int8":
            import warnings

            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            self.model.float()
            body = self._body()
            with warnings.catch_warnings():  # torch marks quantized tensors deprecated; they still work
                warnings.simplefilter("ignore")
                quantize_dynamic(body, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                 inplace=True)
            from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

            if not any(isinstance(m, QuantizedLinear) for m in body.modules()):
                logger.warning("int8: this student has no torch.nn.Linear layers to quantize (GPT-2's are "
                               "Conv1D); its weights stay fp32")
        else:
            self.model.float()
        fuse_gelu(self.model)
        self.precision = precision
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        """Save so that ``AutoModelForCausalLM.from_pretrained(directory)`` works, plus
        ``kgdistill.json``. LoRA is merged into the weights; prompt-learning adapters
        (virtual tokens) are saved in ``adapter/`` beside the base weights, and
        :meth:`load` applies them."""
        from kgdistill import __version__
        from kgdistill.encoder import quiet_transformers

        quiet_transformers()

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        model = self.model
        if self.adaptation == "lora":
            model = model.merge_and_unload()
        elif self.adaptation != "full":  # prompt learning: virtual tokens cannot be merged
            model.save_pretrained(str(d / "adapter"))
            model = model.get_base_model()
        model.save_pretrained(str(d))
        self.tokenizer.save_pretrained(str(d))
        meta = {"kgdistill_version": __version__, "relations": self.vocabulary.to_list(), "student": asdict(self.config),
                "serializer": self.serializer, "exclude_topic": self.exclude_topic,
                "adaptation": self.adaptation, **(extra or {})}
        (d / STUDENT_META).write_text(json.dumps(meta, indent=2))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> "Student":
        """Load a student saved by :meth:`save`.

        Raises:
            CheckpointError: the directory is not a saved student, or a file of it is
                missing, truncated or corrupt (the file is named).
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from kgdistill.encoder import quiet_transformers
        from kgdistill.io import read_json

        quiet_transformers()
        d = Path(directory)
        if not d.is_dir() or not (d / STUDENT_META).exists():
            raise CheckpointError(f"{d} has no {STUDENT_META}: not a saved kgdistill student")
        meta = read_json(d / STUDENT_META, CheckpointError)
        for key, kind in (("relations", list), ("student", dict)):
            if not isinstance(meta.get(key), kind):
                raise CheckpointError(f"{d / STUDENT_META}: field {key!r} missing or not a {kind.__name__}")
        config = StudentConfig(**_known_fields(StudentConfig, meta["student"], d / STUDENT_META))
        for name in ("config.json", "model.safetensors"):
            if not (d / name).is_file():
                raise CheckpointError(f"{d / name} is missing: the student directory is incomplete "
                                      "(interrupted save?); train it again")
        if not any((d / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
            raise CheckpointError(f"{d} has no tokenizer files (tokenizer.json): copy the whole student directory")
        read_json(d / "config.json", CheckpointError)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
        except Exception as err:  # transformers raises many types for a broken tokenizer
            raise CheckpointError(f"{d}: cannot load the tokenizer: {err}") from None
        try:
            model = AutoModelForCausalLM.from_pretrained(str(d), local_files_only=True)
        except Exception as err:  # a truncated or corrupt safetensors file, a broken config
            raise CheckpointError(f"{d / 'model.safetensors'}: cannot load the model weights "
                                  f"(truncated or corrupt file?): {err}") from None
        if (d / "adapter").exists():
            from peft import PeftModel

            try:
                model = PeftModel.from_pretrained(model, str(d / "adapter"))
            except Exception as err:
                raise CheckpointError(f"{d / 'adapter'}: cannot load the adapter: {err}") from None
        student = cls(model.eval(), tokenizer, RelationVocabulary(meta["relations"]), config)
        student.adaptation = "full" if not (d / "adapter").exists() else meta.get("adaptation", "prompt_tuning")
        student.serializer = meta.get("serializer", {})
        student.exclude_topic = meta.get("exclude_topic", True)
        hops = meta.get("hops", student.serializer.get("max_hops"))
        student.hops = hops if isinstance(hops, int) and hops >= 1 else None
        longest = meta.get("longest_path")
        student.longest_path = longest if isinstance(longest, int) and longest >= 1 else None
        return student


def _known_fields(cls, values: dict, source) -> dict:
    """The entries of ``values`` that are fields of dataclass ``cls``; unknown keys (from
    a newer version) are ignored with a warning naming ``source``."""
    known = set(cls.__dataclass_fields__)
    extra = sorted(set(values) - known)
    if extra:
        logger.warning("%s: ignoring unknown %s keys %s", source, cls.__name__, extra)
    return {k: v for k, v in values.items() if k in known}


ADAPTERS = {"full": None, "lora": _lora, "prompt_tuning": _prompt_tuning, "prefix_tuning": _prefix_tuning,
            "p_tuning": _p_tuning, "p_tuning_v2": _p_tuning_v2}
"""Adaptation modes by name: a function ``(student, settings) -> peft config`` (``None``:
full fine-tuning, no wrapper)."""