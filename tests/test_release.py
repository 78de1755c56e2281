"""The student release (``python -m course_utils.build --release DIR``): what it holds, and no answer in it."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import course_utils
from course_utils import build as B
from course_utils.release import MARKER, write_release

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
BINARY = {".pt", ".tif", ".tiff", ".png", ".jpg", ".jpeg"}  # data/checkpoints, data/nuclei-real


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    dest = tmp_path_factory.mktemp("release")
    write_release(dest)
    return dest


def release_texts(dest: Path) -> dict[str, str]:
    return {
        p.relative_to(dest).as_posix(): p.read_text(encoding="utf-8")
        for p in dest.rglob("*")
        if p.is_file() and p.suffix not in BINARY  # model weights and images hold no answer text
    }


def solution_texts():
    """(where, text, kind) of every answer in solutions/: each line of a BEGIN/END SOLUTION region with a
    dozen letters or more (kind "code"), each written answer (markdown tagged 'solution') and each cell tagged
    'instructor' (kind "written")."""
    for path in SOLUTIONS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            src, tags = "".join(cell["source"]), cell["metadata"].get("tags", [])
            where = f"{path.name}, cell {i}"
            if B.SOLUTION_TAG in tags or B.INSTRUCTOR_TAG in tags:
                yield where, src.strip(), "written"
            for region in re.findall(rf"{B.BEGIN}\n(.*?)\n[ \t]*{B.END}", src, flags=re.S):
                for line in region.splitlines():
                    if len(re.sub(r"\W", "", line)) >= 12 and not line.strip().startswith("#"):
                        yield where, line.strip(), "code"


def reference_code(name: str) -> bool:
    """course_utils/*.py: the reference implementations the self-checks compare against, public on purpose
    (README.md, 'Two repositories'); solution code may stand there, written answers may not."""
    return name.startswith("course_utils/") and name.endswith(".py")


def test_release_holds_what_students_need_and_nothing_else(release):
    top = {p.name for p in release.iterdir()}
    assert top == {
        "notebooks",
        "course_utils",
        "data",
        "scripts",
        "README.md",
        "LICENSE",
        "requirements.txt",
        "pyproject.toml",
        MARKER,
    }
    assert {p.name for p in (release / "notebooks").iterdir()} == {p.name for p in SOLUTIONS}
    assert (release / "data" / "checkpoints" / "unet_nuclei.pt").is_file()
    assert not list(release.rglob("__pycache__")) and not (release / "data" / "cache").exists()
    assert "[tool.pytest" not in (release / "pyproject.toml").read_text()
    meta = json.loads((release / MARKER).read_text())
    assert meta["version"] == course_utils.__version__ and meta["tag"] == f"v{course_utils.__version__}"
    for path in (release / "notebooks").iterdir():  # exactly the student notebooks of the build
        assert path.read_text(encoding="utf-8") == (ROOT / "notebooks" / path.name).read_text(encoding="utf-8")


def find_leaks(dest: Path) -> list[str]:
    texts = release_texts(dest)
    return [
        f"{where}: {answer!r} in {name}"
        for where, answer, kind in solution_texts()
        for name, text in texts.items()
        if answer in text and not (kind == "code" and reference_code(name))
    ]


def test_no_solution_text_reaches_the_release(release):
    assert len(list(solution_texts())) > 50, "the search must see the solutions' answers"
    leaks = find_leaks(release)
    assert not leaks, "answers found in the release:\n" + "\n".join(leaks[:10])


def test_the_leak_search_finds_a_copied_answer(tmp_path):
    """The search is not vacuous: one solution line pasted into a released file is found."""
    write_release(tmp_path)
    where, answer, _ = next(t for t in solution_texts() if t[2] == "code")
    written_where, written, _ = next(t for t in solution_texts() if t[2] == "written")
    with open(tmp_path / "notebooks" / "01_conv_transpose.ipynb", "a", encoding="utf-8") as f:
        f.write(f"\n{answer}\n")
    with open(tmp_path / "course_utils" / "weak.py", "a", encoding="utf-8") as f:
        f.write(f'\n"""{written}"""\n')
    assert sorted(find_leaks(tmp_path)) == sorted(
        [
            f"{where}: {answer!r} in notebooks/01_conv_transpose.ipynb",
            f"{written_where}: {written!r} in course_utils/weak.py",
        ]
    )


def test_student_readme_links_every_notebook_in_colab(release):
    readme = (release / "README.md").read_text()
    cfg = B.course_config()
    for path in SOLUTIONS:
        assert f"/blob/{cfg['ref']}/notebooks/{path.name}" in readme
    assert "Getting help" in readme and "solutions" not in readme


def test_release_refuses_a_folder_that_is_not_a_release(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(B.BuildError, match="not empty"):
        write_release(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(B.BuildError, match="outside this repository"):
        write_release(ROOT / "build" / "release")


def test_release_replaces_an_earlier_release_but_keeps_git(tmp_path):
    write_release(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "notebooks" / "99_removed.ipynb").write_text("{}")
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "r"], check=True
    )
    write_release(tmp_path)
    assert not (tmp_path / "notebooks" / "99_removed.ipynb").exists() and (tmp_path / ".git").is_dir()
    (tmp_path / "README.md").write_text("edited by hand")
    with pytest.raises(B.BuildError, match="uncommitted changes"):
        write_release(tmp_path)
    assert (tmp_path / "README.md").read_text() == "edited by hand"


def test_release_command_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "course_utils.build", "--release", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "tag it v" in out.stdout and (tmp_path / "r" / "notebooks").is_dir()
    bad = subprocess.run(
        [sys.executable, "-m", "course_utils.build", "--release", str(ROOT)], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "outside this repository" in bad.stderr
