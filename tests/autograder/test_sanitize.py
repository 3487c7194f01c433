"""Tests of autograder/sanitize.py: no student HTML or script survives into a page, the work does."""
from __future__ import annotations

from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from autograder.sanitize import REMOVED, as_code, clean_html, sanitize_notebook

# A 1 x 1 PNG, as matplotlib's inline backend would store a plot.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
MARK = "PWNED"  # in every payload: it must never reach a script, a handler or a URL
SCRIPT = f"window.__pwned = '{MARK}'"
LINK_SCRIPT = f"window.__pwned='{MARK}'"  # a link target may hold no space
TABLE = ('<div><style scoped>.dataframe tbody tr th {vertical-align: top;}</style>'
         '<table border="1" class="dataframe"><thead><tr style="text-align: right;"><th></th><th>loss</th></tr>'
         '</thead><tbody><tr><th>0</th><td>1.25</td></tr></tbody></table></div>')


def display(data: dict, metadata: dict | None = None) -> nbformat.NotebookNode:
    return new_output("display_data", data=data, metadata=metadata or {})


def notebook(*cells) -> nbformat.NotebookNode:
    return new_notebook(cells=list(cells))


def outputs_of(*outputs) -> list:
    """The outputs of one code cell holding ``outputs``, once sanitised."""
    return sanitize_notebook(notebook(new_code_cell("x", outputs=list(outputs)))).cells[0].outputs


def markdown_of(source: str, **fields) -> nbformat.NotebookNode:
    """One markdown cell holding ``source``, once sanitised."""
    return sanitize_notebook(notebook(new_markdown_cell(source, **fields))).cells[0]


HOSTILE_HTML = {
    "script": f"<script>{SCRIPT}</script>",
    "img onerror": f'<img src="x" onerror="{SCRIPT}">',
    "javascript link": f'<a href="javascript:{SCRIPT}">click</a>',
    "data html link": f'<a href="data:text/html,%3Cscript%3E{SCRIPT}%3C/script%3E">click</a>',
    "iframe": f'<iframe src="javascript:{SCRIPT}"></iframe><iframe srcdoc="<script>{SCRIPT}</script>"></iframe>',
    "object": f'<object data="javascript:{SCRIPT}"></object>',
    "embed": f'<embed src="javascript:{SCRIPT}">',
    "form": f'<form action="javascript:{SCRIPT}"><button>go</button></form>',
    "svg script": f"<svg><script>{SCRIPT}</script></svg>",
    "svg onload": f'<svg onload="{SCRIPT}"></svg>',
    "meta refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{SCRIPT}">',
    "base": f'<base href="http://{MARK}.example/">',
    "link": f'<link rel="stylesheet" href="http://{MARK}.example/x.css">',
    "style expression": f'<style>body {{ background: url("javascript:{SCRIPT}") }}</style>'
                        f'<p style="width: expression({SCRIPT})">text</p>',
    "details ontoggle": f'<details open ontoggle="{SCRIPT}">d</details>',
}


class ActiveParts(HTMLParser):
    """Everything in a page a browser could run or load: script bodies, attribute values, styles."""

    def __init__(self):
        super().__init__()
        self.parts, self._in = [], None

    def handle_starttag(self, tag, attrs):
        self.parts += [f"{tag} {name}={value}" for name, value in attrs if value]
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.parts.append(f"{self._in}: {data}")


def active_parts(nb) -> list:
    """The runnable or loadable parts of ``nb`` rendered by nbconvert as nbgrader's pages do."""
    page, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    parser = ActiveParts()
    parser.feed(page)
    return parser.parts


@pytest.mark.parametrize("kind", sorted(HOSTILE_HTML))
def test_hostile_html_output_is_made_inert(kind):
    """Does each hostile kind of HTML output lose every script, handler and URL carrying the payload?"""
    [out] = outputs_of(display({"text/html": f"<p>before</p>{HOSTILE_HTML[kind]}<p>after</p>"}))
    html = out.data["text/html"]
    assert "<p>before</p>" in html and "<p>after</p>" in html
    for bad in ("<script", "onerror", "onload", "ontoggle", "javascript:", "<iframe", "<object", "<embed",
                "<form", "<svg", "<meta", "<base", "<link", "<style", "expression(", "data:text/html"):
        assert bad not in html.lower(), f"{kind}: {bad} survived in {html!r}"


