"""Offline natural images: fixed split, crops, Gaussian noise of the stated sigma."""

import pytest
import torch

from course_utils import natural as N


def test_split_is_fixed_and_disjoint():
    names = [N.TRAIN_IMAGES, N.VAL_IMAGES, N.TEST_IMAGES]
    assert sum(map(len, names)) == len(set().union(*names))  # no photograph in two splits
    assert "cat" not in N.VAL_IMAGES + N.TRAIN_IMAGES  # scikit-image's cat is the test picture chelsea
    train, val, test = N.skimage_images("train"), N.skimage_images("val"), N.skimage_images("test")
    assert len(train) == len(N.TRAIN_IMAGES) and len(val) == 1 and len(test) == 4
    for im in train + val + test:
        assert im.dtype == torch.float32 and im.shape[0] == 1 and 0 <= im.min() and im.max() <= 1
    assert tuple(val[0].shape) == (1, 500, 741)  # the left view of stereo_motorcycle
    colour = N.skimage_images("test", gray=False) + N.skimage_images("val", gray=False)
    assert all(im.shape[0] == 3 for im in colour)
    for bad in ("validation", "all"):
        with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'test'"):
            N.skimage_images(bad)
        with pytest.raises(ValueError, match="split must be one of"):
            N.natural_images("bsds300", bad)  # refused before anything is downloaded


def test_tiles_cut_a_photograph_into_a_fixed_set_of_images():
    image = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(2, 5, 7)
    cut = N.tiles([image, image[:, :2, :2]], 2)  # the small image gives one tile
    assert len(cut) == 2 * 3 + 1 and all(t.shape == (2, 2, 2) for t in cut)
    assert torch.equal(cut[0], image[:, :2, :2]) and torch.equal(cut[1], image[:, :2, 2:4])
    assert torch.equal(cut[3], image[:, 2:4, :2])  # row by row; the last row and column are dropped
    val = N.tiles(N.skimage_images("val"), 240)
    assert len(val) == 6  # 500x741: 2 rows of 3
    with pytest.raises(ValueError, match="smaller tile size"):
        N.tiles([image], 8)


def test_split_every_holds_out_every_nth_item():
    items = list(range(200))
    val, train = N.split_every(items, 10, "val"), N.split_every(items, 10, "train")
    assert val == list(range(9, 200, 10)) and len(train) == 180 and not set(val) & set(train)
    assert sorted(val + train) == items
    with pytest.raises(ValueError, match="every must be >= 2"):
        N.split_every(items, 1, "val")
    with pytest.raises(ValueError, match="part must be 'train' or 'val'"):
        N.split_every(items, 10, "test")


def test_crops(g):
    images = N.skimage_images("test")
    crops = N.random_crops(images, 10, 48, generator=g)
    assert crops.shape == (10, 1, 48, 48)
    again = N.random_crops(images, 10, 48, generator=torch.Generator().manual_seed(1234))
    assert torch.equal(crops, again)  # reproducible with a generator
    centre = N.centre_crops(images, 256)
    assert centre.shape == (4, 1, 256, 256)
    assert torch.equal(centre[0], images[0][:, 128:384, 128:384])  # camera is 512x512
    with pytest.raises(ValueError, match="smaller crop"):
        N.random_crops(images, 1, 5000)
    with pytest.raises(ValueError, match="centre crop"):
        N.centre_crops(images, 1000)


def test_noise_has_the_stated_sigma(g):
    clean = torch.full((4, 1, 128, 128), 0.5)
    noisy = N.add_gaussian_noise(clean, 25, generator=g)
    assert abs((noisy - clean).std().item() * 255 - 25) < 0.5
    assert abs((noisy - clean).mean().item()) < 0.002
    assert torch.equal(N.add_gaussian_noise(clean, 0), clean)
    with pytest.raises(ValueError, match="0-255"):
        N.add_gaussian_noise(clean, -1)


# ---------------------------------------------------------------- BSDS300, folders, noisy crops
import hashlib  # noqa: E402
import io  # noqa: E402
import tarfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from course_utils.download import Remote  # noqa: E402
from course_utils.natural import NoisyCrops, folder_images, load_bsds300, natural_images  # noqa: E402

SHARED_BSDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsds500-train"


def _jpegs(n):
    """n real BSDS JPEGs when the shared folder is there, else small synthetic JPEGs."""
    if SHARED_BSDS.is_dir():
        return [(p.name, p.read_bytes()) for p in sorted(SHARED_BSDS.glob("*.jpg"))[:n]]
    from PIL import Image

    out = []
    for i in range(n):
        buf = io.BytesIO()
        Image.fromarray((np.random.default_rng(i).random((321, 481, 3)) * 255).astype(np.uint8)).save(buf, "JPEG")
        out.append((f"{i}.jpg", buf.getvalue()))
    return out


