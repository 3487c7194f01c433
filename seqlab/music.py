"""Folk tunes in ABC notation for Lab 6: loading, cleaning, rendering to MIDI and audio, novelty.

Data: O'Neill's *Music of Ireland* (1850 tunes, 1903) and *Ryan's Mammoth Collection* (1883), as
transcribed to ABC by volunteers and shipped in music21's corpus (``music21/corpus/oneills1850/``,
``ryansMammoth/``). The music is public domain; music21 distributes the encodings by permission
(see ``music21/corpus/license.txt``). Everything is read offline from the installed package.

Cleaning keeps what a small character model can learn and music21 can play: one title, the metre
(M:), unit length (L:) and key (K:) headers, and the melody with its bar lines, repeats, ties,
tuplets and broken rhythms. Chord symbols, annotations, fingerings, decorations, grace notes,
slurs and comments are removed. Tunes with mid-tune field changes, several voices, or non-ASCII
text are dropped, and so are the ~1% whose repeat signs do not pair up (a ``|:`` never closed by a
``:|``): music21 refuses to play those, and a model trained on them learns to write them. Tunes
that occur twice (the corpus files overlap) are kept once.

Rendering: ABC -> music21 score -> MIDI bytes -> pretty_midi -> a sine-wave waveform, with no system
packages. music21 10.5 can share one TimeSignature object between measures after a pickup bar,
which makes its MIDI writer fail ("already found in this Stream"); ``abc_to_midi`` gives each
measure its own copy first. Parsing costs 0.05-0.3 s per tune, so parse only what you play or check.
Every failure raises ``RenderError`` naming the tune and the cause; nothing returns a silent None.

Constrained decoding: ``AbcGuard`` reads a text one character at a time and says which characters
may come next without breaking the tune (header order and values, repeats closed before the end,
chords, accidentals, endings). The lab's ``GuardedModel`` masks a model's logits with it.
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import re
import signal
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

__all__ = ["load_tunes", "tunes_to_text", "repeats_pair_up", "RenderError", "parse_abc", "abc_to_midi", "midi_to_wave",
           "check_tune", "TuneCheck", "drop_repeats", "wave_levels", "play", "plot_piano_roll", "NoveltyIndex", "Novelty",
           "tune_title", "tune_body", "AbcGuard"]

COLLECTIONS = ("oneills1850", "ryansMammoth")
# The longest ABC text rendered: the corpus's tunes are a few thousand characters; a generated
# "tune" far longer never closed, and music21 would take minutes (and much memory) to parse it.
MAX_ABC_CHARS = 20_000
# Guards for what a student's model writes: music21 parses and writes any real tune in well under a
# second, and no tune of the corpus plays for more than a few minutes.
ABC_SECONDS = 30
MAX_AUDIO_SECONDS = 600
_HEADERS = ("T", "M", "L", "K")                         # the header fields a cleaned tune keeps
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
_MELODY_CHARS = set("ABCDEFGabcdefgzxZ0123456789/|:[]=^_,'-.<>( ")  # what a cleaned melody may hold
_INLINE_FIELD = re.compile(r"\[[A-Za-z]:")
_BAR = re.compile(r"[|:\[\]]*[|:][|:\[\]]*")       # a bar line with its repeat colons: | || |] :| |: :: :|]
_REMOVE = [re.compile(p) for p in (
    r"%.*$",            # comments
    r'"[^"]*"',         # chord symbols and annotations ("G", "_mf", "4")
    r"![^!]*!",         # decorations !trill!
    r"\+[^+\s]*\+",     # old-style decorations +trill+
    r"\{[^}]*\}",       # grace notes {ag}
    r"\((?!\d)",        # slur starts (a tuplet "(3" stays)
    r"\)",              # slur ends
    r"[HIJLMNOPQRSTUVWYhijklmnopqrstuvwy~\\*$#&@;?]",  # decoration letters, line continuations, stray symbols
)]


# ----------------------------------------------------------------------------- loading
def _corpus_dir(collection: str):
    try:
        root = resources.files("music21")
    except ModuleNotFoundError as err:
        raise ImportError("the folk tunes ship in music21's corpus: pip install music21") from err
    folder = root / "corpus" / collection
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing: this music21 was installed without its corpus "
                                "(pip install music21 from PyPI includes it)")
    return folder


def _raw_tunes(collection: str) -> list[str]:
    """The ABC text of every tune of one collection, split at the X: lines."""
    out = []
    for file in sorted(_corpus_dir(collection).iterdir(), key=lambda f: f.name):
        if file.name.endswith(".abc"):
            text = file.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
            out += [part for part in re.split(r"(?m)^(?=X:)", text) if part.startswith("X:")]
    return out


def _default_unit(meter: str) -> str:
    """ABC's default note length when L: is missing: 1/16 below a 3/4 metre, else 1/8."""
    if meter in ("C", "C|"):
        return "1/8"
    try:
        num, den = meter.split("/")
        return "1/16" if int(num) / int(den) < 0.75 else "1/8"
    except ValueError:
        return "1/8"


