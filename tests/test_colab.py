"""Are the labs ready for Colab: an install that only happens there, from our repository, that
upgrades nothing Colab already has, and training on the GPU when one is present?

No GPU is needed: the setup cell runs here with ``google.colab`` faked in ``sys.modules`` and
IPython's ``%pip`` recorded instead of run, and ``get_device`` is checked with
``torch.cuda.is_available`` patched.
"""
from __future__ import annotations

import ast
import json
import re
import shlex
import sys
import types
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from autograder import settings
from autograder.release import HEADER_ID, SETUP_ID

REPO = Path(__file__).resolve().parents[1]
LABS = sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb"))
INSTALL_URL = f"git+https://github.com/{settings.REPOSITORY}@{settings.BRANCH}"


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def code_sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in cells(path) if c["cell_type"] == "code"]


class FakeIPython:
    """Stands in for ``get_ipython()``: records the line magics a cell calls."""

    def __init__(self):
        self.magics: list[tuple[str, str]] = []

    def run_line_magic(self, name: str, line: str) -> None:
        self.magics.append((name, line))


def run_setup_cell(lab: str, on_colab: bool, monkeypatch, capsys) -> tuple[list, str]:
    """Run labs/<lab>.ipynb's setup cell as IPython would; return (magics called, what it printed)."""
    from IPython.core.inputtransformer2 import TransformerManager

    setup = next((c for c in cells(REPO / "labs" / f"{lab}.ipynb") if c.get("id") == SETUP_ID), None)
    assert setup is not None, f"labs/{lab}.ipynb has no setup cell (id {SETUP_ID!r}): run `seqlab-grade labs`"
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = FakeIPython()
    exec(TransformerManager().transform_cell("".join(setup["source"])), {"get_ipython": lambda: shell})
    return shell.magics, capsys.readouterr().out


@pytest.mark.parametrize("lab", LABS)
def test_setup_cell_installs_from_the_repository_on_colab(lab, monkeypatch, capsys):
    """On Colab, does the setup cell pip-install only seqlab, from the configured repository and branch, and say so?"""
    magics, printed = run_setup_cell(lab, True, monkeypatch, capsys)
    assert len(magics) == 1 and magics[0][0] == "pip", f"expected one %pip call, got {magics}"
    words = shlex.split(magics[0][1])
    assert words[0] == "install", words
    packages = [w for w in words[1:] if not w.startswith("-")]
    options = [w for w in words[1:] if w.startswith("-")]
    assert packages == [f"seqlab @ {INSTALL_URL}"], f"installs {packages}, expected seqlab from {INSTALL_URL}"
    assert set(options) <= {"-q", "--quiet"}, (
        f"pip options {options}: --upgrade or --force-reinstall would replace the numpy/torch Colab already imported")
    assert "seqlab installed" in printed and settings.REPOSITORY in printed, f"the cell printed {printed!r}"


@pytest.mark.parametrize("lab", LABS)
def test_setup_cell_installs_nothing_off_colab(lab, monkeypatch, capsys):
    """Off Colab, does the setup cell install nothing and say that the local seqlab is used?"""
    magics, printed = run_setup_cell(lab, False, monkeypatch, capsys)
    assert magics == [], f"the setup cell ran {magics} outside Colab"
    assert "Not on Colab" in printed and "seqlab" in printed, f"the cell printed {printed!r}"


@pytest.mark.parametrize("lab", LABS)
def test_setup_cell_comes_before_anything_imports_seqlab(lab):
    """Is the setup cell the first code cell, so seqlab is installed before any cell imports it?"""
    lab_cells = cells(REPO / "labs" / f"{lab}.ipynb")
    code = [c for c in lab_cells if c["cell_type"] == "code"]
    assert code[0].get("id") == SETUP_ID, f"the first code cell of labs/{lab}.ipynb is not the setup cell"


@pytest.mark.parametrize("lab", LABS)
def test_colab_badge_opens_this_lab_from_the_repository(lab):
    """Does the header's "Open in Colab" badge point at this lab on the configured repository and branch?"""
    header = cells(REPO / "labs" / f"{lab}.ipynb")[0]
    assert header.get("id") == HEADER_ID, f"labs/{lab}.ipynb does not open with the header cell"
    url = (f"https://colab.research.google.com/github/{settings.REPOSITORY}/blob/{settings.BRANCH}/"
           f"labs/{lab}.ipynb")
    assert f"]({url})" in "".join(header["source"]), f"the badge does not link to {url}"


