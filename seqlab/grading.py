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
from typing import Any, List, Optional

import numpy as np

STORE_ENV = "SEQLAB_REFERENCE_STORE"
MODE_ENV = "SEQLAB_REFERENCE_MODE"
EMIT_ENV = "SEQLAB_EMIT_FILE"

__all__ = ["matches_reference", "matches_distribution", "hidden_stage", "compare", "encode", "decode",
           "tolerances_path", "stage_key", "STORE_ENV", "MODE_ENV", "EMIT_ENV"]


class ReferenceMismatch(AssertionError):
    """A hidden test found the student's output different from the reference's."""


# Default tolerances by the reference's dtype: float64 results agree to ~1e-15 whatever the order of
# the sums, while one computed in float32 and cast back is off by ~1e-7, so float64 gets the tight pair.
# atol is scaled by the largest reference magnitude.
DEFAULT_TOLERANCES = {"float64": (1e-9, 1e-10)}
FALLBACK_TOLERANCES = (1e-5, 1e-7)


def matches_reference(key: str, value: Any, *, rtol: Optional[float] = None, atol: Optional[float] = None) -> None:
    """Record ``value`` as the reference output for ``key``, or check it against the recording.

    Inputs:
    - key: a name unique within the lab, e.g. "rnn_forward/N1_T1".
    - value: an array, a number, or a (nested) tuple, list or dict of them.
    - rtol, atol: tolerances; atol is scaled by the largest reference magnitude. By default they follow
      the reference's dtype (DEFAULT_TOLERANCES: float64 within 1e-9, so a float32 computation cast
      back to float64 differs; other dtypes within 1e-5).
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
        store[key] = as_graded(value)
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
    compare(key, as_graded(value), store[key], rtol=rtol, atol=atol)


def as_graded(value: Any) -> Any:
    """``value`` as the grader sees it: encoded by the student's kernel, sent as JSON, decoded.

    The reference is recorded in this form, and an in-process check (the mutation tests) compares
    this form, so that what passes here passes in the grader: a value the encoding cannot carry
    exactly would differ in both places, not only in a TA's run."""
    return decode(json.loads(json.dumps(encode(_to_numpy(value)))))


def matches_distribution(key: str, draws: Any, model: Any, *, kind: str) -> None:
    """A hidden case for a random function: ``draws`` it made, judged against ``model``.

    The recording keeps only ``model`` (what the draws should follow, computed by the reference
    notebook's oracle); a graded kernel emits only ``draws``; the grader runs the ``kind`` check
    (``DISTRIBUTIONS``) in its own process. Every valid way of drawing passes, whatever seed or
    order of random calls it uses; a wrong distribution fails. Kinds:
    - "next_token": draws is a list of token sequences; model is {"prefixes": {prefix tuple:
      probabilities of the next token}, "stop": the end token (or None), "max_len": int}. The next
      token after each listed prefix is compared with its probabilities (a sequence that ends
      there drew ``stop``). An optional "hint" says what to check when they do not fit.
    - "windows": draws is a list of (x, y) batches of shape (B, T); model is {"data": 1-D array
      whose windows are all distinct, "seq_len": T}. Each row of x must be a window data[s:s+T]
      and y the same window one step on; the starts must spread over every valid position.
    """
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution check {kind!r}: one of {sorted(DISTRIBUTIONS)}")
    if os.environ.get(MODE_ENV) == "emit":
        _emit(os.environ.get(EMIT_ENV), key, draws)
        return
    recorded = {"__distribution__": kind, "model": _to_numpy(model)}
    if os.environ.get(MODE_ENV) == "record" and os.environ.get(STORE_ENV):
        path = Path(os.environ[STORE_ENV])
        if key not in (_load(path) if path.exists() else {}):
            matches_reference(key, recorded)
            return
    if not os.environ.get(STORE_ENV):
        return
    # judged exactly as the grader will see them: encoded, decoded (the key is recorded by now)
    matches_reference(key, decode(json.loads(json.dumps(encode(_to_numpy(draws))))))


