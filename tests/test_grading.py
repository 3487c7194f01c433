"""seqlab.grading: recording, comparing, and the emit mode the sandboxed autograder scores from."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from seqlab import grading
from seqlab.grading import ReferenceMismatch, compare, decode, encode, matches_reference


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(grading._to_numpy(value)))))


def test_encode_roundtrips_nested_outputs_exactly():
    """Do arrays (0-d, transposed, float32, int, bool), tensors, tuples, lists and dicts survive JSON?"""
    value = (np.float64(2.5), np.arange(6.0).reshape(2, 3).T, np.array(3, dtype=np.float32),
             {"h": torch.ones(2, 2), 3: np.int64(4)}, [True, "x", None], np.zeros((0, 4)))
    back = roundtrip(value)
    assert back[0].shape == () and back[0] == 2.5
    assert np.array_equal(back[1], value[1]) and back[1].shape == (3, 2)
    assert back[2].dtype == np.float32 and back[2].shape == ()
    assert np.array_equal(back[3]["h"], np.ones((2, 2))) and back[3][3] == 4
    assert back[4][1:] == ["x", None] and back[5].shape == (0, 4)
    compare("k", back, grading._to_numpy(value))


@pytest.mark.parametrize("bad", [
    {"__nd__": "|O", "shape": [1], "data": ""},                  # object arrays could hold anything
    {"__nd__": "<f8", "shape": [2], "data": "AAAA"},             # the bytes don't fill the shape
    {"__pickle__": "gASVAAAAAAAAAACMAWGULg=="},                 # no other tags, and never pickle
    {"__nd__": "<f8", "shape": [1], "data": "not base64!"},
])
def test_decode_refuses_malformed_or_unsafe_input(bad):
    """Does decoding an emitted line refuse what is not plain numbers, instead of trusting it?"""
    with pytest.raises(ValueError):
        decode(bad)


def test_emit_mode_writes_json_lines_and_never_reads_the_store(tmp_path, monkeypatch):
    """In the sandbox, does matches_reference append the output as JSON without touching a store?"""
    emit = tmp_path / "emitted.jsonl"
    monkeypatch.setenv(grading.MODE_ENV, "emit")
    monkeypatch.setenv(grading.EMIT_ENV, str(emit))
    monkeypatch.setenv(grading.STORE_ENV, str(tmp_path / "absent.pkl"))
    matches_reference("lab/a", np.arange(3.0))
    matches_reference("lab/b", (np.ones(2), 7))
    lines = [json.loads(line) for line in emit.read_text().splitlines()]
    assert [line["key"] for line in lines] == ["lab/a", "lab/b"]
    assert np.array_equal(decode(lines[0]["value"]), np.arange(3.0))
    assert not (tmp_path / "absent.pkl").exists()


def test_record_then_compare_names_what_differs_without_the_expected_values(tmp_path, monkeypatch):
    """Does compare mode fail a wrong output with a message that gives no expected value away?"""
    store = tmp_path / "ref.pkl"
    monkeypatch.setenv(grading.STORE_ENV, str(store))
    monkeypatch.setenv(grading.MODE_ENV, "record")
    matches_reference("k", np.array([1.5, 2.25]))
    assert pickle.loads(store.read_bytes())["k"].tolist() == [1.5, 2.25]
    monkeypatch.delenv(grading.MODE_ENV)
    matches_reference("k", np.array([1.5, 2.25]))
    with pytest.raises(ReferenceMismatch) as err:
        matches_reference("k", np.array([1.5, 9.0]))
    assert "1 of 2 entries differ" in str(err.value) and "2.25" not in str(err.value)


def _sampler(rng, probs, temperature=1.0, max_len=5):
    """Sequences from a toy model: token t is followed by probs[t] (probs[-1] opens), 0 ends."""
    out = []
    while len(out) < max_len:
        p = probs[out[-1] if out else -1] ** (1 / temperature)
        token = int(rng.choice(len(p), p=p / p.sum()))
        if token == 0:
            break
        out.append(token)
    return out


def _model(probs):
    first = probs[-1]
    prefixes = {(): first, **{(int(t),): probs[int(t)] for t in np.argsort(-first)[:3] if t}}
    return {"prefixes": prefixes, "stop": 0, "max_len": 5}


def test_next_token_draws_pass_for_any_seed_and_fail_for_a_wrong_temperature(tmp_path, monkeypatch):
    """Does the distribution check accept every seed of a right sampler and catch a wrong temperature?"""
    probs = np.random.default_rng(0).dirichlet(np.ones(6), size=7)
    monkeypatch.setenv(grading.STORE_ENV, str(tmp_path / "s.pkl"))
    monkeypatch.setenv(grading.MODE_ENV, "record")
    grading.matches_distribution("s", [], _model(probs), kind="next_token")
    monkeypatch.setenv(grading.MODE_ENV, "")
    for seed in range(4):
        rng = np.random.default_rng(seed)
        grading.matches_distribution("s", [_sampler(rng, probs) for _ in range(3000)], _model(probs),
                                     kind="next_token")
    rng = np.random.default_rng(9)
    with pytest.raises(ReferenceMismatch, match="too far from the model's distribution"):
        grading.matches_distribution("s", [_sampler(rng, probs, temperature=0.5) for _ in range(3000)],
                                     _model(probs), kind="next_token")
    with pytest.raises(ReferenceMismatch, match="end token"):
        grading.matches_distribution("s", [[1, 0, 2]] * 100, _model(probs), kind="next_token")


def test_window_draws_must_be_shifted_windows_from_every_start():
    """Does the windows check catch a wrong target, a start past the end and a start never drawn?"""
    data, T = np.arange(30), 5
    model = {"__distribution__": "windows", "model": {"data": data, "seq_len": T}}

    def batches(rng, high=len(data) - T, shift=1, n=40):
        out = []
        for _ in range(n):
            s = rng.integers(0, high, size=16)
            out.append((np.stack([data[i:i + T] for i in s]), np.stack([data[i + shift:i + shift + T] for i in s])))
        return out
    compare("w", batches(np.random.default_rng(1)), model)
    with pytest.raises(ReferenceMismatch, match="shifted one step"):
        compare("w", batches(np.random.default_rng(1), shift=2, high=len(data) - T - 1), model)
    with pytest.raises(ReferenceMismatch, match="never drawn|far from uniform"):
        compare("w", batches(np.random.default_rng(1), high=len(data) - T - 1), model)


def test_draws_of_python_ints_survive_the_emit_file():
    """Are draws given as lists of Python ints judged the same after encode and decode (the grader's view)?"""
    draws = [[1, 2], [3], []] * 40
    model = {"__distribution__": "next_token",
             "model": grading._to_numpy({"prefixes": {(): np.array([1 / 3, 1 / 3, 0.0, 1 / 3])}, "stop": 0,
                                         "max_len": 3})}
    compare("k", roundtrip(draws), model)


def test_a_float_result_may_not_lose_the_references_precision():
    """float32 where the reference is float64 (an array made without the inputs' dtype) is a mismatch,
    even when every value is within the tolerance; more precision than the reference is fine."""
    want = np.linspace(0.1, 1.0, 6)
    with pytest.raises(ReferenceMismatch, match=r"dtype float32, expected float64"):
        compare("p", want.astype(np.float32), want)
    compare("p", want, want.astype(np.float32))
    compare("p", torch.from_numpy(want), want)


def test_float64_results_computed_in_float32_and_cast_back_differ():
    """At the default tolerance, does a float64 reference refuse a result computed in float32 and cast
    back (off by ~1e-7), while another order of float64 sums (off by ~1e-16) passes?"""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(20, 30)), rng.normal(size=(30, 10))
    want = x @ w
    with pytest.raises(ReferenceMismatch, match="differ from the reference"):
        compare("h", (x.astype(np.float32) @ w.astype(np.float32)).astype(np.float64), want)
    compare("h", np.einsum("ij,jk->ik", x[:, ::-1], w[::-1]), want)
    compare("h32", (x.astype(np.float32) @ w.astype(np.float32)), want.astype(np.float32))


