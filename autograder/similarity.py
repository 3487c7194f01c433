"""Similarity between submissions: which pairs of students of a lab handed in the same code.

A lead for a TA, never a verdict. For every pair of a lab's collected submissions it measures how
much of each one's own code is also in the other, after taking away what the starter notebook
gave them and what names and formatting could hide. It follows MOSS (Schleimer, Wilkerson and
Aiken, "Winnowing: local algorithms for document fingerprinting", SIGMOD 2003) through
``copydetect`` (MIT), which does the k-gram fingerprints, the winnowing and the overlap of two:

  read       each ``submitted/<student>/<lab>/<lab>.ipynb`` (``reading.read_submission``), rebuilt
             on the grading template (``repair.repair``) so that solution cells are found even when
             Colab stripped their metadata. What is compared: the code of the solution cells and of
             any code cell the student added (helpers live there too); written answers (markdown
             answer cells) separately. A file that cannot be read is listed, never fatal.
  normalise  Python is tokenised with Pygments (which never fails on broken code). Comments,
             docstrings and whitespace are dropped; every string is ``S``; every name a student
             chooses (variables, parameters, functions, classes, ``self.<member>``) is ``V``;
             keywords, operators, numbers, builtins, attributes (``.tanh``, ``.shape``) and keyword
             arguments of calls (``axis=``) stay as written, since renaming them changes what the
             code does. Each normalised token becomes one character, so copydetect's k-grams are
             k *tokens*. Written answers are compared word by word, lower-cased.
  exclude    every k-gram of the starter's solution cells (``release/<lab>/<lab>.ipynb``, else the
             repository's ``labs/<lab>.ipynb``): signatures, ``raise NotImplementedError()``, the
             ``return`` the stub ends with; and of its markdown, for written answers. Not its test
             cells: once names are ``V``, their calls (``V ( V , V , V , V , V )``) would erase
             ordinary student lines; a test cell a student pasted is a copy of a locked cell, which
             ``repair`` sets aside. No k-gram that runs across two cells counts either. And, as
             MOSS's ``-m``, a k-gram found in more than ``common`` submissions is the class's
             common idiom, not a copy.
  score      for a pair (A, B), ``a_share`` is the share of A's fingerprinted tokens also found in B,
             ``b_share`` the reverse. The pair's ``score`` is the larger share (JPlag's "maximum
             similarity"): a student who copied part of the lab, or padded a copy with filler, is
             still found, which a symmetric average (mA + mB) / (nA + nB) misses. So that a
             near-empty notebook cannot reach 100% with one shared line, a submission with less own
             code than ``SMALL`` times the class's median counts as having that much for the score.
             Both shares are shown; pairs are ranked by ``score``.

``window`` is 1 by default: every k-gram is kept. Winnowing (window > 1) keeps fewer, chosen by
Python's ``hash``, which is salted per process, so scores would shift from one run to the next;
a TA's report should not. The pages are written by ``similarity_report.py``.

Known weak spots: a pair that shares only code more than ``common`` students share scores low by
design, and in a class of ``common`` or fewer nothing tells the class's idiom from a copy but the
reader; code rewritten by hand (another algorithm, loops for vector code) is not a copy to this
measure; one short function written the one obvious way matches in honest pairs too.
"""
from __future__ import annotations

import builtins
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from .course import GradingError, find_repo, grading_template, release_notebook

K = 12                # tokens in a fingerprinted k-gram: shorter runs in common are noise
WRITTEN_K = 8         # words in a written answer's k-gram
WINDOW = 1            # winnowing window: 1 keeps every k-gram (reproducible; see above)
COMMON = 10           # a k-gram in more submissions than this is the class's idiom (MOSS -m)
THRESHOLD = 0.8       # pairs at or above this score are flagged for a look (see docs/tas.md)
SMALL = 0.25          # own code below this share of the class's median counts as that much, for the score
TOP = 20              # the report lists at least this many pairs, flagged or not
MAX_CELL_CHARS = 50_000       # a cell is compared (and shown) up to this many characters
MAX_STUDENT_CHARS = 200_000   # and a submission's code, all cells together
SEPARATOR = "\n"              # the token that ends each cell (no other token is a newline); no
                              # k-gram holding it is compared
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")   # shown as U+FFFD, one for one: spans stay put

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Token:
    """One normalised token and where its text is: cell number in the document, character span."""

    symbol: str
    cell: int
    start: int
    end: int


