"""Downloads with a checksum and a cache: the one place for the course's data URLs and SHA-256 sums.

``fetch("kromp2020")`` returns the path of the cached file, downloading it first if needed. A file is
only ever moved into the cache after its SHA-256 matched: a download goes to a temporary ``.part``
file next to it, which is deleted if anything goes wrong, so the cache never holds a partial or
corrupt file. Nothing already in the cache is overwritten or deleted: a cached file with a wrong
checksum stops with a message that says what to do.

The cache folder is, in order: ``$COURSE_DATA_DIR``, ``data/cache/`` of the course repository when the
package runs from a clone (ignored by git), else ``~/.cache/course_utils``.

Why not ``pooch`` (the fetcher scikit-image uses)? It checks SHA-256 sums and downloads through a temporary file
too, but where a cached file no longer matches its hash it downloads again and replaces it; the course never
replaces a file that is already there (it may be the student's own copy, put there by hand while offline) and
says instead what to do. Its offline error does not name the file to put where, which is what a student without
network needs. Wrapping pooch to get both would leave this module as long as it is (about 140 lines, tested in
``tests/test_download.py``) with one more dependency.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_path
from .progress import Progress

__all__ = ["Remote", "REMOTES", "SHIPPED", "DownloadError", "cache_dir", "data_dir", "fetch", "shipped", "sha256sum"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Remote:
    """A file on the web: where it is, its SHA-256 (hex), its name in the cache, what it is."""

    url: str
    sha256: str
    filename: str
    about: str = ""


REMOTES: dict[str, Remote] = {
    # Kromp et al. 2020, "An annotated fluorescence image dataset for training nuclear segmentation
    # methods", Scientific Data 7:262 (BioStudies S-BSST265); checksum as published by a third-party loader.
    "kromp2020": Remote(
        url="https://www.ebi.ac.uk/biostudies/files/S-BSST265/dataset.zip",
        sha256="8285987ed4d57c46a46a55a33c1c085875ea41f429b59cde31d249741aa07ad1",
        filename="kromp2020_dataset.zip",
        about="79 annotated fluorescence nuclei images (Kromp et al. 2020)",
    ),
    # Martin et al. 2001, the Berkeley Segmentation Dataset (200 train / 100 test JPEGs).
    "bsds300": Remote(
        url="https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/BSDS300-images.tgz",
        sha256="a5f7d0e49fe135c75518a3543ced24470156fd69305ae77845dff2a5138652b4",
        filename="BSDS300-images.tgz",
        about="BSDS300 natural images (Martin et al. 2001)",
    ),
}


# Data files that ship with the repository (not downloaded): folder under data/ -> {path in it: SHA-256}.
# nuclei-real: the small real nuclei set (data/nuclei-real/README.md: 2018 Data Science Bowl and Kromp et al. 2020
# crops, CC0), cut by scripts/make_real_nuclei_set.py, which prints these lines.
SHIPPED: dict[str, dict[str, str]] = {
    "nuclei-real": {
        "images/dsb_351771edfc_y224_x64.tif": "f8351d197088dd6f2ebc9bf8712d103596d6b589b3d9d886459d3dc2678e008c",
        "images/dsb_3a22fe593d_y96_x96.tif": "ebf71b8df5b6e62f5731e5a9976d041d1fb5ac16dd6b0487f0ec4a65f37ec24c",
        "images/dsb_724b6b7044_y0_x224.tif": "bb77dd1f285ac0bc243f55919d022d6269151bbab30cb515a414a9df18fc102d",
        "images/dsb_98c5ead89c_y0_x0.tif": "e758426f6fa8281345fbee4fa01a017ed9de45a90024e800426f22339eaa0bac",
        "images/dsb_9bb6e39d5f_y4_x64.tif": "1e1013f98b085b9df5f6bce8fdb30b6a02c5c6f840a93364cb8cd064ee46c6b6",
        "images/dsb_a102535b0e_y224_x352.tif": "575462f392450b3bf0f97c0c2a5ed653f50814c4023b6c7167ca0bb9be3772dd",
        "images/dsb_f81ca7ee25_y0_x0.tif": "e1f1b2312ede956cdd3899a1380a8bc5393e51c88889f4f35bee44bb60374df6",
        "images/kromp_12_y64_x384.tif": "373bfc2d4b546341ecf3ab3f96c802cd0450bbd05b0cb51dcfd8025061ba0e48",
        "images/kromp_13_y320_x384.tif": "58b61f8d9a1f10745d24c5d3e6f5d22995aa0ccf49d31b294bef024ba850ab6a",
        "images/kromp_14_y128_x448.tif": "2ee4ca646c34848224f7be48230fb4158231cc60dfe84334ab1008891e8410d2",
        "images/kromp_15_y256_x128.tif": "1ac74e5184a6b647ae3bc0f44ef06aa0d3cfb972b342654381204f9e891eea21",
        "images/kromp_9_y192_x128.tif": "0eb3f64cd9102bfb5e6f58edd07d44c89a6f03c8bad24af7fae54e9102551424",
        "masks/dsb_351771edfc_y224_x64.tif": "529e459eb344bf6c4744c3d18ffa5b9a44a9da532634294858832d18a53be14a",
        "masks/dsb_3a22fe593d_y96_x96.tif": "9fc2f530666aab4a4a9ae73eb7068f2e19dd38489cd15e7fc392dbb26b6e71d4",
        "masks/dsb_724b6b7044_y0_x224.tif": "2cf1808bd2d92c50ab9d87bbfebbc295e83fba7dc0c1aeb9fe3156a5784eb19a",
        "masks/dsb_98c5ead89c_y0_x0.tif": "2ae2e195487ccafca4b10e531b28435633e6b24cdd73edc3048d1554debf832d",
        "masks/dsb_9bb6e39d5f_y4_x64.tif": "28ef06499e166234cf1279598b04d99a0cff9bf1c3393f745ea435f79a7f44ae",
        "masks/dsb_a102535b0e_y224_x352.tif": "b3af25b45c3b80cc4b7c3ff2d329117d670b2fbadcd7300c03648d27d96fa694",
        "masks/dsb_f81ca7ee25_y0_x0.tif": "678a64f979cc9f757c9fa0404e81fcb85122ac403819ec6ee3518297b57d5b18",
        "masks/kromp_12_y64_x384.tif": "f81cffee1ed7f696ce0770cfaf52d592bcde9166f48537219731c3e0dc15cb4f",
        "masks/kromp_13_y320_x384.tif": "4d37ba79a9c6ce37cc47fa469726fb96381b0a5ca6d1d773bfc9006f952a0992",
        "masks/kromp_14_y128_x448.tif": "235a5b72df1a8623ad056b884ff61e15ec892b0ab537581bf145e779b030424b",
        "masks/kromp_15_y256_x128.tif": "d21bf16550e00dcdd3f3a5bb0c4630da47077e70deec35aa87d14e6e17e80629",
        "masks/kromp_9_y192_x128.tif": "652063abb71ed1cd9ec2e3a338e89acca9bf14eec10dcc5ae24933e7b1c8e447",
    },
}


class DownloadError(RuntimeError):
    """A download failed or gave the wrong bytes; the message says what to do."""


def data_dir() -> Path:
    """The course repository's ``data/`` folder (reference checkpoints live in ``data/checkpoints``)."""
    return REPO_ROOT / "data"


