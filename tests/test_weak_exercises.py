"""The exercises of notebooks 06 and 07 restored for students (issue #21): the course's versions that a stuck
student takes, and their self-checks: a right answer passes, the typical wrong ones are explained."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import course_utils as cu
from course_utils import natural, weak
from course_utils.checks import check_nes_round, check_noise2noise_loss, check_noisy_pair, check_one_cycle_lr
from course_utils.training import one_cycle_lr


# ---------------------------------------------------------------- the course's versions
@pytest.mark.parametrize("total, peak", [(2, 1e-3), (10, 3e-3), (37, 1e-2), (240, 3e-3)])
def test_one_cycle_lr_is_pytorchs_schedule(total, peak):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, peak, total_steps=total)
    for step in range(total):
        assert one_cycle_lr(step, total, peak) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)
        optimizer.step()
        schedule.step()


def test_one_cycle_lr_shape_and_errors():
    rates = [one_cycle_lr(s, 240, 3e-3) for s in range(240)]
    assert rates[0] == pytest.approx(3e-3 / 25) and max(rates) == pytest.approx(3e-3)
    assert rates.index(max(rates)) == 71 and rates[-1] == pytest.approx(3e-3 / 25 / 1e4)
    with pytest.raises(ValueError, match="step must lie in 0 .. total_steps - 1"):
        one_cycle_lr(240, 240, 3e-3)


def test_noise2noise_loss_is_l1():
    a, b = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    assert torch.equal(weak.noise2noise_loss(a, b), F.l1_loss(a, b))


def test_clutter_probability():
    clean = torch.zeros(4, 1, 2, 3)
    noisy = clean.clone()
    noisy[:3, 0, 0, 0] = 1.0
    p = weak.clutter_probability(noisy, clean)
    assert p.shape == (2, 3) and p[0, 0] == 0.75 and p.sum() == 0.75
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        weak.clutter_probability(noisy[:, 0], clean[:, 0])


def test_noisy_pair_supervised_and_noise2noise():
    crops = torch.rand(32, 1, 16, 16)
    x, y = natural.noisy_pair(crops, 25, generator=torch.Generator().manual_seed(1))
    assert torch.equal(y, crops) and abs((x - crops).std().item() - 25 / 255) < 0.01
    x, y = natural.noisy_pair(crops, 25, True, generator=torch.Generator().manual_seed(1))
    first = natural.add_gaussian_noise(crops, 25, generator=torch.Generator().manual_seed(1))
    assert torch.equal(y, first) and not torch.equal(x, y)  # the target's noise first, then the input's


def test_nes_round_is_one_round_of_iterative_nes():
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    mixtures = cu.gen1_NES(8, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    a = cu.UNet(1, 1, 2, depth=1)
    torch.manual_seed(0)
    b = cu.UNet(1, 1, 2, depth=1)
    one = weak.nes_round(a, mixtures, mixtures.clone(), steps=2, batch_size=4, generator=g1, device="cpu")
    many = weak.iterative_nes(b, mixtures, rounds=1, steps_per_round=2, batch_size=4, generator=g2, device="cpu")
    assert torch.equal(one, many) and one.min() >= 0 and one.shape == mixtures.shape


# ---------------------------------------------------------------- the self-checks
def test_one_cycle_lr_check(capsys):
    assert check_one_cycle_lr(one_cycle_lr).passed
    assert capsys.readouterr().out.startswith("✅")

    def linear(step, total_steps, peak):
        turn = 0.3 * total_steps - 1
        if step <= turn:
            return peak / 25 + (peak - peak / 25) * step / turn
        return peak + (peak / 25e4 - peak) * (step - turn) / (total_steps - 1 - turn)

    assert check_one_cycle_lr(linear).passed is False
    out = capsys.readouterr().out
    assert "PyTorch uses" in out and "cos(pi * t)" in out

    assert check_one_cycle_lr(lambda step, total_steps, peak: peak).passed is False
    assert "linear(" not in capsys.readouterr().out


def test_noise2noise_loss_check(capsys):
    def l1(output, target):
        return (output - target).abs().mean()

    assert check_noise2noise_loss(l1).passed and check_noise2noise_loss(weak.noise2noise_loss).passed
    capsys.readouterr()

    def l2(output, target):
        return F.mse_loss(output, target)

    assert check_noise2noise_loss(l2).passed is False
    out = capsys.readouterr().out
    assert "conditional mean, as L2" in out and "median" in out and "veil" in out

    def summed(output, target):
        return (output - target).abs().sum()

    assert check_noise2noise_loss(summed).passed is False
    assert "sum of the absolute errors" in capsys.readouterr().out

    def detached(output, target):
        return F.l1_loss(output.detach(), target)

    assert check_noise2noise_loss(detached).passed is False
    assert "no gradient" in capsys.readouterr().out

    def per_pixel(output, target):
        return (output - target).abs()

    assert check_noise2noise_loss(per_pixel).passed is False
    assert "one number" in capsys.readouterr().out


def test_noisy_pair_check(capsys):
    def right(crops, sigma, noisy_targets, generator=None):
        return natural.noisy_pair(crops, sigma, noisy_targets, generator=generator)

    assert check_noisy_pair(right).passed
    capsys.readouterr()

    def input_first(crops, sigma, noisy_targets, generator=None):
        x = natural.add_gaussian_noise(crops, sigma, generator=generator)
        return x, natural.add_gaussian_noise(crops, sigma, generator=generator) if noisy_targets else crops

    assert check_noisy_pair(input_first).passed is False
    assert "draw the target's noise first" in capsys.readouterr().out

    def same_noise(crops, sigma, noisy_targets, generator=None):
        x = natural.add_gaussian_noise(crops, sigma, generator=generator)
        return x, x if noisy_targets else crops

    assert check_noisy_pair(same_noise).passed is False
    assert "same noise as the input" in capsys.readouterr().out

    def wrong_scale(crops, sigma, noisy_targets, generator=None):
        noise = torch.randn(crops.shape, generator=generator) * sigma
        return crops + noise, crops + noise.flip(0) if noisy_targets else crops

    assert check_noisy_pair(wrong_scale).passed is False
    assert "0-255 scale" in capsys.readouterr().out

    def always_clean(crops, sigma, noisy_targets, generator=None):
        return natural.add_gaussian_noise(crops, sigma, generator=generator), crops

    assert check_noisy_pair(always_clean).passed is False
    assert "still the clean crops" in capsys.readouterr().out

    def ignores_generator(crops, sigma, noisy_targets, generator=None):
        return natural.noisy_pair(crops, sigma, noisy_targets)

    assert check_noisy_pair(ignores_generator).passed is False
    assert "does not come from generator" in capsys.readouterr().out


def _round(clip=True, source="estimates", rebuild=False):
    def nes_round(
        model, mixtures, estimates, *, steps, batch_size, lr, make_batch, make_scheduler, generator=None, device=None
    ):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        pool = estimates if source == "estimates" else mixtures
        cu.fit(
            model,
            lambda: make_batch(pool, batch_size, generator=generator),
            F.l1_loss,
            optimizer,
            steps=steps,
            scheduler=make_scheduler(optimizer, steps),
            device=device,
            progress=False,
        )
        out = cu.predict(model, estimates if rebuild else mixtures, device=device)
        return out.clamp_min(0) if clip else out

    return nes_round


def test_nes_round_check(capsys):
    assert check_nes_round(_round()).passed
    capsys.readouterr()
    assert check_nes_round(weak.nes_round).passed  # its progress line stays out of the check's cell
    assert capsys.readouterr().out == "✅ nes_round: correct.\n"
    assert check_nes_round(_round(clip=False)).passed is False
    assert "negative" in capsys.readouterr().out
    assert check_nes_round(_round(source="mixtures")).passed is False
    assert "from the real mixtures: NES makes them from the current estimates" in capsys.readouterr().out
    assert check_nes_round(_round(rebuild=True)).passed is False
    assert "applied to the old estimates" in capsys.readouterr().out

    def no_schedule(
        model, mixtures, estimates, *, steps, batch_size, lr, make_batch, make_scheduler, generator=None, device=None
    ):
        return weak.nes_round(
            model,
            mixtures,
            estimates,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            make_batch=make_batch,
            generator=generator,
            device=device,
            progress=False,
        )

    assert check_nes_round(no_schedule).passed is False
    assert "make_scheduler was called 0 times" in capsys.readouterr().out

    def untrained(model, mixtures, estimates, **kwargs):
        return cu.predict(model, mixtures).clamp_min(0)

    assert check_nes_round(untrained).passed is False
    assert "called 0 times for steps=3" in capsys.readouterr().out


def test_checks_of_06_07_say_not_done(capsys):
    def todo(*args, **kwargs):
        raise NotImplementedError

    for check in (check_one_cycle_lr, check_noise2noise_loss, check_noisy_pair, check_nes_round):
        assert check(todo).passed is None
    assert capsys.readouterr().out.count("⏳") == 4


def test_a_module_is_no_loss():
    assert check_noise2noise_loss(nn.L1Loss()).passed  # an instance of nn.L1Loss computes the same