@pytest.mark.parametrize("kind", sorted(HOSTILE_HTML))
def test_hostile_html_in_markdown_cell_is_made_inert(kind):
    """Does each hostile kind of raw HTML in a student's markdown cell lose its payload, the text around it kept?"""
    cell = markdown_of(f"## My answer\n\nThe loss falls.\n\n{HOSTILE_HTML[kind]}\n")
    assert cell.source.startswith("## My answer\n\nThe loss falls.")
    assert not [p for p in active_parts(notebook(cell)) if MARK in p], cell.source


def test_javascript_output_is_dropped():
    """Is a Javascript() output dropped, leaving its plain-text stand-in?"""
    [out] = outputs_of(display({"application/javascript": SCRIPT, "text/javascript": SCRIPT,
                                "text/plain": "<IPython.core.display.Javascript object>"}))
    assert dict(out.data) == {"text/plain": "<IPython.core.display.Javascript object>"}


def test_output_left_empty_says_what_was_removed():
    """Does an output with only an active type say, in plain text, what the grader removed?"""
    [out] = outputs_of(display({"application/javascript": SCRIPT}))
    assert dict(out.data) == {"text/plain": REMOVED.format(kinds="application/javascript")}


def test_svg_is_dropped_and_the_png_beside_it_kept():
    """Is an SVG output (it can carry script) dropped while the PNG of the same figure stays?"""
    [out] = outputs_of(display({"image/svg+xml": f"<svg><script>{SCRIPT}</script></svg>", "image/png": PNG,
                                "text/plain": "<Figure size 640x480 with 1 Axes>"}))
    assert set(out.data) == {"image/png", "text/plain"} and out.data["image/png"] == PNG