@dataclass
class Cell:
    """A cell that is compared: its label (grade id, or "added cell N") and source as compared."""

    label: str
    source: str


@dataclass
class Document:
    """What one student's submission contributes to a comparison: cells and their tokens."""

    student: str
    cells: List[Cell]
    tokens: List[Token] = field(default_factory=list)
    note: str = ""        # e.g. what was cut from an oversized cell


@dataclass
class Pair:
    """Two students and how much of their own text the other also has."""

    a: str
    b: str
    score: float          # the larger share, small submissions counted as SMALL x median: the ranking
    a_share: float        # share of a's fingerprinted tokens also in b
    b_share: float
    a_matched: int        # tokens of a inside a matched region
    b_matched: int
    a_regions: List[Tuple[int, int]] = field(default_factory=list)   # matched token spans [start, end)
    b_regions: List[Tuple[int, int]] = field(default_factory=list)


@dataclass
class Comparison:
    """Every pair of one kind of text (code, or written answers), best first."""

    kind: str
    k: int
    documents: Dict[str, Document]
    pairs: List[Pair]
    fingerprinted: Dict[str, int]    # student -> tokens left to compare after exclusions


@dataclass
class Similarity:
    """The result for a lab: code and written comparisons, what could not be read, the settings."""

    lab: str
    code: Comparison
    written: Comparison
    skipped: Dict[str, str]          # student -> why their file was left out
    threshold: float
    common: int
    starter: str                     # where the starter code came from

    def flagged(self, comparison: Optional[Comparison] = None) -> List[Pair]:
        """The pairs (of code, unless ``comparison`` says otherwise) at or above the threshold."""
        return [p for p in (comparison or self.code).pairs if p.score >= self.threshold]


# --- normalising -------------------------------------------------------------------------------

def code_tokens(source: str, cell: int = 0) -> List[Token]:
    """The normalised tokens of Python ``source`` (the module docstring says what is kept)."""
    from pygments.lexers import PythonLexer
    from pygments.token import Comment, Name, Operator, Punctuation, String, Text

    kept_names = (Name.Builtin, Name.Exception, Name.Namespace, Name.Function.Magic, Name.Variable.Magic)
    raw = []
    for i, t, v in PythonLexer().get_tokens_unprocessed(source):
        if t in Name.Decorator:   # Pygments reads the "@W" of "x@W" as a decorator: "@" and a name, either way
            name = v[1:]
            raw.append((i, Operator, "@"))
            t, i, v = (Name.Builtin.Pseudo if name in ("self", "cls") else Name.Builtin if hasattr(builtins, name)
                       else Name), i + 1, name
        if t not in Text and t not in Comment and t is not String.Doc and v.strip():
            raw.append((i, t, v))
    out: List[Token] = []
    brackets: List[bool] = []              # for each open "(": is it a def's parameter list?
    for n, (start, kind, value) in enumerate(raw):
        before = raw[n - 1] if n else (0, Text, "")
        after = raw[n + 1] if n + 1 < len(raw) else (0, Text, "")
        end = start + len(value)
        if kind in String:
            if out and out[-1].symbol == "S" and before[1] in String and before[1] is not String.Doc:
                out[-1] = Token("S", cell, out[-1].start, end)      # one string, whatever its pieces
                continue
            symbol = "S"
        elif kind in Name and not any(kind in kept for kept in kept_names):
            attribute = before[2] == "." and not (n >= 2 and raw[n - 2][2] in ("self", "cls"))
            keyword_arg = after[2] == "=" and brackets and not brackets[-1]
            symbol = value if attribute or keyword_arg else "V"
        else:
            symbol = value
        if kind in Punctuation or kind in Operator:
            if value in ("(", "[", "{"):
                brackets.append(value == "(" and before[1] in Name.Function)
            elif value in (")", "]", "}") and brackets:
                brackets.pop()
        out.append(Token(symbol, cell, start, end))
    return out


