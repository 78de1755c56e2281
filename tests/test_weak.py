"""Noise2noise and NES recipes: what goes in and out of each batch, and the NES loop."""

import pytest
import torch

import course_utils as cu
from course_utils import weak
from course_utils.checks import check_one_shot_batches, check_synthetic_mixtures


def test_noise2noise_batches_are_gen_noise2noise():
    a = weak.noise2noise_batches(4, generator=torch.Generator().manual_seed(1))
    b = cu.gen_noise2noise(4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_one_shot_adds_two_noise_samples(g):
    x, y = weak.one_shot_nes_batches(512, generator=g)
    assert (x >= y).all()
    added = (x - y).mean().item()
    single = cu.gen2_NES(512, generator=g).mean().item()
    assert abs(added - 2 * single) < 0.15 * 2 * single


def test_synthetic_mixtures_draw_from_the_pool(g):
    pool = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 1, 64, 64).contiguous()
    x, y = weak.synthetic_mixtures(pool, 64, generator=g)
    assert set(y[:, 0, 0, 0].tolist()) <= set(range(10)) and len(set(y[:, 0, 0, 0].tolist())) > 5
    assert (x >= y).all() and (x > y).any()


def test_iterative_nes_runs_rounds_and_updates_estimates(g):
    mixtures = cu.gen1_NES(8, generator=g)
    seen = []
    model = cu.UNet(1, 1, 2, depth=1)
    est = weak.iterative_nes(
        model,
        mixtures,
        rounds=2,
        steps_per_round=2,
        batch_size=4,
        generator=g,
        device="cpu",
        on_round=lambda k, m, e: seen.append((k, e.shape)),
    )
    assert seen == [(1, mixtures.shape), (2, mixtures.shape)]
    assert est.shape == mixtures.shape and est.min() >= 0 and not torch.equal(est, mixtures)
    with pytest.raises(ValueError, match="rounds"):
        weak.iterative_nes(model, mixtures, rounds=0, steps_per_round=1)


def test_iterative_nes_makes_a_scheduler_per_round(g):
    """make_scheduler(optimizer, steps_per_round) is called once per round, on that round's optimizer, and steps
    with it: a learning rate held at 0 leaves every weight as it was."""
    mixtures = cu.gen1_NES(8, generator=g)
    model = cu.UNet(1, 1, 2, depth=1)
    before = [p.detach().clone() for p in model.parameters()]
    made = []

    def frozen(optimizer, n):
        made.append((optimizer, n))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.0)

    weak.iterative_nes(
        model, mixtures, rounds=3, steps_per_round=2, batch_size=4, make_scheduler=frozen, generator=g, progress=False
    )
    assert [n for _, n in made] == [2, 2, 2] and len({id(o) for o, _ in made}) == 3  # a fresh Adam per round
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(group["lr"] == 0.0 for o, _ in made for group in o.param_groups)


def test_noise2noise_batches_take_the_rate():
    a = weak.noise2noise_batches(4, rate=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a[0], a[1])  # no clutter: both copies are the clean cells


def test_nes_checks(capsys):
    check_one_shot_batches(lambda n: weak.one_shot_nes_batches(n))
    check_synthetic_mixtures(weak.synthetic_mixtures)
    assert capsys.readouterr().out.count("✅") == 2
    check_one_shot_batches(lambda n: cu.gen(n))
    assert "gen1_NES" in capsys.readouterr().out
    check_synthetic_mixtures(
        lambda e, n, generator=None: (e[:1].expand(n, -1, -1, -1) + cu.gen2_NES(n), e[:1].expand(n, -1, -1, -1))
    )
    assert "do not vary" in capsys.readouterr().out
    check_synthetic_mixtures(lambda e, n, generator=None: (_ for _ in ()).throw(NotImplementedError))
    assert "⏳" in capsys.readouterr().out


def test_budget_is_one_place_for_all_weak_supervision_training():
    cu.set_budget("cpu")
    try:
        assert cu.training_sizes("weak") == {
            "steps": 240,
            "batch_size": 16,
            "nes_rounds": 3,
            "pool_size": 2048,
            "lr": 3e-3,
        }
        cu.set_budget("fast")
        assert cu.training_sizes("weak")["steps"] == 4
    finally:
        cu.set_budget(None)