def test_widgets_are_dropped():
    """Are widget views and the notebook's saved widget state removed?"""
    nb = notebook(new_code_cell("w", outputs=[display({
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=3)"})]))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    safe = sanitize_notebook(nb)
    assert "widgets" not in safe.metadata
    assert dict(safe.cells[0].outputs[0].data) == {"text/plain": "IntSlider(value=3)"}


def test_markdown_output_is_cleaned_like_a_cell():
    """Is a Markdown() output cleaned as a markdown cell is?"""
    [out] = outputs_of(display({"text/markdown": f"**bold** <img src=x onerror=\"{SCRIPT}\">"}))
    assert out.data["text/markdown"] == '**bold** <img src="x">'


def test_script_in_markdown_cell_is_removed():
    """Does a student's markdown cell lose its <script> and keep its markdown?"""
    assert markdown_of(f"# Notes\n\n*mine*<script>{SCRIPT}</script>").source == "# Notes\n\n*mine*"


def test_markdown_javascript_link_is_shown_as_code():
    """Is a markdown-syntax javascript: link (nbconvert renders it as a live link) shown as code instead?"""
    for link in (f"[click](javascript:{LINK_SCRIPT})", f"[click](JaVa&#115;cript:{LINK_SCRIPT})",
                 f"[click][1]\n\n[1]: javascript:{LINK_SCRIPT}", f"![plot](javascript:{LINK_SCRIPT})"):
        assert [p for p in active_parts(notebook(new_markdown_cell(link))) if MARK in p], link  # live before
        cell = markdown_of(f"See:\n\n{link}\n")
        assert cell.source == as_code(f"See:\n\n{link}\n"), link
        assert not [p for p in active_parts(notebook(cell)) if MARK in p], link


def test_mermaid_block_cannot_carry_html():
    """Does a mermaid block (nbconvert writes its text out unescaped) lose the HTML hidden in it?"""
    source = f"```mermaid\ngraph TD; A-->B\n<img src=x onerror=\"{SCRIPT}\">\n```"
    assert [p for p in active_parts(notebook(new_markdown_cell(source))) if MARK in p]  # live before
    assert not [p for p in active_parts(notebook(markdown_of(source))) if MARK in p]


def test_code_fence_cannot_be_closed_by_the_student():
    """Does the code fallback hold, unrendered, a source full of backtick fences of its own?"""
    source = f"````\n```\n[x](javascript:{LINK_SCRIPT})\n```\n````\n<b>x</b> [y](javascript:{LINK_SCRIPT})"
    cell = markdown_of(source)
    assert source in cell.source
    assert not [p for p in active_parts(notebook(cell)) if MARK in p]


def test_markdown_without_html_stays_exactly_as_written():
    """Do comparisons, maths, code with <tokens>, tables and safe links stay exactly as the student wrote them?"""
    source = ("If a < b and b > c then $a<b$, $$T<1$$ and `<pad>`, `<eos>`; A & B.\n\n"
              "| x | y |\n|---|---|\n| 1 | 2 |\n\n- [docs](https://pytorch.org) and ![plot](plot.png)\n\n"
              "```python\nif x<y: print('<tag>')\n```\n\n> quoted")
    assert markdown_of(source).source == source


def test_harmless_html_in_markdown_is_kept():
    """Is harmless HTML in markdown (bold, a line break, a table) kept?"""
    source = "<b>bold</b><br>\n\n<table><tbody><tr><td>1</td></tr></tbody></table>"
    assert markdown_of(source).source == source


def test_plot_png_survives_with_its_size():
    """Does a plot's base64 PNG stay, with its width and height, and lose any other metadata?"""
    [out] = outputs_of(display({"image/png": PNG + "\n", "text/plain": "<Figure>"},
                               {"image/png": {"width": 600, "height": "400\" onload=\"x"},
                                "filenames": {"image/png": "x\" onerror=\"y.png"}}))
    assert out.data["image/png"] == PNG
    assert dict(out.metadata) == {"image/png": {"width": 600}}


def test_image_that_is_not_base64_is_dropped():
    """Is an image whose data is not base64 (it would break out of the page's src attribute) dropped?"""
    [out] = outputs_of(display({"image/png": f'x" onerror="{SCRIPT}', "text/plain": "<Figure>"}))
    assert set(out.data) == {"text/plain"}


def test_pandas_table_survives():
    """Does a pandas-like HTML table keep its rows and cells (its <style> and classes go)?"""
    [out] = outputs_of(new_output("execute_result", data={"text/html": TABLE, "text/plain": "   loss\n0  1.25"},
                                  execution_count=3))
    html = out.data["text/html"]
    assert "<table>" in html and "<th>loss</th>" in html and "<td>1.25</td>" in html
    assert "<style" not in html and "class=" not in html
    assert out.execution_count == 3 and out.data["text/plain"] == "   loss\n0  1.25"


def test_audio_player_survives():
    """Does IPython's Audio player (Lab 6 plays the student's tunes) keep its inline WAV?"""
    player = ('<audio controls="controls"><source src="data:audio/wav;base64,UklGRiQAAABXQVZF" type="audio/wav">'
              "Your browser does not support the audio element.</audio>")
    [out] = outputs_of(display({"text/html": player}))
    assert out.data["text/html"] == player


def test_data_urls_only_for_media():
    """Are data: URLs kept only as base64 images and sounds, never as links or HTML?"""
    assert clean_html(f'<img src="data:image/png;base64,{PNG}">') == f'<img src="data:image/png;base64,{PNG}">'
    assert "src" not in clean_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">')
    assert "href" not in clean_html('<a href="data:image/png;base64,AAAA">x</a>')
    assert "src" not in clean_html('<source src="data:text/html;base64,AAAA">')


def test_text_streams_and_errors_survive_as_strings():
    """Do plain text, streams and errors (ANSI colours and all) survive, each as strings?"""
    nb = notebook(new_code_cell("x"))
    nb.cells[0].outputs = [
        new_output("stream", name="stdout", text="epoch 1: loss 0.5 < 0.7\n"),
        display({"text/plain": "<b>not html</b>", "text/latex": "$x^2$"}),
        {"output_type": "error", "ename": "ValueError", "evalue": "bad shape",
         "traceback": ["\x1b[0;31mValueError\x1b[0m: bad shape", 3]},  # not a string: made one
    ]
    stream, shown, error = sanitize_notebook(nb).cells[0].outputs
    assert stream.text == "epoch 1: loss 0.5 < 0.7\n" and stream.name == "stdout"
    assert dict(shown.data) == {"text/plain": "<b>not html</b>", "text/latex": "$x^2$"}
    assert error.traceback == ["\x1b[0;31mValueError\x1b[0m: bad shape", "3"] and error.evalue == "bad shape"


def test_nothing_is_trusted():
    """Are cells' trusted flags, the notebook's signature and its trusted flag removed?"""
    nb = notebook(new_code_cell("x", metadata={"trusted": True, "tags": ["keep"]}),
                  new_markdown_cell("m", metadata={"trusted": True}))
    nb.metadata.update(signature="sha256:abc", trusted=True)
    safe = sanitize_notebook(nb)
    assert "signature" not in safe.metadata and "trusted" not in safe.metadata
    assert [dict(c.metadata) for c in safe.cells] == [{"tags": ["keep"]}, {}]


def test_non_image_attachments_are_dropped():
    """Does a markdown cell keep its image attachments and lose HTML, SVG and broken ones?"""
    cell = markdown_of("![plot](attachment:plot.png)", attachments={
        "plot.png": {"image/png": PNG, "text/html": f"<script>{SCRIPT}</script>"},
        "page.html": {"text/html": f"<script>{SCRIPT}</script>"},
        "drawing.svg": {"image/svg+xml": f"<svg onload='{SCRIPT}'/>"},
        "broken.png": {"image/png": "not base64!"},
    })
    assert dict(cell.attachments) == {"plot.png": {"image/png": PNG}}
    assert cell.source == "![plot](attachment:plot.png)"


def test_missing_attachment_does_not_stop_the_page():
    """Is a markdown image pointing at a missing attachment (nbconvert stops on it) shown as code?"""
    cell = markdown_of("![plot](attachment:gone.png)", attachments={"gone.png": {"text/html": "<b>x</b>"}})
    assert "attachments" not in cell and cell.source == as_code("![plot](attachment:gone.png)")
    assert active_parts(notebook(cell)) is not None  # nbconvert renders it


def test_raw_html_cell_is_not_pasted_into_the_page():
    """Does a raw cell marked as HTML lose the mark that makes nbconvert's templates paste it into a page?"""
    cell = new_raw_cell(f"<script>{SCRIPT}</script>", metadata={"format": "text/html", "raw_mimetype": "text/html"})
    safe = sanitize_notebook(notebook(cell))
    assert dict(safe.cells[0].metadata) == {}
    assert not [p for p in active_parts(safe) if MARK in p]


def test_execution_count_is_a_number_or_none():
    """Is an execution count that is not an int (nbconvert writes it into the page unescaped) cleared?"""
    nb = notebook(new_code_cell("x", execution_count=7), new_code_cell("y"))
    nb.cells[1]["execution_count"] = f"<img src=x onerror='{SCRIPT}'>"
    assert [c.execution_count for c in sanitize_notebook(nb).cells] == [7, None]


def test_input_notebook_is_left_untouched():
    """Does sanitize_notebook return a copy and leave the notebook it was given as it was?"""
    nb = notebook(new_markdown_cell(f"<script>{SCRIPT}</script>", metadata={"trusted": True}))
    before = nbformat.writes(nb)
    sanitize_notebook(nb)
    assert nbformat.writes(nb) == before


def test_whole_hostile_notebook_renders_inert():
    """Is every hostile kind live in nbconvert's page before sanitising, and none of them after?"""
    outputs = [display({"text/html": html}) for html in HOSTILE_HTML.values()] + [
        display({"application/javascript": SCRIPT}),
        display({"image/svg+xml": f"<svg><script>{SCRIPT}</script></svg>"}),
        display({"text/markdown": f"<img src=x onerror=\"{SCRIPT}\">"}),
        display({"image/png": PNG, "text/plain": "<Figure>"}),
    ]
    nb = notebook(new_markdown_cell(f"Plot below. <script>{SCRIPT}</script>"),
                  new_code_cell("plot()", outputs=outputs, execution_count=1),
                  new_markdown_cell(f"[more](javascript:{LINK_SCRIPT}) a < b, $x^2$"))
    assert len([p for p in active_parts(nb) if MARK in p]) >= 10
    safe = sanitize_notebook(nb)
    assert not [p for p in active_parts(safe) if MARK in p]
    assert safe.cells[1].outputs[-1].data["image/png"] == PNG
