"""Notebook 09's hand-made framework (course_utils.scratch) against torch.nn and autograd, and its self-checks:
right answers pass, wrong ones are told which gradient is wrong and by how much."""

import pytest
import torch
import torch.nn as nn

from course_utils import scratch as S
from course_utils.checks import check_adam, check_conv2d, check_mse_loss, check_relu

F64 = torch.float64
EXACT = 1e-10  # float64: a right backward pass agrees with autograd to about 1e-14


def randn(g, *shape):
    return torch.randn(*shape, generator=g, dtype=F64)


def assert_agrees(diffs: dict, tol: float = EXACT):
    assert diffs and all(v <= tol for v in diffs.values()), diffs


@pytest.mark.parametrize(
    "n, c_in, h, w, c_out, k, s, p",
    [(2, 3, 9, 7, 4, 3, 2, 1), (1, 1, 5, 5, 2, 2, 1, 0), (3, 2, 8, 8, 5, 3, 1, 1), (2, 2, 10, 11, 3, 4, 3, 2)],
)
def test_conv2d_matches_torch_in_values_and_every_gradient(g, n, c_in, h, w, c_out, k, s, p):
    mine = S.Conv2d(c_in, c_out, k, stride=s, padding=p, generator=g, dtype=F64)
    diffs = S.compare_with_torch(mine, nn.Conv2d(c_in, c_out, k, stride=s, padding=p).double(), randn(g, n, c_in, h, w))
    assert set(diffs) == {"output", "input gradient", "weight gradient", "bias gradient"}
    assert_agrees(diffs)
    out = mine(randn(g, n, c_in, h, w))
    assert out.shape == (n, c_out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
    assert not out.requires_grad  # no autograd anywhere


@pytest.mark.parametrize("k, s, p, op", [(2, 2, 0, 0), (3, 2, 1, 1), (4, 2, 1, 0), (3, 1, 0, 0), (5, 3, 2, 2)])
def test_conv_transpose2d_matches_torch(g, k, s, p, op):
    mine = S.ConvTranspose2d(3, 2, k, stride=s, padding=p, output_padding=op, generator=g, dtype=F64)
    reference = nn.ConvTranspose2d(3, 2, k, stride=s, padding=p, output_padding=op).double()
    assert_agrees(S.compare_with_torch(mine, reference, randn(g, 2, 3, 5, 4)))


@pytest.mark.parametrize(
    "mine, reference",
    [
        (S.ReLU(), nn.ReLU()),
        (S.Sigmoid(), nn.Sigmoid()),
        (S.NearestUpsample(2), nn.Upsample(scale_factor=2, mode="nearest")),
        (S.NearestUpsample(3), nn.Upsample(scale_factor=3, mode="nearest")),
    ],
    ids=["relu", "sigmoid", "upsample2", "upsample3"],
)
def test_parameter_free_layers_match_torch(g, mine, reference):
    diffs = S.compare_with_torch(mine, reference, randn(g, 2, 3, 4, 5))
    assert set(diffs) == {"output", "input gradient"}
    assert_agrees(diffs)


def test_sequential_and_upsampling_match_torch(g):
    mine = S.Sequential(
        S.Conv2d(1, 4, 3, stride=2, padding=1, generator=g, dtype=F64),
        S.ReLU(),
        S.Upsampling(4, 2, generator=g, dtype=F64),
        S.Sigmoid(),
    )
    reference = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(4, 2, 3, padding=1)),
        nn.Sigmoid(),
    ).double()
    diffs = S.compare_with_torch(mine, reference, randn(g, 2, 1, 8, 6))
    assert list(diffs)[2:] == ["0.weight gradient", "0.bias gradient", "2.1.weight gradient", "2.1.bias gradient"]
    assert_agrees(diffs)
    assert len(mine.parameters()) == 4 and mine(randn(g, 1, 1, 8, 6)).shape == (1, 2, 8, 6)
    assert "Upsampling(" in repr(mine) and "NearestUpsample(2)" in repr(mine)


def test_finite_differences_agree_with_backward_and_see_a_wrong_one(g):
    conv = S.Conv2d(2, 3, 3, stride=2, padding=1, generator=g, dtype=F64)
    diffs = S.finite_difference_check(conv, randn(g, 2, 2, 6, 5), generator=g)
    assert list(diffs) == ["input gradient", "parameter 0 gradient", "parameter 1 gradient"]
    assert all(v < 1e-7 for v in diffs.values()), diffs

    class HalfBias(S.Conv2d):
        def backward(self, grad_output):
            out = super().backward(grad_output)
            self.bias.grad *= 0.5
            return out

    wrong = S.finite_difference_check(HalfBias(2, 3, 3, generator=g, dtype=F64), randn(g, 1, 2, 5, 5), generator=g)
    assert wrong["parameter 1 gradient"] > 1e-2 and wrong["input gradient"] < 1e-7
    with pytest.raises(ValueError, match="float64"):
        S.finite_difference_check(S.Conv2d(1, 1, 3), torch.randn(1, 1, 4, 4))


