"""Small file helpers shared by every stage: JSON read with the file named in errors,
atomic writes (a reader never sees a half-written file), a directory lock, and
safetensors + JSON checkpoints (never pickle).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from kgdistill.errors import CheckpointError, KGDistillError, KGFormatError, RunError


def read_json(path: str | os.PathLike, error: type[KGDistillError] = KGFormatError) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file raises ``error``
    with the file (and line) named."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(error, path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise _error(error, path, None, f"cannot read: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise _error(error, path, err.lineno, f"invalid JSON ({err.msg}, column {err.colno}); "
                                              "the file is truncated or was edited by hand") from None


def _error(error: type[KGDistillError], path: Path, line: int | None, message: str) -> KGDistillError:
    if issubclass(error, KGFormatError):
        return error(path, line, message)
    where = f"{path}:{line}" if line else str(path)
    return error(f"{where}: {message}")


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path`` and then rename it into
    place, so that ``path`` is either the old or the complete new file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    return write_atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


class DirectoryLock:
    """An exclusive lock on a directory (``.lock`` inside it, ``flock``), so that two
    processes never write the same run at once. Released on exit, also when the
    process dies.

    Raises:
        RunError: another process holds the lock.
    """

    def __init__(self, directory: str | os.PathLike, what: str = "run") -> None:
        self.directory, self.what, self._fh = Path(directory), what, None

    def __enter__(self) -> "DirectoryLock":
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fh = open(self.directory / ".lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunError(f"{self.directory} is in use by {holder}: another kgdistill {self.what} is writing "
                           "it; wait for it to finish or choose another directory") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            import fcntl

            try:  # removed while still held, so that a finished directory holds only its outputs
                (self.directory / ".lock").unlink()
            except FileNotFoundError:
                pass
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


# ---------------------------------------------------------------------- directories
def write_dir_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Have ``write`` fill a directory at ``path.tmp``, then rename it into place whole
    (an earlier ``path`` is set aside as ``path.old`` and removed after). A failed
    write leaves ``path`` as it was and no ``.tmp`` behind."""
    import shutil

    path = Path(path)
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        if old.exists():
            shutil.rmtree(old)
        path.rename(old)
    tmp.rename(path)
    if old.exists():
        shutil.rmtree(old)
    return path


# ---------------------------------------------------------------------- checkpoints
def save_checkpoint(directory: str | os.PathLike, tensors: dict, state: dict) -> Path:
    """Write ``tensors.safetensors`` and ``state.json`` into ``directory`` atomically
    (:func:`write_dir_atomic`). ``tensors`` maps names to tensors; ``state`` must be
    JSON-able. Nothing is pickled, so loading a checkpoint can never run code."""
    from safetensors.torch import save_file

    def write(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / "tensors.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")

    return write_dir_atomic(directory, write)


def load_checkpoint(directory: str | os.PathLike) -> tuple[dict, dict]:
    """``(tensors, state)`` written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: a file is missing or corrupt (named).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    state = read_json(directory / "state.json", CheckpointError)
    if not isinstance(state, dict):
        raise CheckpointError(f"{directory / 'state.json'}: expected a JSON object")
    try:
        tensors = load_file(str(directory / "tensors.safetensors"))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{directory / 'tensors.safetensors'}: cannot read the checkpoint "
                              f"(missing, truncated or corrupt): {err}") from None
    return tensors, state


def write_jsonl_resumable(path: str | os.PathLike, ids: list[str], produce: Callable[[int, int], list],
                          chunk: int = 4096, progress: bool = True, desc: str = "",
                          echo: Callable[[str], None] | None = None,
                          texts: list[str] | None = None,
                          report: Callable[[int, int], None] | None = None) -> tuple[Path, int]:
    """Write one JSON object per id to ``path``, ``chunk`` rows at a time, so that an
    interrupted pass resumes instead of starting over: each chunk ``produce(start,
    stop)`` (rows for ``ids[start:stop]``, each with that ``id``; objects with
    ``to_dict()`` are converted) is appended to ``PATH.partial`` and flushed to disk,
    and the file is renamed to ``path`` when every row is there. A new pass keeps the
    partial file's whole chunks whose ids (and ``question`` fields, where ``texts`` is
    given) match ``ids`` in order and starts after them (a half-written chunk is written
    again, so with the same ``chunk`` the chunks are those of an uninterrupted pass;
    ``echo`` is told how many were kept). A complete ``path`` that matches is kept as it
    is. ``report(rows written, len(ids))`` is called before the first chunk and after
    each (progress lines where there is no bar: :func:`kgdistill.training.line_reporter`).
    Returns ``(path, rows kept from before)``."""
    from tqdm.auto import tqdm

    path = Path(path)
    if path.exists() and _matching_prefix(path, ids, texts)[0] == len(ids):
        return path, len(ids)
    partial = path.with_name(path.name + ".partial")
    done, keep = _matching_prefix(partial, ids, texts)
    done -= done % chunk
    if done and echo is not None:
        echo(f"{desc or path.name}: resuming after {done:,} of {len(ids):,} questions ({partial})")
    with open(partial, "a+b") as fh:
        fh.truncate(keep[done])
    with open(partial, "a", encoding="utf-8") as fh, \
            tqdm(total=len(ids), initial=done, desc=desc, unit="q", disable=None if progress else True) as bar:
        if report is not None:
            report(done, len(ids))
        for start in range(done, len(ids), chunk):
            stop = min(start + chunk, len(ids))
            got = [row.to_dict() if hasattr(row, "to_dict") else row for row in produce(start, stop)]
            if len(got) != stop - start:
                raise RunError(f"{partial}: {len(got)} rows came back for the {stop - start} questions {start}..{stop - 1}")
            if [r.get("id") if isinstance(r, dict) else None for r in got] != ids[start:stop]:
                raise RunError(f"{partial}: the rows for questions {start}..{stop - 1} came back for other questions")
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in got))
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(got))
            if report is not None:
                report(stop, len(ids))
    os.replace(partial, path)
    return path, done


def _matching_prefix(path: Path, ids: list[str], texts: list[str] | None = None) -> tuple[int, list[int]]:
    """How many leading lines of ``path`` are whole JSON objects with ``ids``' ids (and
    ``texts`` as their ``question``) in order, and the byte offset after each
    (``offsets[k]``: after ``k`` lines)."""
    offsets = [0]
    if not path.exists():
        return 0, offsets
    with open(path, "rb") as fh:
        for raw in fh:
            n = len(offsets) - 1
            if n >= len(ids) or not raw.endswith(b"\n"):
                break
            try:
                rec = json.loads(raw)
            except ValueError:
                break
            if not isinstance(rec, dict) or rec.get("id") != ids[n] or (
                    texts is not None and rec.get("question") != texts[n]):
                break
            offsets.append(offsets[-1] + len(raw))
    return len(offsets) - 1, offsets
