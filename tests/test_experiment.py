"""The nntools-like Experiment: checkpoints every epoch, resumes, refuses another configuration."""

import json

import pytest
import torch

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