def stage_key(grade_id: str) -> str:
    """The emitted key that says a grade cell's hidden part began."""
    return f"__stage__/{grade_id}"


def hidden_stage(grade_id: str) -> None:
    """Mark the start of a grade cell's hidden part (the grader inserts this call), so that an
    error after it is reported as a hidden case's, not a visible test's. It only names the stage
    in the message; it never earns points."""
    if os.environ.get(MODE_ENV) == "emit" and os.environ.get(EMIT_ENV):
        _emit(os.environ.get(EMIT_ENV), stage_key(grade_id), True)


def tolerances_path(store: Path) -> Path:
    """JSON beside the store: key -> [rtol, atol] each hidden case was recorded with."""
    return Path(store).with_name(Path(store).stem + ".tolerances.json")


def compare(key: str, got: Any, want: Any, *, rtol: Optional[float] = None, atol: Optional[float] = None) -> None:
    """Check an emitted output ``got`` against the recorded ``want`` (raises ReferenceMismatch)."""
    if isinstance(want, dict) and "__distribution__" in want:
        DISTRIBUTIONS[str(want["__distribution__"])](key, got, want["model"])
        return
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
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}   # exact, not a cut repr
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
    if "__bytes__" in data:
        return base64.b64decode(data["__bytes__"], validate=True)
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


def _compare(where: str, got: Any, want: Any, rtol: Optional[float], atol: Optional[float]) -> None:
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
    if want.dtype.kind == "f" and (got.dtype.kind != "f" or got.dtype.itemsize < want.dtype.itemsize):
        raise ReferenceMismatch(f"hidden case {where}: dtype {got.dtype}, expected {want.dtype} (an array made "
                                "without the inputs' dtype loses precision)")
    default = DEFAULT_TOLERANCES.get(want.dtype.name, FALLBACK_TOLERANCES)
    rtol, atol = (default[0] if rtol is None else rtol), (default[1] if atol is None else atol)
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


# --- distribution checks (run by the grader on emitted draws) ----------------------------------

# A frequency is wrong when it is this many binomial standard deviations (plus SLACK) from its
# probability: about 6e-7 false alarms per comparison, so a class of hundreds never sees one.
Z_LIMIT = 5.0
SLACK = 2e-3
# The fewest draws that must reach a prefix for its next-token frequencies to be judged.
MIN_DRAWS = 50


def _frequencies_fit(counts: np.ndarray, probs: np.ndarray) -> Optional[int]:
    """The token whose count is furthest out of line with ``probs``, or None when all fit."""
    n = counts.sum()
    freq = counts / n
    limit = Z_LIMIT * np.sqrt(probs * (1 - probs) / n) + SLACK
    excess = np.abs(freq - probs) - limit
    return int(np.argmax(excess)) if (excess > 0).any() else None


def _as_tokens(where: str, draw: Any) -> List[int]:
    if isinstance(draw, np.ndarray):
        draw = [] if draw.size == 0 else draw.tolist()
    if isinstance(draw, (list, tuple)):     # Python ints come back from the emit file as 0-d arrays
        draw = [t.item() if isinstance(t, np.ndarray) and t.ndim == 0 else t for t in draw]
    if not isinstance(draw, (list, tuple)) or not all(isinstance(t, (int, np.integer)) and not isinstance(t, bool)
                                                     for t in draw):
        raise ReferenceMismatch(f"hidden case {where}: a draw is not a sequence of integer token ids")
    return [int(t) for t in draw]


