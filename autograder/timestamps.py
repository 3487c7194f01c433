"""Submission times: read from what an LMS download records, kept where nbgrader reads them.

``collect`` gives each submission a time, from the first of these that the download has and that
reads as a plausible time (``check_plausible``: not before 2000, not a day ahead of the clock):

- Gradescope's "Export Submissions" zip: ``submission_metadata.yml`` has, under each
  ``submission_<n>:`` folder, its ``:created_at:`` ("2024-03-01 23:59:10.123456000 -08:00"); the
  ``:created_at:`` of the ``:history:`` items underneath are earlier submissions, not this one
  (``gradescope_times``; the same field as ``created_at`` in gradescope-autograders.readthedocs.io,
  "Submission Metadata");
- Blackboard's "Download Assignment" names: ``<item>_<user>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``,
  a local time without offset, read in the course's time zone (``blackboard_time``);
- the zip entry's date: its Info-ZIP extended timestamp (extra field 0x5455, UTC seconds) when it
  has one, else the DOS date, a local time without offset read in the course's time zone
  (``zip_time``). Moodle's "Download all submissions" zips each file with its copy's date on the
  server; a zip with the DOS epoch (1980-01-01) has no date at all;
- a folder's file modification time (``from_epoch``).

Canvas's "Download Submissions" zip has no submission time: its entries are dated when the zip is
made (canvas-lms ``ContentZipper#add_attachment_to_zip`` writes them without a time, issue #2219)
and its names only say ``LATE`` against Canvas's own due date, so ``collect`` records no time for
them rather than the download's.

The time is written, in UTC, to nbgrader's ``submitted/<student>/<lab>/timestamp.txt`` in
nbgrader's format (``Exchange.timestamp_format``, "%Y-%m-%d %H:%M:%S.%f %Z"), which
``nbgrader autograde`` and ``deadlines.py`` read back (``read_timestamp``: never a crash, whatever
the file holds). Every parser here raises ``ValueError`` with what was wrong; callers report it
and fall back.
"""
from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Dict, Optional, Tuple

TIMESTAMP_FILE = "timestamp.txt"
# nbgrader's Exchange.timestamp_format, written in UTC: "2025-03-01 22:59:00.000000 UTC".
NBGRADER_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
# Times outside [EARLIEST, now + AHEAD] are not submission times (the DOS epoch, a broken clock).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
AHEAD = timedelta(days=1)
# A timestamp file longer than this is not a timestamp.
MAX_CHARS = 200
_UT_FIELD = 0x5455      # Info-ZIP extended timestamp: flags byte, then mtime (int32, UTC seconds) if flags & 1

_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
                   r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?", re.IGNORECASE)


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name such as "Europe/Paris", or "UTC"); ValueError if unknown."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise ValueError(f"unknown time zone {name!r} ({type(err).__name__}); use an IANA name such as "
                         "'Europe/Paris' or 'America/New_York', or UTC") from None


def parse_time(text: str, tz: tzinfo = timezone.utc) -> datetime:
    """An aware datetime from "YYYY-MM-DD HH:MM[:SS[.fraction]] [offset]" (a 'T' between date and time,
    an offset Z, UTC, GMT, +HH, +HHMM or +HH:MM); a time without an offset is read in ``tz``."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        raise ValueError("not a time (too long)" if isinstance(text, str) else f"not a time ({type(text).__name__})")
    cleaned = text.strip().strip("'\"")
    m = _TIME.fullmatch(cleaned)
    if m is None:
        raise ValueError(f"{cleaned[:60]!r} is not a time like 2025-03-01 23:59:00 +01:00")
    year, month, day, hour, minute, second = (int(g or 0) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    when = datetime(year, month, day, hour, minute, second, micro)      # ValueError: month 13, Feb 30 ...
    offset = (m.group(8) or "").upper()
    if not offset:
        return _localize(when, tz)
    if offset in ("Z", "UTC", "GMT"):
        return when.replace(tzinfo=timezone.utc)
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {offset} is not a UTC offset")
    sign = -1 if offset[0] == "-" else 1
    return when.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def _localize(when: datetime, tz: tzinfo) -> datetime:
    """``when`` (naive) as a local time in ``tz``; with zoneinfo, an ambiguous hour is its first occurrence."""
    return when.replace(tzinfo=tz)


def check_plausible(when: datetime, now: Optional[datetime] = None) -> datetime:
    """``when``, if it can be a submission time: not before 2000, not more than a day ahead of ``now``."""
    now = now or datetime.now(timezone.utc)
    if when < EARLIEST:
        raise ValueError(f"{utc_text(when)} is before 2000 (an archive with no date, or a broken clock)")
    if when > now + AHEAD:
        raise ValueError(f"{utc_text(when)} is in the future")
    return when


def from_epoch(seconds: float) -> datetime:
    """A POSIX time (a file's mtime) as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(seconds), timezone.utc)
    except (OverflowError, OSError, ValueError) as err:
        raise ValueError(f"file time {seconds!r} is not a date ({err})") from None


def zip_time(info: zipfile.ZipInfo, tz: tzinfo = timezone.utc) -> Tuple[datetime, str]:
    """(time, how it was read) of a zip entry: its extended timestamp (UTC) if it has one, else its DOS
    date read in ``tz``."""
    seconds = _extended_mtime(info.extra)
    if seconds is not None:
        return from_epoch(seconds), "zip entry date (UTC)"
    try:
        return _localize(datetime(*info.date_time), tz), f"zip entry date (local time, read as {tz})"
    except (TypeError, ValueError) as err:
        raise ValueError(f"zip entry date {info.date_time!r} is not a date ({err})") from None


def _extended_mtime(extra: bytes) -> Optional[int]:
    """The modification time in an Info-ZIP extended-timestamp field of ``extra``, if there is one."""
    i = 0
    while i + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4:i + 4 + size]
        if kind == _UT_FIELD and len(body) >= 5 and body[0] & 1:
            return struct.unpack_from("<i", body, 1)[0]
        i += 4 + size
    return None