def clean_tune(raw: str) -> str | None:
    """One raw ABC tune -> the cleaned form "X:1\\nT:..\\nM:..\\nL:..\\nK:..\\n<melody>", or None to drop it."""
    headers: dict[str, str] = {}
    body: list[str] = []
    for line in raw.splitlines():
        field = _FIELD.match(line)
        if "K" not in headers:              # still in the header
            if field and field[1] in _HEADERS and field[1] not in headers:
                headers[field[1]] = field[2]
            continue
        if field or _INLINE_FIELD.search(line):
            return None                      # a field inside the melody (key change, voice, lyrics)
        for pattern in _REMOVE:
            line = pattern.sub("", line)
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            body.append(line)
    if not body or "M" not in headers or not headers.get("K"):
        return None
    title = re.sub(r"\s+", " ", headers.get("T", "")).strip() or "Untitled"
    text = "\n".join(["X:1", f"T:{title}", f"M:{headers['M']}",
                      f"L:{headers.get('L') or _default_unit(headers['M'])}", f"K:{headers['K']}"] + body)
    if not text.isascii() or set("".join(body)) - _MELODY_CHARS or not re.search(r"[A-Ga-g]", "".join(body)):
        return None
    return text


def repeats_pair_up(melody: str) -> bool:
    """True unless a start-repeat ``|:`` is opened twice or left open (never closed by ``:|``).

    An end-repeat without a start is fine: it repeats from the start of the tune or of the part.
    A cheap stand-in for music21's check, which costs a parse: on 500 corpus tunes it flagged 6 of
    the 7 that music21 refuses for their repeats, and no other tune.
    """
    is_open = False
    for match in _BAR.finditer(melody):
        bar = match[0]
        end = bar.startswith(":")
        start = bar.endswith(":") and (len(bar) > 1)
        if end:
            is_open = False
        if start:
            if is_open:
                return False
            is_open = True
    return not is_open


def load_tunes(min_chars: int = 60, max_chars: int = 800) -> list[str]:
    """The cleaned, de-duplicated tunes of both collections, in corpus order (about 2,950).

    Tunes whose melody is shorter than ``min_chars`` or longer than ``max_chars`` characters, or
    whose repeats do not pair up (``repeats_pair_up``), are dropped. Two tunes are duplicates when
    key, metre and melody agree, ignoring spaces.
    """
    seen, tunes = set(), []
    for collection in COLLECTIONS:
        for raw in _raw_tunes(collection):
            tune = clean_tune(raw)
            if (tune is None or not min_chars <= len(tune_body(tune)) <= max_chars
                    or not repeats_pair_up(tune_body(tune))):
                continue
            head = dict(_FIELD.match(l).groups() for l in tune.splitlines()[:5])
            key = (head["M"], head["K"], re.sub(r"\s", "", tune_body(tune)))
            if key not in seen:
                seen.add(key)
                tunes.append(tune)
    return tunes


