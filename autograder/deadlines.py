"""Due dates, extensions and late penalties: set once per course, applied the way nbgrader applies them.

Where. ``<course>/seqlab.toml`` (``settings.COURSE_SETTINGS``), which ``seqlab-grade deadline``
writes and a TA may edit by hand::

    timezone = "Europe/Paris"   # a time written without an offset is read in this zone (default UTC)
    [late]                      # the course's late policy; a lab's own table may change any key
    grace = "15m"               # this late costs nothing
    per_day = 0.1               # fraction of the lab's points lost per day, or part of one (or per_hour)
    cap = 0.5                   # at most this fraction lost
    zero_after = "7d"           # later than this: no credit at all
    [labs."01_rnn"]
    due = "2025-03-01T23:59:00+01:00"
    [labs."01_rnn".extensions]
    jdoe = "48h"                # more time, or a due date of their own ("2025-03-04 12:00")

A student's extension is the lab's own entry, else the roster's ``extension_hours`` (extra time on
every lab, an accommodation, recorded by ``collect --roster``).

What. ``LatePolicy.fraction`` is a pure function of how late a submission is: nothing when it is on
time or late by no more than the grace (which forgives; it does not move the due date); everything
when later than ``zero_after``; else ``per_day`` (``per_hour``) for each day (hour) started since the
due date, as Canvas counts ("Canvas rounds up the day or hour to the next whole number", Instructure's
guide "How do I apply a Late Submission policy in the Gradebook?"), at most ``cap``. It is a fraction
of the lab's points, and in points never more than the score (``results.penalty_points``). The time
is the one ``collect`` wrote in nbgrader's ``timestamp.txt`` (``timestamps.py``); a submission with
none, or one that cannot be read, is not penalised and every report says so.

How. nbgrader's own mechanism: the due date is the assignment's ``duedate`` in the gradebook, the
extension the submission's ``extension``, the time its ``timestamp``, and nbgrader's
``AssignLatePenalties`` preprocessor, with ``SeqlabLatePenalty`` (this policy as nbgrader's
``LateSubmissionPlugin``, registered in ``course.nbgrader_config``), sets each
``SubmittedNotebook.late_submission_penalty``: the formgrader and nbgrader's grades.csv show it beside
the score, which stays what the grader compared outside the kernel (``latepenalty.py`` applies it to
results and the gradebook).
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

from .course import GradingError
from .results import Late, SubmissionResult
from .settings import COURSE_SETTINGS, read_course_settings
from .timestamps import parse_time, utc_text, zone

POLICY_KEYS = ("grace", "per_day", "per_hour", "cap", "zero_after")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# ---- the policy ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LatePolicy:
    """How lateness costs points (see the module docstring)."""

    grace: timedelta = timedelta(0)          # late by no more than this costs nothing
    per_day: float = 0.0                     # fraction of the points lost per day started
    per_hour: float = 0.0                    # ... per hour started (instead of per_day)
    cap: float = 1.0                         # at most this fraction lost
    zero_after: Optional[timedelta] = None   # later than this: everything lost

    def fraction(self, seconds_late: float) -> float:
        """The fraction of the lab's points a submission ``seconds_late`` after its due date loses."""
        if seconds_late <= 0 or seconds_late <= self.grace.total_seconds():
            return 0.0
        if self.zero_after is not None and seconds_late > self.zero_after.total_seconds():
            return 1.0
        rate, unit = (self.per_hour, 3600) if self.per_hour else (self.per_day, 86400)
        return round(min(self.cap, 1.0, math.ceil(seconds_late / unit) * rate), 6)

    def rule(self, seconds_late: float = 0.0) -> str:
        """The policy in words, "10% a day started, at most 50%", or "no credit after 7 days" when
        that is what applies to ``seconds_late``."""
        if self.zero_after is not None and seconds_late > self.zero_after.total_seconds():
            return f"no credit after {span(self.zero_after.total_seconds())}"
        rate, unit = (self.per_hour, "an hour") if self.per_hour else (self.per_day, "a day")
        words = [f"{percent(rate)} {unit} started"] if rate else ["no penalty per day"]
        if self.cap < 1.0:
            words.append(f"at most {percent(self.cap)}")
        if self.zero_after is not None:
            words.append(f"no credit after {span(self.zero_after.total_seconds())}")
        if self.grace:
            words.append(f"{span(self.grace.total_seconds())} of grace")
        return ", ".join(words)


