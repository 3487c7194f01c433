"""Course-wide settings that more than one step reads: the one place to change them."""

# The public repository the student notebooks are served from. The Colab badge and the
# Colab setup cell of every generated lab are built from these two values.
REPOSITORY = "seqlab-course/seqlab"
BRANCH = "main"

# The course's own settings (deadlines, late policy, time zone): a TOML file in the course folder,
# beside nbgrader's gradebook. ``deadlines.py`` says what it holds and writes it.
COURSE_SETTINGS = "seqlab.toml"


def read_course_settings(course) -> dict:
    """The tables of ``<course>/seqlab.toml`` ({} when the course has none); a file that is not TOML
    raises ``course.GradingError`` naming the line."""
    from pathlib import Path

    from .course import GradingError

    path = Path(course) / COURSE_SETTINGS
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ImportError:            # Python < 3.11
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise GradingError(f"{path} is not valid TOML ({err}): fix it by hand, or remove it and set the "
                           "deadlines again with `seqlab-grade deadline`") from err


def write_course_settings(course, data: dict, header: str = "") -> None:
    """Write ``data`` (scalars, and tables of them, nested) as ``<course>/seqlab.toml``, ``header``
    lines first as comments. TOML has no writer in the standard library; these few types are all
    the file holds (strings, numbers, booleans)."""
    import json
    import re
    from pathlib import Path

    def key(name: str) -> str:
        return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else value(name)

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        # A JSON string is a TOML basic string, once DEL (which TOML wants escaped) is.
        return json.dumps(str(v), ensure_ascii=False).replace("\x7f", "\\u007f")

    def table(path: list, items: dict, lines: list) -> None:
        scalars = {k: v for k, v in items.items() if not isinstance(v, dict)}
        if path and (scalars or not items):
            lines += ["", "[" + ".".join(key(p) for p in path) + "]"]
        lines += [f"{key(k)} = {value(v)}" for k, v in scalars.items()]
        for k, v in items.items():
            if isinstance(v, dict):
                table(path + [k], v, lines)

    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    table([], data, lines)
    path = Path(course) / COURSE_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
