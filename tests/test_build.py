"""The single-source build: solution markers, tags, outputs, stamped headers, staleness."""

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import course_utils
from course_utils import build as B

ROOT = Path(__file__).resolve().parent.parent


def test_strip_keeps_indentation_of_each_block():
    code = (
        "class Net:\n"
        "    def forward(self, x):\n"
        "        for i in range(3):\n"
        "            ### BEGIN SOLUTION\n"
        "            x = x + i\n"
        "            if x > 2:\n"
        "                x = 0\n"
        "            ### END SOLUTION\n"
        "        return x\n"
        "\n"
        "def f():\n"
        "    ### BEGIN SOLUTION\n"
        "    return 1\n"
        "    ### END SOLUTION\n"
    )
    then = "not written yet. Finish this exercise, then run the cells below again."
    assert B.strip_solutions(code) == (
        "class Net:\n"
        "    def forward(self, x):\n"
        "        for i in range(3):\n"
        "            # YOUR CODE HERE\n"
        f"            raise NotImplementedError('Net.forward: {then}')\n"
        "        return x\n"
        "\n"
        "def f():\n"
        "    # YOUR CODE HERE\n"
        f"    raise NotImplementedError('f: {then}')\n"
    )


def test_the_stub_names_the_exercise_to_finish():
    """A later cell that calls unfinished code says which exercise to finish; a stub at the top level of a cell
    says to write the code there; the self-checks still read it as 'not done yet'."""
    code = (
        "def  load(x):\n"
        '    """doc"""\n'
        "# a comment at column 0 does not end the function\n"
        "    ### BEGIN SOLUTION\n"
        "    return x\n"
        "    ### END SOLUTION\n"
    )
    ns = {}
    exec(B.strip_solutions(code), ns)
    with pytest.raises(NotImplementedError, match=r"^load: not written yet\. Finish this exercise"):
        ns["load"](1)
    stripped = B.strip_solutions("x = 1\n### BEGIN SOLUTION\nmodel = 1\n### END SOLUTION\n")
    with pytest.raises(NotImplementedError, match="^This exercise is not written yet: write your code here"):
        exec(stripped, {})
    lines = ["class A:\n", "    x = 1\n", "    async def b(self):\n", "        if x:\n"]
    assert B.enclosing_name(lines, " " * 12) == "A.b"
    assert B.enclosing_name(["def a():\n", "    pass\n", "def b():\n"], "    ") == "b"
    assert B.enclosing_name(["class Block(nn.Module):\n", "    def __init__(self):\n"], " " * 8) == "Block"
    assert B.enclosing_name(["def a():\n", "    pass\n"], "") is None
    from course_utils.checks import check_output_size

    ns = {}
    header = "def size(h_in, kernel_size, stride, padding, output_padding, dilation):\n"
    exec(B.strip_solutions(header + "    ### BEGIN SOLUTION\n    return 0\n    ### END SOLUTION\n"), ns)
    assert check_output_size(ns["size"]).passed is None


def test_stripped_code_still_compiles():
    code = "def g(a):\n    b = a\n    ### BEGIN SOLUTION\n    b = 2 * a\n    ### END SOLUTION\n    return b\n"
    stripped = B.strip_solutions(code)
    compile(stripped, "<student>", "exec")
    ns = {}
    exec(stripped, ns)
    with pytest.raises(NotImplementedError):
        ns["g"](1)
    assert B.strip_solutions("x = 1\n") == "x = 1\n"  # cells without markers are untouched


@pytest.mark.parametrize(
    "code, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without a"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
        ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION\n", "alone on their line"),
    ],
)
def test_marker_errors_name_the_place(code, message):
    with pytest.raises(B.BuildError, match=message):
        B.strip_solutions(code, "nb.ipynb, cell 3")


def notebook(*cells):
    return {
        "cells": list(cells),
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"x": 1}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def cell(kind, src, tags=(), outputs=None):
    c = {"cell_type": kind, "id": src[:8].replace(" ", "-") or "empty", "metadata": {"tags": list(tags)}, "source": src}
    if kind == "code":
        c.update(execution_count=3, outputs=outputs or [{"output_type": "stream", "name": "stdout", "text": "hi"}])
    return c