@dataclass(frozen=True)
class LabDeadline:
    """A lab's due date, policy and the students' extensions, as the course configures them."""

    lab: str
    due: Optional[datetime]                  # aware; None: the lab has no due date (nothing is late)
    policy: LatePolicy = LatePolicy()
    extensions: Mapping[str, timedelta] = field(default_factory=dict)   # the lab's own and the roster's
    tz: tzinfo = timezone.utc

    def extension(self, student: str) -> timedelta:
        return self.extensions.get(student, timedelta(0))


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}".rstrip("0").rstrip(".") + "%"


def span(seconds: float) -> str:
    """"2 days 3 hours", "5 hours 10 minutes", "40 minutes": the two largest units."""
    left, parts = int(round(seconds)), []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {name}{'s' * (count != 1)}")
    return " ".join(parts[:2]) or "less than a minute"


def parse_duration(value, what: str) -> timedelta:
    """"15m", "2h", "1.5d", "1w" or a number of hours, as a timedelta; GradingError naming ``what``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(min|m|h|d|w)?\s*", str(value), re.IGNORECASE)
    if m is None or isinstance(value, bool):
        raise GradingError(f"{what} {value!r} is not a duration: write 15m, 2h, 3d or 1w")
    return timedelta(seconds=float(m.group(1)) * _UNITS[(m.group(2) or "h").lower()])


def duration_text(delta: timedelta) -> str:
    """The shortest of "7d", "48h", "90m" that says ``delta`` exactly (``parse_duration`` reads it)."""
    seconds = delta.total_seconds()
    for unit in ("d", "h"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds / 60:g}m"


def parse_fraction(value, what: str) -> float:
    """"10%" or 0.1 as 0.1; GradingError naming ``what`` for anything outside [0, 1]."""
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        number = float("nan")
    if isinstance(value, bool) or not 0 <= number <= 1:
        raise GradingError(f"{what} {value!r} is not a share of the lab's points: write 10% or 0.1 (at most 100%)")
    return number


def parse_when(value, tz: tzinfo, what: str) -> datetime:
    """A due date: a TOML datetime or text ("2025-03-01 23:59", with or without an offset) read in ``tz``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    try:
        return parse_time(str(value), tz)
    except ValueError as err:
        raise GradingError(f"{what}: {err}") from None


def policy_of(table: Mapping, where: str) -> LatePolicy:
    """A ``LatePolicy`` from a settings table (its unknown keys are an error: a typo would be ignored)."""
    unknown = sorted(set(table) - set(POLICY_KEYS) - {"due", "extensions"})
    if unknown:
        raise GradingError(f"{where}: unknown setting(s) {unknown}; known are due, extensions, {', '.join(POLICY_KEYS)}")
    kw = {}
    if "grace" in table:
        kw["grace"] = parse_duration(table["grace"], f"{where} grace")
    for key in ("per_day", "per_hour", "cap"):
        if key in table:
            kw[key] = parse_fraction(table[key], f"{where} {key}")
    if table.get("zero_after") not in (None, "", "none"):
        kw["zero_after"] = parse_duration(table["zero_after"], f"{where} zero_after")
    if kw.get("per_day") and kw.get("per_hour"):
        raise GradingError(f"{where}: per_day and per_hour are both set; keep one")
    return LatePolicy(**kw)


def course_timezone(course: os.PathLike, settings: Optional[dict] = None) -> tzinfo:
    """The course's time zone (``timezone`` in seqlab.toml, default UTC)."""
    settings = read_course_settings(course) if settings is None else settings
    try:
        return zone(str(settings.get("timezone", "UTC")))
    except ValueError as err:
        raise GradingError(f"{Path(course) / COURSE_SETTINGS}: {err}") from None


