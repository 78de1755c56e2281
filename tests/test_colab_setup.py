"""The stamped set-up cell run as in Google Colab: ``google.colab`` present (a stand-in module), the course
cloned from the release (a local bare repository, through ``COURSE_REPOSITORY_URL``), no network.

Each run is a fresh Python process, as a Colab kernel is; the folder it runs in plays Colab's ``/content``.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import course_utils
from course_utils import build as B

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

CFG = B.course_config()
FOLDER = CFG["repository"].rsplit("/", 1)[-1]
STAND_IN = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
WHERE = "\nprint('course_utils from', course_utils.__file__)\n"


def run_setup(content: Path, url: str, cfg=CFG, path=None):
    """Run the set-up cell stamped from ``cfg`` in ``content``; return (exit code, stdout + stderr)."""
    env = dict(os.environ, COURSE_REPOSITORY_URL=url, COURSE_FAST="1")
    if path is not None:
        env["PATH"] = path
    src = STAND_IN + "".join(B.setup_cell(cfg)["source"]) + WHERE
    out = subprocess.run([sys.executable, "-c", src], cwd=content, env=env, capture_output=True, text=True, timeout=300)
    return out.returncode, out.stdout + out.stderr


def assert_failed_helpfully(code, out, *expected):
    assert code != 0
    assert "Course set-up failed:" in out and "What to do:" in out and "git clone --depth 1" in out, out
    for text in expected:
        assert text in out, out
    assert "Traceback" not in out.split("Course set-up failed:")[0]  # the paragraph comes first


def test_first_run_clones_the_release_and_a_rerun_is_quick(release_repository, tmp_path):
    code, out = run_setup(tmp_path, release_repository)
    clone = tmp_path / FOLDER
    assert code == 0, out
    assert f"course_utils {course_utils.__version__} | device:" in out
    assert f"course_utils from {clone / 'course_utils' / '__init__.py'}" in out  # the clone, not this checkout
    assert (clone / "data" / "checkpoints" / "unet_nuclei.pt").is_file() and not (clone / "solutions").exists()
    assert (clone / ".course-installed").read_text() == CFG["ref"]
    assert not (tmp_path / f"{FOLDER}.partial").exists()
    # Re-run (or a second notebook in the same runtime): no clone, no pip; it works even without git.
    t0 = time.perf_counter()
    code, out = run_setup(tmp_path, release_repository, path="/nonexistent")
    assert code == 0, out
    assert f"course_utils from {clone / 'course_utils' / '__init__.py'}" in out
    print(f"re-run of the set-up cell: {time.perf_counter() - t0:.1f} s (mostly importing torch)")


@pytest.mark.parametrize("case", ["missing tag", "missing repository"])
def test_a_failed_clone_says_what_to_do_and_leaves_nothing(release_repository, tmp_path, case):
    cfg, url = dict(CFG), release_repository
    if case == "missing tag":
        cfg["ref"] = "v99.0.0"
    else:
        url = f"file://{tmp_path / 'nowhere.git'}"
    code, out = run_setup(tmp_path, url, cfg)
    assert_failed_helpfully(code, out, f"git could not clone release {cfg['ref']} of {url}", "Source code zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no partial clone: a re-run starts afresh


def test_no_git(release_repository, tmp_path):
    code, out = run_setup(tmp_path, release_repository, path="/nonexistent")
    assert_failed_helpfully(code, out, "git is not installed")
    assert list(tmp_path.iterdir()) == []


def test_a_pip_failure_is_explained_and_a_rerun_recovers(release_repository, tmp_path):
    """pip fails (here: a broken requirements.txt): the message says so, the clone stays without its
    'installed' mark, and once the cause is gone the same cell finishes the job."""
    broken = tmp_path / "broken"
    subprocess.run(["git", "clone", "-q", release_repository, str(broken)], check=True)
    (broken / "requirements.txt").write_text("this is not a requirement ==\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(broken)]
    subprocess.run(git + ["commit", "-qam", "break"], check=True)
    subprocess.run(git + ["tag", "-f", CFG["ref"]], check=True, capture_output=True)
    content = tmp_path / "content"
    content.mkdir()
    code, out = run_setup(content, f"file://{broken}")
    assert_failed_helpfully(code, out, "pip could not install the course's requirements")
    clone = content / FOLDER
    assert clone.is_dir() and not (clone / ".course-installed").exists()
    shutil.copy(Path(course_utils.__file__).parent.parent / "requirements.txt", clone / "requirements.txt")
    code, out = run_setup(content, f"file://{broken}")
    assert code == 0, out
    assert (clone / ".course-installed").read_text() == CFG["ref"]


def test_a_folder_that_is_not_the_course_is_left_alone(release_repository, tmp_path):
    mine = tmp_path / FOLDER
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    code, out = run_setup(tmp_path, release_repository)
    assert_failed_helpfully(code, out, "holds no course")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_a_clone_of_another_release_is_named(release_repository, tmp_path):
    assert run_setup(tmp_path, release_repository)[0] == 0
    (tmp_path / FOLDER / ".course-installed").write_text("v0.0.1")
    code, out = run_setup(tmp_path, release_repository)
    assert_failed_helpfully(code, out, f"holds release v0.0.1, but this notebook needs {CFG['ref']}")
