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

__all__ = ["Remote", "REMOTES", "DownloadError", "cache_dir", "data_dir", "fetch", "sha256sum"]

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