def test_folder_images_reads_real_jpegs(tmp_path):
    for name, data in _jpegs(3):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "notes.txt").write_text("ignored")
    gray, colour = folder_images(tmp_path), natural_images(str(tmp_path), gray=False)
    assert len(gray) == 3 and all(t.shape[0] == 1 and t.dtype == torch.float32 for t in gray)
    assert all(t.shape[0] == 3 and 0 <= t.min() and t.max() <= 1 for t in colour)
    assert {tuple(t.shape[1:]) for t in gray} <= {(321, 481), (481, 321)}
    (tmp_path / "broken.jpg").write_bytes(b"no jpeg")
    with pytest.raises(ValueError, match="cannot read image .*broken.jpg"):
        folder_images(tmp_path)
    with pytest.raises(ValueError, match="'skimage', 'bsds300' or an existing folder"):
        natural_images("nowhere")


def _bsds_tgz(extra=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, (name, data) in enumerate(_jpegs(6)):
            info = tarfile.TarInfo(f"BSDS300/images/{'train' if i < 4 else 'test'}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra:
            info = tarfile.TarInfo(extra)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


def test_load_bsds300_from_a_local_archive(tmp_path):
    import functools
    import http.server
    import threading

    www = tmp_path / "www"
    www.mkdir()
    data = _bsds_tgz()
    (www / "BSDS300-images.tgz").write_bytes(data)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        remote = Remote(
            f"http://127.0.0.1:{httpd.server_address[1]}/BSDS300-images.tgz",
            hashlib.sha256(data).hexdigest(),
            "BSDS300-images.tgz",
        )
        cache = tmp_path / "cache"
        train = load_bsds300("train", remote=remote, cache=cache, progress=False)
        test = load_bsds300("test", gray=False, remote=remote, cache=cache, progress=False)
    finally:
        httpd.shutdown()
    assert len(train) == 4 and len(test) == 2 and test[0].shape[0] == 3
    assert not list(cache.glob("*.part"))  # no leftovers of the unpacking
    (cache / "BSDS300-images.tgz").unlink()  # unpacked images are enough from now on
    assert len(load_bsds300("train", remote=remote, cache=cache)) == 4


def test_load_bsds300_refuses_unsafe_archives(tmp_path):
    bad = _bsds_tgz(extra="../evil.txt")
    (tmp_path / "BSDS300-images.tgz").write_bytes(bad)
    remote = Remote("http://127.0.0.1:9/none", hashlib.sha256(bad).hexdigest(), "BSDS300-images.tgz")
    with pytest.raises(ValueError, match="unsafe member"):
        load_bsds300(remote=remote, cache=tmp_path, progress=False)
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "BSDS300").exists()


def test_noisy_crops_train_and_test():
    images = [torch.rand(1, 60, 80), torch.rand(1, 70, 50)]
    train = NoisyCrops(images, 40, sigma=30, length=50)
    noisy, clean = train[0]
    assert len(train) == 50 and noisy.shape == clean.shape == (1, 40, 40)
    assert (noisy - clean).std().item() == pytest.approx(30 / 255, rel=0.1)
    assert not torch.equal(train[0][0], train[0][0])  # fresh noise at every access
    test = NoisyCrops(images, 48, sigma=25, train=False)
    assert len(test) == 2 and torch.equal(test[1][0], test[1][0])  # fixed test noise
    assert torch.equal(test[0][1], images[0][:, 6:54, 16:64])  # the centre crop
    with pytest.raises(ValueError, match="no image is at least 100x100"):
        NoisyCrops(images, 100, sigma=25)


# ---------------------------------------------------------------- BSDS300: a partial folder is repaired, safe modes
import os  # noqa: E402
import stat  # noqa: E402
import warnings  # noqa: E402

SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def _cached_bsds(tmp_path, data=None):
    """A cache folder holding a BSDS300-like archive, and the Remote that names it (never reached)."""
    data = data or _bsds_tgz()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "BSDS300-images.tgz").write_bytes(data)
    return cache, Remote("http://127.0.0.1:9/none", hashlib.sha256(data).hexdigest(), "BSDS300-images.tgz")


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_partial_bsds300_folder_is_repaired(tmp_path):
    cache, remote = _cached_bsds(tmp_path)
    assert len(load_bsds300("train", remote=remote, cache=cache, progress=False)) == 4
    root = cache / "BSDS300"
    complete = _files(root)
    train = sorted((root / "images" / "train").iterdir())
    train[0].unlink()  # an interrupted unpacking: a file missing, another cut short
    train[1].write_bytes(train[1].read_bytes()[:100])
    with pytest.warns(UserWarning, match=r"BSDS300 .* was incomplete .* unpacked again"):
        images = load_bsds300("train", remote=remote, cache=cache, progress=False)
    assert len(images) == 4 and _files(root) == complete
    assert sorted(p.name for p in cache.iterdir()) == ["BSDS300", "BSDS300-images.tgz"]  # nothing half-done left
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete folder is used as it is
        assert len(load_bsds300("test", remote=remote, cache=cache, progress=False)) == 2


