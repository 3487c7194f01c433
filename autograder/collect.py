"""Collect submissions from an LMS download into nbgrader's ``submitted/`` folder, with a report.

``collect`` reads a zip file or a folder (Canvas, Moodle, Blackboard or Gradescope downloads, or
plain ``<student>.ipynb`` / ``<student>/<any name>.ipynb``), finds the student of each notebook and
copies its bytes unchanged to ``<course>/submitted/<student>/<lab>/<lab>.ipynb``: broken notebooks
are the repair step's job, not this one's. The ``CollectReport`` (saved as
``<course>/collect/<lab>.json``) says what was collected, what could not be matched and why, which
copies were set aside, what was skipped, and which roster students handed nothing in.

- Names: the first of ``PATTERNS`` (or the caller's ``pattern``) that ``re.search`` finds in a
  notebook's path inside the source gives its ``student`` group; "Copy of", " (2)", " - Copy",
  "-checkpoint" and the lab's own name are dropped. With a roster, that name (then the LMS user id,
  then the other folder and file names) is looked up by id, login, lms_id, email or its local part,
  or full name ("Smith, Jane" ~ "Jane Smith" ~ "jane_smith" ~ Canvas's "smithjane"). Without one, a
  name becomes the id (``student_ids``): an ASCII name as it is spelled, any other as a slug of its
  own letters ("zoë", "李雷"), with a short hash of it where its ASCII fold clashes with another's.
- Copies: of several notebooks for one student the one kept is, by the first rule that tells them
  apart, ``_RANK_WHY``: not a checkpoint, named after the lab, the later Blackboard attempt, the
  newer (zip entry date or file mtime), marked LATE, the higher copy number ("x (1)" over "x").
  But a file the LMS names as the student's (or ``--pattern`` does) always beats one whose plain
  file or folder name only looks like theirs: that clash is reported as a conflict for the TA.
- Times: each kept notebook's submission time goes to nbgrader's ``submitted/<student>/<lab>/timestamp.txt``
  and the report, from the download's own record where it has one (Gradescope's ``:created_at:``,
  Blackboard's attempt time), else the zip entry's date or the file's mtime (``timestamps.py`` says
  which LMS records what, and why a Canvas zip gives none). A malformed or implausible time is
  reported and the next source tried. A rerun that finds the same bytes keeps the time written
  first (or by the TA). With a roster, its ``extension_hours`` are recorded for ``deadlines.py``.
- Zip files: an entry with an absolute path, a drive or ``..`` is skipped and reported (zip slip),
  links are skipped, ``__MACOSX/`` and dot files ignored, more than ``max_bytes`` uncompressed
  refuses it (zip bomb), and a folder every notebook shares (a download's wrapper) is not taken for
  a student.
"""
from __future__ import annotations

import calendar
import contextlib
import functools
import hashlib
import json
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import timestamps
from .course import GradingError
from .grade import student_id
from .roster import RosterIndex, Student, add_students, gradebook_roster, load_roster, split_name

# Total uncompressed size a zip may declare before it is refused as a likely zip bomb.
MAX_BYTES = 2 * 2**30

# Tried in order on a notebook's path inside the source ('/'-separated). ``student`` is required;
# ``uid`` (LMS user id, looked up as a roster lms_id), ``late`` and ``when`` order copies.
PATTERNS: Dict[str, str] = {
    "Moodle": r"(?:^|/)(?P<student>[^/]+?)_(?P<uid>\d+)_assignsubmission_",
    "Canvas": r"(?:^|/)(?P<student>[^/_]+)_(?P<late>LATE_)?(?P<uid>\d+)_\d+_[^/]+$",
    "Blackboard": r"(?:^|/)[^/]*?_(?P<student>[^/_]+)_attempt_(?P<when>\d{4}(?:-\d\d){5})[^/]*$",
    "folder": r"^(?P<student>[^/]+)/",           # <student>/<any name>.ipynb, Gradescope submission_<n>/
    "file": r"^(?P<student>[^/]+)\.ipynb$",      # <student>.ipynb
}
_LMS = ("Moodle", "Canvas", "Blackboard")
GRADESCOPE_METADATA = "submission_metadata.yml"
_DECORATION = re.compile(r"^copy of\s+|\s*\((\d+)\)$|\s+-\s+copy$|-checkpoint$", re.I)
_RANK_WHY = ("it is not a checkpoint", "it is named after the lab", "it is a later attempt",
             "it is newer", "it is marked LATE", "it is a later copy", "its name sorts later")

