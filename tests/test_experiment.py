"""The nntools-like Experiment: checkpoints every epoch, resumes, refuses another configuration."""

import json

import pytest
import torch

from course_utils.checkpoints import CheckpointError
from course_utils.dncnn import DnCNN
from course_utils.experiment import Experiment, ExperimentMismatch


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.clean = torch.rand(n, 1, 16, 16, generator=g)
        self.noisy = self.clean + 0.1 * torch.randn(n, 1, 16, 16, generator=g)

    def __len__(self):
        return len(self.clean)

    def __getitem__(self, i):
        return self.noisy[i], self.clean[i]


def make(tmp_path, lr=1e-3, **config):
    torch.manual_seed(0)
    model = DnCNN(2, 8, channels=1)
    return Experiment(
        model,
        Pairs(8, 0),
        Pairs(4, 1),
        torch.optim.Adam(model.parameters(), lr=lr),
        tmp_path / "run",
        batch_size=4,
        device="cpu",
        config=config,
    )


def test_runs_checkpoints_and_resumes(tmp_path):
    exp = make(tmp_path, sigma=25)
    seen = []
    history = exp.run(2, plot=lambda e: seen.append(e.epoch), progress=False)
    assert [h["epoch"] for h in history] == [1, 2] and seen == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "train_psnr", "val_loss", "val_psnr", "seconds"}
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["sigma"] == 25
    weights = {k: v.clone() for k, v in exp.model.state_dict().items()}

    again = make(tmp_path, sigma=25)  # a new session: resumes after epoch 2
    assert again.epoch == 2 and again.history == history
    assert all(torch.equal(v, again.model.state_dict()[k]) for k, v in weights.items())
    assert again.optimizer.state_dict()["state"]  # Adam's moments came back too
    again.run(3, progress=False)
    assert again.epoch == 3 and make(tmp_path, sigma=25).epoch == 3
    assert again.run(3, progress=False) == again.history  # nothing left to do


def test_refuses_a_different_configuration(tmp_path):
    make(tmp_path, sigma=25).run(1, progress=False)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(ExperimentMismatch, match="differs in: optimizer"):
        make(tmp_path, lr=1e-2, sigma=25)
    with pytest.raises(ExperimentMismatch, match="sigma"):
        make(tmp_path, sigma=50)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before  # untouched


def test_learning_improves_validation_psnr(tmp_path):
    exp = make(tmp_path)
    start = exp.evaluate()["val_psnr"]
    exp.run(15, progress=False)
    assert exp.history[-1]["val_psnr"] > start


def test_scheduler_is_stepped_per_batch_and_resumed(tmp_path):
    def build():
        torch.manual_seed(0)
        model = DnCNN(2, 8, channels=1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=6)  # 3 epochs x 2 batches
        return Experiment(
            model, Pairs(8, 0), Pairs(4, 1), opt, tmp_path / "run", batch_size=4, device="cpu", scheduler=sched
        )

    exp = build()
    exp.run(1, progress=False)
    assert exp.scheduler.last_epoch == 2
    lr_after_one = exp.optimizer.param_groups[0]["lr"]
    again = build()  # a new session: the schedule continues where it stopped
    assert again.scheduler.last_epoch == 2 and again.optimizer.param_groups[0]["lr"] == lr_after_one
    again.run(3, progress=False)
    assert again.scheduler.last_epoch == 6 and again.optimizer.param_groups[0]["lr"] < 0.2 * lr_after_one  # annealed
    assert json.loads((tmp_path / "run" / "config.json").read_text())["scheduler"] == "OneCycleLR"


# Hardening (issue 18): an experiment never loses its last good checkpoint, never restarts over one, never lies.


def flaky_mse(out, y):
    """MSE that turns to NaN when ``flaky_mse.nan`` is set (a run that diverges, on demand)."""
    loss = torch.nn.functional.mse_loss(out, y)
    if flaky_mse.nan:
        return loss * float("nan")
    if flaky_mse.interrupt_at is not None:
        flaky_mse.calls += 1
        if flaky_mse.calls == flaky_mse.interrupt_at:
            raise KeyboardInterrupt
    return loss


def build(tmp_path, scheduler_steps=None, loss_fn=None, train=8, val=4, batch_size=4):
    torch.manual_seed(0)
    model = DnCNN(2, 8, channels=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = None
    if scheduler_steps is not None:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=scheduler_steps)
    return Experiment(
        model,
        Pairs(train, 0),
        Pairs(val, 1),
        opt,
        tmp_path / "run",
        batch_size=batch_size,
        device="cpu",
        scheduler=sched,
        loss_fn=loss_fn,
    )


@pytest.fixture
def flaky():
    flaky_mse.nan, flaky_mse.interrupt_at, flaky_mse.calls = False, None, 0
    yield flaky_mse
    flaky_mse.nan, flaky_mse.interrupt_at, flaky_mse.calls = False, None, 0


def same_state(exp, state):
    return all(torch.equal(v, state[k]) for k, v in exp.model.state_dict().items())


