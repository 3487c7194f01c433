"""Lab 7's byte-pair encoder (`learn_bpe`, `bpe_encode`, `bpe_decode` in solutions/07_language.ipynb)
against Hugging Face's tokenizers, beyond the few cases of the lab's visible tests.

The lab's tie rule (the highest count, then the smallest pair (a, b)) is the order of tokenizers'
BpeTrainer, whose merge queue compares equal counts by their pair of ids, smaller first. Its ids are
the lab's when the initial alphabet is the 256 bytes written as Latin-1 characters (sorted by code
point, byte b gets id b) and no special tokens are added; a BPE model built from the same merges,
with the lab's pre-tokeniser as a Split, then encodes as bpe_encode does. The reference functions
are loaded from the solution notebook.
"""
from __future__ import annotations

import json
import os
import random

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
tokenizers = pytest.importorskip("tokenizers")
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers  # noqa: E402

from labharness import solution_namespace  # noqa: E402


@pytest.fixture(scope="module")
def lab():
    return solution_namespace("07_language")


def latin1(data: bytes) -> str:
    return bytes(data).decode("latin-1")


def hf_learn(corpus: dict, num_merges: int) -> list:
    """tokenizers' merges, as pairs of ids, for a dict pre-token (bytes) -> count, each fed whole."""
    tokenizer = Tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=256 + num_merges, initial_alphabet=[chr(b) for b in range(256)],
                                  min_frequency=0, show_progress=False, special_tokens=[])
    tokenizer.train_from_iterator((latin1(w) for w, n in corpus.items() for _ in range(n)), trainer)
    model = json.loads(tokenizer.to_str())["model"]
    assert all(isinstance(m, list) for m in model["merges"]), "tokenizers >= 0.20 saves merges as pairs"
    return [tuple(model["vocab"][s] for s in m) for m in model["merges"]]


def hf_encoder(merges: list, pattern: str):
    tokens = [bytes([b]) for b in range(256)]
    for a, b in merges:
        tokens.append(tokens[a] + tokens[b])
    tokenizer = Tokenizer(models.BPE(vocab={latin1(t): i for i, t in enumerate(tokens)},
                                     merges=[(latin1(tokens[a]), latin1(tokens[b])) for a, b in merges]))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    return lambda text: tokenizer.encode(latin1(text.encode("utf-8"))).ids if text else []


def random_text(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


ALPHABETS = ["ab", "abc", "ab \n", "aé😀 ", "xyz 1", "aa  b\t", "—e\u0301 ", "\x00a\n"]


def test_learn_bpe_makes_tokenizers_merges_on_shakespeare(lab):
    """On the whole of Hamlet with 400 merges, are learn_bpe's merges tokenizers', one for one?"""
    corpus = lab["word_counts"](lab["plays"]["hamlet"])
    assert lab["learn_bpe"](corpus, 400) == hf_learn(corpus, 400)


def test_learn_bpe_makes_tokenizers_merges_on_random_corpora(lab):
    """On 300 random corpora over small alphabets (ties everywhere, overlaps, running out of pairs)?"""
    rng = random.Random(3)
    for _ in range(300):
        text = random_text(rng, rng.choice(ALPHABETS), rng.randint(1, 200))
        corpus, n = lab["word_counts"](text), rng.randint(0, 40)
        assert lab["learn_bpe"](corpus, n) == hf_learn(corpus, n), (text, n)


def test_merges_never_make_a_token_twice(lab):
    """Is every token of a learned vocabulary new (tokenizers would give a repeated one the old id, and
    the lab's ids, 256 + k for merge k, would part from its ids from there on)?"""
    rng = random.Random(5)
    corpora = [lab["word_counts"](lab["plays"]["macbeth"])] + [
        lab["word_counts"](random_text(rng, rng.choice(ALPHABETS), 300)) for _ in range(100)]
    for corpus in corpora:
        vocab = lab["bpe_vocab"](lab["learn_bpe"](corpus, 300))
        assert len(set(vocab)) == len(vocab)


def test_bpe_encode_gives_tokenizers_ids(lab):
    """With merges from Hamlet, does bpe_encode give the ids of tokenizers' BPE model on other plays and
    on random text with characters of every length in UTF-8?"""
    merges = hf_learn(lab["word_counts"](lab["plays"]["hamlet"]), 500)
    encode = hf_encoder(merges, lab["WORD_PATTERN"])
    for play in ("macbeth", "the-tempest"):
        text = lab["plays"][play][:50_000]
        assert lab["bpe_encode"](text, merges) == encode(text)
    rng = random.Random(9)
    pool = "The the theatre  \n\n\t,.;'—é\u0301☃👍🏽\x00"
    for _ in range(200):
        text = random_text(rng, pool, rng.randint(0, 60))
        assert lab["bpe_encode"](text, merges) == encode(text), text


def random_unicode(rng: random.Random, length: int) -> str:
    """Any code point but the surrogates (which no UTF-8 string holds), from every plane in use."""
    out = []
    for _ in range(length):
        top = rng.choice([0x80, 0x800, 0x10000, 0x110000])
        c = rng.randrange(top)
        out.append(chr(c if not 0xD800 <= c < 0xE000 else 0xFFFD))
    return "".join(out)


def test_decode_of_encode_is_the_text_for_any_unicode(lab):
    """Does bpe_decode(bpe_encode(x)) give x back for random strings of any code points, NUL and lone
    newlines and combining marks included?"""
    merges = hf_learn(lab["word_counts"](lab["plays"]["hamlet"][:30_000]), 200)
    vocab = lab["bpe_vocab"](merges)
    rng = random.Random(13)
    for text in [random_unicode(rng, rng.randint(0, 80)) for _ in range(500)] + ["\n", "\x00", "e\u0301", "👨‍👩‍👧"]:
        assert lab["bpe_decode"](lab["bpe_encode"](text, merges), vocab) == text


def test_split_words_cuts_the_same_on_text_and_on_bytes(lab):
    """Does the pre-tokeniser give the same cuts on a string and on its UTF-8 bytes read as Latin-1 (so
    that tokenizers, which sees the Latin-1 form, cuts where the lab does)?"""
    rng = random.Random(17)
    for _ in range(500):
        text = random_unicode(rng, rng.randint(0, 40)) + random_text(rng, " a\n\t1.—", 10)
        pieces = lab["split_words"](text)
        assert "".join(pieces) == text
        assert [latin1(p.encode("utf-8")) for p in pieces] == lab["split_words"](latin1(text.encode("utf-8")))