def prose_tokens(text: str, cell: int = 0) -> List[Token]:
    """The words of ``text``, lower-cased, with their spans."""
    return [Token(m.group().lower(), cell, m.start(), m.end()) for m in _WORD.finditer(text)]


def document(student: str, cells: Sequence[Cell], prose: bool = False,
             stubs: Optional[Dict[str, FrozenSet[Tuple[str, ...]]]] = None) -> Document:
    """A document from ``cells``, each cut to ``MAX_CELL_CHARS`` and all to ``MAX_STUDENT_CHARS``,
    control characters shown as U+FFFD. ``stubs`` (label -> ``stub_lines`` of the starter's cell)
    are what the starter gave each solution cell: those lines are left out of the comparison."""
    kept, budget, notes = [], MAX_STUDENT_CHARS, []
    for cell in cells:
        whole = cell.source.replace("\r\n", "\n").replace("\r", "\n")
        source = _CONTROL.sub("\ufffd", whole[:min(MAX_CELL_CHARS, budget)])
        if len(source) < len(whole):
            notes.append(f"{cell.label}: only its first {len(source):,} characters compared (it is longer)")
        if source.strip():
            kept.append(Cell(cell.label, source))
            budget -= len(source)
    tokens: List[Token] = []
    for i, cell in enumerate(kept):
        own = (prose_tokens if prose else code_tokens)(cell.source, i)
        tokens += _without(own, cell.source, (stubs or {}).get(cell.label, frozenset()))
        tokens.append(Token(SEPARATOR, i, len(cell.source), len(cell.source)))
    return Document(student, kept, tokens, "; ".join(notes))


def logical_lines(tokens: List[Token], source: str) -> List[List[Token]]:
    """``tokens`` (of one cell) grouped by logical line: a line break inside brackets does not end one."""
    lines: List[List[Token]] = []
    depth, end = 0, 0
    for token in tokens:
        if not lines or (depth == 0 and "\n" in source[end:token.start]):
            lines.append([])
        lines[-1].append(token)
        depth = max(0, depth + (token.symbol in ("(", "[", "{")) - (token.symbol in (")", "]", "}")))
        end = token.end
    return lines


def stub_lines(source: str) -> FrozenSet[Tuple[str, ...]]:
    """The normalised logical lines of a starter cell that hold more than names and commas (a stub's
    bare ``x, h`` would take every such line from the students)."""
    return frozenset(tuple(t.symbol for t in line) for line in logical_lines(code_tokens(source), source)
                     if {t.symbol for t in line} - {"V", ","})


def _without(tokens: List[Token], source: str, given: FrozenSet[Tuple[str, ...]]) -> List[Token]:
    """``tokens`` less the logical lines the starter gave the cell (``given``): its signature, the
    ``return`` line the stub ends with."""
    if not given:
        return tokens
    return [t for line in logical_lines(tokens, source) if tuple(t.symbol for t in line) not in given for t in line]


class Alphabet:
    """Normalised token -> one character (private-use planes; past 131,070 kinds of token two share
    one), the same for every document of a comparison."""

    def __init__(self) -> None:
        self.codes: Dict[str, str] = {}
        self.separator = self.text([Token(SEPARATOR, 0, 0, 0)])

    def text(self, tokens: Iterable[Token]) -> str:
        return "".join(self.codes.setdefault(t.symbol, chr(0xF0000 + len(self.codes) % 0x1FFFE)) for t in tokens)


# --- what each student wrote ------------------------------------------------------------------