def test_a_diverging_run_keeps_the_last_good_checkpoint(tmp_path, flaky):
    exp = build(tmp_path, loss_fn=flaky)
    exp.run(1, progress=False)
    before = exp.checkpoint_path.read_bytes()
    flaky.nan = True
    with pytest.raises(FloatingPointError, match=r"loss became nan in epoch 2, batch 1") as info:
        exp.run(3, progress=False)
    message = str(info.value)
    assert "checkpoint of epoch 1" in message and "lower learning rate" in message
    assert exp.checkpoint_path.read_bytes() == before and exp.epoch == 1  # the good file and history are kept
    assert all(torch.isfinite(v).all() for v in exp.model.state_dict().values() if v.is_floating_point())
    flaky.nan = False
    assert build(tmp_path, loss_fn=flaky).epoch == 1


def test_nan_weights_are_never_saved(tmp_path, flaky):
    exp = build(tmp_path, loss_fn=flaky)
    exp.run(1, progress=False)
    before = exp.checkpoint_path.read_bytes()
    real_step = exp.optimizer.step

    def poisoned_step(*args, **kwargs):  # a finite loss, but the update gives NaN weights
        real_step(*args, **kwargs)
        with torch.no_grad():
            next(exp.model.parameters()).fill_(float("nan"))

    exp.optimizer.step = poisoned_step
    with pytest.raises(FloatingPointError, match="weights"):
        exp.run(2, progress=False)
    assert exp.checkpoint_path.read_bytes() == before and exp.epoch == 1


def test_a_missing_config_next_to_a_checkpoint_is_refused(tmp_path):
    make(tmp_path, sigma=25).run(1, progress=False)
    run = tmp_path / "run"
    before = (run / "checkpoint.pt").read_bytes()
    (run / "config.json").unlink()
    with pytest.raises(ExperimentMismatch, match="no config.json") as info:
        make(tmp_path, sigma=25)
    assert "restore its config.json" in str(info.value) and "delete checkpoint.pt" in str(info.value)
    assert (run / "checkpoint.pt").read_bytes() == before and not (run / "config.json").exists()


def test_an_interrupted_epoch_is_rolled_back_and_run_again_continues(tmp_path, flaky):
    exp = build(tmp_path, scheduler_steps=4, loss_fn=flaky)  # one-cycle over 2 epochs of 2 batches
    exp.run(1, progress=False)
    saved = torch.load(exp.checkpoint_path, weights_only=True)
    flaky.interrupt_at = 2  # Ctrl-C on the second batch of epoch 2
    with pytest.raises(KeyboardInterrupt):
        exp.run(2, progress=False)
    assert exp.epoch == 1 and exp.scheduler.last_epoch == 2  # back at the end of epoch 1, as in the checkpoint
    assert same_state(exp, saved["model"])
    flaky.interrupt_at = None
    exp.run(2, progress=False)  # used to fail with "Tried to step 5 times"
    assert exp.epoch == 2 and exp.scheduler.last_epoch == 4


def test_an_interrupted_first_epoch_goes_back_to_the_start(tmp_path, flaky):
    exp = build(tmp_path, loss_fn=flaky)
    start = {k: v.clone() for k, v in exp.model.state_dict().items()}
    flaky.interrupt_at = 2
    with pytest.raises(KeyboardInterrupt):
        exp.run(1, progress=False)
    assert exp.epoch == 0 and same_state(exp, start) and not exp.optimizer.state_dict()["state"]
    assert not exp.checkpoint_path.exists()


def test_more_epochs_than_the_schedule_was_built_for_is_refused_up_front(tmp_path):
    exp = build(tmp_path, scheduler_steps=4)  # 2 epochs of 2 batches
    with pytest.raises(ValueError, match=r"built for 4 steps \(2 epochs of 2 batches\)") as info:
        exp.run(3, progress=False)  # used to train 2 epochs, then fail with "Tried to step 5 times"
    assert "at most 2 epochs" in str(info.value)
    assert exp.epoch == 0 and not exp.checkpoint_path.exists()
    exp.run(2, progress=False)
    assert exp.run(2, progress=False) == exp.history and exp.epoch == 2  # run(n) means n epochs in all


class Evil:
    def __reduce__(self):
        import os

        return os.system, ("touch pwned",)


def test_a_damaged_or_malicious_checkpoint_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, sigma=25).run(1, progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="damaged") as info:
        make(tmp_path, sigma=25)
    assert f"Delete {path}" in str(info.value)
    torch.save({"model": Evil(), "optimizer": {}, "scheduler": None, "history": []}, path)
    with pytest.raises(CheckpointError, match="never loaded") as info:
        make(tmp_path, sigma=25)
    assert "weights_only" not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__
    assert not (tmp_path / "pwned").exists()
    torch.save({"model": {}, "history": []}, path)  # readable, but not an experiment's
    with pytest.raises(CheckpointError, match="lacks optimizer"):
        make(tmp_path, sigma=25)
    torch.save({"model": {}, "optimizer": {}, "history": []}, path)  # an experiment's, but not this one's
    with pytest.raises(CheckpointError, match="does not fit this experiment"):
        make(tmp_path, sigma=25)


def test_a_training_set_smaller_than_a_batch_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"3 pairs.*batch_size=4") as info:  # used to record a loss of 0.0
        build(tmp_path, train=3)
    assert "smaller batch_size" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_an_empty_validation_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="validation set is empty"):  # used to divide by zero after an epoch
        build(tmp_path, val=0)