def test_mse_loss_value_and_gradient(g):
    p, t = randn(g, 3, 1, 4, 5), randn(g, 3, 1, 4, 5)
    loss = S.MSELoss()
    pr = p.clone().requires_grad_(True)
    want = nn.functional.mse_loss(pr, t)
    want.backward()
    assert torch.allclose(loss(p, t), want.detach()) and torch.allclose(loss.backward(), pr.grad)
    with pytest.raises(ValueError, match="differ in shape"):
        loss(p, t[:1])
    with pytest.raises(RuntimeError, match="before forward"):
        S.MSELoss().backward()


def test_backward_before_forward_and_bad_inputs_say_what_to_do():
    with pytest.raises(RuntimeError, match="before forward"):
        S.ReLU().backward(torch.ones(3))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        S.Conv2d(1, 2, 3)(torch.ones(5, 5))
    with pytest.raises(ValueError, match="expects 3 input channels"):
        S.Conv2d(3, 2, 3)(torch.ones(1, 1, 5, 5))
    with pytest.raises(TypeError, match="no backward"):
        S.Sequential(S.ReLU(), nn.ReLU())
    with pytest.raises(TypeError, match="Parameter objects"):
        S.Adam(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="different|parameter tensors"):
        S.copy_parameters(S.Conv2d(1, 2, 3), nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)))
    with pytest.raises(ValueError, match="shape"):
        S.copy_parameters(S.Conv2d(1, 2, 3), nn.Conv2d(1, 2, 5))


def _torch_twin_steps(optimizer_mine, optimizer_theirs, g, steps=4):
    starts = [randn(g, 3, 4), randn(g, 5)]
    mine = [S.Parameter(s.clone()) for s in starts]
    theirs = [s.clone().requires_grad_(True) for s in starts]
    a, b = optimizer_mine(mine), optimizer_theirs(theirs)
    for _ in range(steps):
        for p, q in zip(mine, theirs):
            p.grad = randn(g, *p.shape)
            q.grad = p.grad.clone()
        a.step()
        b.step()
    return max(float((p.value - q.detach()).abs().max()) for p, q in zip(mine, theirs))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(g, momentum):
    d = _torch_twin_steps(
        lambda ps: S.SGD(ps, lr=0.1, momentum=momentum), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=momentum), g
    )
    assert d < EXACT


def test_adam_matches_torch_and_its_first_step_is_about_lr(g):
    d = _torch_twin_steps(
        lambda ps: S.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
        g,
    )
    assert d < EXACT
    p = S.Parameter(torch.zeros(100, dtype=F64))
    p.grad = randn(g, 100) * 1e-3
    S.Adam([p], lr=0.01).step()
    assert torch.allclose(p.value.abs(), torch.full((100,), 0.01, dtype=F64), rtol=1e-3)


def test_a_model_trains_and_its_torch_twin_follows_the_same_steps(g):
    def scratch_net():
        return S.Sequential(
            S.Conv2d(1, 4, 3, stride=2, padding=1, generator=g, dtype=F64),
            S.ReLU(),
            S.Upsampling(4, 1, generator=g, dtype=F64),
            S.Sigmoid(),
        )

    mine = scratch_net()
    twin = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(4, 1, 3, padding=1),
        nn.Sigmoid(),
    ).double()
    S.copy_parameters(mine, twin)
    target = torch.rand(4, 1, 8, 8, generator=g, dtype=F64)
    x = target + 0.1 * randn(g, 4, 1, 8, 8)
    opt, opt_twin, loss = S.Adam(mine.parameters(), lr=0.03), torch.optim.Adam(twin.parameters(), lr=0.03), S.MSELoss()
    losses = []
    for _ in range(50):
        opt.zero_grad()
        losses.append(float(loss(mine(x), target)))
        mine.backward(loss.backward())
        opt.step()
        opt_twin.zero_grad()
        nn.functional.mse_loss(twin(x), target).backward()
        opt_twin.step()
    assert losses[-1] < 0.7 * losses[0]
    assert max(float((p.value - q.detach()).abs().max()) for p, q in zip(mine.parameters(), twin.parameters())) < 1e-9