def student_cells(nb, template) -> Tuple[List[Cell], List[Cell]]:
    """(code, written answers) the student wrote in ``nb``, a submission repaired on ``template``:
    solution code cells and code cells the template lacks (added by the student), and the markdown
    answer cells."""
    from .reading import cell_text, nbgrader_meta
    from .written import is_written

    template_ids = {c.get("id") for c in template.cells}
    code, written = [], []
    for number, cell in enumerate(nb.cells, start=1):
        meta = nbgrader_meta(cell)
        label = str(meta.get("grade_id") or f"added cell {number}")
        if cell.cell_type == "code" and (meta.get("solution") or cell.get("id") not in template_ids):
            code.append(Cell(label, cell_text(cell.source)))
        elif is_written(cell):
            written.append(Cell(label, cell_text(cell.source)))
    return code, written


def starter_notebook(course: Path, lab: str, repo: Optional[Path] = None) -> Path:
    """The student notebook as released: in the course, else the repository's ``labs/``."""
    released = release_notebook(course, lab)
    if released.is_file():
        return released
    try:
        labs = find_repo(repo) / "labs" / f"{lab}.ipynb"
    except GradingError:
        labs = None
    if labs is not None and labs.is_file():
        return labs
    raise GradingError(f"no starter notebook for {lab}: neither {released} nor labs/{lab}.ipynb exists; release "
                       f"the lab first (`seqlab-grade release {lab} --course {course}`) or pass --repo")


def read_class(course: Path, lab: str, starter) -> Tuple[Dict[str, Tuple[List[Cell], List[Cell]]], Dict[str, str]]:
    """Student -> (code cells, written cells) of every readable submission; student -> why not, for
    the others. One bad file never stops the rest."""
    import nbformat

    from .pages import check_student_id
    from .pipeline import submissions
    from .reading import UnreadableNotebook, read_submission
    from .repair import repair

    template_path = grading_template(course, lab)
    template = nbformat.read(str(template_path), as_version=4) if template_path.is_file() else starter
    found, skipped = {}, {}
    for student, path in submissions(course, lab).items():
        try:
            check_student_id(student)
            submitted = read_submission(path.read_bytes())
            for cell in submitted.cells:   # repair's matching is slow on megabytes; more is never compared
                cell.source = cell.source[:MAX_CELL_CHARS + 1]
            repaired = repair(submitted, template).notebook
            found[student] = student_cells(repaired, template)
        except UnreadableNotebook as err:
            skipped[student] = f"unreadable: {err}"
        except GradingError as err:
            skipped[student] = str(err)
        except Exception as err:  # noqa: BLE001  (the reader's own failure on a hostile file)
            skipped[student] = f"could not be compared: {type(err).__name__}: {err}"
    return found, skipped


# --- comparing ---------------------------------------------------------------------------------

def compare(documents: Dict[str, Document], starter: Document, *, kind: str = "code", k: int = K,
            window: int = WINDOW, common: int = COMMON) -> Comparison:
    """Every pair of ``documents`` compared, best first, with the starter's k-grams and those in more
    than ``common`` documents excluded."""
    import numpy as np
    from copydetect import compare_files

    alphabet = Alphabet()
    texts = {s: alphabet.text(d.tokens) for s, d in documents.items()}
    starter_text = alphabet.text(starter.tokens)
    given = fingerprint("starter", starter_text, k, 1).hashes
    given |= set().union(*(_across_cells(t, k, alphabet.separator) for t in [starter_text, *texts.values()]))
    counts = Counter(h for s, t in texts.items() for h in fingerprint(s, t, k, 1, given).hashes)
    excluded = given | {h for h, n in counts.items() if n > common}
    prints = {s: fingerprint(s, t, k, window, excluded) for s, t in texts.items()}
    floor = max(1.0, SMALL * float(np.median([f.token_coverage for f in prints.values()]))) if prints else 1.0
    pairs = []
    for a, b in combinations(sorted(prints), 2):
        fa, fb = prints[a], prints[b]
        if not fa.hashes & fb.hashes:
            pairs.append(Pair(a, b, 0.0, 0.0, 0.0, 0, 0))
            continue
        _, _, (sa, sb) = compare_files(fa, fb)
        if np.ndim(sa) != 2 or np.ndim(sb) != 2:   # copydetect's "no overlap" shape
            pairs.append(Pair(a, b, 0.0, 0.0, 0.0, 0, 0))
            continue
        ma, mb = int(np.sum(sa[1] - sa[0])), int(np.sum(sb[1] - sb[0]))
        na, nb = int(fa.token_coverage), int(fb.token_coverage)
        pairs.append(Pair(a, b, max(ma / max(na, floor), mb / max(nb, floor)), ma / na, mb / nb, ma, mb,
                          [tuple(map(int, r)) for r in sa.T], [tuple(map(int, r)) for r in sb.T]))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return Comparison(kind, k, documents, pairs, {s: int(f.token_coverage) for s, f in prints.items()})