def test_a_partial_bsds300_folder_made_by_hand_is_repaired(tmp_path):
    """A folder unpacked by hand (no record of the course's unpacking), interrupted: the test images are
    missing. Checked against the archive in the cache; a file of the user's in it is kept aside."""
    cache, remote = _cached_bsds(tmp_path)
    with tarfile.open(cache / "BSDS300-images.tgz") as tar:
        tar.extractall(cache, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(cache)
    complete = _files(cache / "BSDS300")
    for p in (cache / "BSDS300" / "images" / "test").iterdir():
        p.unlink()
    (cache / "BSDS300" / "my_notes.txt").write_text("mine")
    with pytest.warns(UserWarning, match=r"my_notes.txt.*kept in .*BSDS300\..*incomplete"):
        assert len(load_bsds300("test", remote=remote, cache=cache, progress=False)) == 2
    assert {k: v for k, v in _files(cache / "BSDS300").items() if not k.startswith(".")} == complete
    (aside,) = cache.glob("BSDS300.*incomplete")
    assert (aside / "BSDS300" / "my_notes.txt").read_text() == "mine"  # never deleted


def test_an_official_bsds300_folder_without_its_archive_is_checked_by_count(tmp_path):
    from PIL import Image

    from course_utils.download import REMOTES, DownloadError

    remote = Remote("http://127.0.0.1:9/none", REMOTES["bsds300"].sha256, "BSDS300-images.tgz")
    root = tmp_path / "BSDS300" / "images"
    for split, n in (("train", 200), ("test", 100)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (4, 4), i).save(root / split / f"{i}.jpg")
    assert len(load_bsds300("test", remote=remote, cache=tmp_path, progress=False)) == 100  # offline: fine
    (root / "train" / "7.jpg").unlink()
    with pytest.raises(DownloadError, match="could not download"):  # 199 of 200: the archive is needed
        load_bsds300("test", remote=remote, cache=tmp_path, progress=False)
    assert len(list((root / "train").iterdir())) == 199  # left as it was


@pytest.mark.parametrize("fallback", [False, True], ids=["data filter", "older Python"])
def test_bsds300_extraction_drops_special_mode_bits(tmp_path, monkeypatch, fallback):
    if fallback:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    buf = io.BytesIO()
    (name, jpeg), (name2, jpeg2) = _jpegs(2)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, mode in (("BSDS300", 0o1777), ("BSDS300/images", 0o2775), ("BSDS300/images/train", 0o755)):
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        for path, data, mode in ((name, jpeg, 0o4755), (name2, jpeg2, 0o6777)):
            info = tarfile.TarInfo(f"BSDS300/images/train/{path}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("BSDS300/images/test")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    cache, remote = _cached_bsds(tmp_path, buf.getvalue())
    umask = os.umask(0o022)  # new folders: rwxr-xr-x, whatever the machine's setting
    try:
        assert len(load_bsds300("train", remote=remote, cache=cache, progress=False)) == 2
    finally:
        os.umask(umask)
    for p in [cache / "BSDS300", *(cache / "BSDS300").rglob("*")]:
        mode = p.stat().st_mode
        assert not mode & SPECIAL_BITS and not mode & 0o022, (p, oct(mode))


def test_bsds300_validation_split_is_held_out_of_its_training_split(monkeypatch):
    """natural_images("bsds300", "val") is every tenth of the archive's 200 training photographs, "train" the
    other 180, "test" its test folder (load_bsds300 stood in for: no download)."""
    folders = {"train": [torch.full((1, 4, 4), i / 200) for i in range(200)], "test": [torch.zeros(1, 4, 4)] * 100}
    monkeypatch.setattr(N, "load_bsds300", lambda split, gray=True: folders[split])
    train, val = natural_images("bsds300", "train"), natural_images("bsds300", "val")
    assert (len(train), len(val), len(natural_images("bsds300", "test"))) == (180, 20, 100)
    assert not {t.item() for t in torch.stack(train).amax((1, 2, 3))} & {
        v.item() for v in torch.stack(val).amax((1, 2, 3))
    }
    assert val[0] is folders["train"][9]