def test_student_install_pins_nothing_colab_provides():
    """Do the package's dependencies only set lower bounds, so Colab keeps its own torch, numpy, matplotlib...?"""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    capped = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        bad = [str(s) for s in req.specifier if s.operator != ">="]
        if bad or req.url or req.marker:
            capped[req.name] = bad or [req.url or str(req.marker)]
    assert not capped, f"dependencies with more than a lower bound (Colab would downgrade or fail): {capped}"
    names = {Requirement(line).name.lower() for line in project["dependencies"]}
    assert {"torch", "numpy", "matplotlib"} <= names, "the labs' core libraries must be declared"


def test_every_install_line_uses_the_configured_repository():
    """Do pyproject's URL and every `git+https://github.com/...` in the README and docs name settings.REPOSITORY?"""
    tomllib = pytest.importorskip("tomllib")
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Repository"] == f"https://github.com/{settings.REPOSITORY}"
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for repo in re.findall(r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[@\"'\s)`/#]|$)", path.read_text()):
            assert repo == settings.REPOSITORY, f"{path.name} names github.com/{repo}, not {settings.REPOSITORY}"


# --- the GPU --------------------------------------------------------------------------------

def trains_torch_models(sources: list[str]) -> bool:
    """Does this notebook build a torch model or optimiser (rather than use torch only as an oracle)?"""
    text = "\n".join(sources)
    return bool(re.search(r"\btorch\.optim\.|\bclass \w+\((nn|torch\.nn)\.Module\)", text))


def device_selection(sources: list[str]) -> tuple[bool, bool]:
    """(does a cell assign ``device = get_device()``, does any cell move something ``.to(device)``)."""
    assigns = moves = False
    for source in sources:
        tree = ast.parse(re.sub(r"^\s*[%!].*$", "", source, flags=re.M))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and getattr(node.value.func, "id", None) == "get_device"
                    and any(getattr(t, "id", None) == "device" for t in node.targets)):
                assigns = True
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "to"
                    and any(getattr(a, "id", None) == "device" for a in node.args)):
                moves = True
    return assigns, moves


@pytest.mark.parametrize("lab", LABS)
def test_labs_that_train_torch_models_select_cuda_when_present(lab):
    """Does every lab that trains a torch model pick its device with get_device() and move its work there?"""
    sources = code_sources(REPO / "solutions" / f"{lab}.ipynb")
    if not trains_torch_models(sources):
        pytest.skip(f"{lab} trains no torch model: its models are numpy, torch is its tests' oracle")
    assigns, moves = device_selection(sources)
    assert assigns, f"solutions/{lab}.ipynb trains torch models but never sets `device = get_device()`"
    assert moves, f"solutions/{lab}.ipynb sets a device but never moves a model or batch `.to(device)`"


def test_device_selection_rules_tell_cases_apart():
    """Do the static rules see a model without get_device, and a torch oracle that trains nothing?"""
    model = "import torch.nn as nn\nclass Net(nn.Module):\n    pass\nopt = torch.optim.Adam(Net().parameters())"
    assert trains_torch_models([model]) and device_selection([model]) == (False, False)
    assert device_selection(["device = get_device()", "%pip list\nnet = Net().to(device)"]) == (True, True)
    assert not trains_torch_models(["expected = torch.nn.RNN(3, 4).double()(torch.zeros(1, 2, 3))"])


def test_get_device_picks_cuda_when_available(monkeypatch):
    """Does get_device() return CUDA when torch sees a GPU, the CPU when it sees none, and honour a forced choice?"""
    torch = pytest.importorskip("torch")
    from seqlab.runtime import get_device

    monkeypatch.delenv("SEQLAB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"
    assert get_device("cpu").type == "cpu"
    monkeypatch.setenv("SEQLAB_DEVICE", "cpu")
    assert get_device().type == "cpu"
    monkeypatch.delenv("SEQLAB_DEVICE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device().type == "cpu"
