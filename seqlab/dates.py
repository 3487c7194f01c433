"""Human-written dates and their ISO form, generated with a fixed seed: Lab 4's first translation task.

After the date-normalisation exercise of Ng's sequence-models course, rewritten from scratch with
no Faker and no locale: month and weekday names come from lists below, so the output is the same
on every machine. A source string is a date written in one of ``len(FORMATS)`` styles ("Tuesday,
March 3rd, 1981", "03.03.81", "3 mar 1981" ...), the target its ISO form "1981-03-03".

Every calendar date between 1950-01-01 and 2049-12-31 belongs to exactly one of the train,
validation and test sets (split by date, not by string), so a held-out date is never seen in any
format during training. Two-digit years are read as 1950-2049 (50-99 -> 19xx, 00-49 -> 20xx), the
only reading inside that range, so every source string has exactly one correct answer; day/month
order is fixed by the separator (US "m/d/Y" with slashes, European "d.m.Y" with dots).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import numpy as np

__all__ = ["FORMATS", "FIRST_DAY", "LAST_DAY", "format_date", "random_dates", "date_pairs", "date_splits"]

FIRST_DAY = dt.date(1950, 1, 1)
LAST_DAY = dt.date(2049, 12, 31)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _parts(d: dt.date) -> dict:
    month, day = MONTHS[d.month - 1], DAYS[d.weekday()]
    return {"d": d.day, "dd": f"{d.day:02d}", "do": _ordinal(d.day), "m": d.month, "mm": f"{d.month:02d}",
            "B": month, "b": month[:3], "A": day, "a": day[:3], "Y": d.year, "y": f"{d.year % 100:02d}"}


# Each style formats the parts of a date; mixed case is part of the task ("MAR", "march").
FORMATS: tuple[Callable[[dict], str], ...] = (
    lambda p: f"{p['d']} {p['B']} {p['Y']}",                 # 3 March 1981
    lambda p: f"{p['B']} {p['d']}, {p['Y']}",                # March 3, 1981
    lambda p: f"{p['dd']} {p['b']} {p['Y']}",                # 03 Mar 1981
    lambda p: f"{p['A']}, {p['B']} {p['d']}, {p['Y']}",      # Tuesday, March 3, 1981
    lambda p: f"{p['a']} {p['d']} {p['b']} {p['Y']}",        # Tue 3 Mar 1981
    lambda p: f"{p['dd']}.{p['mm']}.{p['Y']}",               # 03.03.1981 (day first)
    lambda p: f"{p['d']}.{p['m']}.{p['y']}",                 # 3.3.81 (day first)
    lambda p: f"{p['m']}/{p['d']}/{p['Y']}",                 # 3/3/1981 (month first)
    lambda p: f"{p['mm']}/{p['dd']}/{p['y']}",               # 03/03/81 (month first)
    lambda p: f"{p['Y']}/{p['mm']}/{p['dd']}",               # 1981/03/03
    lambda p: f"the {p['do']} of {p['B']} {p['Y']}",         # the 3rd of March 1981
    lambda p: f"{p['B']} {p['do']}, {p['Y']}",               # March 3rd, 1981
    lambda p: f"{p['b'].upper()} {p['d']} {p['Y']}",         # MAR 3 1981
    lambda p: f"{p['d']} {p['b'].lower()} {p['y']}",         # 3 mar 81
    lambda p: f"{p['dd']}-{p['b']}-{p['Y']}",                # 03-Mar-1981
    lambda p: f"{p['Y']}{p['mm']}{p['dd']}",                 # 19810303
    lambda p: f"{p['A'].lower()} {p['do']} {p['B'].lower()} {p['Y']}",  # tuesday 3rd march 1981
)


def format_date(d: dt.date, style: int) -> str:
    """``d`` written in style ``style`` (an index into FORMATS)."""
    return FORMATS[style](_parts(d))


def _all_days() -> list[dt.date]:
    n = (LAST_DAY - FIRST_DAY).days + 1
    return [FIRST_DAY + dt.timedelta(days=i) for i in range(n)]


def random_dates(n: int, rng: np.random.Generator) -> list[dt.date]:
    """n dates drawn uniformly (with replacement) from FIRST_DAY .. LAST_DAY."""
    span = (LAST_DAY - FIRST_DAY).days + 1
    return [FIRST_DAY + dt.timedelta(days=int(i)) for i in rng.integers(0, span, size=n)]


def date_pairs(days: list[dt.date], rng: np.random.Generator) -> list[tuple[str, str]]:
    """(human-written, ISO) pairs, one per date, each in a style drawn uniformly from FORMATS."""
    styles = rng.integers(0, len(FORMATS), size=len(days))
    return [(format_date(d, int(s)), d.isoformat()) for d, s in zip(days, styles)]


def date_splits(n_train: int = 20000, n_val: int = 1000, n_test: int = 1000,
                seed: int = 0) -> tuple[list, list, list]:
    """(train, val, test) lists of (human, ISO) pairs over disjoint sets of calendar dates.

    The 36,524 days of 1950-2049 are shuffled with ``seed``; the test and validation dates are the
    first n_test and next n_val of them, one pair each; the training pairs are drawn (with repeats,
    each in a fresh random style) from the remaining days.
    """
    days = _all_days()
    if n_val + n_test >= len(days):
        raise ValueError(f"n_val + n_test must leave training days, got {n_val} + {n_test}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(days))
    test_days = [days[i] for i in order[:n_test]]
    val_days = [days[i] for i in order[n_test:n_test + n_val]]
    rest = order[n_test + n_val:]
    train_days = [days[i] for i in rest[rng.integers(0, len(rest), size=n_train)]]
    return date_pairs(train_days, rng), date_pairs(val_days, rng), date_pairs(test_days, rng)
