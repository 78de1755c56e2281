"""cu.claim: a lesson's comparison, checked on the run's numbers, with a visible mark when it does not hold."""

import pytest
import torch

import course_utils as cu
from course_utils.claims import FAILS, HOLDS, UNCHECKED


@pytest.fixture
def budget():
    yield cu.set_budget
    cu.set_budget(None)


def test_a_claim_that_holds_that_fails_and_that_is_not_checked(budget, capsys):
    budget("cpu")
    assert cu.claim(29.2 > 27.9, "DnCNN beats NL-means (29.20 dB against 27.90 dB)") is True
    assert capsys.readouterr().out == f"{HOLDS} DnCNN beats NL-means (29.20 dB against 27.90 dB)\n"
    assert cu.claim(torch.tensor(0.3) > 0.5, "the tensor is large") is False
    out = capsys.readouterr().out
    assert out.startswith(f"{FAILS} the tensor is large\n") and "read the outputs above, not the prose" in out
    budget("fast")
    assert cu.claim(False, "anything") is None
    assert capsys.readouterr().out == f"{UNCHECKED} anything\n"


def test_a_claim_needs_its_sentence():
    with pytest.raises(TypeError, match="the statement is the sentence"):
        cu.claim(True, "")
