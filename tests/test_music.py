"""Tests of seqlab/music.py (Lab 6's tunes, rendering, novelty) and seqlab/liveplot.py."""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from seqlab.liveplot import LiveLossPlot
from seqlab.music import (NoveltyIndex, RenderError, abc_to_midi, check_tune, clean_tune, drop_repeats,
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