CFG = {"repository": "https://github.com/me/course", "ref": "v9.9", "version": "9.9"}


def test_student_version_rules():
    sol = notebook(
        cell("markdown", "# Title"),
        cell("code", "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n"),
        cell("markdown", "The answer is 42.", tags=["solution"]),
        cell("markdown", "Grading notes", tags=["instructor"]),
        cell("code", "# NBVAL_CHECK_OUTPUT\nprint(a)"),
    )
    st = B.student_version(sol, "07_x.ipynb", CFG)
    srcs = ["".join(c["source"]) for c in st["cells"]]
    assert st["cells"][0]["metadata"]["tags"] == ["course-badge"]
    assert "colab.research.google.com/github/me/course/blob/v9.9/notebooks/07_x.ipynb" in srcs[0]
    assert 'COURSE_VERSION, COURSE_RELEASE = "9.9", "v9.9"' in srcs[1]
    assert '"https://github.com/me/course"), "course")' in srcs[1]
    assert srcs[2:] == ["# Title", "a = 1\n# YOUR CODE HERE\n" + B.stub(None) + "\n", B.ANSWER_PROMPT, "print(a)"]
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in st["cells"])
    assert st["cells"][4]["metadata"]["tags"] == []  # the answer prompt is no longer a 'solution' cell
    assert "widgets" not in st["metadata"] and st["metadata"]["kernelspec"] == {"name": "python3"}
    assert sol["cells"][1]["outputs"]  # the solution itself is not modified


