"""Hidden tests: compare a student's output with the reference solution's, recorded beforehand.

The reference lives only in ``solutions/``. When a lab is released, the autograder runs the
reference notebook once in *record* mode; every hidden test call ``matches_reference(key, value)``
stores the reference's output under ``key`` in a grader-only file. When a submission is graded,
the same hidden test runs against the student's code and the call *compares* instead. No
reference code is ever shipped to or imported by a student's kernel; only the recorded outputs,
and only at autograde time.

Environment variables drive it (all set by the autograder, never by hand):
  SEQLAB_REFERENCE_STORE: path of the recorded outputs (a pickle of ``{key: value}``);
  SEQLAB_REFERENCE_MODE:  ``record`` while releasing, ``emit`` in the sandbox, else compare;
  SEQLAB_EMIT_FILE:       in emit mode, the file the outputs are appended to.
With no store set (a student or an instructor running a notebook by hand) the call does nothing.
Recording never overwrites: a key already in the store is compared even in record mode, so a
submission that switches its own kernel to record mode still faces the recorded reference.

Emit mode is how the sandboxed autograder scores: the student's kernel never sees the reference.
Each call appends ``{"key": ..., "value": ...}`` as one JSON line (arrays encoded by ``encode``,
which carries numbers only, never pickles), and the grader compares them with the reference in
its own process (``compare``). Code in the student's kernel can replace this function, but
then it emits nothing, or outputs it computed itself, and a missing case fails.
"""
from __future__ import annotations

import base64
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

STORE_ENV = "SEQLAB_REFERENCE_STORE"
MODE_ENV = "SEQLAB_REFERENCE_MODE"
EMIT_ENV = "SEQLAB_EMIT_FILE"

__all__ = ["matches_reference", "compare", "encode", "decode", "tolerances_path", "STORE_ENV", "MODE_ENV",
           "EMIT_ENV"]


class ReferenceMismatch(AssertionError):
    """A hidden test found the student's output different from the reference's."""


def matches_reference(key: str, value: Any, *, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Record ``value`` as the reference output for ``key``, or check it against the recording.

    Inputs:
    - key: a name unique within the lab, e.g. "rnn_forward/N1_T1".
    - value: an array, a number, or a (nested) tuple, list or dict of them.
    - rtol, atol: tolerances; atol is scaled by the largest reference magnitude.
    Raises ReferenceMismatch with a message that names what differs, never the expected values.
    """
    if os.environ.get(MODE_ENV) == "emit":
        _emit(os.environ.get(EMIT_ENV), key, value)
        return
    path = os.environ.get(STORE_ENV)
    if not path:
        return
    path = Path(path)
    store = _load(path) if path.exists() else {}
    if os.environ.get(MODE_ENV) == "record" and key not in store:
        store[key] = _to_numpy(value)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(store))
        tmp.replace(path)
        # The grader compares emitted outputs with the tolerances the reference's test asked for
        # (the student's kernel could send any): keep them beside the store.
        tolerances = tolerances_path(path)
        known = json.loads(tolerances.read_text()) if tolerances.exists() else {}
        known[key] = [rtol, atol]
        tolerances.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
        return
    if not path.exists():
        raise RuntimeError(f"no reference outputs at {path}: release the lab again to record them")
    if key not in store:
        raise RuntimeError(f"hidden case {key!r} was not recorded: release the lab again")
    _compare(key, _to_numpy(value), store[key], rtol, atol)


def tolerances_path(store: Path) -> Path:
    """JSON beside the store: key -> [rtol, atol] each hidden case was recorded with."""
    return Path(store).with_name(Path(store).stem + ".tolerances.json")


def compare(key: str, got: Any, want: Any, *, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Check an emitted output ``got`` against the recorded ``want`` (raises ReferenceMismatch)."""
    _compare(key, _to_numpy(got), want, rtol, atol)


def _emit(path: str | None, key: str, value: Any) -> None:
    if not path:
        raise RuntimeError(f"{MODE_ENV}=emit needs {EMIT_ENV}: this is set by the autograder only")
    line = json.dumps({"key": str(key), "value": encode(_to_numpy(value))})
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def encode(value: Any) -> Any:
    """A JSON-able form of a (nested) output: arrays as dtype + shape + base64 bytes."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return {"__repr__": repr(value.tolist())[:200]}   # strings, objects: compared as text
        arr = np.ascontiguousarray(value)   # (always at least 1-d: the shape comes from value)
        return {"__nd__": arr.dtype.str, "shape": list(value.shape),
                "data": base64.b64encode(arr.tobytes()).decode("ascii")}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__repr__": repr(value)[:200]}


def decode(data: Any) -> Any:
    """The inverse of ``encode``; anything malformed raises ValueError (never executes code)."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        raise ValueError(f"unexpected {type(data).__name__} in an emitted output")
    if "__nd__" in data:
        dtype = np.dtype(data["__nd__"])
        if dtype.kind not in "biufc":
            raise ValueError(f"dtype {dtype} is not numeric")
        shape = tuple(int(n) for n in data["shape"])
        raw = base64.b64decode(data["data"], validate=True)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "__dict__" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["__dict__"]}
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__repr__" in data:
        return str(data["__repr__"])
    raise ValueError("unknown encoding in an emitted output")


def _hashable(key: Any) -> Any:
    if isinstance(key, np.ndarray):
        return key.item() if key.ndim == 0 else tuple(key.tolist())
    return key


def _load(path: Path) -> dict:
    return pickle.loads(path.read_bytes())


def _to_numpy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value) if isinstance(value, tuple) else [_to_numpy(v) for v in value]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)):
        return np.asarray(value)
    return value


def _compare(where: str, got: Any, want: Any, rtol: float, atol: float) -> None:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise ReferenceMismatch(f"hidden case {where}: expected a dict, got {type(got).__name__}")
        if set(got) != set(want):
            raise ReferenceMismatch(
                f"hidden case {where}: dict keys {sorted(got)} differ from the expected {sorted(want)}")
        for k in want:
            _compare(f"{where}[{k!r}]", got[k], want[k], rtol, atol)
        return
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            n = len(got) if isinstance(got, (list, tuple)) else type(got).__name__
            raise ReferenceMismatch(f"hidden case {where}: expected {len(want)} outputs, got {n}")
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(f"{where}[{i}]", g, w, rtol, atol)
        return
    if not isinstance(want, np.ndarray):
        if got != want:
            raise ReferenceMismatch(f"hidden case {where}: the value differs from the reference")
        return
    if not isinstance(got, np.ndarray):
        raise ReferenceMismatch(f"hidden case {where}: expected an array, got {type(got).__name__}")
    if got.shape != want.shape:
        raise ReferenceMismatch(f"hidden case {where}: shape {got.shape}, expected {want.shape}")
    if want.dtype.kind in "biu" or want.dtype == bool:
        if not np.array_equal(got, want):
            raise ReferenceMismatch(f"hidden case {where}: {int(np.sum(got != want))} entries differ")
        return
    got = got.astype(np.float64)
    want = want.astype(np.float64)
    if not np.all(np.isfinite(got)):
        raise ReferenceMismatch(f"hidden case {where}: the output holds NaN or inf")
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    bad = ~np.isclose(got, want, rtol=rtol, atol=atol * scale)
    if bad.any():
        err = np.abs(got - want) / np.maximum(np.abs(want), atol * scale)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ReferenceMismatch(
            f"hidden case {where}: {int(bad.sum())} of {bad.size} entries differ from the reference "
            f"(first at index {first}, max relative error {float(err.max()):.2g})")