def fingerprint(name: str, text: str, k: int, window: int, excluded: frozenset = frozenset()):
    """copydetect's ``CodeFingerprint`` of ``text`` (already normalised), less the ``excluded`` hashes.

    The exclusion is done here, not by copydetect's ``boilerplate``: copydetect 0.5.0 removes it with
    ``np.intersect1d(..., assume_unique=True)`` over hashes that repeat, which also drops all but the
    last occurrence of any k-gram a submission repeats (``N, T, H = x.shape`` in three functions).
    """
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    fp = CodeFingerprint(name, k, window, filter=False, fp=io.StringIO(text))
    if excluded:
        fp.hashes = fp.hashes - excluded
        fp.hash_idx = {h: at for h, at in fp.hash_idx.items() if h not in excluded}
        fp.token_coverage = get_token_coverage(fp.hash_idx, k, len(text))
    return fp


def _across_cells(text: str, k: int, separator: str) -> set:
    """The hashes (copydetect's) of the k-grams of ``text`` that run from one cell into the next: the
    cells around them are often starter code, their order is the notebook's, so none is evidence."""
    from copydetect.utils import hashed_kgrams

    hashes = hashed_kgrams(text, k)
    ends = [i for i, ch in enumerate(text) if ch == separator]
    return {int(hashes[j]) for end in ends for j in range(max(0, end - k + 1), min(end + 1, len(hashes)))}


def similarity(course: Path, lab: str, *, threshold: float = THRESHOLD, common: int = COMMON,
               k: int = K, window: int = WINDOW, repo: Optional[Path] = None) -> Similarity:
    """Compare every pair of ``lab``'s collected submissions in ``course`` (code, then written answers)."""
    import nbformat

    from .reading import nbgrader_meta
    try:
        import copydetect  # noqa: F401
    except ImportError:
        raise GradingError("the similarity report needs copydetect: pip install 'seqlab[grading]'") from None
    course = Path(course).resolve()
    if k < 2 or window < 1 or common < 2 or not 0 <= threshold <= 1:
        raise GradingError(f"need --threshold between 0 and 1 and --common of at least 2 (got threshold={threshold}, "
                           f"common={common}; k={k} >= 2, window={window} >= 1)")
    path = starter_notebook(course, lab, repo)
    starter = nbformat.read(str(path), as_version=4)
    found, skipped = read_class(course, lab, starter)
    if len(found) < 2:
        raise GradingError(f"{len(found)} readable submission(s) of {lab} in {course}/submitted: nothing to compare "
                           f"(run `seqlab-grade collect {lab} SOURCE --course {course}` first)"
                           + "".join(f"\n  {s}: {why}" for s, why in sorted(skipped.items())))
    stubs = {str(nbgrader_meta(c).get("grade_id")): c.source for c in starter.cells
             if c.cell_type == "code" and nbgrader_meta(c).get("solution")}
    starter_code = [Cell(label, source) for label, source in stubs.items()]
    stub_tokens = {label: stub_lines(source) for label, source in stubs.items()}
    starter_prose = [Cell("starter", c.source) for c in starter.cells if c.cell_type == "markdown"]
    code = compare({s: document(s, cells[0], stubs=stub_tokens) for s, cells in found.items()},
                   document("starter", starter_code), k=k, window=window, common=common)
    written = compare({s: document(s, cells[1], prose=True) for s, cells in found.items()},
                      document("starter", starter_prose, prose=True), kind="written", k=WRITTEN_K,
                      window=window, common=common)
    return Similarity(lab, code, written, skipped, threshold, common, str(path))