Pair = Tuple[str, str]


@dataclass
class CollectReport:
    """What ``collect`` did with each file of the source."""

    lab: str
    source: str
    collected: Dict[str, Path] = field(default_factory=dict)   # student id -> entry in the source
    unmatched: List[Pair] = field(default_factory=list)        # (entry, why no student)
    superseded: List[Pair] = field(default_factory=list)       # (entry, which copy was kept instead)
    conflicts: List[Pair] = field(default_factory=list)        # (entry, whose LMS-named file was kept instead)
    skipped: List[Pair] = field(default_factory=list)          # (entry, why it is not a submission)
    missing: List[str] = field(default_factory=list)           # roster students without a submission
    dry_run: bool = False
    submitted: Dict[str, str] = field(default_factory=dict)    # student id -> submission time (UTC), when known
    time_sources: Dict[str, str] = field(default_factory=dict)  # student id -> where it came from, or why none
    time_problems: List[Pair] = field(default_factory=list)    # (entry, a time found malformed or implausible)
    extensions: Dict[str, float] = field(default_factory=dict)  # student id -> roster extension_hours (> 0)
    roster: str = ""                                           # whose students the files were matched to

    def format(self) -> str:
        """A report for the TA: one line per file that needs a look, then who is missing."""
        counts = [f"{len(self.collected)} collected"] + [f"{len(v)} {k}" for k, v in (
            ("could not be matched", self.unmatched), ("superseded", self.superseded),
            ("conflict(s)", self.conflicts), ("skipped", self.skipped), ("missing", self.missing)) if v]
        lines = [f"{self.lab} from {self.source}: " + ", ".join(counts) + (" (dry run: nothing written)" if self.dry_run else "")]
        lines += [f"  matched to {self.roster}"] if self.roster else []
        width = max((len(s) for s in self.collected), default=0)
        lines += [f"  {sid.ljust(width)} <- {entry}, " + (f"submitted {self.submitted[sid]} ({self.time_sources.get(sid)})"
                  if sid in self.submitted else f"submission time unknown ({self.time_sources.get(sid, 'not recorded')})")
                  for sid, entry in self.collected.items()]
        lines += [f"time of {entry!r} not used: {why}" for entry, why in self.time_problems]
        lines += [f"could not match {entry!r}: {why}" for entry, why in self.unmatched]
        lines += [f"superseded {entry!r}: {why}" for entry, why in self.superseded]
        lines += [f"conflict {entry!r}: {why}" for entry, why in self.conflicts]
        lines += [f"skipped {entry!r}: {why}" for entry, why in self.skipped]
        if self.missing:
            lines.append(f"no submission from {len(self.missing)} roster student(s): {', '.join(self.missing)}")
        if self.extensions:
            lines.append("extensions from the roster: " + ", ".join(f"{s} +{h:g} h" for s, h in self.extensions.items()))
        return "\n".join(lines)

    def save(self, course: os.PathLike) -> Path:
        """Write the report as JSON to ``<course>/collect/<lab>.json``."""
        path = report_path(course, self.lab)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**asdict(self), "collected": {s: str(p) for s, p in self.collected.items()}}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, course: os.PathLike, lab: str) -> "CollectReport":
        data = json.loads(report_path(course, lab).read_text(encoding="utf-8"))
        data["collected"] = {s: Path(p) for s, p in data["collected"].items()}
        for key in ("unmatched", "superseded", "conflicts", "skipped", "time_problems"):
            data[key] = [tuple(pair) for pair in data.get(key, [])]
        return cls(**data)