def tunes_to_text(tunes: Sequence[str]) -> str:
    """One training text: every tune followed by a blank line, so each ends with "\\n\\n"."""
    return "".join(t + "\n\n" for t in tunes)


def tune_title(tune: str) -> str:
    match = re.search(r"(?m)^T:(.*)$", tune)
    return match[1].strip() if match else "(untitled)"


def tune_body(tune: str) -> str:
    """The melody: the lines after the K: header."""
    lines = tune.splitlines()
    k = next((i for i, l in enumerate(lines) if l.startswith("K:")), None)
    return "\n".join(lines[k + 1:]) if k is not None else ""


# ----------------------------------------------------------------------------- rendering
class RenderError(RuntimeError):
    """A tune could not be parsed, rendered to MIDI or synthesised; the message says which and why."""


def _music21():
    try:
        import music21
    except ImportError as err:
        raise ImportError("rendering ABC needs music21: pip install music21") from err
    return music21


def parse_abc(abc: str, name: str = "tune"):
    """Parse one ABC tune with music21 and return the Score; RenderError if it fails or has no notes."""
    if not isinstance(abc, str):
        raise RenderError(f"{name}: expected the ABC as a str, got {type(abc).__name__}")
    if len(abc) > MAX_ABC_CHARS:
        raise RenderError(f"{name}: {len(abc):,} characters of ABC, more than the {MAX_ABC_CHARS:,} rendered "
                          "(a sampled tune that never ended? extract the tunes first)")
    m21 = _music21()
    try:
        with time_limit(ABC_SECONDS, f"{name}: music21 took more than {ABC_SECONDS} s to parse this ABC"):
            score = m21.converter.parse(abc, format="abc")
    except RenderError:
        raise
    except Exception as err:  # noqa: BLE001  (music21 raises many kinds)
        raise RenderError(f"{name}: music21 could not parse the ABC: {type(err).__name__}: {err}") from err
    if not any(True for _ in score.recurse().notes):
        raise RenderError(f"{name}: the ABC parsed, but holds no notes")
    return score


@contextlib.contextmanager
def time_limit(seconds: float, message: str):
    """Raise RenderError(message) if the block runs longer than ``seconds`` (a SIGALRM timer: only in
    the main thread and where no other timer runs; elsewhere the block runs unguarded)."""
    if threading.current_thread() is not threading.main_thread() or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def stop(signum, frame):
        raise RenderError(message + " (a degenerate tune? look at it as text first)")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _unshare_measure_objects(score) -> int:
    """Give every measure its own TimeSignature/KeySignature/Clef object (music21 10.5 workaround)."""
    m21 = _music21()
    seen, fixed = set(), 0
    for measure in score.recurse().getElementsByClass(m21.stream.Measure):
        for el in list(measure.getElementsByClass(("TimeSignature", "KeySignature", "Clef"))):
            if id(el) in seen:
                measure.replace(el, copy.deepcopy(el))
                fixed += 1
            seen.add(id(el))
    return fixed


def drop_repeats(abc: str) -> str:
    """The tune with its repeat signs and numbered endings turned into plain bar lines."""
    head, _, body = abc.partition("\nK:")
    key, _, melody = body.partition("\n")
    melody = re.sub(r"\[[12]", "", re.sub(r"(?::*\|+:*|::)[12]?", "|", melody))  # endings follow a bar
    return f"{head}\nK:{key}\n{melody}"


def abc_to_midi(abc: str, name: str = "tune", repair_repeats: bool = False) -> bytes:
    """ABC text -> the bytes of a standard MIDI file (repeats played out); RenderError on failure.

    music21 refuses to write a tune whose repeat signs do not pair up ("badly formed repeats").
    With ``repair_repeats`` such a tune is written once more without its repeats (``drop_repeats``).
    """
    try:
        return _write_midi(abc, name)
    except RenderError as err:
        if not (repair_repeats and "repeats" in str(err)):
            raise
    return _write_midi(drop_repeats(abc), name + " (repeats dropped)")


