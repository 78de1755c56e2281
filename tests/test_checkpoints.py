"""Checkpoints rebuild their model; bad files give errors that say what to do; nothing is lost."""

import pytest
import torch
import torch.nn as nn

from course_utils import CheckpointError, UNet, load_checkpoint, register_model, save_checkpoint


@register_model
class Tiny(nn.Module):
    def __init__(self, width=3, name="tiny"):
        super().__init__()
        self.lin = nn.Linear(2, width)


def test_round_trip(tmp_path):
    model = UNet(1, 1, 4, depth=2)
    with torch.no_grad():
        model.outc.conv.bias.fill_(0.25)
    path = save_checkpoint(model, tmp_path / "sub" / "unet.pt", epoch=3, psnr=28.5, note="hello", hist=[1, 2.0])
    loaded = load_checkpoint(path, expect=UNet)
    assert isinstance(loaded, UNet) and loaded.init_args == model.init_args and not loaded.training
    assert loaded.checkpoint_meta == {"epoch": 3, "psnr": 28.5, "note": "hello", "hist": [1, 2.0]}
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    assert load_checkpoint(str(path), expect="UNet").depth == 2
    assert [p.name for p in path.parent.iterdir()] == ["unet.pt"]  # no temporary file left


def test_other_architecture_is_refused(tmp_path):
    path = save_checkpoint(Tiny(4), tmp_path / "tiny.pt")
    with pytest.raises(CheckpointError, match=r"holds a Tiny.*not a UNet"):
        load_checkpoint(path, expect=UNet)
    assert load_checkpoint(path).lin.out_features == 4


def test_corrupt_and_truncated_files(tmp_path):
    path = save_checkpoint(UNet(1, 1, 2, depth=1), tmp_path / "unet.pt")
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    for name in ("trunc.pt", "junk.pt"):
        with pytest.raises(CheckpointError, match="corrupt, truncated"):
            load_checkpoint(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_bare_state_dict_and_pickles_are_refused(tmp_path):
    torch.save(UNet(1, 1, 2, depth=1).state_dict(), tmp_path / "sd.pt")
    with pytest.raises(CheckpointError, match="bare state dict"):
        load_checkpoint(tmp_path / "sd.pt")
    torch.save({"format": "course_utils.checkpoint/1", "evil": Tiny()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "pickle.pt")  # weights_only=True refuses the pickled module


def test_weights_that_do_not_fit(tmp_path):
    path = save_checkpoint(Tiny(3), tmp_path / "t.pt")
    payload = torch.load(path, weights_only=True)
    payload["model_args"]["width"] = 5
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_unknown_class_and_unregistered_model(tmp_path):
    path = save_checkpoint(Tiny(), tmp_path / "t.pt")
    payload = torch.load(path, weights_only=True)
    payload["model_class"] = "Future"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="does not know"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="register_model"):
        save_checkpoint(nn.Linear(2, 2), tmp_path / "lin.pt")
    with pytest.raises(TypeError, match="cannot be stored safely"):
        save_checkpoint(Tiny(), tmp_path / "m.pt", score=torch.tensor(1.0))


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint(Tiny(3), tmp_path / "t.pt")
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(Tiny(7), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.pt"]


def test_atomic_path_keeps_the_old_file_on_failure_and_its_permissions(tmp_path):
    import os

    from course_utils.files import atomic_path

    target = tmp_path / "f.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
