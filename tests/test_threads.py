"""The CPU thread count chosen by the set-up (course_utils.device.configure_threads): the rule and its override."""

import pytest
import torch

from course_utils import device
from course_utils.device import THREADS_ENV, configure_threads


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv(THREADS_ENV, raising=False)
    yield monkeypatch
    torch.set_num_threads(before)


@pytest.mark.parametrize("cores, default, expected", [(1, 1, 1), (2, 2, 1), (4, 4, 3), (8, 4, 4), (16, 16, 15)])
def test_on_the_cpu_one_core_is_left_to_the_rest_of_the_machine(monkeypatch, cores, default, expected):
    monkeypatch.setattr(device, "_cores", lambda: cores)
    monkeypatch.setattr(device, "_TORCH_DEFAULT_THREADS", default)
    assert configure_threads("cpu") == expected
    assert torch.get_num_threads() == expected


def test_a_gpu_leaves_the_count_alone(monkeypatch):
    monkeypatch.setattr(device, "_cores", lambda: 2)
    torch.set_num_threads(2)
    assert configure_threads(torch.device("cuda")) == 2 and torch.get_num_threads() == 2
    assert configure_threads("mps") == 2


def test_the_environment_variable_overrides_the_rule(monkeypatch):
    monkeypatch.setattr(device, "_cores", lambda: 2)
    monkeypatch.setattr(device, "_TORCH_DEFAULT_THREADS", 2)
    monkeypatch.setenv(THREADS_ENV, "2")
    assert configure_threads("cpu") == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv(THREADS_ENV, " default ")
    torch.set_num_threads(1)
    assert configure_threads("cpu") == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv(THREADS_ENV, "1")
    assert configure_threads(torch.device("cuda")) == 1  # asked for explicitly: also with a GPU


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_value_says_what_to_write(monkeypatch, value):
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(ValueError, match=rf"COURSE_THREADS={value!r} is not a number of threads.*'default'"):
        configure_threads("cpu")


def test_the_set_up_reports_the_count(monkeypatch, capsys):
    import course_utils as cu

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.setenv(THREADS_ENV, "1")
    cu.check_version(cu.__version__)
    assert capsys.readouterr().out.rstrip().endswith("| CPU threads: 1")
    assert torch.get_num_threads() == 1