def _write_midi(abc: str, name: str) -> bytes:
    m21 = _music21()
    score = parse_abc(abc, name)
    _unshare_measure_objects(score)
    try:
        with time_limit(ABC_SECONDS, f"{name}: music21 took more than {ABC_SECONDS} s to write this tune as MIDI"):
            return m21.midi.translate.music21ObjectToMidiFile(score).writestr()
    except RenderError:
        raise
    except Exception as err:  # noqa: BLE001
        raise RenderError(f"{name}: parsed, but music21 could not write MIDI: {type(err).__name__}: {err}") from err


def _pretty_midi(midi: bytes, name: str):
    try:
        import pretty_midi
    except ImportError as err:
        raise ImportError("synthesising audio needs pretty_midi: pip install pretty-midi") from err
    import io
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(midi))
    except Exception as err:  # noqa: BLE001
        raise RenderError(f"{name}: pretty_midi could not read the MIDI: {type(err).__name__}: {err}") from err


def midi_to_wave(midi: bytes, fs: int = 16000, peak: float = 0.8, name: str = "tune") -> np.ndarray:
    """Synthesise MIDI bytes with sine waves (pretty_midi), scaled to the given peak; float32 mono.

    RenderError if the MIDI holds no notes (the result would be silent).
    """
    pm = _pretty_midi(midi, name)
    if not any(inst.notes for inst in pm.instruments):
        raise RenderError(f"{name}: the MIDI holds no notes, so the audio would be silent")
    if pm.get_end_time() > MAX_AUDIO_SECONDS:
        raise RenderError(f"{name}: the tune plays for {pm.get_end_time():,.0f} s, more than the {MAX_AUDIO_SECONDS} s "
                          "synthesised (a note held for hundreds of bars?)")
    wave = pm.synthesize(fs=fs)
    top = float(np.max(np.abs(wave))) if wave.size else 0.0
    if top == 0.0:
        raise RenderError(f"{name}: the synthesised audio is silent")
    return (wave * (peak / top)).astype(np.float32)


def wave_levels(wave: np.ndarray, fs: int) -> dict:
    """Length in seconds, peak and RMS level (linear and dBFS), and the share of clipped samples."""
    wave = np.asarray(wave, dtype=np.float64)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    rms = float(np.sqrt(np.mean(wave ** 2))) if wave.size else 0.0
    db = lambda x: 20 * np.log10(x) if x > 0 else -np.inf
    return {"seconds": wave.size / fs, "peak": peak, "rms": rms, "peak_dbfs": db(peak),
            "rms_dbfs": db(rms), "clipped": float(np.mean(np.abs(wave) >= 0.999)) if wave.size else 0.0}


def play(abc: str, name: str = "tune", fs: int = 16000):
    """An IPython Audio player for one ABC tune (ABC -> MIDI -> sine synthesis)."""
    from IPython.display import Audio

    return Audio(midi_to_wave(abc_to_midi(abc, name), fs, name=name), rate=fs, normalize=False)


@dataclass
class TuneCheck:
    """Whether one tune parses as ABC and renders to MIDI, and if not, why."""

    name: str
    ok: bool
    notes: int = 0          # notes in the rendered MIDI
    seconds: float = 0.0    # length of the rendered MIDI
    error: str = ""         # the RenderError message when not ok
    repaired: bool = False  # True: rendered only after dropping badly formed repeats


def check_tune(abc: str, name: str = "tune", repair_repeats: bool = False) -> TuneCheck:
    """Parse, render to MIDI and read it back; never raises for a bad tune (the error is recorded).

    With ``repair_repeats``, a tune music21 refuses only for its repeat signs counts as rendered
    (``repaired`` is then True), played without its repeats.
    """
    repaired = False
    try:
        try:
            midi = abc_to_midi(abc, name)
        except RenderError as err:
            if not (repair_repeats and "repeats" in str(err)):
                raise
            midi, repaired = abc_to_midi(drop_repeats(abc), name + " (repeats dropped)"), True
        pm = _pretty_midi(midi, name)
        notes = sum(len(inst.notes) for inst in pm.instruments)
        if notes == 0:
            raise RenderError(f"{name}: the MIDI holds no notes")
        return TuneCheck(name, True, notes, float(pm.get_end_time()), repaired=repaired)
    except RenderError as err:
        return TuneCheck(name, False, error=str(err))


