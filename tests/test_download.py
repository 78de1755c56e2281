"""Downloads against a local HTTP server: checksum, cache, no partial files; the Kromp loader on a
small archive of the same layout; the folder loader."""

import functools
import hashlib
import http.server
import io
import socket
import struct
import threading
import zipfile

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from course_utils.download import REMOTES, DownloadError, Remote, cache_dir, fetch
from course_utils.nuclei_data import load_folder, load_kromp, nuclei_dataset


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/truncated"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.close()
            return
        if self.path.startswith(("/stall", "/reset")):  # headers and a first block, then silence or a reset
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            if self.path.startswith("/stall"):
                self.server.stop.wait(10)  # until the test is over (bounded)
            else:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            self.wfile = io.BytesIO()  # nothing more to send on the closed socket
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.stop = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.stop.set()
    httpd.shutdown()


def _remote(root, base, name, data: bytes, sha=None):
    (root / name).write_bytes(data)
    return Remote(f"{base}/{name}", sha or hashlib.sha256(data).hexdigest(), name)


def test_registry_has_the_published_checksums():
    assert REMOTES["kromp2020"].sha256 == "8285987ed4d57c46a46a55a33c1c085875ea41f429b59cde31d249741aa07ad1"
    assert REMOTES["bsds300"].sha256 == "a5f7d0e49fe135c75518a3543ced24470156fd69305ae77845dff2a5138652b4"
    assert REMOTES["kromp2020"].url.startswith("https://www.ebi.ac.uk/")


def test_fetch_downloads_verifies_and_caches(server, tmp_path):
    root, base = server
    r = _remote(root, base, "a.bin", b"hello" * 1000)
    path = fetch(r, cache=tmp_path / "cache", progress=False)
    assert path.read_bytes() == b"hello" * 1000
    (root / "a.bin").unlink()  # now only the cache can answer
    assert fetch(r, cache=tmp_path / "cache", progress=False) == path


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    root, base = server
    r = _remote(root, base, "b.bin", b"data", sha="0" * 64)
    with pytest.raises(DownloadError, match="SHA-256 .* expected 0000"):
        fetch(r, cache=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_network_errors_leave_nothing(server, tmp_path):
    root, base = server
    with pytest.raises(DownloadError, match="could not download"):
        fetch(Remote(f"{base}/missing.bin", "0" * 64, "missing.bin"), cache=tmp_path / "c1", progress=False)
    with pytest.raises(DownloadError, match="could not download .*Check the internet connection"):
        fetch(Remote(f"{base}/truncated", "0" * 64, "t.bin"), cache=tmp_path / "c2", progress=False)
    assert list((tmp_path / "c1").iterdir()) == [] and list((tmp_path / "c2").iterdir()) == []


@pytest.mark.parametrize("path, reason", [("stall", "no data for 0.3 s"), ("reset", "reset")])
def test_a_stalled_or_reset_download_is_a_download_error(server, tmp_path, path, reason):
    root, base = server
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        fetch(Remote(f"{base}/{path}", "0" * 64, "s.bin"), cache=cache, progress=False, timeout=0.3)
    message = str(info.value)
    assert f"could not download {base}/{path}" in message and reason in message
    assert "Check the internet connection" in message and f"save it as {cache / 's.bin'}" in message
    assert list(cache.iterdir()) == []  # nothing partial


def test_a_bad_cached_file_is_never_overwritten(server, tmp_path):
    root, base = server
    r = _remote(root, base, "c.bin", b"good")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "c.bin").write_bytes(b"mine")
    with pytest.raises(DownloadError, match="Delete it and run again"):
        fetch(r, cache=cache, progress=False)
    assert (cache / "c.bin").read_bytes() == b"mine"


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here" and cache_dir().is_dir()


def _tif(a) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, a)
    return buf.getvalue()