def test_header_is_stamped_once_and_keeps_setup_outputs():
    sol = notebook(cell("markdown", "# T"), cell("code", "x = 1"))
    once = B.stamp_header(sol, "01_t.ipynb", CFG)
    once["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "banner"}]
    once["cells"][1]["execution_count"] = 1
    twice = B.stamp_header(once, "01_t.ipynb", CFG)
    assert B.dumps(once) == B.dumps(twice)  # idempotent, outputs kept
    # a solution's badge opens the student version: solutions/ is never published
    assert "/blob/v9.9/notebooks/01_t.ipynb" in "".join(twice["cells"][0]["source"])
    older = copy.deepcopy(once)  # a set-up cell stamped by an older build, same version: its output is kept
    older["cells"][1]["source"] = OLDER_SETUP
    assert B.stamp_header(older, "01_t.ipynb", CFG)["cells"][1]["outputs"] == once["cells"][1]["outputs"]
    new_cfg = dict(CFG, ref="v10", version="10")
    restamped = B.stamp_header(once, "01_t.ipynb", new_cfg)
    assert restamped["cells"][1]["outputs"] == [] and restamped["cells"][1]["execution_count"] is None
    assert len(restamped["cells"]) == 4


def test_setup_cell_is_a_no_op_outside_colab(monkeypatch, capsys):
    cfg = B.course_config()
    src = "".join(B.setup_cell(cfg)["source"])
    assert f'"{cfg["ref"]}"' in src and f'"{cfg["repository"]}"' in src
    assert cfg["ref"] == f"v{course_utils.__version__}"
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    exec(src, {})
    assert calls == [] and "course_utils" in capsys.readouterr().out


def test_markdown_with_markers_must_be_tagged():
    sol = notebook(cell("markdown", "### BEGIN SOLUTION\nsecret\n### END SOLUTION"))
    with pytest.raises(B.BuildError, match="tag the cell 'solution'"):
        B.student_version(sol, "01_a.ipynb", CFG)


def copy_course(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "pyproject.toml", root)
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    return root


def test_repository_notebooks_are_up_to_date():
    assert B.stale(ROOT) == [], "run `python -m course_utils.build` and commit notebooks/"


def test_check_detects_stale_and_orphan_notebooks(tmp_path):
    root = copy_course(tmp_path)
    assert B.stale(root) == []
    sol = next((root / "solutions").glob("*.ipynb"))
    nb = json.loads(sol.read_text())
    nb["cells"].append(cell("code", "### BEGIN SOLUTION\nz = 3\n### END SOLUTION\n"))
    sol.write_text(B.dumps(nb))
    (root / "notebooks" / "99_old.ipynb").write_text("{}")
    problems = B.stale(root)
    assert any(f"notebooks/{sol.name} is stale" in p for p in problems)
    assert any("99_old.ipynb has no solutions/99_old.ipynb" in p for p in problems)
    written = B.build(root)
    assert root / "notebooks" / sol.name in written
    assert B.build(root) == []  # second build: nothing to do
    student = json.loads((root / "notebooks" / sol.name).read_text())
    assert "".join(student["cells"][-1]["source"]) == "# YOUR CODE HERE\n" + B.stub(None) + "\n"


def test_command_line_check_exit_codes(tmp_path):
    env_py = sys.executable
    ok = subprocess.run([env_py, "-m", "course_utils.build", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_invalid_repository_setting(tmp_path):
    root = copy_course(tmp_path)
    text = (root / "pyproject.toml").read_text().replace("https://github.com/", "http://example.org/")
    (root / "pyproject.toml").write_text(text)
    with pytest.raises(B.BuildError, match="repository must be"):
        B.course_config(root)


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.name)
def test_solutions_were_run_top_to_bottom(path):
    nb = json.loads(path.read_text())
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert None not in counts, "store outputs: python -m course_utils.build --execute " + path.name[:2]
    assert counts == list(range(1, len(counts) + 1)), "re-run on a fresh kernel, top to bottom"
    assert not any(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", []))


def test_widget_views_are_recognised():
    bar = {
        "output_type": "display_data",
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
            "text/plain": "training:   0%|          | 0/200 [00:00<?, ?it/s]",
        },
    }
    widget = {
        "output_type": "display_data",
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "y"},
            "text/plain": "interactive(children=(IntSlider(value=3),))",
        },
    }
    text = {"output_type": "stream", "name": "stdout", "text": "50%| 1/2"}
    figure = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure size 640x480>"}}
    assert B._is_widget_view(bar) and B._is_widget_view(widget)
    assert not B._is_widget_view(text) and not B._is_widget_view(figure)


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.name)
def test_solutions_read_without_a_kernel(path):
    """A solution opened without a kernel (on GitHub, reopened) shows figures and text: no widget view (it would
    read "Error displaying widget: model not found" or "interactive(children=(IntSlider(..."), no widget state,
    and the cell of every explorer holds its figure."""
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"]
    for i, c in enumerate(nb["cells"]):
        for o in c.get("outputs", []):
            assert not B._is_widget_view(o), f"cell {i} stores a widget view: re-execute with --execute"
        if c["cell_type"] == "code" and re.search(r"\bexplore_\w+\(", "".join(c["source"])):
            assert any("image/png" in o.get("data", {}) for o in c["outputs"]), f"cell {i}: the explorer drew nothing"


def test_execute_asks_for_static_widgets(monkeypatch):
    """--execute runs the kernel with COURSE_STATIC_WIDGETS=1: the explorers then draw their default view, once,
    under one line saying that the sliders appear when the cell is run."""
    import matplotlib.pyplot as plt

    from course_utils import plotting
    from course_utils.convtranspose import explore_conv_transpose

    assert 'STATIC_WIDGETS_ENV: "1"' in (ROOT / "course_utils" / "build.py").read_text()
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(len(plt.get_fignums())))
    monkeypatch.setenv(plotting.STATIC_WIDGETS_ENV, "1")
    assert plotting.storing_outputs() and not plotting.widgets_available()
    explore_conv_transpose()
    assert shown == [1]
    monkeypatch.setenv(plotting.STATIC_WIDGETS_ENV, "0")
    assert not plotting.storing_outputs()