def plot_piano_roll(abc: str, name: str = "tune", ax=None, seconds: float | None = None):
    """Draw the notes of a tune as a piano roll (time across, pitch up, one bar per note); return ax."""
    import matplotlib.pyplot as plt

    pm = _pretty_midi(abc_to_midi(abc, name), name)
    notes = [n for inst in pm.instruments for n in inst.notes]
    if not notes:
        raise RenderError(f"{name}: no notes to draw")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.2))
    end = seconds or max(n.end for n in notes)
    for n in notes:
        if n.start < end:
            ax.add_patch(plt.Rectangle((n.start, n.pitch - 0.4), min(n.end, end) - n.start, 0.8,
                                       color="tab:blue", alpha=0.85))
    lo, hi = min(n.pitch for n in notes), max(n.pitch for n in notes)
    ax.set_xlim(0, end)
    ax.set_ylim(lo - 1.5, hi + 1.5)
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    ticks = [p for p in range(lo, hi + 1) if names[p % 12] in ("C", "E", "G")] or [lo]
    ax.set_yticks(ticks, [f"{names[p % 12]}{p // 12 - 1}" for p in ticks])
    for p in range(lo, hi + 1):
        if "#" in names[p % 12]:
            ax.axhspan(p - 0.5, p + 0.5, color="0.93", zorder=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    ax.set_title(f"{name}: {len(notes)} notes, {max(n.end for n in notes):.1f} s")
    ax.grid(axis="x", alpha=0.3)
    return ax


# ----------------------------------------------------------------------------- constrained decoding
_HEADER = ("X:1", "T:", "M:", "L:", "K:")                 # the header lines of every cleaned tune, in order
_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}  # sharps (flats < 0) of each major key
_MODES = {"": 0, "maj": 0, "m": -3, "min": -3, "mix": -1, "dor": -2, "phr": -4, "lyd": 1, "loc": -5}
_KEYS = {t + a + (m.capitalize() if cap else m) for t in _FIFTHS for a, shift in (("", 0), ("#", 7), ("b", -7))
         for m, offset in _MODES.items() for cap in (False, True)
         if abs(_FIFTHS[t] + shift + offset) <= 7}           # a key signature holds at most 7 sharps or flats
_VALUES = {2: {"2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/8", "2/2", "3/2", "6/4", "C", "C|"},  # M:
           3: {"1/4", "1/8", "1/16"},                                                       # L:
           4: _KEYS}                                                                       # K:
_NOTE_LETTERS = set("ABCDEFGabcdefg")
_NOTE_START = _NOTE_LETTERS | set("^_=")
_CHORD_CHARS = _NOTE_START | set(",'0123456789/-]")        # inside [ceg]: notes, octaves, lengths, the close
_MELODY = 5                                               # field index of the melody (after the 5 headers)