def cache_dir() -> Path:
    """Where downloads are kept (created if needed): ``$COURSE_DATA_DIR``, the clone's ``data/cache``,
    or ``~/.cache/course_utils``."""
    env = os.environ.get("COURSE_DATA_DIR", "").strip()
    if env:
        path = Path(env).expanduser()
    elif (REPO_ROOT / "pyproject.toml").is_file() and data_dir().is_dir():
        path = data_dir() / "cache"
    else:
        path = Path.home() / ".cache" / "course_utils"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shipped(folder: str, relative: str) -> Path:
    """The path of a data file that ships with the repository, ``data/<folder>/<relative>`` (listed in
    :data:`SHIPPED`, e.g. ``shipped("nuclei-real", "images/NAME.tif")``), after checking that it is there and that
    its SHA-256 is the recorded one.

    Raises:
        KeyError: not a shipped file (the message lists where to look).
        FileNotFoundError: missing (e.g. the package installed without a clone): the message says what to do.
        DownloadError: the file's bytes changed: the message says how to get the course's copy back.
    """
    if relative not in SHIPPED.get(folder, {}):
        raise KeyError(f"data/{folder}/{relative} is not a file the course ships; see course_utils.download.SHIPPED")
    expected = SHIPPED[folder][relative]
    relative = f"{folder}/{relative}"
    path = data_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is not here: it ships with the course repository (data/{relative}); work from a clone "
            "(git clone ...; pip install -e .)"
        )
    digest = sha256sum(path)
    if digest != expected:
        raise DownloadError(
            f"{path} has changed (SHA-256 {digest[:12]}..., expected {expected[:12]}...): restore the "
            f"course's copy with `git checkout -- data/{relative}`, or regenerate it with "
            "scripts/make_real_nuclei_set.py"
        )
    return path