def report_path(course: os.PathLike, lab: str) -> Path:
    return Path(course) / "collect" / f"{lab}.json"


def collect(source: os.PathLike, course: os.PathLike, lab: str, *,
            roster: Union[None, os.PathLike, Sequence[Student]] = None, pattern: Optional[str] = None,
            dry_run: bool = False, max_bytes: int = MAX_BYTES, update_gradebook: bool = True) -> CollectReport:
    """Copy each student's notebook in ``source`` (zip or folder) to the course; see the module doc.

    ``roster`` (a CSV path or students) restricts matching to its students, all of whom are added
    to the gradebook; without one, every collected id is. ``dry_run`` writes nothing.
    """
    source, course = Path(source), Path(course)
    students = load_roster(roster) if isinstance(roster, (str, os.PathLike)) else roster
    report = CollectReport(lab, str(source), dry_run=dry_run)
    # Without --roster, the roster an earlier collect stored in the gradebook: a resubmission collected
    # on its own must reach the same student, not a new one named after its file.
    known = gradebook_roster(course) if students is None else None
    if known is not None:
        students = known
        report.roster = (f"the {len(known)} students an earlier `collect --roster` put in the gradebook "
                         "(pass --roster to use another list)")
    with _open_source(source, max_bytes) as (entries, skipped):
        report.skipped += skipped + [(e.name, _not_a_notebook(e.name)) for e in entries
                                     if not _is_notebook(e) and not e.rel.endswith(GRADESCOPE_METADATA)]
        matcher = _Matcher(lab, pattern, students, entries)
        tz, times = _course_timezone(course), timestamps.gradescope_times(matcher.metadata)
        groups: Dict[str, List[Tuple[tuple, str, _Entry, bool]]] = {}
        for e in filter(_is_notebook, entries):
            sid, why, m, named = matcher.identify(e)
            e.match = m
            if sid is None:
                report.unmatched.append((e.name, why))
            else:
                groups.setdefault(sid if students is not None else _fold_case(sid), []).append((_rank(e, m, lab), sid, e, named))
        chosen = {}
        for key, group in groups.items():
            named = [item for item in group if item[3]]
            ordered = sorted(named or group, key=lambda item: item[0], reverse=True)
            chosen[key] = (ordered, [item for item in group if named and not item[3]])
        spelled = {key: ordered[0][1] for key, (ordered, _) in chosen.items()}   # as the kept file has it
        ids = {key: key for key in groups} if students is not None else student_ids(spelled, _existing(course))
        for key, (group, guesses) in sorted(chosen.items()):
            (best, _, kept, _), rest = group[0], group[1:]
            sid = ids[key]
            for rank, _, e, _ in rest:
                why = next((w for w, a, b in zip(_RANK_WHY, best, rank) if a != b), "it comes first")
                report.superseded.append((e.name, f"{kept.name!r} was kept for {sid}: {why}"))
            for _, _, e, _ in guesses:
                report.conflicts.append((e.name, f"its name looks like {sid}'s, but the LMS names {kept.name!r} as "
                                                 f"{sid}'s, and that was kept: if {e.name!r} is the right file, "
                                                 "rename it <id>.ipynb and collect it on its own"))
            try:
                when, origin, problems = _submission_time(kept, tz, times)
                report.time_problems += [(kept.name, why) for why in problems]
                if not dry_run:
                    when, origin = _write_submission(kept, course / "submitted" / sid / lab, lab, when, origin)
                report.collected[sid] = Path(kept.name)
                report.time_sources[sid] = origin
                if when is not None:
                    report.submitted[sid] = timestamps.utc_text(when)
            except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as err:
                report.skipped.append((kept.name, f"could not be read ({err}); download it again"))
    report.collected = dict(sorted(report.collected.items()))
    for pairs in (report.unmatched, report.superseded, report.conflicts, report.skipped, report.time_problems):
        pairs.sort()
    # The report is the lab's only record of roster extensions: a collect of a few (a resubmission) must
    # keep those recorded for the students it does not hold, or their saved results turn late.
    recorded = _recorded_extensions(course, lab)
    others = {s: h for s, h in recorded.items() if s not in report.collected}
    if students is not None and known is None:
        report.missing = sorted(s.id for s in students if s.id not in report.collected)
        new = {s.id: s.extension_hours for s in students if s.extension_hours and s.id in report.collected}
    else:     # collected without a roster file: its extensions, recorded before, still hold (and a
        new = {s: h for s, h in recorded.items() if s in report.collected}   # few are not "missing")
    report.extensions = dict(sorted({**others, **new}.items()))
    if not dry_run:
        if update_gradebook:    # a name that is not plain ASCII is kept as the student's name
            found = {ids[key]: spelled[key] for key in groups}
            add_students(course, students if students is not None else
                         [Student(s, *(("", "") if found[s].isascii() else split_name(found[s]))) for s in report.collected])
        report.save(course)
    return report