def _kromp_like_zip(n: int = 6) -> bytes:
    """Same layout as the real archive: rawimages/ and groundtruth/ TIFFs, gray 16-bit or RGB with the
    stain in one channel, labelled masks, various sizes."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n):
            h, w = (300, 400) if i % 2 else (256, 256)
            labels = np.zeros((h, w), np.uint16)
            yy, xx = np.mgrid[:h, :w]
            for k in range(1, 6):
                cy, cx = rng.integers(30, h - 30), rng.integers(30, w - 30)
                labels[(yy - cy) ** 2 + (xx - cx) ** 2 < 25**2] = k
            signal = (labels > 0) * 3000 + rng.integers(0, 200, (h, w))
            raw = (
                signal.astype(np.uint16)
                if i % 3
                else np.stack([0 * signal, 0 * signal, signal // 13], -1).astype(np.uint8)
            )
            z.writestr(f"dataset/rawimages/Image_{i}.tif", _tif(raw))
            z.writestr(f"dataset/groundtruth/Image_{i}.tif", _tif(labels))
            z.writestr(f"dataset/groundtruth_svgs/Image_{i}.svg", "<svg/>")
    return buf.getvalue()


def test_load_kromp_from_a_local_archive(server, tmp_path):
    root, base = server
    r = _remote(root, base, "kromp_test.zip", _kromp_like_zip(6))
    cache = tmp_path / "cache"
    data = load_kromp(remote=r, cache=cache, n_test=2, progress=False)
    assert data.X.shape == data.Y.shape == (6, 1, 128, 128) and data.n_train == 4
    assert data.train[0].shape == (4, 1, 128, 128) and data.test[1].shape == (2, 1, 128, 128)
    assert set(torch.unique(data.Y).tolist()) == {0.0, 1.0}
    assert data.X.min() >= 0 and data.X.max() <= 1
    fg = (data.X * data.Y).sum() / data.Y.sum()
    bg = (data.X * (1 - data.Y)).sum() / (1 - data.Y).sum()
    assert fg > 0.6 and bg < 0.1  # the stained channel was picked (also for the RGB files)
    assert all(((x * y).sum() / y.sum()) > 0.6 for x, y in zip(data.X, data.Y))
    assert 0.02 < data.Y.mean() < 0.2
    npz = cache / "kromp_test_128.npz"
    with np.load(npz, allow_pickle=False) as f:  # no pickles inside
        assert f["X"].shape == (6, 1, 128, 128)
    (root / "kromp_test.zip").unlink()
    (cache / "kromp_test.zip").unlink()  # the arrays alone are enough the second time
    again = load_kromp(remote=r, cache=cache, n_test=2, progress=False)
    assert torch.equal(again.X, data.X) and again.names == data.names


def test_load_kromp_refuses_another_archive(server, tmp_path):
    root, base = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("images/a.png", b"")
    r = _remote(root, base, "other.zip", buf.getvalue())
    with pytest.raises(ValueError, match="not the Kromp archive"):
        load_kromp(remote=r, cache=tmp_path / "cache", progress=False)


def test_synthetic_lab_arrays_are_fixed():
    d = nuclei_dataset()
    assert d.X.shape == (79, 1, 128, 128) and d.n_train == 70 and len(d.test[0]) == 9
    assert torch.equal(d.X[:3], nuclei_dataset().X[:3])
    with pytest.raises(ValueError, match="load_folder"):
        nuclei_dataset("mine")


def test_load_folder_pairs_by_name(tmp_path):
    imgs, masks = tmp_path / "images", tmp_path / "masks"
    imgs.mkdir(), masks.mkdir()
    for i in range(5):
        a = np.zeros((60, 80), np.uint8)
        a[10:30, 20:50] = 200
        Image.fromarray(a).save(imgs / f"cell{i}.png")
        Image.fromarray((a > 0).astype(np.uint8) * 255).save(masks / f"cell{i}_mask.png")
    d = load_folder(imgs, masks, size=64, test_fraction=0.2)
    assert d.X.shape == (5, 1, 64, 64) and d.n_train == 4
    assert d.Y.mean().item() == pytest.approx(20 * 30 / (60 * 80), abs=0.02)
    full = load_folder(imgs, masks, size=None)
    assert full.X.shape == (5, 1, 60, 80)
    Image.fromarray(np.zeros((60, 80), np.uint8)).save(imgs / "orphan.png")
    with pytest.raises(ValueError, match="orphan.png"):
        load_folder(imgs, masks)
    (imgs / "orphan.png").unlink()
    (imgs / "broken.tif").write_bytes(b"not a tiff")
    (masks / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(ValueError, match="cannot read image .*broken.tif"):
        load_folder(imgs, masks)


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


GOOD = dict(X=np.zeros((3, 1, 128, 128), np.float32), Y=np.zeros((3, 1, 128, 128), np.float32))
GOOD_NPZ = _npz_bytes(**GOOD, names=np.array(["a", "b", "c"]), n_train=2)


@pytest.mark.parametrize(
    "content",
    [
        b"not a numpy file at all",  # NumPy reads it as a pickle and advises allow_pickle=True
        GOOD_NPZ[: len(GOOD_NPZ) // 2],  # cut short
        _npz_bytes(**GOOD, names=np.array([object()], dtype=object), n_train=2),  # a pickle inside
        _npz_bytes(X=GOOD["X"], names=np.array(["a", "b", "c"]), n_train=2),  # no Y
        _npz_bytes(X=GOOD["X"], Y=GOOD["Y"][:2], names=np.array(["a", "b", "c"]), n_train=2),  # shapes differ
        _npz_bytes(**GOOD, names=np.array(["a", "b", "c"]), n_train=7),
    ],
    ids=["not npz", "cut short", "pickle", "no Y", "shapes", "n_train"],
)
def test_a_damaged_kromp_cache_says_what_to_do(tmp_path, content):
    cache = tmp_path / "cache"
    cache.mkdir()
    npz = cache / "kromp_test_128.npz"
    npz.write_bytes(content)
    r = Remote("http://127.0.0.1:9/none", "0" * 64, "kromp_test.zip")
    with pytest.raises(ValueError) as info:
        load_kromp(remote=r, cache=cache, progress=False)
    message = str(info.value)
    assert f"the cached arrays {npz} are damaged" in message and "Delete that file and run again" in message
    assert "allow_pickle" not in message and "pickle=" not in message
    assert npz.read_bytes() == content  # the file is left as it was


def test_a_good_kromp_cache_is_read(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "kromp_test_128.npz").write_bytes(GOOD_NPZ)
    data = load_kromp(remote=Remote("http://127.0.0.1:9/none", "0" * 64, "kromp_test.zip"), cache=cache)
    assert data.X.shape == (3, 1, 128, 128) and data.n_train == 2 and data.names == ["a", "b", "c"]


# ---------------------------------------------------------------- the real nuclei set that ships (issue #23)
def test_real_nuclei_ship_with_their_masks_licence_and_checksums():
    from course_utils.download import SHIPPED, data_dir
    from course_utils.nuclei_data import real_nuclei

    real = real_nuclei()
    assert [r.source for r in real].count("dsb2018") == 7 and [r.source for r in real].count("kromp2020") == 5
    assert [r.name for r in real_nuclei("kromp2020")] == [r.name for r in real if r.source == "kromp2020"]
    for r in real:
        assert r.image.dtype == np.uint8 and r.labels.dtype == np.uint16 and r.image.shape == r.labels.shape
        assert r.image.shape == ((256, 256) if r.source == "dsb2018" else (512, 512))
        assert r.labels.max() >= 5 and len(np.unique(r.labels)) == r.labels.max() + 1  # numbered 1..k
        assert 0.03 < r.mask.mean() < 0.6 and r.image[r.mask].mean() > r.image[~r.mask].mean()  # nuclei brighter
    folder = data_dir() / "nuclei-real"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.tif"))
    assert files == sorted(SHIPPED["nuclei-real"])  # every file listed, nothing else shipped
    assert sum((folder / f).stat().st_size for f in files) < 3 * 2**20  # a few MB at most
    readme = (folder / "README.md").read_text()
    assert "CC0" in readme and "doi:10.1038/s41592-019-0612-7" in readme and "doi:10.1038/s41597-020-00608-w" in readme
    with pytest.raises(ValueError, match="dsb2018"):
        real_nuclei("bbbc")


def test_shipped_refuses_a_changed_or_missing_file(monkeypatch, tmp_path):
    from course_utils import download

    folder = tmp_path / "nuclei-real" / "images"
    folder.mkdir(parents=True)
    (folder / "a.tif").write_bytes(b"one")
    monkeypatch.setattr(download, "data_dir", lambda: tmp_path)
    monkeypatch.setattr(download, "SHIPPED", {"nuclei-real": {"images/a.tif": hashlib.sha256(b"one").hexdigest()}})
    assert download.shipped("nuclei-real", "images/a.tif") == folder / "a.tif"
    (folder / "a.tif").write_bytes(b"two")
    with pytest.raises(DownloadError, match="git checkout -- data/nuclei-real/images/a.tif"):
        download.shipped("nuclei-real", "images/a.tif")
    (folder / "a.tif").unlink()
    with pytest.raises(FileNotFoundError, match="clone"):
        download.shipped("nuclei-real", "images/a.tif")
    with pytest.raises(KeyError, match="not a file the course ships"):
        download.shipped("nuclei-real", "images/b.tif")