def blackboard_time(stamp: str, tz: tzinfo = timezone.utc) -> datetime:
    """Blackboard's attempt time in a download's name, "2024-03-01-23-59-10" (local, read in ``tz``)."""
    parts = stamp.split("-")
    if len(parts) != 6 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{stamp[:40]!r} is not a Blackboard attempt time (YYYY-MM-DD-HH-MM-SS)")
    return _localize(datetime(*map(int, parts)), tz)


def gradescope_times(metadata: str) -> Dict[str, str]:
    """Submission folder -> the text of its own ``:created_at:`` in a Gradescope ``submission_metadata.yml``
    (Ruby YAML: a top-level key per folder, its fields one indent in; deeper ones belong to ``:history:``)."""
    times: Dict[str, str] = {}
    folder, indent = None, None
    for line in metadata.splitlines():
        if top := re.match(r"^(\S[^:]*):\s*$", line):
            folder, indent = top.group(1), None
            continue
        key = re.match(r"^( +)(-\s+)?:(\w+):\s*(.*?)\s*$", line)
        if folder is None or key is None:
            continue
        if indent is None and not key.group(2):
            indent = len(key.group(1))          # the folder's own fields
        if key.group(3) == "created_at" and not key.group(2) and len(key.group(1)) == indent:
            times.setdefault(folder, key.group(4))
    return times


def utc_text(when: datetime) -> str:
    """``when`` for people: "2025-03-01 22:59 UTC"."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def format_timestamp(when: datetime) -> str:
    """``when`` in nbgrader's ``timestamp.txt`` format, in UTC ("2025-03-01 22:59:00.000000 UTC")."""
    return when.astimezone(timezone.utc).strftime(NBGRADER_FORMAT)


def write_timestamp(folder: Path, when: Optional[datetime]) -> None:
    """Write ``when`` to ``folder/timestamp.txt``, or remove the file when ``when`` is None."""
    path = Path(folder) / TIMESTAMP_FILE
    if when is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(format_timestamp(when) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_timestamp(folder: Path) -> Tuple[Optional[datetime], str]:
    """(time, "") from ``folder/timestamp.txt``, or (None, why not) when it is missing, not a plain
    file, not a time or not a plausible one. Never raises; reads no more than ``MAX_CHARS``; no link is
    followed and nothing is waited on."""
    path = Path(folder) / TIMESTAMP_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, f"no {TIMESTAMP_FILE}"
    except OSError as err:
        return None, f"{TIMESTAMP_FILE} could not be opened ({err.strerror or err}; a link is not followed)"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, f"{TIMESTAMP_FILE} is not a plain file"
        data = os.read(fd, MAX_CHARS + 1)
    except OSError as err:
        return None, f"{TIMESTAMP_FILE} could not be read ({err.strerror or err})"
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
        when = check_plausible(parse_time(text.strip(), timezone.utc))
    except (UnicodeDecodeError, ValueError, OverflowError) as err:
        return None, f"{TIMESTAMP_FILE} is unreadable: {str(err)[:120]}"
    return when, ""
