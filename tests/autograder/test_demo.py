"""Tests of autograder/demo.py and the seqlab-grade command line."""
from __future__ import annotations

import subprocess
import sys

from autograder.cli import main
from labfactory import write_tiny_repo


def test_demo_reports_table_and_where_things_are(graded):
    """Does the demo print the score table and the paths of feedback, grade sheet and gradebook?"""
    out = graded.echoed
    assert "reference  2/2" in out and "blank      0/2" in out
    assert str(graded.course / "grades.csv") in out and "feedback/reference" in out and "gradebook.db" in out
    assert graded.grade_sheet.exists() and len(graded.feedback) == 6   # nbgrader's page + ours, each


def test_cli_labs_check_fails_then_passes(tmp_path, capsys):
    """Does `seqlab-grade labs --check` fail on a stale labs/ and pass once `labs` regenerated it?"""
    repo = write_tiny_repo(tmp_path)
    assert main(["labs", "--check", "--repo", str(repo)]) == 1
    assert "run `seqlab-grade labs`" in capsys.readouterr().err
    assert main(["labs", "--repo", str(repo)]) == 0
    assert main(["labs", "--check", "--repo", str(repo)]) == 0


def test_cli_demo_unknown_lab_message(tiny_repo, capsys):
    """Does the demo on a missing lab exit 1 with a message naming the file and the fix?"""
    assert main(["demo", "--repo", str(tiny_repo), "--lab", "42_none"]) == 1
    assert "solutions/42_none.ipynb not found" in capsys.readouterr().err


def test_import_is_light_and_seqlab_independent():
    """Does `import autograder` avoid nbgrader, and `import seqlab` avoid autograder and nbgrader?"""
    code = ("import sys, autograder; assert 'nbgrader' not in sys.modules; "
            "del sys.modules['autograder']; import seqlab, seqlab.grading; "
            "assert 'nbgrader' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys, seqlab, seqlab.grading; assert not {'autograder', 'nbgrader'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_m_autograder_help():
    """Does `python -m autograder --help` list the subcommands?"""
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"], capture_output=True, text=True, check=True)
    for command in ("demo", "release", "autograde", "feedback", "export", "labs"):
        assert command in out.stdout