class _Matcher:
    """Which student a notebook belongs to: patterns, Gradescope's metadata, then the roster."""

    def __init__(self, lab: str, pattern: Optional[str], students: Optional[Sequence[Student]],
                 entries: List["_Entry"]):
        self.lab, self.pattern = lab, pattern
        self.index = RosterIndex(students) if students is not None else None
        if pattern is None:
            self.patterns = [(kind, re.compile(rx, re.I)) for kind, rx in PATTERNS.items()]
        else:
            try:
                self.patterns = [("--pattern", re.compile(pattern))]
            except re.error as err:
                raise GradingError(f"--pattern {pattern!r} is not a regular expression: {err}") from err
            if "student" not in self.patterns[0][1].groupindex:
                raise GradingError(f"--pattern {pattern!r} has no (?P<student>...) group: "
                                   "name the part that is the student")
        self.metadata = _gradescope_metadata(entries)
        self.aliases = _gradescope(self.metadata)
        # The LMS naming schemes seen here: a plain <name>.ipynb beside them is a stray file.
        self.lms = sorted({kind for e in filter(_is_notebook, entries) for kind in _LMS
                           if re.search(PATTERNS[kind], e.rel, re.I)})

    def identify(self, e: "_Entry") -> Tuple[Optional[str], str, Optional[re.Match], bool]:
        """(student id or, without a roster, their name; "", match, named) for a notebook, or (None, why
        not, match, False). ``named``: the LMS's naming scheme, Gradescope's metadata or --pattern
        found the student, not a plain file or folder name."""
        kind, m = next(((kind, m) for kind, rx in self.patterns if (m := rx.search(e.rel))), (None, None))
        if m is None:
            return None, (f"no student pattern matched (--pattern {self.pattern!r}); rename it to fit, or change "
                          "--pattern"), m, False
        raw = m.group("student")
        names = [_clean(text, self.lab) for text in self.aliases.get(raw, [raw])]
        named = kind in _LMS or kind == "--pattern" or raw in self.aliases
        if self.index is None:
            if kind == "file" and self.lms:
                return None, (f"no student pattern matched (the other notebooks have {'/'.join(self.lms)} names); "
                              "rename it <student>.ipynb in a folder of its own, or pass --roster"), m, False
            if not names[0]:
                return None, "its name holds the lab's name and no student's; rename it <student>.ipynb", m, False
            try:
                _slug(names[0])
            except GradingError as err:
                return None, str(err), m, False
            return names[0], "", m, named
        parts = [_clean(part, self.lab) for part in e.name.replace("\\", "/").split("/")]
        tries = [(text, named) for text in names + [m.groupdict().get("uid") or ""]] + [(p, False) for p in parts[::-1]]
        for text, strong in tries:
            hits = self.index.lookup(text) if text else set()
            if len(hits) == 1:
                return hits.pop(), "", m, strong
            if hits:
                return None, (f"{text!r} matches {len(hits)} roster students ({', '.join(sorted(hits))}); rename it "
                              "<id>.ipynb"), m, False
        return None, (f"{names[0] or raw!r} is not in the roster (looked up by id, login, lms_id, email and name); "
                      "add the student to the roster or rename the file <id>.ipynb"), m, False


