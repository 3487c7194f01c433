"""Tests of seqlab/music.py (Lab 6's tunes, rendering, novelty) and seqlab/liveplot.py."""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from seqlab.liveplot import LiveLossPlot
from seqlab.music import (AbcGuard, NoveltyIndex, RenderError, abc_to_midi, check_tune, clean_tune, drop_repeats,
                          load_tunes, midi_to_wave, parse_abc, repeats_pair_up, tune_body, tune_title,
                          tunes_to_text, wave_levels)
from seqlab.train import train_loop

RAW = """X: 7
T: The Test Jig
M: 6/8
L: 1/8
R: jig
Z: someone
K:G
% a comment
"G"G2B {c}d2e | !trill!d2B (AGA) | (3BcB "_mf"A G2 :|
|: g2e ~d2B | d2e dBA :|
"""
TUNE = "X:1\nT:Little Tune\nM:4/4\nL:1/8\nK:D\n|:d2fd AdfA|d2fd e2a2:|\n|:a2fa gfed|c2e2 d4:|"


@pytest.fixture(scope="module")
def tunes():
    return load_tunes()


def test_clean_tune_keeps_headers_and_melody_and_drops_ornaments():
    """Does cleaning keep T/M/L/K and the notes, and remove chords, grace notes, decorations, slurs, comments?"""
    tune = clean_tune(RAW)
    lines = tune.splitlines()
    assert lines[:5] == ["X:1", "T:The Test Jig", "M:6/8", "L:1/8", "K:G"]
    body = tune_body(tune)
    assert body.splitlines() == ["G2B d2e | d2B AGA | (3BcB A G2 :|", "|: g2e d2B | d2e dBA :|"]
    assert tune_title(tune) == "The Test Jig"


@pytest.mark.parametrize("raw, why", [
    ("X:1\nT:a\nM:2/4\nL:1/8\nK:G\nGABc|\nK:D\ndefg|\n", "a key change inside the melody"),
    ("X:1\nT:a\nM:2/4\nL:1/8\nK:G\nGABc|[K:D]defg|\n", "an inline field"),
    ("X:1\nT:a\nM:2/4\nL:1/8\nK:G\nGABc|déf|\n", "non-ASCII text"),
    ("X:1\nT:a\nL:1/8\nK:G\nGABc|\n", "no metre"),
])
def test_clean_tune_drops_what_it_cannot_keep(raw, why):
    """Is a tune the model could not learn or music21 could not play dropped (None)?"""
    assert clean_tune(raw) is None, why


def test_load_tunes_is_deduplicated_and_clean(tunes):
    """Are the corpus tunes loaded offline, each once, in the cleaned form, within the length limits?"""
    assert 2500 < len(tunes) < 3500
    assert all(repeats_pair_up(tune_body(t)) for t in tunes)
    keys = [(t.splitlines()[2], t.splitlines()[4], re.sub(r"\s", "", tune_body(t))) for t in tunes]
    assert len(set(keys)) == len(keys), "a tune occurs twice"
    for t in tunes:
        lines = t.splitlines()
        assert [l[:2] for l in lines[:5]] == ["X:", "T:", "M:", "L:", "K:"]
        assert 60 <= len(tune_body(t)) <= 800
        assert t.isascii() and "\n\n" not in t and not set(tune_body(t)) & set('"!{}%')
    text = tunes_to_text(tunes[:3])
    assert text.count("\n\n") == 3 and text.endswith("\n\n")


def test_corpus_tunes_render_to_audible_waves(tunes):
    """Do a few corpus tunes go ABC -> MIDI -> WAV, with a plausible length and level, not silent, not clipped?"""
    fs = 8000
    for tune in tunes[:2] + tunes[-1:]:
        wave = midi_to_wave(abc_to_midi(tune, tune_title(tune)), fs=fs)
        levels = wave_levels(wave, fs)
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert 3 < levels["seconds"] < 300, levels
        assert levels["peak"] == pytest.approx(0.8, abs=1e-3)
        assert -30 < levels["rms_dbfs"] < -3, levels
        assert levels["clipped"] == 0


