"""Tests of seqlab.dates (Lab 4's generated date task) and seqlab.seq2seq_data (vocab, batches, CMUdict, error rates)."""
import datetime as dt

import numpy as np
import pytest

from seqlab.dates import FORMATS, format_date, date_splits
from seqlab.seq2seq_data import (BOS, EOS, PAD, Vocab, edit_distance, g2p_error_rates, load_cmudict,
                                 make_batch)


def test_every_style_by_hand():
    """Does each style write 3 March 1981 (a Tuesday) as documented?"""
    d = dt.date(1981, 3, 3)
    got = [format_date(d, i) for i in range(len(FORMATS))]
    assert got == ["3 March 1981", "March 3, 1981", "03 Mar 1981", "Tuesday, March 3, 1981", "Tue 3 Mar 1981",
                   "03.03.1981", "3.3.81", "3/3/1981", "03/03/81", "1981/03/03", "the 3rd of March 1981",
                   "March 3rd, 1981", "MAR 3 1981", "3 mar 81", "03-Mar-1981", "19810303",
                   "tuesday 3rd march 1981"]


def test_ordinals_and_two_digit_years():
    """Are 11th-13th and 21st-23rd right, and 2049 written '49'?"""
    assert format_date(dt.date(2049, 12, 11), 10) == "the 11th of December 2049"
    assert format_date(dt.date(2049, 12, 22), 11) == "December 22nd, 2049"
    assert format_date(dt.date(2049, 12, 22), 13) == "22 dec 49"


def test_splits_are_reproducible_and_disjoint_by_day():
    """Same seed, same data; and no held-out day ever appears in training, in any style?"""
    a = date_splits(n_train=3000, n_val=200, n_test=300, seed=1)
    b = date_splits(n_train=3000, n_val=200, n_test=300, seed=1)
    assert a == b
    train, val, test = a
    days = lambda pairs: {iso for _, iso in pairs}
    assert not days(train) & days(test) and not days(train) & days(val) and not days(val) & days(test)
    assert len(test) == len(days(test)) == 300
    assert date_splits(n_train=10, n_val=5, n_test=5, seed=2)[2] != test[:5]


def test_every_source_has_one_answer():
    """Does each generated string map to a single ISO date (no ambiguous styles)?"""
    train, _, _ = date_splits(n_train=20000, n_val=10, n_test=10, seed=0)
    answer = {}
    for src, iso in train:
        assert answer.setdefault(src, iso) == iso, f"{src!r} means both {answer[src]} and {iso}"
        dt.date.fromisoformat(iso)


def test_batch_layout():
    """Are tgt_in/tgt_out shifted by one, framed by <bos>/<eos>, padded with 0 and masked?"""
    src_v = Vocab.from_sequences(["ab", "c"])
    tgt_v = Vocab.from_sequences([["X", "Y"]])
    b = make_batch([(list("ab"), ["X", "Y"]), (list("c"), ["Y"])], src_v, tgt_v)
    X, Y = tgt_v.encode(["X", "Y"])
    assert b.tgt_in.tolist() == [[BOS, X, Y], [BOS, Y, PAD]]
    assert b.tgt_out.tolist() == [[X, Y, EOS], [Y, EOS, PAD]]
    assert b.tgt_mask.tolist() == [[True, True, True], [True, True, False]]
    assert b.src_mask.tolist() == [[True, True], [True, False]]
    sub = b.select([1])
    assert sub.src.shape == (1, 1) and sub.tgt_in.shape == (1, 2)
    assert tgt_v.decode([X, Y, EOS, X]) == ["X", "Y"]


def test_edit_distance_and_error_rates():
    """Is edit distance Levenshtein's, and are WER/PER scored against the closest pronunciation?"""
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3
    wer, per = g2p_error_rates([("A", "B"), ("C",)], [[("A", "B")], [("D", "E"), ("C", "E")]])
    assert wer == pytest.approx(0.5) and per == pytest.approx(1 / 4)


def test_cmudict_loads_words_without_stress():
    """Does CMUdict load with 39 stress-free phonemes and alternative pronunciations?"""
    cmu = load_cmudict()
    assert len(cmu) > 100000
    assert cmu["knight"][0] == ("N", "AY", "T")
    phones = {p for prons in cmu.values() for pron in prons for p in pron}
    assert len(phones) == 39
    assert any(len(p) > 1 for p in cmu.values())