class AbcGuard:
    """The rules of a well-formed tune, checked one character at a time while a model writes it.

    For constrained decoding: ``feed`` every character of the text as it is written; ``allowed(c)``
    then says whether ``c`` may come next, and ``must_close_repeat()`` whether a repeat is open at a
    place where the model might end a part. The rules are those the cleaned training tunes follow
    and music21 needs, and nothing about style:

    - the header is X:1, T:, M:, L:, K: in that order, with a title, a metre, a unit length and a key
      that music21 and pretty_midi can read, and a tune begins right after the blank line that ends
      the one before;
    - the melody uses only the characters of the cleaned tunes; an accidental ``^ _ =`` (or ``^^ __``)
      is followed by its note; a chord ``[ceg]`` holds notes and closes before the next bar or line;
      ``(`` is a tuplet and takes its number; a second ending ``|2`` needs a first ``|1`` before it;
    - a repeat opened with ``|:`` is closed with ``:|`` (or ``::``) before the tune ends, so while one
      is open the blank line that ends the tune, and a bar ``||``, ``|]`` or ``|:``, are not allowed;
      a ``:`` that starts a bar line is followed by ``|`` or ``:``;
    - the tune has a note before it ends.

    Before the first blank line or ``X:`` line of the text nothing is constrained (a start string
    may begin in the middle of a tune). About 98.5% of the corpus tunes obey every rule; the others
    hold oddities such as ``=2``, ``(3:2``, ``K:A Minor`` or a ``||`` inside a repeat
    (tests/test_music.py).
    """

    def __init__(self, vocabulary: Sequence[str] | None = None):
        """``vocabulary``: the characters the writer can use, if not all; header values that cannot be
        completed with them (a key whose mode needs a missing letter) are then not begun."""
        usable = set(vocabulary) if vocabulary is not None else None
        self._prefixes = {f: {v[:i] for v in values if usable is None or set(v) <= usable for i in range(len(v) + 1)}
                          for f, values in _VALUES.items()}
        self.synced = False      # a tune boundary has been seen; before it nothing is constrained
        self.field = 0           # 0-4: header line X T M L K being written; 5: the melody
        self.line = ""           # the current line so far
        self._new_melody()

    def _new_melody(self):
        self.token = ""          # the bar line being written: a run of | and :
        self.prev = ""           # the previous melody character
        self.repeat_open = False
        self.chord = False       # inside [ceg]
        self.ending1 = False     # a first ending |1 written, its second ending not yet
        self.notes = 0

    # -- reading
    def feed(self, c: str) -> None:
        """Read one more character of the text."""
        if c == "\n":
            self._end_line()
            return
        self.line += c
        if self.line == "X:":                # a tune starts (or restarts) here
            self.synced, self.field = True, 0
        elif self.synced and self.field == _MELODY:
            self._melody(c)

    def feed_text(self, text: str) -> "AbcGuard":
        for c in text:
            self.feed(c)
        return self

    def _melody(self, c: str) -> None:
        if self.token and c not in "|:":     # a bar line is complete: does it close or open a repeat?
            if self.token.startswith(":"):
                self.repeat_open = False
            if self.token.endswith(":") and len(self.token) > 1:
                self.repeat_open = True
            if c in "12":                    # an ending number right after the bar
                self.ending1 = c == "1"
            self.token = ""
        elif c in "|:":
            self.token += c
        elif c in "12" and self.prev == "[" and not self.chord:
            self.ending1 = c == "1"
        if self.prev == "[" and c in _NOTE_START and not self.chord:
            self.chord = True
        elif c == "]" and self.chord:
            self.chord = False
        if c in _NOTE_LETTERS:
            self.notes += 1
        self.prev = c

    def _end_line(self) -> None:
        blank = self.line.strip(" \t") == ""
        if self.synced and self.field == _MELODY:
            self._melody("\n")
        if blank and (self.field == _MELODY or not self.synced):
            self.synced, self.field = True, 0   # the tune ended: the next line begins the next one
        elif self.synced and not blank and self.field < _MELODY:
            self.field += 1
            if self.field == _MELODY:
                self._new_melody()
        self.line = ""

    # -- rules
    def must_close_repeat(self) -> bool:
        """True where a repeat is open and the next character may begin a bar line or end the tune."""
        return (self.synced and self.field == _MELODY and self.repeat_open and not self.token
                and self.allowed("|") and self.allowed(":"))

    def allowed(self, c: str) -> bool:
        """May ``c`` be the next character?"""
        if not self.synced:
            return True
        if self.field < _MELODY:
            prefix, n = _HEADER[self.field], len(self.line)
            if n < len(prefix):
                return c == prefix[n]
            value = self.line[len(prefix):]
            if self.field == 0:
                return c == "\n"              # the X: line is exactly X:1
            if self.field not in _VALUES:     # the title: any text, not empty
                return c != "\n" or value != ""
            return value in _VALUES[self.field] if c == "\n" else value + c in self._prefixes[self.field]
        if c != "\n" and c not in _MELODY_CHARS:
            return False
        if self.prev and self.prev in "^_=":  # after an accidental: its note, or ^^ / __ (never ==, ^=)
            return c in _NOTE_LETTERS or (c == self.prev != "=" and self.line[-2:-1] != c)
        if self.chord:
            return c in _CHORD_CHARS
        if self.prev == "[":
            return c in _NOTE_START or c == "|" or (c == "1" or (c == "2" and self.ending1))
        if self.prev == "(":
            return c in "23456789"
        if self.token == ":":
            return c in "|:"
        if self.token and self.repeat_open and not self.token.startswith(":") and c in "|]:":
            return False                      # ||, |] or |: while a repeat is open
        if self.token and c.isdigit():
            return c == "1" or (c == "2" and self.ending1)
        if c == "]":
            return bool(self.token)           # |] ; a chord's ] is handled above
        if c == "\n" and self.line.strip(" \t") == "":
            return not self.repeat_open and self.notes > 0   # the blank line that ends the tune
        return True

    def mask(self, chars: Sequence[str]) -> np.ndarray:
        """allowed(c) for every character of a vocabulary, as a boolean array of shape (V,)."""
        return np.fromiter((self.allowed(c) for c in chars), dtype=bool, count=len(chars))