def test_wave_levels_of_a_known_sine():
    """Are length, peak and RMS those of a full-scale sine (RMS = peak / sqrt 2)?"""
    fs = 1000
    wave = 0.5 * np.sin(2 * np.pi * 5 * np.arange(2 * fs) / fs)
    levels = wave_levels(wave, fs)
    assert levels["seconds"] == 2.0
    assert levels["peak"] == pytest.approx(0.5, rel=1e-3)
    assert levels["rms"] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert levels["rms_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)


def test_errors_name_the_tune():
    """Does every failure raise (or record) an error that names the tune and the cause, never a None?"""
    with pytest.raises(RenderError, match=r"^tune 12: .*no notes"):
        parse_abc("X:1\nT:x\nM:4/4\nL:1/8\nK:C\nz8|", name="tune 12")
    with pytest.raises(RenderError, match=r"^empty one: "):
        abc_to_midi("X:1\nT:x\nM:4/4\nK:C\n", name="empty one")
    check = check_tune("X:1\nT:x\nM:4/4\nK:C\n", name="tune 3")
    assert not check.ok and check.error.startswith("tune 3: ")


def test_unpaired_repeats_are_refused_or_repaired_and_said_so():
    """Is a tune with an unclosed repeat refused as written, and rendered (flagged) only when repair is asked for?"""
    bad = "X:1\nT:x\nM:4/4\nL:1/8\nK:D\nd2fd AdfA|d2fd e2a2:|\n|:a2fa gfed|c2e2 d4|]"
    strict = check_tune(bad, name="tune 5")
    assert not strict.ok and "tune 5" in strict.error and "repeats" in strict.error
    repaired = check_tune(bad, name="tune 5", repair_repeats=True)
    assert repaired.ok and repaired.repaired and repaired.notes > 0
    assert ":" not in tune_body(drop_repeats(bad))
    good = check_tune(TUNE, name="good")
    assert good.ok and not good.repaired
    assert good.notes == 2 * (7 + 5) + 2 * (7 + 3)  # both parts played twice


def test_novelty_index_finds_a_planted_copy(tunes):
    """Does the novelty index name the training tune a passage was copied from, and its length?"""
    train = tunes[:200]
    index = NoveltyIndex(train)
    source = tune_body(train[123])
    passage = source[10:70]
    planted = "X:1\nT:Planted\nM:4/4\nL:1/8\nK:G\n" + "GzGz|" + passage + "|zGzG"
    nov = index.check(planted)
    assert nov.longest >= len(passage) and passage in nov.passage
    assert tune_body(train[nov.nearest]).find(passage) >= 0
    assert nov.nearest_title == tune_title(train[nov.nearest])
    copy = index.check(train[42])  # a whole training tune shares its whole melody
    assert copy.share == 1.0


def test_train_loop_calls_back_and_headless_live_plot_draws_nothing():
    """Does train_loop call its callback after every step with the history, and LiveLossPlot stay quiet headless?"""
    seen = []
    history = train_loop(lambda i: 1.0 / (i + 1), 30, evaluate=lambda: 0.5, eval_every=10,
                         callback=lambda i, h: seen.append((i, len(h.losses), len(h.eval_losses))))
    assert seen[0] == (0, 1, 0) and seen[9] == (9, 10, 1) and seen[-1] == (29, 30, 3)
    live = LiveLossPlot(every=5, references={"baseline": 0.7})
    history = train_loop(lambda i: 1.0 / (i + 1), 30, evaluate=lambda: 0.5, eval_every=10, callback=live)
    assert live.redraws == 0 and live.history is history
    import matplotlib
    matplotlib.use("Agg")
    ax = live.finish(history)
    assert ax.get_title() == "loss"
    assert "baseline" in [t.get_text() for t in ax.get_legend().get_texts()]
    import matplotlib.pyplot as plt
    plt.close("all")


LIVE_CELL = """
from seqlab.liveplot import LiveLossPlot
from seqlab.train import train_loop
live = LiveLossPlot(every=10, title="live")
history = train_loop(lambda i: 1.0 / (i + 1), 40, evaluate=lambda: 0.5, eval_every=20, callback=live)
ax = live.finish(history)
print("redraws", live.redraws)
"""


class _CountingClient(NotebookClient):
    """An nbclient that counts the display messages the kernel sends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds: list[str] = []

    def process_message(self, msg, cell, cell_index):
        self.kinds.append(msg["msg_type"])
        return super().process_message(msg, cell, cell_index)


def test_live_plot_updates_one_display_in_a_kernel(tmp_path, monkeypatch):
    """In a real kernel, is the plot shown once and then updated in place (update_display_data), not repeated?"""
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's default (inline) backend, as in Jupyter
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LIVE_CELL)])
    client = _CountingClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = nb.cells[0].outputs
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == 1, "the plot should be shown once, then updated in place"
    assert client.kinds.count("update_display_data") == 4  # 3 redraws during training + the final one
    assert "redraws 5" in "".join(o.get("text", "") for o in outputs)


@pytest.mark.parametrize("melody, ok", [
    ("|:AB:|cd:|", True), ("AB:|cd|]", True), ("|:AB::cd:|", True), ("|:AB|1c:|2d|]", True),
    ("AB:|\n|:cd|]", False), ("|:AB|:cd:|", False), ("|:AB", False),
])
def test_repeats_pair_up(melody, ok):
    """Is a start-repeat left open (which music21 refuses) told apart from well-formed repeats?"""
    assert repeats_pair_up(melody) is ok


# ----------------------------------------------------------------------------- constrained decoding
HEAD = "X:1\nT:x\nM:4/4\nL:1/8\nK:D\n"


def _guard(text: str) -> AbcGuard:
    return AbcGuard().feed_text(text)


def test_guard_lets_corpus_tunes_through(tunes):
    """Do the rules allow almost every training tune, character by character, and find each tune's end?"""
    refused = []
    for tune in tunes:
        guard = _guard("\n\n")
        for c in tune + "\n\n":
            if not guard.allowed(c):
                refused.append(tune)
                break
            guard.feed(c)
        else:
            assert guard.synced and guard.field == 0 and guard.line == "", "the tune's end was not seen"
    assert len(refused) <= 0.02 * len(tunes), f"{len(refused)} corpus tunes break a rule, e.g.\n{refused[0]}"


@pytest.mark.parametrize("written, banned, allowed", [
    ("\n\n", "T\n|", "X"),                                # between tunes: the next one begins
    ("X:1", "2 ", "\n"),                                  # X:1, nothing more
    ("X:1\n", "MXK\n", "T"),                              # headers in order
    ("X:1\nT:x\nM:", "\nx 5", "6C"),                      # a metre music21 reads
    ("X:1\nT:x\nM:6", "\n8", "/"),
    ("X:1\nT:x\nM:6/8\nL:1/", "\n3", "48"),                # a unit length
    ("X:1\nT:x\nM:6/8\nL:1/8\nK:", "\nH ", "GBF"),          # a key ...
    ("X:1\nT:x\nM:6/8\nL:1/8\nK:E#", "\nMmd", "lp"),      # ... of at most 7 sharps or flats (E#: 11; E# locrian: 6)
    (HEAD, "\n", "|A"),                                   # no blank line before a note
    (HEAD + "|:AB cd|", "|]:", "e\n"),                    # no ||, |] or |: while a repeat is open
    (HEAD + "|:AB cd|\n", "\n", ":A|"),                   # ... nor the end of the tune
    (HEAD + "|:AB cd:|\n", "", "\n|"),                    # closed: the tune may end
    (HEAD + "AB :", "A\n ", "|:"),                        # a : that begins a bar line goes on with | or :
    (HEAD + "AB|", "23", "1A"),                           # no second ending before a first
    (HEAD + "|:AB|1 cd:|", "3", "2"),
    (HEAD + "A=", "=^|\n", "c"),                          # an accidental is followed by its note
    (HEAD + "A^^", "^", "c"),
    (HEAD + "[ce", "|\n :", "g]"),                        # a chord closes before a bar line or line end
    (HEAD + "A(", "A|", "3"),                             # a tuplet takes its number
    (HEAD + "AB", '"!%X{', "c"),                          # only the characters of cleaned melodies
])
def test_guard_rules(written, banned, allowed):
    """After this text, are exactly the characters that would break the tune refused?"""
    guard = _guard("\n\n" + written)
    for c in banned:
        assert not guard.allowed(c), f"{c!r} allowed after {written!r}"
    for c in allowed:
        assert guard.allowed(c), f"{c!r} refused after {written!r}"


@pytest.mark.parametrize("tune, breaks", [   # the last character of `breaks` is the one to refuse
    (HEAD + "|:AB cd|ef ga||\nfe dc|BA GF|]", "||"),     # a repeat never closed
    (HEAD + "|:AB cd|ef ga:|2 fe dc|BA GF|]", ":|2"),      # a second ending without a first
    (HEAD + "AB =^c d|ef ga|]", "=^"),                     # a natural and a sharp
    (HEAD + "AB [c>A B2|ef ga|\nfe dc BA GF|", "[c>"),     # a chord never closed
    (HEAD.replace("K:D", "K:E#") + "AB cd|", "K:E#\n"),    # a key of 11 sharps
    (HEAD.replace("L:1/8", "L:8") + "AB cd|", "L:8"),      # a unit length that is not one
])
def test_what_the_guard_refuses_music21_refuses(tune, breaks):
    """Is each kind of tune the rules refuse really refused by music21, and refused by the guard where it breaks?"""
    assert not check_tune(tune, name="t").ok
    guard, stop = _guard("\n\n"), tune.index(breaks) + len(breaks) - 1
    for i, c in enumerate(tune + "\n\n"):
        if not guard.allowed(c):
            assert i == stop, f"refused at {tune[:i]!r}, expected after {tune[:stop]!r}"
            return
        guard.feed(c)
    raise AssertionError("the guard let a tune through that music21 refuses")


def test_guard_constrains_nothing_before_a_tune_boundary():
    """Is a start string that begins mid-tune left alone until a blank line or an X: line?"""
    guard = _guard("B2 ed|c2 :|\n||:")
    assert not guard.synced and all(guard.allowed(c) for c in "\n|:X%")
    assert _guard("GAB|\nX:").synced and _guard("GAB|\n\n").synced


def test_must_close_repeat_only_where_a_bar_may_begin():
    """Is the 'end the part with :|' step asked for only inside an open repeat, where a bar line may start?"""
    assert _guard("\n\n" + HEAD + "|:AB c").must_close_repeat()
    assert _guard("\n\n" + HEAD + "|:AB cd|\n").must_close_repeat()
    assert not _guard("\n\n" + HEAD + "|:AB c|").must_close_repeat()    # a bar line already begun
    assert not _guard("\n\n" + HEAD + "|:AB c^").must_close_repeat()    # an accidental wants its note
    assert not _guard("\n\n" + HEAD + "AB c").must_close_repeat()       # no repeat open
    assert not _guard("\n\n" + HEAD + "|:AB :|c").must_close_repeat()   # closed


# The GuardedModel of the lab (its "guard" cell), run against bigram models: the next character's
# logits depend on the last character only, so what the rules do to them can be computed by hand.
CHARS = list("\n |:]ABCcdX1TMLK/8")


class Bigram:
    """A model with the forward contract of the lab (ids -> logits, state) and a (V, V) logit table."""

    def __new__(cls, table):
        import torch

        class _Bigram(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.table = torch.nn.Parameter(torch.as_tensor(table, dtype=torch.float32))

            def forward(self, x, state=None):
                return self.table[x], (torch.zeros(1, x.shape[0], 1),)

        return _Bigram()


@pytest.fixture(scope="module")
def GuardedModel():
    torch = pytest.importorskip("torch")
    from labharness import load_source

    cell = next(c for c in load_source("06_music") if c["metadata"].get("nbgrader", {}).get("grade_id") == "guard")
    namespace = {"torch": torch, "nn": torch.nn, "AbcGuard": AbcGuard}
    exec("".join(cell["source"]), namespace)
    return namespace["GuardedModel"]


def _ids(text):
    import torch
    return torch.tensor([[CHARS.index(c) for c in text]])


def _next_probs(model, text):
    """The guarded next-character probabilities after text, read from a zero state as sample does."""
    import torch
    with torch.no_grad():
        logits, _ = model(_ids(text))
    return torch.softmax(logits[0, -1].double(), 0)


def _random_probs(seed):
    import torch
    return torch.softmax(torch.randn(len(CHARS), generator=torch.Generator().manual_seed(seed), dtype=torch.float64), 0)


def test_guarded_model_removes_what_the_rules_forbid(GuardedModel):
    """Do forbidden characters get probability 0, and the allowed ones the model's, renormalised?"""
    import torch
    p = _random_probs(0)
    model = GuardedModel(Bigram(torch.log(p).expand(len(CHARS), -1)), CHARS)
    got = _next_probs(model, "X:1\n")
    assert got[CHARS.index("T")] == pytest.approx(1.0) and model.moved[-1] == pytest.approx(1 - p[CHARS.index("T")])
    text = "\n\nX:1\nT:A\nM:C\nL:1/8\nK:A\nAB"
    got, allowed = _next_probs(model, text), torch.from_numpy(_guard(text).mask(CHARS))
    assert torch.all(got[~allowed] == 0)
    torch.testing.assert_close(got[allowed], p[allowed] / p[allowed].sum(), rtol=1e-5, atol=1e-7)


def test_guarded_model_ends_an_open_part_with_a_close(GuardedModel):
    """Where a repeat is open, does the probability of ||, |], |: and of ending the tune go to ':'?"""
    import torch
    p, q = _random_probs(1), _random_probs(2)      # q: the model's probabilities after a '|'
    table = torch.log(p).expand(len(CHARS), -1).clone()
    table[CHARS.index("|")] = torch.log(q)
    model = GuardedModel(Bigram(table), CHARS)
    text = "\n\nX:1\nT:A\nM:C\nL:1/8\nK:A\n|:AB cd "
    got, allowed = _next_probs(model, text), torch.from_numpy(_guard(text).mask(CHARS))
    i = {c: CHARS.index(c) for c in CHARS}
    ends_part = p[i["|"]] * (q[i["|"]] + q[i["]"]] + q[i[":"]])
    want = p.clone()
    want[i[":"]] += ends_part + p[~allowed].sum()
    want[i["|"]] -= ends_part
    want[~allowed] = 0
    torch.testing.assert_close(got, want / want.sum(), rtol=1e-5, atol=1e-7)


def _draw(model, n, seed):
    """n characters after "X:1\nT:" from a model, with the state carried (as the lab's sample does)."""
    import torch
    rng, text, state, x = np.random.default_rng(seed), "X:1\nT:", None, _ids("X:1\nT:")
    with torch.no_grad():
        for _ in range(n):
            logits, state = model(x, state)
            k = int(rng.choice(len(CHARS), p=torch.softmax(logits[0, -1].double(), 0).numpy()))
            text, x = text + CHARS[k], torch.tensor([[k]])
    return text


def test_sampling_through_guarded_model_closes_every_repeat(GuardedModel):
    """Does a model that opens repeats and never closes them write only closed repeats through the rules?"""
    import torch
    table = torch.full((len(CHARS), len(CHARS)), -3.0)
    for last, row in {None: {"A": 2, "c": 2, " ": 1, "|": 1.5, "\n": 0.5, ":": -9},
                      "|": {":": 2.5, "|": 1.5, "]": 0.5, "A": 2, "\n": 1, ":": 2.5},
                      "\n": {"\n": 1.5, "|": 1, "A": 1, ":": -9}}.items():
        for c, w in row.items():
            if last is None:
                table[:, CHARS.index(c)] = w
            else:
                table[CHARS.index(last), CHARS.index(c)] = w
    free = re.split(r"\n[ \t]*\n", _draw(Bigram(table), 3000, seed=0))[:-1]   # no headers either: text blocks
    assert sum(not repeats_pair_up(t) for t in free) > len(free) / 2, "the test model should leave repeats open"
    model = GuardedModel(Bigram(table), CHARS)
    text = _draw(model, 3000, seed=0)
    tunes = re.split(r"\n[ \t]*\n", text)[:-1]   # a blank line may hold spaces
    assert len(tunes) >= 3 and sum("|:" in t for t in tunes) >= 3
    guard = _guard("")
    for c in text:
        assert guard.allowed(c)
        guard.feed(c)
    assert all(repeats_pair_up(tune_body(t)) for t in tunes)


def test_an_endless_tune_is_refused_with_a_message_not_parsed():
    """Is ABC far longer than any real tune refused at once, with a message, by check_tune?"""
    from seqlab.music import MAX_ABC_CHARS, check_tune
    endless = "X:1\nT:endless\nM:4/4\nL:1/8\nK:D\n" + "ABcd efga|" * (MAX_ABC_CHARS // 10 + 1)
    result = check_tune(endless, "endless")
    assert not result.ok and "more than the" in result.error and "never ended" in result.error
    assert not check_tune(None, "none").ok


def test_a_tune_music21_is_slow_on_stops_at_the_time_limit(monkeypatch):
    """Does a parse that would run for minutes stop after ABC_SECONDS with a message, and check_tune
    record it instead of hanging?"""
    import time
    from seqlab import music
    music21 = pytest.importorskip("music21")

    def slow(*args, **kwargs):
        time.sleep(60)
    monkeypatch.setattr(music, "ABC_SECONDS", 0.5)
    monkeypatch.setattr(music21.converter, "parse", slow)
    start = time.monotonic()
    result = music.check_tune("X:1\nL:1/8\nK:D\nABcd|", "slow")
    assert time.monotonic() - start < 30
    assert not result.ok and "took more than 0.5 s to parse" in result.error


def test_a_tune_too_long_to_play_is_refused_before_synthesis():
    """Is a tune whose notes last for hours refused by midi_to_wave with a message, not synthesised?"""
    from seqlab.music import RenderError, abc_to_midi, midi_to_wave
    midi = abc_to_midi("X:1\nT:held\nM:4/4\nL:1/1\nQ:1/4=20\nK:C\n" + "C8|" * 25, "held")   # 40 minutes
    with pytest.raises(RenderError, match=r"held: the tune plays for .* s, more than the 600 s"):
        midi_to_wave(midi, name="held")