# ---------------------------------------------------------------- the build never leaks an answer, never loses a cell
NEAR_MISSES = [
    "###BEGIN SOLUTION",
    "### begin solution",
    "# BEGIN SOLUTION",
    "###  BEGIN SOLUTION",
    "### BEGIN SOLUTION ###",
    "## Begin Solution",
    "### BEGIN_SOLUTION",
    "###END SOLUTION",
    "### end solution",
    "# END SOLUTION",
]


@pytest.mark.parametrize("marker", NEAR_MISSES)
def test_near_miss_markers_are_refused(marker):
    code = f"x = 1\n{marker}\nanswer = 42  # SECRET\n"
    sol = notebook(cell("markdown", "# T"), cell("code", code))
    with pytest.raises(B.BuildError, match=r"07_x\.ipynb, cell 3, line 2: .*(looks like a solution marker|alone on)"):
        B.student_version(sol, "07_x.ipynb", CFG)


def test_near_miss_markers_in_untagged_markdown_are_refused():
    sol = notebook(cell("markdown", "# begin solution\nThe answer is 42.\n# end solution"))
    with pytest.raises(B.BuildError, match=r"01_a\.ipynb, cell 2: .*tag the cell 'solution'"):
        B.student_version(sol, "01_a.ipynb", CFG)


def test_a_code_cell_tagged_solution_is_refused():
    sol = notebook(cell("code", "answer = 42  # SECRET", tags=["solution"]))
    with pytest.raises(B.BuildError, match=r"01_a\.ipynb, cell 2: a code cell tagged 'solution'.*BEGIN SOLUTION"):
        B.student_version(sol, "01_a.ipynb", CFG)


def test_attachments_of_solution_and_instructor_cells_never_reach_students():
    secret = {"answer.png": {"image/png": "U0VDUkVU"}}  # base64 of SECRET
    kept = {"figure.png": {"image/png": "RklHVVJF"}}
    sol = notebook(
        dict(cell("markdown", "![](attachment:answer.png)", tags=["solution"]), attachments=secret),
        dict(cell("markdown", "![](attachment:answer.png)", tags=["instructor"]), attachments=secret),
        dict(cell("markdown", "![](attachment:figure.png)"), attachments=kept),
    )
    st = B.student_version(sol, "01_a.ipynb", CFG)
    assert "U0VDUkVU" not in B.dumps(st)
    assert "attachments" not in st["cells"][2] and st["cells"][3]["attachments"] == kept


def test_no_solution_text_reaches_notebooks(tmp_path):
    """Fixture notebooks with near-miss markers: the build stops, naming the notebook and the cell, and writes
    nothing; with exact markers, tags and attachments, no answer reaches notebooks/."""
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "pyproject.toml", root)
    good = notebook(
        cell("markdown", "# Good"),
        cell("code", "def f():\n    ### BEGIN SOLUTION\n    return 'SECRET-1'\n    ### END SOLUTION\n"),
        dict(cell("markdown", "Answer: SECRET-2 ![](attachment:a.png)", tags=["solution"]), attachments={"a.png": {}}),
        cell("markdown", "Notes: SECRET-3", tags=["instructor"]),
    )
    (root / "solutions" / "01_good.ipynb").write_text(B.dumps(good))
    for marker in NEAR_MISSES:
        bad = notebook(cell("code", f"x = 1\n{marker}\nanswer = 'SECRET-4'\n"))
        (root / "solutions" / "02_bad.ipynb").write_text(B.dumps(bad))
        with pytest.raises(B.BuildError, match=r"02_bad\.ipynb, cell 2"):
            B.build(root)
        assert list((root / "notebooks").iterdir()) == []  # nothing written, not even the good notebook
    (root / "solutions" / "02_bad.ipynb").unlink()
    assert B.build(root)
    text = (root / "notebooks" / "01_good.ipynb").read_text()
    assert "SECRET" not in text and "a.png" not in text