def _check_next_token(where: str, draws: Any, model: Any) -> None:
    if not isinstance(draws, (list, tuple)) or not draws:
        raise ReferenceMismatch(f"hidden case {where}: expected a list of drawn sequences")
    stop = model.get("stop")
    stop = None if stop is None else int(stop)
    hint = str(model.get("hint") or "check the temperature, the softmax and which hidden state you sample from")
    max_len = int(model["max_len"])
    sequences = [_as_tokens(where, d) for d in draws]
    for seq in sequences:
        if len(seq) > max_len:
            raise ReferenceMismatch(f"hidden case {where}: a draw has {len(seq)} tokens, more than "
                                    f"max_len = {max_len}")
        if stop is not None and stop in seq:
            raise ReferenceMismatch(f"hidden case {where}: a draw contains the end token {stop}")
    for prefix, probs in model["prefixes"].items():
        prefix = tuple(int(t) for t in np.atleast_1d(prefix)) if np.size(prefix) else ()
        probs = np.asarray(probs, dtype=np.float64)
        counts = np.zeros(len(probs))
        k = len(prefix)
        for seq in sequences:
            if tuple(seq[:k]) != prefix or len(seq) < k:
                continue
            if len(seq) > k:
                token = seq[k]
            elif stop is not None and k < max_len:
                token = stop
            else:
                continue        # cut off by max_len: no next token drawn
            if not 0 <= token < len(probs):
                raise ReferenceMismatch(f"hidden case {where}: token id {token} is outside 0..{len(probs) - 1}")
            counts[token] += 1
        if counts.sum() < MIN_DRAWS:
            continue            # too few draws reached this prefix to judge (its parent was judged)
        bad = _frequencies_fit(counts, probs)
        if bad is not None:
            after = f"after the tokens {list(prefix)}" if prefix else "as the first token"
            raise ReferenceMismatch(
                f"hidden case {where}: token {bad} was drawn {counts[bad] / counts.sum():.3f} of the time "
                f"{after} over {int(counts.sum())} draws, too far from the model's distribution: "
                f"{hint}")


def _check_windows(where: str, draws: Any, model: Any) -> None:
    data = np.asarray(model["data"]).ravel()
    T = int(model["seq_len"])
    valid = len(data) - T          # starts 0 .. valid - 1 leave room for the shifted target
    starts = {tuple(data[s:s + T].tolist()): s for s in range(valid)}
    if not isinstance(draws, (list, tuple)) or not draws:
        raise ReferenceMismatch(f"hidden case {where}: expected a list of (x, y) batches")
    seen = []
    for batch in draws:
        if not isinstance(batch, (list, tuple)) or len(batch) != 2:
            raise ReferenceMismatch(f"hidden case {where}: a batch is not a pair (x, y)")
        x, y = (np.asarray(a) for a in batch)
        if x.ndim != 2 or x.shape[1] != T or y.shape != x.shape:
            raise ReferenceMismatch(f"hidden case {where}: batch shapes {x.shape} and {y.shape}, expected "
                                    f"(B, {T}) each")
        for row_x, row_y in zip(x.tolist(), y.tolist()):
            s = starts.get(tuple(row_x))
            if s is None:
                raise ReferenceMismatch(f"hidden case {where}: a row of x is not a window of the data that "
                                        "leaves room for its target (is the last start position off by one?)")
            if row_y != data[s + 1:s + T + 1].tolist():
                raise ReferenceMismatch(f"hidden case {where}: y is not x shifted one step to the left")
            seen.append(s)
    seen = np.asarray(seen)
    n = len(seen)
    bins = min(10, valid)
    counts = np.bincount(seen * bins // valid, minlength=bins)
    edges = np.arange(bins + 1) * valid / bins
    probs = np.diff(np.ceil(edges)) / valid          # share of start positions in each bin
    bad = _frequencies_fit(counts.astype(float), probs)
    if bad is not None:
        raise ReferenceMismatch(f"hidden case {where}: over {n} rows, {counts[bad]} start in the "
                                f"{bad + 1}th tenth of the valid positions, far from uniform: draw every "
                                "start from 0 to len(data) - T - 1 with equal chance")
    never = sorted(set(range(valid)) - set(seen.tolist()))
    if never and n >= 20 * valid:       # each start expected at least 20 times: none should be missing
        raise ReferenceMismatch(f"hidden case {where}: over {n} rows, {len(never)} valid start position(s) "
                                f"were never drawn (the last valid start is len(data) - T - 1)")


DISTRIBUTIONS = {"next_token": _check_next_token, "windows": _check_windows}
