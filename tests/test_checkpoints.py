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
        save_checkpoint(Tiny(7), path, overwrite=True)
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


# Hardening (issue 18): save_checkpoint never loses a file; load_checkpoint validates before it builds.


def test_save_refuses_to_replace_a_file_unless_told(tmp_path):
    path = save_checkpoint(Tiny(3), tmp_path / "t.pt", epoch=1)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        save_checkpoint(Tiny(5), path, epoch=2)
    assert str(path) in str(info.value) and "another name" in str(info.value)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["t.pt"]
    save_checkpoint(Tiny(5), path, overwrite=True, epoch=2)
    loaded = load_checkpoint(path)
    assert loaded.lin.out_features == 5 and loaded.checkpoint_meta == {"epoch": 2}  # overwrite is not metadata


def test_save_never_writes_into_the_shipped_checkpoints(tmp_path):
    import os

    from course_utils.download import data_dir

    shipped = data_dir() / "checkpoints"
    reference = shipped / "unet_nuclei.pt"
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    try:
        for target in (reference, shipped / "mine.pt"):
            for overwrite in (False, True):
                with pytest.raises(PermissionError, match="reference models") as info:
                    save_checkpoint(Tiny(), target, overwrite=overwrite)
                assert "another folder" in str(info.value)
        os.symlink(shipped, tmp_path / "linked")  # through a link to the folder: the same folder
        with pytest.raises(PermissionError, match="reference models"):
            save_checkpoint(Tiny(), tmp_path / "linked" / "mine.pt", overwrite=True)
        assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before  # nothing written, nothing left over
    finally:  # should this ever fail, put the shipped files back as they were
        for p in shipped.iterdir():
            if p.name not in before:
                p.unlink()
        for name, data in before.items():
            if (shipped / name).read_bytes() != data:
                (shipped / name).write_bytes(data)


def test_save_never_writes_through_a_symlink(tmp_path):
    import os

    target = save_checkpoint(Tiny(3), tmp_path / "real.pt")
    before = target.read_bytes()
    os.symlink(target, tmp_path / "link.pt")
    os.symlink(tmp_path / "nowhere.pt", tmp_path / "dangling.pt")
    for link in ("link.pt", "dangling.pt"):
        with pytest.raises(PermissionError, match="symbolic link") as info:
            save_checkpoint(Tiny(5), tmp_path / link, overwrite=True)
        assert "pass the file it points to" in str(info.value)
        assert (tmp_path / link).is_symlink()  # still a link, not turned into a plain file
    assert target.read_bytes() == before and not (tmp_path / "nowhere.pt").exists()


def test_save_never_replaces_a_read_only_file(tmp_path):
    import os

    path = save_checkpoint(Tiny(3), tmp_path / "t.pt")
    before = path.read_bytes()
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError, match="read-only") as info:
        save_checkpoint(Tiny(5), path, overwrite=True)
    assert "chmod u+w" in str(info.value)
    assert path.read_bytes() == before and (path.stat().st_mode & 0o777) == 0o444


@register_model
class Wide(nn.Module):
    """A test model that refuses to be built for real at a forged size (so this test never allocates it)."""

    built_for_real = []

    def __init__(self, size=4):
        super().__init__()
        device = torch.empty(0).device.type
        if device != "meta":
            Wide.built_for_real.append(size)
            assert size <= 64, "load_checkpoint built a forged model for real: it would allocate size**2 floats"
        self.lin = nn.Linear(size, size)


def forge(path, **changes):
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, path)


def test_forged_arguments_are_checked_before_anything_is_allocated(tmp_path):
    path = save_checkpoint(Wide(4), tmp_path / "w.pt")
    assert path.stat().st_size < 4000
    Wide.built_for_real.clear()
    forge(path, model_args={"size": 2**20})  # 4 TB of float32, in a file of about 1.5 KB
    with pytest.raises(CheckpointError, match="do not fit") as info:
        load_checkpoint(path)
    assert "size=1048576" in str(info.value) and "edited or damaged" in str(info.value)
    forge(path, model_args={"size": 32})  # small enough to pass the cheap check: built on the meta device only
    with pytest.raises(CheckpointError, match=r"lin\.weight is \(4, 4\), not \(32, 32\)"):
        load_checkpoint(path)
    assert Wide.built_for_real == []  # never built for real


def test_a_forged_unet_width_fails_fast(tmp_path):
    import time

    path = save_checkpoint(UNet(1, 1, 2, depth=2), tmp_path / "u.pt")
    forge(path, model_args={"n_channels": 1, "n_classes": 1, "size": 2048, "depth": 4})  # tens of GB for real
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)
    assert time.perf_counter() - t0 < 5


def test_malformed_checkpoints_give_checkpoint_errors(tmp_path):
    good = save_checkpoint(Tiny(3), tmp_path / "good.pt")
    cases = {
        "no class": ({"model_class": None}, "does not say which model"),
        "class not a name": ({"model_class": 3}, "does not say which model"),
        "no arguments": ({"model_args": None}, "constructor arguments"),
        "arguments not a dict": ({"model_args": [3]}, "constructor arguments"),
        "unknown argument": ({"model_args": {"width": 3, "colour": "red"}}, r"unknown argument.*colour"),
        "wrong argument type": ({"model_args": {"width": "wide"}}, "cannot be built"),
        "no weights": ({"state_dict": None}, "weights"),
        "weights not tensors": ({"state_dict": {"lin.weight": 1.0}}, "weights"),
        "missing weight": ({"state_dict": {"lin.weight": torch.zeros(3, 2)}}, r"do not fit.*lin\.bias"),
        "wrong shape": ({"state_dict": {"lin.weight": torch.zeros(3, 4), "lin.bias": torch.zeros(3)}}, "do not fit"),
        "meta not a dict": ({"meta": [1]}, "metadata"),
    }
    for name, (changes, message) in cases.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(good.read_bytes())
        forge(path, **changes)
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds a Tiny"):  # expect= with forged arguments still a clean error
        forge(tmp_path / "good.pt", model_args={"width": 3, "colour": "red"})
        load_checkpoint(tmp_path / "good.pt", expect=UNet)


def test_every_course_model_still_round_trips(tmp_path):
    from course_utils.checkpoints import MODEL_REGISTRY
    from course_utils.dncnn import DnCNN, DUDnCNN, UDnCNN
    from course_utils.simple_unet import SimpleUNet

    for model in (UNet(1, 1, 4, depth=2), SimpleUNet(2), DnCNN(4, 8, 1), UDnCNN(4, 8, 3), DUDnCNN(4, 8, 3)):
        assert MODEL_REGISTRY[type(model).__name__] is type(model)
        path = save_checkpoint(model, tmp_path / f"{type(model).__name__}.pt")
        loaded = load_checkpoint(path)
        assert loaded.init_args == model.init_args
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_only_the_reference_scripts_write_into_the_reference_folder(tmp_path, monkeypatch):
    import course_utils.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "data_dir", lambda: tmp_path / "data")
    target = tmp_path / "data" / "checkpoints" / "unet_nuclei.pt"
    with pytest.raises(PermissionError, match="reference models"):
        save_checkpoint(Tiny(3), target, overwrite=True)
    save_checkpoint(Tiny(3), target, reference=True)  # scripts/train_*_reference.py
    with pytest.raises(FileExistsError, match="overwrite=True"):  # and even they replace a file only when told
        save_checkpoint(Tiny(5), target, reference=True)
    save_checkpoint(Tiny(5), target, reference=True, overwrite=True)
    assert load_checkpoint(target).lin.out_features == 5