def _slug(name: str) -> str:
    """A folder-safe id of ``name``: an ASCII name as ``grade.student_id`` spells it, any other NFKC-normalised,
    lower case, its own letters and digits kept and the rest as '_' ("Zoë Martin" -> "zoë_martin")."""
    if name.isascii():
        return student_id(name)
    text = unicodedata.normalize("NFKC", name).casefold()
    sid = re.sub(r"[^\w.@-]+", "_", text).strip("._")[:64]
    if not sid:
        raise GradingError(f"cannot make a student id from {name!r}: rename the submission")
    return sid


def _existing(course: Path) -> Dict[str, str]:
    """Key -> id of the students already collected into the course."""
    found = {}
    for path in (course / "submitted").glob("*"):
        with contextlib.suppress(GradingError):
            found[_fold_case(path.name)] = path.name
    return found


def _fold_case(name: str) -> str:
    """The key that tells students apart: one for 'JSmith' and 'jsmith (1)', or 'zoë' in NFC and NFD."""
    return _slug(name).casefold()


def _ascii_fold(sid: str) -> str:
    return unicodedata.normalize("NFKD", sid).encode("ascii", "ignore").decode().casefold()


def student_ids(names: Dict[str, str], existing: Dict[str, str]) -> Dict[str, str]:
    """Group key -> student id, for students found by ``names`` (key -> a name they were found by) without a
    roster; ``existing`` maps the keys of ids already collected to them. A non-ASCII id whose ASCII fold
    equals another's ("zoë", "zoé", "zoe") gets a short hash of itself, so that a tool that folds ids to
    ASCII still tells them apart; an id collected before stays as it was."""
    slugs = {key: existing.get(key) or _slug(name) for key, name in names.items()}
    folds: Dict[str, int] = {}
    for key, sid in {**{k: v for k, v in existing.items() if k not in slugs}, **slugs}.items():
        if _ascii_fold(sid):
            folds[_ascii_fold(sid)] = folds.get(_ascii_fold(sid), 0) + 1
    ids = {}
    for key, sid in slugs.items():
        hashed = f"{sid}-{hashlib.sha1(sid.encode()).hexdigest()[:6]}"
        if key not in existing and not sid.isascii() and (folds.get(_ascii_fold(sid), 0) > 1 or _fold_case(hashed) in existing):
            sid = existing.get(_fold_case(hashed), hashed)
        ids[key] = sid
    return ids


def _undecorate(text: str) -> Tuple[str, int, bool]:
    """``text`` without "Copy of", " (2)", " - Copy", "-checkpoint"; how many copies; a checkpoint?"""
    copies, checkpoint = 0, False
    text = text.strip()
    while m := _DECORATION.search(text):
        is_checkpoint = m.group(0).lower() == "-checkpoint"
        checkpoint |= is_checkpoint
        copies += int(m.group(1)) if m.group(1) else int(not is_checkpoint)
        text = (text[:m.start()] + text[m.end():]).strip()
    return text, copies, checkpoint


def _clean(text: str, lab: str) -> str:
    """A student name from a file or folder name: decorations and the lab's name dropped."""
    text = _undecorate(text[:-6] if text.lower().endswith(".ipynb") else text)[0]
    lab_rx = re.escape(lab).replace("_", r"[\s_-]")
    return re.sub(rf"(?i)(?:^|[\s_-]+){lab_rx}(?=$|[\s_-])", "", text).strip(" _-")


def _rank(e: "_Entry", m: Optional[re.Match], lab: str) -> tuple:
    """Sort key of one copy (the largest is kept); its fields are explained by ``_RANK_WHY``."""
    name, copies, checkpoint = _undecorate(e.rel.rsplit("/", 1)[-1][:-6])
    resubmitted = re.search(r"-(\d+)$", name)        # Canvas numbers a resubmitted file "name-1.ipynb"
    if resubmitted:
        name, copies = name[:resubmitted.start()], copies + int(resubmitted.group(1))
    groups = m.groupdict() if m else {}
    return (not checkpoint, name.casefold().endswith(lab.casefold()), groups.get("when") or "",
            e.mtime, bool(groups.get("late")), copies, e.name)


