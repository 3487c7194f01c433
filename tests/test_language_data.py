"""Tests of seqlab.language: Lab 7's Shakespeare speeches, Turkish names, vocabulary and padding."""
import importlib.metadata

import numpy as np
import pytest

from seqlab.language import (CLASSES, TAGS, WordVocab, bio_tags, glove_rows, glove_tokenize, merge_groups, pad_ids,
                             shakespeare_speeches, turkish_names)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def speeches():
    return shakespeare_speeches()


@pytest.fixture(scope="module")
def names():
    return turkish_names()


def _rows(conllu: str) -> list[list[str]]:
    return [line.split("\t") for line in conllu.strip().splitlines() if line and not line.startswith("#")]


# ---------------------------------------------------------------- Shakespeare
def test_speeches_come_from_29_plays_split_by_play(speeches):
    """Are the 29 comedies, histories and tragedies there, each play in exactly one split?"""
    plays = [p for split in ("train", "val", "test") for p in speeches.plays[split]]
    assert len(plays) == len(set(plays)) == 29
    assert "hamlet" in plays and "julius-caesar" in plays and "the-tempest" not in plays
    assert speeches.classes == CLASSES == ("comedy", "history", "tragedy")


def test_held_out_plays_cover_every_class_and_keep_series_together(speeches):
    """Does every split hold every class, and do the parts of Henry IV / Henry VI share one split?"""
    for split in ("train", "val", "test"):
        assert (speeches.shares(split) > 0.2).all(), (split, speeches.shares(split))
    where = {p: s for s in ("train", "val", "test") for p in speeches.plays[s]}
    assert where["henry-iv-part-1"] == where["henry-iv-part-2"]
    assert where["henry-vi-part-1"] == where["henry-vi-part-2"] == where["henry-vi-part-3"]


def test_speech_counts(speeches):
    """Are the counts those the lab quotes (seed 0, at least 8 words)?"""
    assert (len(speeches.train), len(speeches.val), len(speeches.test)) == (11359, 2249, 3562)
    assert all(len(tokens) >= 8 and label in (0, 1, 2) for tokens, label in speeches.train[:500])


def test_stage_directions_are_left_out(speeches):
    """Are stage directions (_Exit_, *Exeunt*, [Aside]) kept out of the speeches?"""
    words = {w for tokens, _ in speeches.train + speeches.val + speeches.test for w in tokens}
    assert "exeunt" not in words


def test_tokenizer_matches_glove():
    """Are words split as GloVe 6B's vocabulary expects?"""
    assert glove_tokenize("Don't, King's men! O'er the sea; 'tis twelve.") == \
        ["do", "n't", "king", "'s", "men", "o'er", "the", "sea", "tis", "twelve"]


def test_speeches_are_deterministic_and_seeded(speeches):
    """Does the same seed give the same split, and another seed another one?"""
    again = shakespeare_speeches()
    assert again.plays == speeches.plays and again.train[:50] == speeches.train[:50]
    assert shakespeare_speeches(seed=1).plays != speeches.plays


# ---------------------------------------------------------------- Turkish Web Treebank
def test_treebank_files_are_found_through_package_metadata():
    """Are both CoNLL-U files installed where importlib.metadata says?"""
    paths = sorted(str(f) for f in importlib.metadata.files("turkish-treebanks") if str(f).endswith(".conllu"))
    assert paths == ["data/web.conllu", "data/wiki.conllu"]


def test_inflectional_groups_join_into_words():
    """Does a token with DEPREL ig join the next token (a real sentence of the web section)?"""
    sentence = """
1	Açık	açık	NOUN	NN	PersonNumber=A3sg|Possessive=Pnon|Case=Bare|Proper=False	2	ig	_	SpaceAfter=No
2	la	_	VERB	VB	Derivation=Make|Proper=False	3	ig	_	SpaceAfter=No
3	nma	_	VERB	VB	Derivation=Pass|Polarity=Neg|Proper=False	4	ig	_	SpaceAfter=No
4	yan	_	ADJ	VJ	Derivation=PresPart|Possessive=Pnon|Proper=False	5	rcmod	_	_
5	soruların	soru	NOUN	NN	PersonNumber=A3pl|Possessive=Pnon|Case=Gen|Proper=False	11	poss	_	_
6	imkan	imkan	NOUN	NN	PersonNumber=A3sg|Possessive=Pnon|Case=Bare|Proper=False	7	ig	_	SpaceAfter=No
7	sız	_	VERB	NOMP	Derivation=Wout|PersonNumber=A3sg|Proper=False	0	root	_	SpaceAfter=No
8	.	.	PUNCT	.	Proper=False	7	p	_	_
"""
    assert merge_groups(_rows(sentence)) == [("Açıklanmayan", "ADJ", False), ("soruların", "NOUN", False),
                                             ("imkansız", "VERB", False), (".", "PUNCT", False)]