def lab_deadline(course: os.PathLike, lab: str, settings: Optional[dict] = None) -> LabDeadline:
    """The deadline of ``lab`` in ``course``: seqlab.toml, plus the roster's extensions ``collect`` recorded."""
    settings = read_course_settings(course) if settings is None else settings
    where = f"{Path(course) / COURSE_SETTINGS}"
    tz = course_timezone(course, settings)
    own = dict((settings.get("labs") or {}).get(lab) or {})
    merged = {**(settings.get("late") or {}), **{k: v for k, v in own.items() if k != "extensions"}}
    policy = policy_of(merged, f"{where} [labs.{lab}]" if own else f"{where} [late]")
    due = parse_when(own["due"], tz, f"{where} [labs.{lab}] due") if own.get("due") else None
    extensions = {sid: timedelta(hours=h) for sid, h in roster_extensions(course, lab).items()}
    for sid, value in (own.get("extensions") or {}).items():
        what = f"{where} [labs.{lab}.extensions] {sid}"
        try:
            extensions[sid] = parse_duration(value, what)
        except GradingError:
            if due is None:
                raise GradingError(f"{what}: a due date of their own needs the lab's due date first") from None
            extensions[sid] = parse_when(value, tz, what) - due
        if extensions[sid] < timedelta(0):
            raise GradingError(f"{what}: {value!r} is before the lab's due date; an extension only adds time")
    return LabDeadline(lab, due, policy, extensions, tz)


def roster_extensions(course: os.PathLike, lab: str) -> Dict[str, float]:
    """Student -> extra hours from the roster, as ``collect --roster`` recorded them ({} without)."""
    from .collect import report_path
    try:
        data = json.loads(report_path(course, lab).read_text(encoding="utf-8"))
        return {str(s): float(h) for s, h in (data.get("extensions") or {}).items() if float(h) > 0}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


# ---- the TA's settings -----------------------------------------------------------------------------

HEADER = """seqlab course settings: due dates, extensions and the late policy (autograder/deadlines.py).
Written by `seqlab-grade deadline`; you may edit it by hand (comments are not kept when the command writes it)."""


def configure(course: os.PathLike, lab: Optional[str] = None, *, due: Optional[str] = None, no_due: bool = False,
              timezone_name: Optional[str] = None, policy: Optional[Mapping[str, str]] = None,
              extend: Sequence[str] = ()) -> dict:
    """Change ``seqlab.toml``: the course's time zone, then the late ``policy`` (grace, per_day, per_hour, cap,
    zero_after) of ``lab`` or, without a lab, of the course; ``lab``'s due date and its ``extend`` entries
    ("jdoe=48h", "kim=2025-03-05 12:00", "jdoe=none" to remove one). The whole is checked before it is
    written (GradingError naming the value). Returns the settings written."""
    new = json.loads(json.dumps(read_course_settings(course), default=str))     # a deep copy
    if timezone_name:
        try:
            zone(timezone_name)
        except ValueError as err:
            raise GradingError(f"--timezone: {err}") from None
        new["timezone"] = timezone_name
    tz = course_timezone(course, new)
    if (due or no_due) and lab is None:
        raise GradingError("--due and --no-due need a LAB: each lab has its own due date")
    if (policy or {}).get("per_day") and (policy or {}).get("per_hour"):
        raise GradingError("per_day and per_hour are both set: give --per-day or --per-hour, not both")
    table = new.setdefault("labs", {}).setdefault(lab, {}) if lab else new.setdefault("late", {})
    if no_due:
        table.pop("due", None)
    if due:
        table["due"] = parse_when(due, tz, "--due").isoformat()
    for name, value in (policy or {}).items():
        if value is None:
            continue
        if name in ("grace", "zero_after"):
            off = str(value).strip().lower() in ("none", "off", "0")
            table[name] = "none" if off and name == "zero_after" else duration_text(parse_duration(
                "0" if off else value, f"--{name.replace('_', '-')}"))
        else:
            table[name] = parse_fraction(value, f"--{name.replace('_', '-')}")
            other = {"per_day": "per_hour", "per_hour": "per_day"}.get(name)
            if other:                                # one rate at a time: the other one goes
                table.pop(other, None)
                if lab and (new.get("late") or {}).get(other):
                    table[other] = 0.0               # ... and the course's is switched off for this lab
    for item in extend:
        student, _, value = item.partition("=")
        student, value = student.strip(), value.strip()
        if not student or not value:
            raise GradingError(f"--extend {item!r}: write STUDENT=48h, or STUDENT='2025-03-05 12:00' (their own due "
                               "date), or STUDENT=none")
        if lab is None:
            raise GradingError("--extend needs a LAB: extensions are per lab (the roster's extension_hours is "
                               "for every lab)")
        extensions = table.setdefault("extensions", {})
        if value.lower() in ("none", "0"):
            extensions.pop(student, None)
            continue
        try:
            extensions[student] = duration_text(parse_duration(value, "--extend"))
        except GradingError:
            extensions[student] = parse_when(value, tz, f"--extend {student}").isoformat()
    if not new.get("late"):
        new.pop("late", None)
    for name in sorted((new.get("labs") or {})):
        lab_deadline(course, name, new)      # every lab must still read: a course-wide change reaches them all
    from .settings import write_course_settings
    write_course_settings(course, new, HEADER)
    return new


