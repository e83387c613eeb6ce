import numpy as np

from kgdistill.encoder import SentenceEncoder, relation_text


def test_relation_text():
    assert relation_text("directed_by") == "directed by"
    assert relation_text("placeOfBirth", inverse=True) == "inverse of place of birth"


def test_embeddings_are_cached_on_disk(tmp_path):
    texts = ["who directed X", "what movies did X act in", "who directed X"]
    first = SentenceEncoder(cache_dir=tmp_path)
    vecs = first.encode(texts)
    toks = first.encode_tokens(texts[:2])
    assert vecs.shape == (3, first.dim) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert first.encoded_count == 4  # two distinct texts, pooled and token-level
    assert toks[0].shape[1] == first.dim and toks[0].shape[0] >= 4
    second = SentenceEncoder(cache_dir=tmp_path)
    assert np.array_equal(second.encode(texts), vecs)
    assert all(np.array_equal(a, b) for a, b in zip(second.encode_tokens(texts[:2]), toks))
    assert second.encoded_count == 0 and second._model is None  # nothing recomputed, model never loaded
    # Similar questions are closer than unrelated ones.
    assert vecs[0] @ vecs[1] < 0.99 and vecs[0] @ vecs[2] > 0.999


def test_a_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path, caplog):
    """A damaged embeddings.sqlite used to end in an sqlite3 traceback."""
    (tmp_path / "embeddings.sqlite").write_bytes(b"this is not an sqlite database" * 100)
    with caplog.at_level("WARNING"):
        enc = SentenceEncoder(cache_dir=tmp_path)
        vecs = enc.encode(["who directed X"])
    assert vecs.shape == (1, enc.dim) and "unreadable" in caplog.text
    assert (tmp_path / "embeddings.sqlite.corrupt").exists()
    assert np.array_equal(SentenceEncoder(cache_dir=tmp_path).encode(["who directed X"]), vecs)  # rebuilt


def test_a_locked_cache_is_waited_for_then_skipped(tmp_path, caplog):
    import sqlite3

    from kgdistill.encoder import EmbeddingCache

    SentenceEncoder(cache_dir=tmp_path).encode(["warm"])
    enc = SentenceEncoder(cache_dir=tmp_path, use_cache=False)
    enc.cache = EmbeddingCache(tmp_path / "embeddings.sqlite", timeout=0.2)
    holder = sqlite3.connect(str(tmp_path / "embeddings.sqlite"))
    holder.execute("BEGIN EXCLUSIVE")  # another process writing
    try:
        with caplog.at_level("WARNING"):
            vecs = enc.encode(["who directed X", "warm"])
        assert vecs.shape == (2, enc.dim) and "locked" in caplog.text
    finally:
        holder.rollback()
        holder.close()


def test_an_empty_cache_variable_means_the_default(monkeypatch, tmp_path):
    """``KGDISTILL_CACHE=`` (set, empty) once put the embedding cache and converted
    models into the working directory (``Path("")``); it now means the default."""
    from pathlib import Path

    from kgdistill.encoder import default_cache_dir
    from kgdistill.pretrained import models_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KGDISTILL_CACHE", "")
    assert default_cache_dir() == tmp_path / ".cache" / "kgdistill"
    assert models_dir() == tmp_path / ".cache" / "kgdistill" / "models"
    monkeypatch.setenv("KGDISTILL_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" and default_cache_dir() != Path("")