def test_a_dangling_group_is_an_error():
    """Is a sentence that ends inside a word refused with a message?"""
    rows = _rows("1\tAçık\tx\tNOUN\tNN\tProper=False\t2\tig\t_\t_\n")
    with pytest.raises(ValueError, match="inflectional group"):
        merge_groups(rows)


def test_bio_tags_from_proper_words():
    """Do consecutive proper words form one name, and separate runs separate names?"""
    assert bio_tags([True, True, False, True, False, False, True]) == \
        ["B-NAME", "I-NAME", "O", "B-NAME", "O", "O", "B-NAME"]


def test_treebank_counts(names):
    """Are there 4,851 sentences, 66,466 words and 4,578 names in all?"""
    every = names.train + names.val + names.test
    assert len(every) == 4851
    assert sum(len(w) for w, _, _ in every) == 66466
    assert sum(t.count("B-NAME") for _, t, _ in every) == 4578
    assert (len(names.train), len(names.val), len(names.test)) == (3880, 481, 490)


def test_words_rebuild_the_sentence_text(names):
    """Do the joined words, in order, spell each sentence's text (spaces aside)?"""
    path = next(f.locate() for f in importlib.metadata.files("turkish-treebanks") if str(f) == "data/web.conllu")
    texts = {l[len("# text = "):].replace(" ", "") for l in path.read_text(encoding="utf-8").splitlines()
             if l.startswith("# text = ")}
    every = names.train + names.val + names.test
    assert sum("".join(w) in texts for w, _, _ in every) == 2541   # every web sentence


def test_tags_are_valid_bio(names):
    """Is every sequence valid BIO (no I-NAME first or after O), with one POS tag per word?"""
    for words, bio, pos in names.train + names.val + names.test:
        assert len(words) == len(bio) == len(pos) > 0
        assert set(bio) <= set(TAGS)
        assert all(t != "I-NAME" or (i > 0 and bio[i - 1] != "O") for i, t in enumerate(bio))
        assert set(pos) <= set(names.pos_tags)
    assert "PROPN" not in names.pos_tags and {"NOUN", "VERB", "PUNCT"} <= set(names.pos_tags)


def test_splits_share_no_document(names):
    """Do the splits share no sentence, and no document (its id without the sentence number)?"""
    from seqlab.language import _treebank

    docs_of = {}
    for doc, words, *_ in _treebank():
        docs_of.setdefault(words, set()).add(doc)
    seen = {s: {d for w, _, _ in getattr(names, s) for d in docs_of[w]} for s in ("train", "val", "test")}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])


def test_names_are_deterministic_and_seeded(names):
    """Does the same seed give the same split, and another seed another one?"""
    assert turkish_names().test == names.test
    assert turkish_names(seed=1).test != names.test
    with pytest.raises(ValueError):
        turkish_names(val_frac=0.6, test_frac=0.5)


# ---------------------------------------------------------------- vocabulary, padding, GloVe
def test_vocab_pads_and_unknowns():
    """Are <pad> 0 and <unk> 1, words by frequency, and unknown words <unk>?"""
    vocab = WordVocab.from_sequences([["b", "a", "b"], ["c", "b", "a"]], min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "b", "a"]
    assert vocab.encode(["a", "zzz", "b"]) == [3, 1, 2]


def test_pad_ids_right_pads_and_cuts():
    """Are lists right-padded with 0, cut at max_len, with their lengths?"""
    ids, lengths = pad_ids([[5, 6, 7], [8]], max_len=2)
    assert ids.tolist() == [[5, 6], [8, 0]] and lengths.tolist() == [2, 1]
    assert ids.dtype == lengths.dtype == torch.long
    with pytest.raises(ValueError):
        pad_ids([[1], []])


def test_glove_rows():
    """Are the rows GloVe's vectors, with zeros and found=False for unknown words?"""
    vectors, found = glove_rows(["the", "qqqzzzx", "king"])
    assert vectors.shape == (3, 50) and vectors.dtype == np.float32
    assert found.tolist() == [True, False, True]
    assert not vectors[1].any() and vectors[0].any()
