"""Device choice, seeding, budgets and the version handshake."""

import random
import warnings

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import budget


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    dev = cu.get_device()
    assert dev.type in ("cuda", "mps", "cpu") and (expected is None or dev.type == expected)
    assert cu.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert cu.get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="Change runtime type"):
            cu.get_device("cuda")


def test_seed_everything_seeds_all_three():
    cu.seed_everything(11)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    cu.seed_everything(11)
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())
    g1, g2 = cu.make_generator(5), cu.make_generator(5)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


@pytest.fixture
def clean_budget(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.delenv("COURSE_BUDGET", raising=False)
    budget.set_budget(None)
    yield monkeypatch
    budget.set_budget(None)


def test_budget_resolution_order(clean_budget):
    mp = clean_budget
    assert cu.current_budget() == ("full" if torch.cuda.is_available() else "cpu")
    mp.setenv("COURSE_BUDGET", "full")
    assert cu.by_budget(full=40, cpu=4, fast=1) == 40
    mp.setenv("COURSE_FAST", "1")  # CI's switch wins over COURSE_BUDGET
    assert cu.by_budget(full=40, cpu=4, fast=1) == 1
    mp.setenv("COURSE_FAST", "0")
    assert cu.current_budget() == "full"
    cu.set_budget("cpu")  # an explicit choice in the notebook wins over everything
    mp.setenv("COURSE_FAST", "1")
    assert cu.by_budget(full=40, cpu=4, fast=1) == 4


def test_budget_errors(clean_budget):
    clean_budget.setenv("COURSE_BUDGET", "huge")
    with pytest.raises(ValueError, match="COURSE_BUDGET: unknown budget 'huge'; choose one of full, cpu, fast"):
        cu.current_budget()
    with pytest.raises(ValueError, match="set_budget"):
        cu.set_budget("tiny")
    with pytest.raises(TypeError):
        cu.by_budget(full=1, cpu=2)  # every budget must be given


def test_version_handshake(capsys):
    threads = torch.get_num_threads()  # the handshake sets them (course_utils.device.configure_threads)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cu.check_version(cu.__version__)
    assert capsys.readouterr().out.startswith(f"course_utils {cu.__version__} | device:")
    with pytest.warns(UserWarning, match=r"written for course_utils 0\.0\.1.*pip install -e \."):
        cu.check_version("0.0.1", quiet=True)
    assert capsys.readouterr().out == ""
    torch.set_num_threads(threads)


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "NO", "off", "", "  ", " 0 "])
def test_course_fast_false_spellings_are_not_fast(clean_budget, value):
    clean_budget.setenv("COURSE_FAST", value)
    clean_budget.setenv("COURSE_BUDGET", "cpu")
    assert cu.current_budget() == "cpu"


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "Yes", "on", " on "])
def test_course_fast_true_spellings_are_fast(clean_budget, value):
    clean_budget.setenv("COURSE_FAST", value)
    clean_budget.setenv("COURSE_BUDGET", "cpu")
    assert cu.current_budget() == "fast"


@pytest.mark.parametrize("value", ["2", "maybe", "fast", "-1"])
def test_course_fast_other_values_are_refused(clean_budget, value):
    clean_budget.setenv("COURSE_FAST", value)
    with pytest.raises(ValueError, match=rf"COURSE_FAST={value!r}.*1, true, yes, on.*0, false, no, off"):
        cu.current_budget()


@pytest.mark.parametrize("value", ["gpu", "GPU0", "cuda:x", "tpu", "cuda:-1", "cpu:0:1"])
def test_course_device_invalid_values_name_the_variable(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match=rf"COURSE_DEVICE={value!r} is not a device.*cpu, cuda, cuda:N.*mps"):
        cu.get_device()
    monkeypatch.delenv("COURSE_DEVICE")
    with pytest.raises(ValueError, match=rf"get_device\({value!r}\): {value!r} is not a device"):
        cu.get_device(value)


def test_course_device_spelling_and_unavailable_devices(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", " CPU ")
    assert cu.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match=r"COURSE_DEVICE='cuda'.*CUDA is not available.*unset COURSE_DEVICE"):
        cu.get_device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("COURSE_DEVICE", "cuda:3")
    with pytest.raises(RuntimeError, match=r"COURSE_DEVICE='cuda:3'.*1 GPU.*cuda:0"):
        cu.get_device()
    assert cu.get_device("cuda:0") == torch.device("cuda:0")