def sha256sum(path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file, as lowercase hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fetch(
    remote: Remote | str, *, cache: str | os.PathLike | None = None, progress: bool = True, timeout: float = 60.0
) -> Path:
    """Path of ``remote``'s file in the cache, downloaded and verified first if it is not there.

    Args:
        remote: a key of :data:`REMOTES` (``"kromp2020"``, ``"bsds300"``) or a :class:`Remote`.
        cache: the folder to use instead of :func:`cache_dir`.
        progress: show the bytes received so far, in one line (:class:`~course_utils.progress.Progress`).
        timeout: seconds without any data from the server after which the download gives up.

    Raises:
        DownloadError: the network failed: no connection, a server that stops sending for ``timeout``
            seconds, a connection reset or closed early (nothing is left behind), the bytes have the wrong SHA-256
            (the temporary file is deleted), or a file already in the cache has the wrong SHA-256 (it is
            left alone: the message says to delete it or to put the right file there).
    """
    if isinstance(remote, str):
        if remote not in REMOTES:
            raise KeyError(f"unknown data set {remote!r}; known: {', '.join(REMOTES)}")
        remote = REMOTES[remote]
    folder = Path(cache) if cache is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.filename
    want = remote.sha256.lower()
    if target.exists():
        got = sha256sum(target)
        if got != want:
            raise DownloadError(
                f"{target} is in the cache but its SHA-256 is {got}, not {want}: it is incomplete or another "
                f"file. Delete it and run again to download it afresh from {remote.url}, or put the right file there."
            )
        return target
    h = hashlib.sha256()

    def network_error(why) -> DownloadError:
        return DownloadError(
            f"could not download {remote.url}: {why}. Check the internet connection and run again, or download "
            f"the file yourself and save it as {target}."
        )

    with atomic_path(target) as tmp:  # deleted if anything below raises
        with open(tmp, "wb") as out:
            size = 0
            try:
                with urllib.request.urlopen(remote.url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with Progress(total, remote.filename, unit="B", scale_bytes=True, enabled=progress) as bar:
                        while block := response.read(1 << 20):
                            out.write(block)
                            h.update(block)
                            size += len(block)
                            bar.update(len(block))
            except (TimeoutError, socket.timeout):  # the server stopped sending (one class since Python 3.10)
                raise network_error(f"the server sent no data for {timeout:g} s") from None
            except (OSError, http.client.HTTPException) as e:  # no connection, reset, HTTP error, bad response
                raise network_error(str(e) or type(e).__name__) from None
            if total is not None and size < total:
                raise network_error(f"the connection was closed after {size} of {total} bytes")
        got = h.hexdigest()
        if got != want:  # raised inside the block: the temporary file is deleted
            raise DownloadError(
                f"the file downloaded from {remote.url} has SHA-256 {got}, expected {want}: the download was "
                "corrupted or the server changed the file. It was not kept; run again to retry."
            )
    return target
