"""The class roster: read a CSV of students, add them to the gradebook, find a student from a name.

``load_roster`` reads a CSV with an ``id`` column and optionally ``name`` (or ``first_name``,
``last_name``), ``email``, ``login``, ``lms_id`` and ``sis_id`` (the last for the LMS grade sheets),
checking each line (safe ids, no duplicates, a plausible email) and naming the line at fault.
``RosterIndex`` finds the student a file name means: by id, login, LMS user id, email or its local
part first, then by full name in any order and spelling ("Smith, Jane" ~ "Jane Smith" ~
"jane_smith" ~ Canvas's "smithjane"). The gradebook is nbgrader's own (``update_or_create_student``).
"""
from __future__ import annotations

import csv
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .course import GradingError, gradebook
from .grade import student_id

_COLUMNS = {"id": "id", "student_id": "id", "name": "name", "full_name": "name", "first_name": "first_name",
            "last_name": "last_name", "email": "email", "e_mail": "email", "login": "login", "username": "login",
            "lms_id": "lms_id", "lms_user_id": "lms_id", "sis_login_id": "login",
            "sis_id": "sis_id", "sis_user_id": "sis_id", "id_number": "sis_id", "idnumber": "sis_id",
            "extension_hours": "extension_hours", "extension": "extension_hours", "extra_hours": "extension_hours"}


@dataclass(frozen=True)
class Student:
    """One roster line."""

    id: str                 # the nbgrader student id (a safe folder name)
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    login: str = ""         # LMS login or user name
    lms_id: str = ""        # LMS user id (Canvas and Moodle put it in file names)
    sis_id: str = ""        # the institution's student number: Canvas's SIS User ID, Moodle's ID number
    extension_hours: float = 0.0   # more time on every lab's due date (an accommodation; ``deadlines.py``)


def load_roster(path: os.PathLike) -> List[Student]:
    """Students from a CSV file with a header: ``id`` and optionally ``name`` (or ``first_name``,
    ``last_name``), ``email``, ``login``, ``lms_id``, ``sis_id``, ``extension_hours``; other columns are ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise GradingError(f"cannot read roster {path}: {err}; pass a UTF-8 CSV file") from err
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    keys = [_COLUMNS.get(re.sub(r"[\s-]+", "_", h.strip().casefold())) for h in header or []]
    if "id" not in keys:
        raise GradingError(f"{path}, line 1: no 'id' column in the header {header}; the roster needs "
                           "id, and optionally name (or first_name, last_name), email, login, lms_id")
    students: Dict[str, Student] = {}
    lines: Dict[str, int] = {}
    for row in rows:
        where = f"{path}, line {rows.line_num}"
        if not any(value.strip() for value in row):
            continue
        if len(row) != len(keys):
            raise GradingError(f"{where}: {len(row)} fields where the header has {len(keys)}; "
                               'quote values that hold commas ("Smith, Jane")')
        f = {k: v.strip() for k, v in zip(keys, row) if k}
        sid = f.get("id", "")
        safe = student_id(sid) if re.search(r"[A-Za-z0-9@-]", sid) else ""
        if not sid or safe != sid:
            raise GradingError(f"{where}: id {sid!r} is not a usable folder name; use letters, digits and "
                               "_ . @ - only" + (f" (e.g. {safe!r})" if safe else ""))
        if sid in students:
            raise GradingError(f"{where}: id {sid!r} is already on line {lines[sid]}; each student once")
        if f.get("email") and "@" not in f["email"]:
            raise GradingError(f"{where}: email {f['email']!r} has no '@'; fix it or leave it empty")
        first, last = split_name(f.get("name", ""))
        students[sid] = Student(sid, f.get("first_name") or first, f.get("last_name") or last,
                                f.get("email", ""), f.get("login", ""), f.get("lms_id", ""), f.get("sis_id", ""),
                                _hours(f.get("extension_hours", ""), where))
        lines[sid] = rows.line_num
    return list(students.values())


def _hours(text: str, where: str) -> float:
    """An ``extension_hours`` cell: empty, or a number of hours (0 or more)."""
    try:
        hours = float(text) if text else 0.0
    except ValueError:
        hours = -1.0
    if not 0 <= hours < 24 * 366:
        raise GradingError(f"{where}: extension_hours {text!r} is not a number of hours; write e.g. 48, "
                           "or leave it empty")
    return hours


def split_name(name: str) -> Tuple[str, str]:
    """(first, last) of a full name: "Smith, Jane" and "Jane Smith" give ("Jane", "Smith"), "李雷" ("", "李雷")."""
    if "," in name:                                   # "Smith, Jane"
        last, first = name.split(",", 1)
        return first.strip(), last.strip()
    *first, last = name.split() or [""]
    return " ".join(first), last


def gradebook_roster(course: os.PathLike) -> Optional[List[Student]]:
    """The students an earlier ``collect --roster`` put in the course's gradebook, when any of them has
    an email or LMS id (a roster, not ids made from file names); None otherwise."""
    if not (Path(course) / "gradebook.db").is_file():
        return None
    with gradebook(Path(course)) as gb:
        students = [Student(s.id, s.first_name or "", s.last_name or "", s.email or "", "", s.lms_user_id or "")
                    for s in gb.students]
    return students if any(s.email or s.lms_id for s in students) else None


def add_students(course: os.PathLike, roster: Sequence[Student]) -> List[str]:
    """Create (or update the known fields of) each student in the course's nbgrader gradebook."""
    Path(course).mkdir(parents=True, exist_ok=True)
    with gradebook(Path(course)) as gb:
        for s in roster:
            known = {"first_name": s.first_name, "last_name": s.last_name, "email": s.email, "lms_user_id": s.lms_id}
            gb.update_or_create_student(s.id, **{k: v for k, v in known.items() if v})
    return [s.id for s in roster]


def _norm(text: str) -> str:
    """'Jösé  Smith' -> 'jose_smith', '李雷' -> '李雷': accents dropped, lower case, letters and digits of
    any script kept, runs of other characters as '_'."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "_", text.casefold()).strip("_")


class RosterIndex:
    """Roster lookup: exact keys (id, login, lms_id, email, its local part) before name keys."""

    def __init__(self, students: Sequence[Student]):
        self.exact: Dict[str, Set[str]] = {}
        self.names: Dict[str, Set[str]] = {}
        for s in students:
            for key in (s.id, s.login, s.lms_id, s.email, s.email.split("@")[0]):
                if _norm(key):
                    self.exact.setdefault(_norm(key), set()).add(s.id)
            first, last = _norm(s.first_name).split("_"), _norm(s.last_name).split("_")
            tokens = [t for t in first + last if t]
            for key in ("_".join(sorted(tokens)), "".join(tokens), "".join(last + first)):
                if key:
                    self.names.setdefault(key, set()).add(s.id)

    def lookup(self, text: str) -> Set[str]:
        tokens = _norm(text).split("_")
        return (self.exact.get("_".join(tokens)) or self.names.get("_".join(sorted(tokens)))
                or self.names.get("".join(tokens)) or set())