def _is_notebook(e: "_Entry") -> bool:
    return e.rel.lower().endswith(".ipynb")


def _not_a_notebook(name: str) -> str:
    if name.lower().endswith(".zip"):
        return "a zip inside the source: unpack it next to the others and collect again"
    return f"not a notebook ({Path(name).suffix or 'no extension'})"


def _gradescope_metadata(entries: List["_Entry"]) -> str:
    """The text of Gradescope's ``submission_metadata.yml`` in the source ("" when there is none)."""
    meta = next((e for e in entries if e.rel.rsplit("/", 1)[-1] == GRADESCOPE_METADATA), None)
    if meta is None:
        return ""
    with meta.open() as f:
        return f.read(1 << 24).decode("utf-8", "replace")


def _gradescope(text: str) -> Dict[str, List[str]]:
    """Gradescope folder (``submission_<n>``) -> its first submitter's sid, email and name."""
    people: Dict[str, Dict[str, str]] = {}
    folder = None
    for line in text.splitlines():
        if top := re.match(r"^(\S[^:]*):\s*$", line):
            folder = top.group(1)
        elif folder and (item := re.match(r"^\s*-?\s*:(sid|email|name):\s*['\"]?(.*?)['\"]?\s*$", line)):
            if item.group(2):
                people.setdefault(folder, {}).setdefault(item.group(1), item.group(2))
    return {k: [v[f] for f in ("sid", "email", "name") if f in v] for k, v in people.items()}


@dataclass(eq=False)
class _Entry:
    name: str                        # as in the source: the zip entry or the path under the folder
    mtime: float                     # seconds (zip entry date taken as UTC)
    open: Callable[[], IO[bytes]]
    rel: str = ""                    # ``name`` less any wrapper folder every notebook shares
    info: Optional[zipfile.ZipInfo] = None    # the zip entry (None: a file in a folder)
    match: Optional[re.Match] = None          # what named its student


def _course_timezone(course: Path) -> tzinfo:
    """The course's time zone (``deadlines.py``), in which times without an offset are read."""
    from .deadlines import course_timezone
    return course_timezone(course)


def _recorded_extensions(course: Path, lab: str) -> Dict[str, float]:
    """The roster extensions an earlier collect of ``lab`` recorded."""
    from .deadlines import roster_extensions
    return roster_extensions(course, lab)


@contextlib.contextmanager
def _open_source(source: Path, max_bytes: int) -> Iterator[Tuple[List[_Entry], List[Pair]]]:
    if source.is_dir():
        yield _folder_entries(source)
    elif zipfile.is_zipfile(source):
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as err:
            raise GradingError(f"cannot read the zip file {source} ({err}): download it again") from err
        with archive:
            yield _zip_entries(source, archive, max_bytes)
    elif source.exists():
        raise GradingError(f"{source} is neither a folder nor a zip file: pass the LMS download (.zip) "
                           "or a folder of notebooks")
    else:
        raise GradingError(f"{source} not found: pass the LMS download (.zip) or a folder of notebooks")