def explain(deadline: LabDeadline) -> str:
    """A lab's deadline for the TA: "01_rnn due 2025-03-01 23:59 Europe/Paris (22:59 UTC); 10% a day started, ..."."""
    if deadline.due is None:
        return f"{deadline.lab}: no due date (nothing is late); set one with --due"
    local = deadline.due.astimezone(deadline.tz).strftime("%Y-%m-%d %H:%M")
    utc = "" if deadline.tz is timezone.utc else f" ({utc_text(deadline.due)})"
    text = f"{deadline.lab} due {local} {deadline.tz}{utc}; {deadline.policy.rule()}"
    if deadline.extensions:
        text += "; extensions: " + ", ".join(f"{s} +{_hours(d)}" for s, d in sorted(deadline.extensions.items()))
    return text


# ---- one submission -------------------------------------------------------------------------------

def assess(deadline: LabDeadline, student: str, submitted: Optional[datetime], problem: str = "") -> Optional[Late]:
    """The lateness of ``student``'s submission at ``submitted`` (None: unknown, because of ``problem``);
    None when the lab has no due date."""
    if deadline.due is None:
        return None
    extension = deadline.extension(student)
    due = deadline.due + extension
    late = Late(due=due.astimezone(timezone.utc).isoformat(), extension=_hours(extension) if extension else "")
    with_extension = f" (extension: {late.extension})" if late.extension else ""
    if submitted is None:
        return replace(late, problem=problem or "no submission time",
                       reason=f"no submission time is known ({problem or 'none recorded'}), so no late penalty "
                              "was applied")
    seconds = (submitted - due).total_seconds()
    late = replace(late, submitted=submitted.astimezone(timezone.utc).isoformat(), seconds_late=max(0.0, seconds),
                   fraction=deadline.policy.fraction(seconds))
    if seconds <= 0:
        return replace(late, reason=f"submitted on time{with_extension}")
    after = f"submitted {span(seconds)} after the due date{with_extension}"
    grace = deadline.policy.grace.total_seconds()
    if seconds <= grace:
        return replace(late, reason=f"{after}, within the {span(grace)} of grace: no penalty")
    if not late.fraction:
        return replace(late, reason=f"{after}: no penalty ({deadline.policy.rule(seconds)})")
    return replace(late, reason=after, rule=deadline.policy.rule(seconds))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def describe(result: SubmissionResult) -> str:
    """The late penalty of ``result`` for people, with its reason: "submitted 2 days 3 hours after the due
    date (extension: 24 h): −20% of 34 points = −6.8 (10% a day started, at most 50%)"; "" when none applies."""
    from .pages import fmt_points

    late = result.late
    if late is None:
        return ""
    if not late.fraction:
        return late.reason
    full = late.fraction * result.max_score
    text = (f"{late.reason}: −{percent(late.fraction)} of {fmt_points(result.max_score)} points = "
            f"−{fmt_points(full)} ({late.rule})")
    if result.late_penalty < round(full, 2):
        text += f"; no lower than 0 points, so −{fmt_points(result.late_penalty)}"
    return text