# ---------------------------------------------------------------- the self-checks


def test_course_versions_pass_every_check(capsys):
    for check, cls in (
        (check_relu, S.ReLU),
        (check_conv2d, S.Conv2d),
        (check_mse_loss, S.MSELoss),
        (check_adam, S.Adam),
    ):
        assert check(cls).passed is True
    out = capsys.readouterr().out
    assert out.count("✅") == 4 and "❌" not in out


def test_not_written_yet_is_not_done(capsys):
    class Todo(S.ReLU):
        def backward(self, grad_output):
            raise NotImplementedError("ReLU.backward: not written yet")

    class TodoAdam(S.Adam):
        def step(self):
            raise NotImplementedError

    assert check_relu(Todo).passed is None and check_adam(TodoAdam).passed is None
    assert capsys.readouterr().out.count("not done yet") == 2


def test_relu_check_says_the_input_gradient_is_wrong(capsys):
    class MaskOnly(S.ReLU):
        def backward(self, grad_output):
            return self._mask.to(grad_output.dtype)

    assert check_relu(MaskOnly).passed is False
    out = capsys.readouterr().out
    assert "the input gradient is off by up to" in out and "; right: output" in out and "grad_output * mask" in out


class _Conv(S.Conv2d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weight.grad, self.bias.grad = self.weight.grad.clone(), self.bias.grad.clone()


def test_conv2d_check_names_the_wrong_gradient_and_its_size(capsys):
    class BiasNotSummedOverBatch(_Conv):
        def backward(self, grad_output):
            before = self.bias.grad.clone()
            out = super().backward(grad_output)
            self.bias.grad = before + grad_output[0].sum(dim=(1, 2))
            return out

    assert check_conv2d(BiasNotSummedOverBatch).passed is False
    out = capsys.readouterr().out
    assert "the bias gradient is off by up to" in out and "max abs difference" in out
    assert "; right: output, input gradient, weight gradient" in out and "dims 0, 2 and 3" in out
    assert "the weight gradient is off" not in out

    class NoFoldStride(_Conv):
        def backward(self, grad_output):
            cols, size = self._cache
            g = grad_output.reshape(grad_output.shape[0], self.out_channels, -1)
            self.weight.grad += (g @ cols.transpose(1, 2)).sum(0).reshape(self.weight.shape)
            self.bias.grad += g.sum(dim=(0, 2))
            grad_cols = self.weight.value.reshape(self.out_channels, -1).T @ g
            return torch.nn.functional.fold(grad_cols, size, self.kernel_size, padding=self.padding)

    assert check_conv2d(NoFoldStride).passed is False
    out = capsys.readouterr().out
    assert "stride 2, padding 1 raised RuntimeError" in out and "F.fold" in out and "stride=..." in out


def test_conv2d_check_wants_gradients_accumulated(capsys):
    class Replaces(_Conv):
        def backward(self, grad_output):
            self.weight.grad.zero_()
            self.bias.grad.zero_()
            return super().backward(grad_output)

    assert check_conv2d(Replaces).passed is False
    out = capsys.readouterr().out
    assert "not the sum of both" in out and "+=" in out


@pytest.mark.parametrize(
    "factor, said", [(0.5, "half the right one"), (-1.0, "sign is wrong"), (None, "divided by the batch size only")]
)
def test_mse_check_explains_typical_mistakes(capsys, factor, said):
    class Wrong(S.MSELoss):
        def backward(self):
            if factor is None:
                return 2 * self._diff / self._diff.shape[0]
            return factor * super().backward()

    assert check_mse_loss(Wrong).passed is False
    out = capsys.readouterr().out
    assert "the gradient is off by up to" in out and said in out


def test_adam_check_spots_a_missing_bias_correction_and_lost_state(capsys):
    class NoCorrection(S.Adam):
        def step(self):
            self.t += 1
            b1, b2 = self.betas
            for p, m, v in zip(self.parameters, self.m, self.v):
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.value -= self.lr * m / (v.sqrt() + self.eps)

    class Forgets(S.Adam):
        def step(self):
            self.m = [torch.zeros_like(m) for m in self.m]
            self.v = [torch.zeros_like(v) for v in self.v]
            self.t = 0
            super().step()

    assert check_adam(NoCorrection).passed is False
    out = capsys.readouterr().out
    assert "after step 1, parameter 0 differs from torch.optim.Adam by up to" in out and "bias correction" in out
    assert check_adam(Forgets).passed is False
    out = capsys.readouterr().out
    assert "after step 2" in out and "the first step was right" in out