def test_bytes_survive_the_emit_file_exactly_as_keys_and_values(tmp_path, monkeypatch):
    """Do bytes (BPE's pre-tokens: quotes, newlines, any byte) reach the grader as the same bytes?

    The reference is recorded as the grader sees it, and an in-process check compares that form too,
    so a reference that passes the mutation tests also passes a TA's run (a dict keyed by bytes once
    failed only there). A difference after 200 bytes must still be seen."""
    words = {b"' \"'": 2, b"\n\n": 3, bytes(range(256)): 1, b"": 4}
    assert roundtrip(words) == words
    long_a, long_b = b"x" * 300 + b"a", b"x" * 300 + b"b"
    store = tmp_path / "ref.pkl"
    monkeypatch.setenv(grading.STORE_ENV, str(store))
    monkeypatch.setenv(grading.MODE_ENV, "record")
    matches_reference("bpe", (words, long_a))
    monkeypatch.delenv(grading.MODE_ENV)
    matches_reference("bpe", (dict(words), long_a))
    emitted = decode(json.loads(json.dumps(encode(grading._to_numpy((words, long_a))))))
    compare("bpe", emitted, pickle.loads(store.read_bytes())["bpe"])
    with pytest.raises(ReferenceMismatch):
        matches_reference("bpe", (words, long_b))
    with pytest.raises(ReferenceMismatch):
        matches_reference("bpe", ({**words, b"' \"'": 5}, long_a))
