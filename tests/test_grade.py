"""The grader (course_utils.grade): one command grades a folder of submissions with the instructor's checks.

The fixture submissions are built from the course's own notebooks 01 and 02 (the solution with outputs cleared,
the student version, and each with what students do to them); one grading run grades them all, as an instructor
would, and each test reads its row of grades.csv and its feedback.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from pathlib import Path

import pytest

from course_utils import build, grade, kernel
from course_utils.exercises import GradingSpecError, graded_items, stamp_graded

ROOT = Path(__file__).resolve().parent.parent


def notebook(folder: str, name: str) -> dict:
    nb = json.loads((ROOT / folder / name).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def cell_index(nb: dict, start: str) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and start in "".join(c["source"]))


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source}


def save(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


SIZE, MANUAL = "def conv_transpose_output_size", "def conv_transpose2d_manual"


def notebook_01_submissions(folder: Path) -> Path:
    """Fixture submissions of notebook 01 (5 points: output-size 2, conv-transpose 3), one per case."""
    solution = notebook("solutions", "01_conv_transpose.ipynb")
    student = notebook("notebooks", "01_conv_transpose.ipynb")
    save(solution, folder / "solution.ipynb")
    save(student, folder / "untouched.ipynb")

    one = copy.deepcopy(student)  # exercise 1 solved, exercise 2 left
    one["cells"][cell_index(one, SIZE)] = copy.deepcopy(solution["cells"][cell_index(solution, SIZE)])
    save(one, folder / "one_solved.ipynb")

    deleted = copy.deepcopy(solution)
    del deleted["cells"][cell_index(deleted, MANUAL)]
    save(deleted, folder / "deleted.ipynb")

    moved = copy.deepcopy(solution)  # exercise 1 duplicated and moved to the end, exercise 2's check cell gone
    moved["cells"].append(copy.deepcopy(moved["cells"][cell_index(moved, SIZE)]))
    del moved["cells"][cell_index(moved, SIZE)]
    del moved["cells"][cell_index(moved, "# Graded: conv-transpose")]
    save(moved, folder / "moved.ipynb")

    forged = copy.deepcopy(student)  # check cells edited, checks replaced, a verdict printed
    forged["cells"][cell_index(forged, "# Graded: output-size")]["source"] = (
        'print("✅ conv_transpose_output_size: correct on all 700 test cases.")'
    )
    forged["cells"].insert(
        4,
        code_cell(
            "import course_utils.checks as C\n"
            "C.check_output_size = C.check_conv_transpose = lambda fn: C.CheckResult('x', True, '✅ correct')\n"
            "C._report = lambda *a, **k: None\n"
            "def check_conv_transpose(fn):\n    print('✅ conv_transpose2d_manual: correct.')\n"
        ),
    )
    save(forged, folder / "forged.ipynb")

    looping = copy.deepcopy(solution)  # exercise 2 never returns
    looping["cells"][cell_index(looping, MANUAL)]["source"] = (
        "def conv_transpose2d_manual(x, w, b, stride, padding=0):\n    while True:\n        pass\n"
    )
    save(looping, folder / "loops.ipynb")

    crash = copy.deepcopy(solution)  # the kernel exits between the two exercises
    crash["cells"].insert(cell_index(crash, "# Graded: output-size") + 1, code_cell("import os\nos._exit(3)"))
    save(crash, folder / "crashes.ipynb")

    stubborn = copy.deepcopy(solution)  # a last cell that ignores the interrupt: killed, the grades kept
    stubborn["cells"].append(
        code_cell("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n")
    )
    save(stubborn, folder / "stubborn.ipynb")

    greedy = copy.deepcopy(solution)  # a memory blow-up, and a look around the file system
    greedy["cells"].insert(4, code_cell("hoard = bytearray(16 * 2**30)  # 16 GiB at once"))
    greedy["cells"].insert(
        5,
        code_cell(
            "import os\n"
            "raise RuntimeError(repr({'cwd': os.getcwd(), 'files': sorted(os.listdir('.')), "
            "'env': dict(os.environ)}))"
        ),
    )
    save(greedy, folder / "greedy.ipynb")

    colab = copy.deepcopy(solution)  # shell lines, Colab calls, a widget; metadata dropped by another editor
    colab["metadata"] = {}
    for cell in colab["cells"]:
        cell["metadata"] = {}
    colab["cells"][3:3] = [
        code_cell("!pip install some-package-that-does-not-exist\n%pip install another-one\n"),
        code_cell("%%bash\nexit 1\n"),
        code_cell(
            "from google.colab import drive, files, output\n"
            "drive.mount('/content/drive')\noutput.enable_custom_widget_manager()\nuploaded = files.upload()\n"
            "import ipywidgets as widgets\nwidgets.interact(lambda k=2: k * 2, k=(1, 5))\n"
            "if True:\n    !ls /\n"
        ),
    ]
    save(colab, folder / "colab.ipynb")

    old = copy.deepcopy(solution)  # handed out with an older release, submitted in a folder with other files
    old["metadata"]["course"]["version"] = "0.0.9"
    save(old, folder / "old_version" / "Copy of 01_conv_transpose.ipynb")
    save(student, folder / "old_version" / ".ipynb_checkpoints" / "01_conv_transpose-checkpoint.ipynb")
    (folder / "old_version" / "notes.txt").write_text("my notes", encoding="utf-8")

    save(notebook("notebooks", "03_evaluation.ipynb"), folder / "other_notebook.ipynb")
    other = notebook("notebooks", "03_evaluation.ipynb")
    other["metadata"] = {}
    save(other, folder / "other_no_metadata.ipynb")
    (folder / "empty.ipynb").write_text("", encoding="utf-8")
    (folder / "not_json.ipynb").write_text("{'cells': oops", encoding="utf-8")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4")
    (folder / "empty_folder").mkdir()
    return folder


@pytest.fixture(scope="module")
def graded_01(tmp_path_factory):
    """One run of the command on all the fixtures of notebook 01, as an instructor runs it."""
    folder = notebook_01_submissions(tmp_path_factory.mktemp("submissions-01"))
    out = tmp_path_factory.mktemp("grades-01") / "out"
    with pytest.MonkeyPatch.context() as mp:  # an interrupted cell's time to stop: 10 s in real runs, 3 s here
        mp.setattr(kernel, "GRACE", 3.0)  # (only the stubborn notebook's last cell needs it, and never stops)
        code = grade.main([str(folder), "--notebook", "01", "--out", str(out), "--jobs", "2", "--timeout", "6"])
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return code, rows, out, folder


def feedback_of(out: Path, student: str) -> str:
    return (out / "feedback" / f"{student}.md").read_text(encoding="utf-8")


def test_the_run_succeeds_and_writes_one_sorted_row_per_submission(graded_01):
    code, rows, out, _ = graded_01
    assert code == 0
    lines = (out / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "student,status,output-size,conv-transpose,total,max"
    students = [line.split(",")[0] for line in lines[1:]]
    assert students == sorted(students, key=str.lower) and len(students) == 18
    assert all(row["max"] == "5" for row in rows.values())
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == sorted(rows)


def test_the_solution_scores_full_marks_and_the_untouched_notebook_zero(graded_01):
    _, rows, out, _ = graded_01
    assert rows["solution"]["status"] == "ok" and rows["solution"]["total"] == "5"
    assert rows["untouched"]["status"] == "ok" and rows["untouched"]["total"] == "0"
    assert "⏳ conv_transpose_output_size: not done yet" in feedback_of(out, "untouched")
    assert (rows["one_solved"]["output-size"], rows["one_solved"]["conv-transpose"]) == ("2", "0")


def test_deleted_duplicated_and_moved_cells(graded_01):
    _, rows, out, _ = graded_01
    assert rows["deleted"]["status"] == "ok"
    assert (rows["deleted"]["output-size"], rows["deleted"]["conv-transpose"]) == ("2", "0")
    assert "conv_transpose2d_manual is not defined in your notebook" in feedback_of(out, "deleted")
    assert rows["moved"]["status"] == "ok" and rows["moved"]["total"] == "5"


def test_forged_verdicts_gain_nothing(graded_01):
    _, rows, out, _ = graded_01
    assert rows["forged"]["status"] == "ok" and rows["forged"]["total"] == "0"
    assert feedback_of(out, "forged").count("not done yet") == 2


def test_an_endless_loop_costs_its_exercise_only(graded_01):
    _, rows, out, _ = graded_01
    assert rows["loops"]["status"] == "ok"
    assert (rows["loops"]["output-size"], rows["loops"]["conv-transpose"]) == ("2", "0")
    assert "the check stopped after 6 s (the time limit)" in feedback_of(out, "loops")


def test_a_kernel_that_dies_is_reported_and_the_others_still_graded(graded_01):
    _, rows, out, _ = graded_01
    assert rows["crashes"]["status"].startswith("kernel died in cell")
    assert (rows["crashes"]["output-size"], rows["crashes"]["conv-transpose"]) == ("2", "0")
    assert "not graded: the run stopped" in feedback_of(out, "crashes")


def test_a_cell_that_ignores_the_interrupt_is_killed_and_what_was_checked_counts(graded_01):
    _, rows, _, _ = graded_01
    assert (
        rows["stubborn"]["status"].startswith("time limit: cell ")
        and "did not stop when interrupted" in (rows["stubborn"]["status"])
    )
    assert rows["stubborn"]["total"] == "5"


def test_the_notebook_time_limit_stops_a_long_run(tmp_path):
    folder = tmp_path / "submissions"
    save(notebook("notebooks", "01_conv_transpose.ipynb"), folder / "slow.ipynb")
    options = grade.Options(timeout=60, notebook_timeout=1, threads=1)
    (report,) = grade.grade(folder, "01", tmp_path / "out", options=options, echo=lambda line: None)
    assert report.status.startswith("time limit: the notebook ran longer than 1 s; stopped before cell")
    assert [r.verdict for r in report.results.values()] == ["not graded", "not graded"]


def test_memory_is_capped_and_the_submission_sees_only_its_own_empty_folder(graded_01):
    _, rows, out, folder = graded_01
    assert rows["greedy"]["status"] == "ok" and rows["greedy"]["total"] == "5"
    text = feedback_of(out, "greedy")
    assert "MemoryError (the grader gives each notebook 4 GiB of memory)" in text
    seen = eval(text.split("RuntimeError: ", 1)[1].split("\n", 1)[0])  # what the submission saw
    # only what the kernel itself made there (its sockets, IPython's and matplotlib's settings): no notebook
    assert all(name.startswith(".") and not name.endswith(".ipynb") for name in seen["files"]), seen["files"]
    assert not os.path.exists(seen["cwd"]), "the temporary folder is removed after grading"
    assert seen["env"]["HOME"] == seen["cwd"] and seen["env"]["COURSE_BUDGET"] == "fast"
    for value in [seen["cwd"], *seen["env"].values()]:
        assert str(folder) not in value and str(out) not in value


def test_shell_lines_colab_calls_widgets_and_lost_metadata_do_not_break_grading(graded_01):
    _, rows, out, _ = graded_01
    assert rows["colab"]["status"] == "ok" and rows["colab"]["total"] == "5"
    text = feedback_of(out, "colab")
    assert (
        "the grader runs no shell commands; it skipped cell 4 `!pip install some-package-that-does-not-exist`" in text
    )
    assert "cell 4 `%pip install another-one`; cell 5 `%%bash`; cell 6 `!ls /`." in text


def test_an_older_version_is_graded_with_a_warning_and_folders_are_searched(graded_01):
    _, rows, out, _ = graded_01
    assert rows["old_version"]["status"] == "ok" and rows["old_version"]["total"] == "5"
    assert "comes from course version 0.0.9" in feedback_of(out, "old_version")


def test_what_cannot_be_graded_gets_a_clear_status(graded_01):
    _, rows, _, _ = graded_01
    assert rows["other_notebook"]["status"] == "wrong notebook: this is 03_evaluation, not 01_conv_transpose"
    assert rows["other_no_metadata"]["status"] == "wrong notebook: it looks like 03_evaluation, not 01_conv_transpose"
    assert rows["empty"]["status"] == "not a notebook: the file is empty"
    assert rows["not_json"]["status"].startswith("not a notebook: invalid JSON")
    assert rows["report"]["status"] == "not a notebook: a .pdf file"
    assert rows["empty_folder"]["status"] == "no notebook (.ipynb) in the folder"
    assert all(rows[s]["total"] == "0" for s in ("other_notebook", "empty", "not_json", "report"))


def test_written_answers_are_gathered_for_marking(graded_01):
    _, _, out, _ = graded_01
    text = (out / "written.md").read_text(encoding="utf-8")
    assert text.startswith("# Written answers: 01_conv_transpose") and "### Model answer" in text
    answers = text.split("### Answers", 1)[1]
    assert "**solution**\n\n> **Answer.** The overlap is even" in answers
    assert "**untouched**\n\n> _(no answer)_" in answers
    assert "**colab**\n\n> **Answer.**" in answers  # found by its question's text: no metadata
    assert "other_notebook" not in answers and "**empty**" not in answers


def test_the_grader_refuses_to_overwrite_and_says_why(graded_01, tmp_path, capsys):
    _, _, out, folder = graded_01
    before = (out / "grades.csv").read_text(encoding="utf-8")
    assert grade.main([str(folder), "--notebook", "01", "--out", str(out)]) == 2
    assert "already holds a grading" in capsys.readouterr().err and (out / "grades.csv").read_text() == before
    assert grade.main([str(folder), "--notebook", "01", "--out", str(folder / "out")]) == 2
    assert "inside" in capsys.readouterr().err
    assert grade.main([str(tmp_path / "nothing"), "--notebook", "01", "--out", str(tmp_path / "o")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert grade.main([str(folder), "--notebook", "99", "--out", str(tmp_path / "o")]) == 2
    assert "no solution notebook matches --notebook '99'" in capsys.readouterr().err


def test_notebook_02_solution_full_marks_and_student_version_zero(tmp_path):
    folder = tmp_path / "submissions"
    save(notebook("solutions", "02_simple_unet.ipynb"), folder / "solution.ipynb")
    save(notebook("notebooks", "02_simple_unet.ipynb"), folder / "student.ipynb")
    reports = grade.grade(folder, "02", tmp_path / "out", jobs=2, echo=lambda line: None)
    by = {r.student: r for r in reports}
    assert by["solution"].status == "ok" and by["solution"].total == 7
    assert [r.verdict for r in by["solution"].results.values()] == ["correct"] * 4
    assert by["student"].status == "ok" and by["student"].total == 0
    assert [r.verdict for r in by["student"].results.values()] == ["not done"] * 4


# ---------------------------------------------------------------- the parts, without kernels
def test_list_prints_ids_points_and_questions(capsys):
    assert grade.main(["--list", "02"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("02_simple_unet (course_utils ") and "4 code exercises, 7 points; 1 written question" in out
    assert "encoder-block" in out and "check_decoder_block" in out and "SimpleUNet" in out and "q1" in out


def test_every_solution_declares_its_graded_items():
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        items = graded_items(build.read_notebook(path), path.stem)
        assert items.exercises and all(e.points > 0 for e in items.exercises), path.name
        assert len({e.id for e in items.exercises}) == len(items.exercises)


def test_the_build_stamps_the_ids_into_the_student_notebooks():
    nb = json.loads((ROOT / "notebooks" / "02_simple_unet.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["course"] == {"notebook": "02_simple_unet", "version": build.__version__}
    marks = [c["metadata"]["course"] for c in nb["cells"] if "course" in c["metadata"]]
    assert marks == [
        {"exercise": "encoder-block", "points": 2},
        {"exercise": "bottleneck", "points": 1},
        {"exercise": "decoder-block", "points": 2},
        {"exercise": "simple-unet", "points": 2},
        {"question": "q1"},
        {"answer": "q1"},
    ]


def _with_check_cell(source: str) -> dict:
    return {"cells": [code_cell("def f(x):\n    return x\n"), code_cell(source)], "metadata": {}}


@pytest.mark.parametrize(
    "source, message",
    [
        ("check_psnr(f)", "says nothing about grading"),
        ("# graded: psnr, 2 points\ncheck_psnr(f)", "is not a grading line"),
        ("# Graded: PSNR, 2 points\ncheck_psnr(f)", "is not a grading line"),
        ("# Graded: psnr, two points\ncheck_psnr(f)", "is not a grading line"),
        ("# Graded: psnr, 2 points\nprint(1)\ncheck_psnr(f)", "one call of a check"),
        ("# Graded: psnr, 2 points\n", "one call of a check"),
    ],
)
def test_a_malformed_grading_line_stops_the_build(source, message):
    with pytest.raises(GradingSpecError, match=message):
        graded_items(_with_check_cell(source), "05_x")
    with pytest.raises(build.BuildError, match=message):
        build.stamp_header(_with_check_cell(source), "05_x.ipynb", build.course_config())


def test_an_exercise_id_used_twice_stops_the_build():
    nb = _with_check_cell("# Graded: psnr, 2 points\ncheck_psnr(f)")
    nb["cells"].append(code_cell("# Graded: psnr, 1 point\ncheck_dncnn(f)"))
    with pytest.raises(GradingSpecError, match="'psnr' is used already in cell 1"):
        graded_items(nb, "05_x")
    stamped = stamp_graded(_with_check_cell("# Graded: psnr, 0.5 points\ncheck_psnr(f)"), "05_x")
    assert stamped["cells"][1]["metadata"]["course"] == {"exercise": "psnr", "points": 0.5}


def test_shell_lines_are_skipped_and_set_up_and_check_cells_left_out():
    checks = {"check_psnr(psnr)"}
    assert grade.runnable("# Graded: psnr, 2 points\ncheck_psnr(psnr)", checks) == (None, [])
    assert grade.runnable("check_psnr(psnr)\nprint('x')", checks)[0] is not None  # edited: runs as the student's
    code, skipped = grade.runnable("x = 1\n  !ls\n%pip install a\n%matplotlib inline", checks)
    assert code == "x = 1\n  pass  # skipped by the grader\npass  # skipped by the grader\n%matplotlib inline"
    assert skipped == ["!ls", "%pip install a"]
    assert grade.runnable("%%bash\nrm -rf /\n", checks) == (None, ["%%bash"])
    setup = build.setup_cell(build.course_config())
    assert grade.runnable("".join(setup["source"]), checks) == (None, [])


def test_submissions_are_found_in_files_and_folders(tmp_path):
    (tmp_path / "b.ipynb").write_text("{}")
    (tmp_path / ".hidden.ipynb").write_text("{}")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "x.ipynb").write_text("{}")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y.ipynb").write_text("{}")
    found = grade.find_submissions(tmp_path)
    assert [(s, p.name, problem) for s, p, problem in found] == [
        ("a b", "x.ipynb", ""),
        ("b", "y.ipynb", ""),
        ("b (2)", "b.ipynb", ""),
    ]


def test_ctrl_c_stops_every_kernel_and_writes_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "submissions"
    looping = notebook("solutions", "01_conv_transpose.ipynb")
    looping["cells"].insert(4, code_cell("while True:\n    pass"))
    for name in ("a", "b", "c"):
        save(looping, folder / f"{name}.ipynb")
    out = tmp_path / "out"

    def kernels() -> set[str]:
        return set(subprocess.run(["pgrep", "-f", "ipykernel_launcher"], capture_output=True, text=True).stdout.split())

    before = kernels()
    command = [sys.executable, "-m", "course_utils.grade", str(folder), "--notebook", "01", "--out", str(out)]
    # A command started in the background by a shell (`make test &`, nohup, CI runners) inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: give the grader the default, as a terminal would.
    run = subprocess.Popen(
        command + ["--jobs", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while len(kernels() - before) < 2 and time.monotonic() < deadline:  # --jobs 2: two kernels at work
        time.sleep(0.5)
    assert len(kernels() - before) == 2
    time.sleep(3)
    run.send_signal(signal.SIGINT)
    try:
        stdout, stderr = run.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        run.kill()  # never leave a grader (and its kernels) running after the test
        raise
    assert run.returncode == 130, stderr
    assert "interrupted: the kernels were stopped and nothing was written" in stderr
    assert not out.exists()
    assert not kernels() - before, "a kernel outlived the grader"
