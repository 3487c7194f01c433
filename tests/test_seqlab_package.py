"""Tests of the seqlab package surface: light import, data, runtime and training helpers."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import seqlab
from seqlab import grading
from seqlab.data import CharVocab, load_names, split
from seqlab.runtime import budget, get_device, seed_everything
from seqlab.train import Adam, History, train_loop


def test_import_is_light():
    """Does `import seqlab` leave torch, numpy, matplotlib, nbgrader and the autograder unloaded?"""
    code = ("import sys, seqlab; heavy = [m for m in ('torch', 'numpy', 'matplotlib', 'nbgrader', "
            "'autograder', 'tqdm') if m in sys.modules]; print(heavy); assert not heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves():
    """Does every name in seqlab.__all__ load?"""
    for name in seqlab.__all__:
        assert getattr(seqlab, name) is not None


def test_names_are_real_and_clean():
    """Are the census names plentiful, lower-case letters only, distinct, most frequent first?"""
    names = load_names()
    assert len(names) > 4000 and len(set(names)) == len(names)
    assert all(n.isalpha() and n.islower() and len(n) >= 2 for n in names)
    assert names[0] in {"james", "mary", "john"}


def test_split_is_disjoint_and_reproducible():
    """Does split give disjoint parts that cover everything, the same for the same seed?"""
    items = list(range(100))
    train, val = split(items, 0.2, seed=3)
    assert len(val) == 20 and sorted(train + val) == items
    assert split(items, 0.2, seed=3) == (train, val)


def test_vocab_batch_frames_each_name():
    """Are inputs '.'+name and targets name+'.', with padding masked out?"""
    vocab = CharVocab.from_texts(["ab", "c"])
    x, y, mask = vocab.batch(["ab", "c"])
    assert vocab.decode(x[0]) == ".ab" and vocab.decode(y[0]) == "ab."
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    with pytest.raises(KeyError, match="not in the vocabulary"):
        vocab.encode("z")


def test_budget_follows_nbgrader(monkeypatch):
    """Does budget() pick the reduced value only under autograding?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert budget(100, 5) == 100
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert budget(100, 5) == 5


def test_seed_everything_is_reproducible():
    """Do two seeds give the same numpy and torch draws?"""
    torch = pytest.importorskip("torch")
    a = (seed_everything(7).normal(), torch.rand(1).item())
    b = (seed_everything(7).normal(), torch.rand(1).item())
    assert a == b


def test_device_can_be_forced(monkeypatch):
    """Does SEQLAB_DEVICE force the device, and is the default usable?"""
    pytest.importorskip("torch")
    monkeypatch.setenv("SEQLAB_DEVICE", "cpu")
    assert get_device().type == "cpu"
    monkeypatch.delenv("SEQLAB_DEVICE")
    assert get_device().type in {"cpu", "cuda", "mps"}


def test_adam_minimises_a_quadratic():
    """Does Adam drive a quadratic's parameters to its minimum?"""
    params = {"w": np.array([3.0, -2.0])}
    opt = Adam(params, lr=0.1)
    for _ in range(500):
        opt.step({"w": 2 * params["w"]})
    assert np.abs(params["w"]).max() < 1e-2


def test_train_loop_records_and_stops_on_nan():
    """Does the loop record losses and evaluations, and stop with advice on a NaN loss?"""
    history = train_loop(lambda i: 1.0 / (i + 1), 20, evaluate=lambda: 0.5, eval_every=10)
    assert isinstance(history, History) and len(history.losses) == 20
    assert history.eval_steps == [10, 20] and history.final_eval == 0.5
    with pytest.raises(FloatingPointError, match="learning rate"):
        train_loop(lambda i: float("nan") if i == 3 else 1.0, 10)


def test_plot_losses_draws_both_curves():
    """Does the loss plot show the training and held-out curves?"""
    import matplotlib
    matplotlib.use("Agg")
    from seqlab.train import plot_losses
    history = train_loop(lambda i: 1.0 / (i + 1), 60, evaluate=lambda: 0.5, eval_every=20)
    ax = plot_losses(history)
    assert len(ax.lines) == 3


def test_reference_store_records_then_compares(tmp_path, monkeypatch):
    """Does matches_reference record in record mode, pass the same output, and reject another?"""
    store = tmp_path / "ref.pkl"
    monkeypatch.setenv(grading.STORE_ENV, str(store))
    monkeypatch.setenv(grading.MODE_ENV, "record")
    out = (np.arange(6.0).reshape(2, 3), {"db": np.ones(3)})
    grading.matches_reference("f/case", out)
    assert set(pickle.loads(store.read_bytes())) == {"f/case"}
    monkeypatch.delenv(grading.MODE_ENV)
    grading.matches_reference("f/case", out)
    nudged = out[0].copy()
    nudged[1, 2] += 1e-3
    with pytest.raises(grading.ReferenceMismatch, match=r"1 of 6 entries differ") as info:
        grading.matches_reference("f/case", (nudged, out[1]))
    assert "5.0" not in str(info.value)  # never the expected values
    with pytest.raises(grading.ReferenceMismatch, match="shape"):
        grading.matches_reference("f/case", (out[0].T, out[1]))
    with pytest.raises(RuntimeError, match="release the lab again"):
        grading.matches_reference("g/never", 1.0)


def test_reference_store_is_inert_without_a_store(monkeypatch):
    """Does matches_reference do nothing for a student, who has no store?"""
    monkeypatch.delenv(grading.STORE_ENV, raising=False)
    grading.matches_reference("anything", object())


def test_record_mode_cannot_overwrite_a_recording(tmp_path, monkeypatch):
    """Does a submission that switches itself to record mode still face the recorded reference?"""
    store = tmp_path / "ref.pkl"
    monkeypatch.setenv(grading.STORE_ENV, str(store))
    monkeypatch.setenv(grading.MODE_ENV, "record")
    grading.matches_reference("f/case", np.ones(3))
    with pytest.raises(grading.ReferenceMismatch):
        grading.matches_reference("f/case", np.zeros(3))