OLDER_SETUP = (  # the set-up cell stamped by the first build of the course (commit 8268ff2)
    "# Set-up: in Google Colab this installs the course package (a minute); anywhere else it does nothing\n"
    "# but check the version. Stamped by `python -m course_utils.build` from pyproject.toml: do not edit.\n"
    "import sys, subprocess\n"
    'COURSE_VERSION = "9.9"\n'
    'if "google.colab" in sys.modules:\n'
    '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", '
    '"course_utils @ git+https://github.com/me/course@v9.9"], check=True)\n'
    "import course_utils\n"
    "course_utils.check_version(COURSE_VERSION)"
)


def test_an_earlier_stamp_is_replaced_and_keeps_its_output():
    sol = notebook(
        cell(
            "markdown",
            '<a href="https://colab.research.google.com/github/me/course/blob/v1/x.ipynb" '
            'target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" '
            'alt="Open In Colab"/></a>',
            tags=["course-badge"],
        ),
        cell("code", OLDER_SETUP, tags=["course-setup"], outputs=[{"output_type": "stream", "text": "banner"}]),
        cell("code", "x = 1"),
    )
    new = B.stamp_header(sol, "01_t.ipynb", CFG)
    assert B._source(new["cells"][1]) == B._source(B.setup_cell(CFG))
    assert new["cells"][1]["outputs"] == [{"output_type": "stream", "text": "banner"}]  # same version: kept
    assert "/blob/v9.9/notebooks/01_t.ipynb" in B._source(new["cells"][0])
    assert [B._source(c) for c in new["cells"][2:]] == ["x = 1"]
    other = B.stamp_header(new, "01_t.ipynb", dict(CFG, version="10", ref="v10"))  # this build's stamp, older values
    assert 'COURSE_VERSION, COURSE_RELEASE = "10", "v10"' in B._source(other["cells"][1])
    assert len(other["cells"]) == 3


@pytest.mark.parametrize(
    "kind, src, tag",
    [
        ("code", "import numpy as np  # my imports", "course-setup"),  # a copied cell kept its tag
        ("code", OLDER_SETUP + "\nimport numpy as np", "course-setup"),  # a line added to the stamp
        ("code", "import numpy as np\n" + OLDER_SETUP, "course-setup"),
        ("markdown", "# Welcome to the course", "course-badge"),
        ("markdown", "Read this first.", "course-setup"),
        ("code", "print('hello')", "course-badge"),
    ],
)
def test_an_instructors_cell_with_a_header_tag_is_never_destroyed(tmp_path, kind, src, tag):
    header = [B.badge_cell("01_t.ipynb", CFG), B.setup_cell(CFG)]
    sol = notebook(*header, cell("markdown", "# T"), cell(kind, src, tags=[tag]))
    with pytest.raises(B.BuildError, match=rf"01_t\.ipynb, cell 3 is tagged '{tag}' but .*remove the tag"):
        B.stamp_header(sol, "01_t.ipynb", CFG)
    edited = B.stamp_header(notebook(cell("code", "x = 1")), "01_t.ipynb", CFG)
    edited["cells"][1]["source"] += "\nprint('mine')"  # an edit after the stamp's last line
    with pytest.raises(B.BuildError, match=r"cell 1 is tagged 'course-setup'"):
        B.stamp_header(edited, "01_t.ipynb", CFG)


@pytest.mark.parametrize(
    "content",
    [
        "[]",
        "{}",
        '{"cells": {}}',
        '{"cells": [1, 2]}',
        '"text"',
        '{"cells": [{"cell_type": "code", "source": 1}]}',
        '{"cells": [{"cell_type": "markdown", "source": "", "metadata": {"tags": "solution"}}]}',
        "\udcff",
    ],
)
def test_a_solution_file_that_is_not_a_notebook_gives_a_message(tmp_path, content):
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", root)
    path = root / "solutions" / "01_a.ipynb"
    if content == "\udcff":
        path.write_bytes(b"\xff\xfe not utf-8")
    else:
        path.write_text(content)
    with pytest.raises(B.BuildError, match=r"solutions/01_a\.ipynb is not a Jupyter notebook"):
        B.planned_writes(root)