# ----------------------------------------------------------------------------- novelty
@dataclass
class Novelty:
    """How close a tune is to the training tunes, measured on the melody (headers ignored)."""

    longest: int        # length of the longest melody passage shared with any training tune
    passage: str        # that passage
    nearest: int        # index of the training tune that shares it (-1 if none shares n chars)
    nearest_title: str  # its title
    share: float        # longest / length of the tune's melody


class NoveltyIndex:
    """Find the training tune sharing the longest melody passage with a given tune, fast.

    An index maps every n-character piece of every training melody to the tunes that contain it.
    Only tunes sharing at least one piece can share a passage of n characters or more, so only
    they are compared exactly (difflib's longest match). If none shares a piece, the longest
    shared passage is shorter than n and reported as found among the tunes sharing the most
    (n/2)-character pieces.
    """

    def __init__(self, tunes: Sequence[str], n: int = 12):
        self.tunes, self.n = list(tunes), n
        self.bodies = [tune_body(t) for t in self.tunes]
        self.index = self._build(n)
        self._small = None

    def _build(self, n: int) -> dict:
        index = defaultdict(set)
        for i, body in enumerate(self.bodies):
            for j in range(len(body) - n + 1):
                index[body[j:j + n]].add(i)
        return index

    def check(self, tune: str, fallback_candidates: int = 50) -> Novelty:
        body = tune_body(tune) or tune
        candidates = self._counts(body, self.index, self.n)
        if candidates:  # exact: every tune that can share n or more characters is compared
            candidates = list(candidates)
        else:
            if self._small is None:
                self._small = self._build(max(2, self.n // 2))
            candidates = [i for i, _ in self._counts(body, self._small, max(2, self.n // 2))
                          .most_common(fallback_candidates)]
        best = (0, "", -1)
        for i in candidates:
            other = self.bodies[i]
            m = difflib.SequenceMatcher(None, body, other, autojunk=False).find_longest_match(
                0, len(body), 0, len(other))
            if m.size > best[0]:
                best = (m.size, body[m.a:m.a + m.size], i)
        size, passage, i = best
        return Novelty(size, passage, i, tune_title(self.tunes[i]) if i >= 0 else "",
                       size / max(1, len(body)))

    @staticmethod
    def _counts(body: str, index: dict, n: int) -> Counter:
        counts: Counter = Counter()
        for j in range(len(body) - n + 1):
            counts.update(index.get(body[j:j + n], ()))
        return counts