def _folder_entries(root: Path) -> Tuple[List[_Entry], List[Pair]]:
    entries, skipped = [], []
    for top, dirs, files in os.walk(root):          # links to folders are not followed
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(top, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                skipped.append((rel, "a symbolic link: copy the file itself into the folder"))
            else:
                entries.append(_Entry(rel, path.stat().st_mtime, functools.partial(path.open, "rb"), rel))
    return entries, skipped


def _zip_entries(source: Path, archive: zipfile.ZipFile, max_bytes: int) -> Tuple[List[_Entry], List[Pair]]:
    entries, skipped, total = [], [], 0
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        parts = name.split("/")
        if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
            skipped.append((info.filename, "its path points outside the archive (zip slip: an absolute path, a "
                                           "drive or '..'); not collected: ask where it came from"))
            continue
        parts = [p for p in parts if p not in ("", ".")]
        if info.is_dir() or not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            skipped.append((info.filename, "a symbolic link inside the zip"))
            continue
        total += info.file_size
        if total > max_bytes:
            raise GradingError(f"refusing {source}: it unpacks to more than {max_bytes / 2**20:g} MiB (a zip bomb?); "
                               "check it, then raise the limit (max_bytes) if it is genuine")
        entries.append(_Entry(info.filename, calendar.timegm(info.date_time),
                              functools.partial(archive.open, info), "/".join(parts), info))
    # Drop the leading folders that every notebook shares (a download's wrapper), unless one is
    # named the LMS way (then it is the one student's folder).
    paths = [e.rel.split("/") for e in entries if _is_notebook(e)]
    depth = 0
    while len(paths) > 1 and all(len(p) > depth + 1 and p[depth] == paths[0][depth] for p in paths) \
            and not any(re.search(PATTERNS[kind], paths[0][depth], re.I) for kind in _LMS):
        depth += 1
    wrapper = "/".join(paths[0][:depth]) + "/" if depth else ""
    for e in entries:
        e.rel = e.rel[len(wrapper):] if e.rel.startswith(wrapper) else e.rel
    return entries, skipped


def _write(entry: _Entry, dest: Path) -> bool:
    """Copy the entry's bytes to ``dest`` unless it already holds them (a rerun rewrites nothing);
    returns whether it wrote."""
    with entry.open() as f:
        data = f.read()
    if dest.is_file() and dest.read_bytes() == data:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return True


def _write_submission(entry: _Entry, folder: Path, lab: str, when: Optional[datetime],
                      origin: str) -> Tuple[Optional[datetime], str]:
    """Copy the notebook into ``folder`` with its time in ``timestamp.txt``; returns the time it has
    there and where that came from. The same bytes as before keep the time written then (or by the TA)."""
    if _write(entry, folder / f"{lab}.ipynb") or not (folder / timestamps.TIMESTAMP_FILE).exists():
        timestamps.write_timestamp(folder, when)
        return when, origin
    kept, why = timestamps.read_timestamp(folder)
    if kept is not None and when is not None and abs((kept - when).total_seconds()) < 1e-3:
        return kept, origin
    return kept, ("timestamp.txt kept: this file was collected before" if kept else
                  f"{why} (this file was collected before: fix or remove timestamp.txt)")


def _submission_time(e: _Entry, tz: tzinfo, times: Dict[str, str]) -> Tuple[Optional[datetime], str, List[str]]:
    """(time, where it came from or why there is none, what was wrong with each time not used) of a
    kept notebook: the LMS's own record of it, else its zip entry date or file mtime (``timestamps.py``)."""
    groups = e.match.groupdict() if e.match else {}
    canvas = e.match is not None and e.match.re.pattern == PATTERNS["Canvas"]
    tries: List[Tuple[str, Callable[[], Tuple[datetime, str]]]] = []
    if groups.get("student") in times:
        tries.append(("Gradescope's :created_at:",
                      lambda: (timestamps.parse_time(times[groups["student"]], tz), "Gradescope's :created_at:")))
    if groups.get("when"):
        tries.append(("Blackboard's attempt time", lambda: (timestamps.blackboard_time(groups["when"], tz),
                                                            f"Blackboard's attempt time, read as {tz}")))
    if canvas:                      # a Canvas zip's dates (and so its unpacked files') are the download's
        pass
    elif e.info is None:
        tries.append(("file modification time", lambda: (timestamps.from_epoch(e.mtime), "file modification time")))
    else:
        tries.append(("zip entry date", lambda: timestamps.zip_time(e.info, tz)))
    problems = []
    for what, read in tries:
        try:
            when, label = read()
            return timestamps.check_plausible(when), label, problems
        except (ValueError, OverflowError) as err:
            problems.append(f"{what}: {err}")
    if canvas:
        late = ", but Canvas marks it LATE" if groups.get("late") else ""
        return None, f"Canvas downloads hold no submission time{late}", problems
    return None, "the download holds no usable time", problems
