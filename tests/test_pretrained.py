"""Notebook 00's helpers: the pretrained network found in torchvision's cache (a stand-in file written there),
the random stand-in when the weights are absent (one clear line, never a hang), the steps of a prediction, the
overlay, and the self-checks of the notebook's exercises on right and typical wrong answers."""

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import checks, plotting
from course_utils import pretrained as P

NAME = "lraspp_mobilenet_v3_large"
FILE = "lraspp_mobilenet_v3_large-d234d4ea.pth"  # torchvision's name: <model>-<sha256 prefix>.pth


def within(seconds: float, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` run in a thread that must finish within ``seconds`` (a hang fails the test)."""
    result, error = [], []

    def run():
        try:
            result.append(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the test
            error.append(e)

    thread = threading.Thread(target=run, daemon=True)
    t0 = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    if error:
        raise error[0]
    return result[0], time.monotonic() - t0


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torchvision cache: TORCH_HOME in a temporary folder (torch.hub.get_dir() reads it at each call)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def stand_in(folder: Path, seed: int = 123) -> dict:
    """A stand-in weights file with the right keys and shapes (a random LR-ASPP), where torchvision looks."""
    state = P._random(NAME, seed).state_dict()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / FILE)
    return state


def test_the_file_is_where_torchvision_keeps_it(torch_home):
    weights = P.weights_of(NAME)
    assert P.weights_file(weights) == torch_home / FILE
    assert P.weights_file(weights.url) == torch_home / FILE
    assert Path(torch.hub.get_dir()) / "checkpoints" == torch_home
    assert len(weights.meta["categories"]) == 21 and weights.meta["categories"][0] == P.BACKGROUND
    with pytest.raises(ValueError, match="unknown segmentation network 'unet'.*lraspp"):
        P.weights_of("unet")


def test_weights_in_the_cache_are_loaded_and_used(torch_home, capsys):
    state = stand_in(torch_home)
    seg = P.load_segmenter(NAME)
    out = capsys.readouterr().out
    assert seg.pretrained and seg.source == "cache" and seg.path == torch_home / FILE
    assert out.count("\n") == 1 and out.startswith("✅") and str(torch_home / FILE) in out
    for key, value in seg.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not seg.model.training
    # the network computes with them: the same logits as the stand-in network itself
    reference = P._random(NAME, 123).eval()
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        want = reference(x)["out"]
    assert torch.allclose(P.segment_logits(seg.model, x), want, atol=1e-5)
    random = P.load_segmenter(NAME, download=False, verbose=False)  # not used: the cache wins
    assert random.pretrained


def test_absent_weights_and_downloads_off_give_one_clear_line_and_the_random_network(torch_home, capsys, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was tried although downloads are off")

    monkeypatch.setattr(P, "_reachable", no_network)
    seg, seconds = within(60, P.load_segmenter, NAME, download=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("No pretrained weights here")
    for words in (FILE, str(torch_home), "Colab", P.weights_of(NAME).url, "RANDOMLY INITIALISED"):
        assert words in out
    assert not seg.pretrained and seg.source == "random" and seg.message == out.strip()
    assert not (torch_home / FILE).exists()
    # the same random network every time, and the global random state untouched
    torch.manual_seed(5)
    a = torch.rand(1)
    torch.manual_seed(5)
    again = P.load_segmenter(NAME, download=False, verbose=False)
    assert torch.rand(1) == a
    for (k, v), w in zip(seg.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(v, w), k
    monkeypatch.setenv("COURSE_OFFLINE", "yes")
    assert not P.load_segmenter(NAME, verbose=False).pretrained  # COURSE_OFFLINE: no attempt either


def test_an_unreachable_server_fails_fast(torch_home, capsys):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seg, seconds = within(30, P.load_segmenter, NAME, url=f"http://127.0.0.1:{port}/{FILE}", timeout=2)
    out = capsys.readouterr().out
    assert not seg.pretrained and "could not be downloaded" in out and FILE in out and seconds < 10


def test_a_server_that_never_answers_does_not_hang(torch_home, capsys):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)  # accepts connections (the kernel does) but never sends a byte
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/{FILE}"
        seg, seconds = within(30, P.load_segmenter, NAME, url=url, timeout=1)
    finally:
        server.close()
    out = capsys.readouterr().out
    assert not seg.pretrained and "could not be downloaded" in out and "timed out" in out.lower()
    assert seconds < 15
    assert not (torch_home / FILE).exists()


def test_a_download_with_the_wrong_hash_is_refused_and_not_kept(torch_home, tmp_path, capsys):
    """torchvision checks the SHA-256 prefix in the name while downloading: a stand-in served as the real file
    fails that check, the partial file is removed, and the random network takes over."""
    import functools
    import http.server

    served = tmp_path / "served"
    stand_in(served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{FILE}"
        seg, _ = within(60, P.load_segmenter, NAME, url=url, timeout=5)
    finally:
        httpd.shutdown()
    out = capsys.readouterr().out
    assert not seg.pretrained and "could not be downloaded" in out and "hash" in out.lower()
    assert not any(torch_home.iterdir()), "a refused download must leave nothing in the cache"


def test_a_damaged_or_foreign_file_is_reported_not_fatal(torch_home, capsys):
    torch_home.mkdir(parents=True)
    (torch_home / FILE).write_bytes(b"not a checkpoint")
    seg = P.load_segmenter(NAME)
    out = capsys.readouterr().out
    assert not seg.pretrained and "cannot be used" in out and "delete it" in out
    torch.save({"conv.weight": torch.zeros(3, 3)}, torch_home / FILE)
    seg = P.load_segmenter(NAME)
    out = capsys.readouterr().out
    assert not seg.pretrained and "does not hold the weights of" in out


def test_verify_checks_the_hash_in_the_name(torch_home, tmp_path, capsys):
    stand_in(torch_home)
    seg = P.load_segmenter(NAME, verify=True)
    out = capsys.readouterr().out
    assert not seg.pretrained and "SHA-256" in out and "stand-in" in out
    named = tmp_path / "x.bin"
    named.write_bytes(b"some bytes")
    import hashlib

    prefix = hashlib.sha256(b"some bytes").hexdigest()[:8]
    right = named.rename(tmp_path / f"model-{prefix}.pth")
    assert P._sha256_prefix_ok(right) is True
    assert P._sha256_prefix_ok(right.rename(tmp_path / "model-00000000.pth")) is False
    assert P._sha256_prefix_ok(tmp_path / "model-00000000.pth".replace("-00000000", "")) is None


def test_note_if_random(torch_home, capsys):
    seg = P.load_segmenter(NAME, download=False, verbose=False)
    seg.note_if_random("the astronaut labelled person")
    assert capsys.readouterr().out.strip().endswith("With the pretrained weights: the astronaut labelled person")
    seg.pretrained = True
    seg.note_if_random("anything")
    assert capsys.readouterr().out == ""


def test_model_sizes_say_why_the_light_one():
    rows = {r["name"]: r for r in P.model_sizes()}
    assert rows[NAME]["file MB"] < rows["deeplabv3_mobilenet_v3_large"]["file MB"] < rows["fcn_resnet50"]["file MB"]
    assert rows[NAME]["parameters"] == pytest.approx(3.22, abs=0.01)
    assert 50 < rows[NAME]["mIoU"] < 70


def test_preprocess_uses_the_weights_transforms():
    transform = P.weights_of(NAME).transforms(resize_size=32)
    image = checks._photo(40, 60, 0)
    x = P.preprocess(image, transform)
    assert x.shape == (1, 3, 32, 48) and x.dtype == torch.float32
    by_hand = transform(torch.from_numpy(image).permute(2, 0, 1))[None]
    assert torch.equal(x, by_hand)
    assert x.min() < 0 < x.max()  # normalised with ImageNet's mean and std
    gray, rgba = P.preprocess(image[..., 0], transform), np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    assert gray.shape == x.shape and torch.allclose(gray[0, 0] * 0.229 + 0.485, gray[0, 1] * 0.224 + 0.456, atol=1e-5)
    assert torch.equal(P.preprocess(rgba, transform), x)
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*\(3, 40, 60\)"):
        P.preprocess(image.transpose(2, 0, 1), transform)


def test_labels_confidence_and_areas():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, :] = 5.0  # class 1 on the top row
    logits[0, 2, 1, 1] = 1.0
    labels, confidence = P.labels_and_confidence(logits)
    assert labels.tolist() == [[1, 1], [0, 2]] and labels.dtype == torch.int64
    assert confidence[1, 0].item() == pytest.approx(1 / 3)  # all equal: no preference
    assert confidence[0, 0].item() == pytest.approx(np.exp(5) / (np.exp(5) + 2))
    assert torch.equal(P.labels_and_confidence(logits[0])[0], labels)
    with pytest.raises(ValueError, match="one image at a time"):
        P.labels_and_confidence(torch.zeros(2, 3, 2, 2))
    categories = ["__background__", "cat", "dog"]
    assert P.largest_class(labels, categories) == ("cat", 0.5)
    assert P.largest_class(torch.zeros(3, 3, dtype=torch.long), categories) == ("__background__", 1.0)
    assert P.largest_class(torch.tensor([[1, 2], [0, 0]]), categories) == ("cat", 0.25)  # a tie: lower number
    assert P.class_areas(labels, categories) == {"cat": 0.5, "__background__": 0.25, "dog": 0.25}


def test_segment_logits_bring_the_logits_to_the_photographs_size():
    seg = P.Segmenter(NAME, P._random(NAME, 0), P.weights_of(NAME), False, "random", Path("x"), "")
    x = torch.randn(1, 3, 40, 56)
    logits = P.segment_logits(seg.model, x, size=(30, 42))
    assert logits.shape == (1, 21, 30, 42)
    assert P.segment_logits(seg.model, x).shape == (1, 21, 40, 56)
    plain = torch.nn.Conv2d(3, 4, 1)
    assert P.segment_logits(plain, x, size=(10, 14)).shape == (1, 4, 10, 14)


def test_voc_palette_and_overlay():
    palette = plotting.voc_palette()
    assert palette.shape == (21, 3) and (palette[0] == 0).all()
    assert np.allclose(palette[15] * 255, (192, 128, 128)) and np.allclose(palette[8] * 255, (64, 0, 0))
    assert len({tuple(c) for c in palette}) == 21
    image = checks._photo(12, 16, 0)
    labels = np.zeros((12, 16), dtype=int)
    labels[3:6, 4:9] = 15
    out = plotting.overlay_labels(image, labels, alpha=0.25)
    assert out.shape == (12, 16, 3) and 0 <= out.min() and out.max() <= 1
    assert np.allclose(out[labels == 0], image[labels == 0] / 255)
    assert np.allclose(out[4, 5], 0.75 * image[4, 5] / 255 + 0.25 * palette[15])
    assert np.allclose(plotting.overlay_labels(image / 255, torch.as_tensor(labels), alpha=0.25), out)
    with pytest.raises(ValueError, match="same height and width"):
        plotting.overlay_labels(image, labels[:5])
    fig = plotting.show_segmentation(image, labels, np.full((12, 16), 0.5), P.weights_of(NAME).meta["categories"])
    assert len(fig.axes) == 4  # photograph, overlay, confidence and its colour bar
    assert ["background 92%", "person 8%"] == [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


# ---------------------------------------------------------------- the exercises' self-checks
def test_the_course_answers_pass_the_checks(capsys):
    assert checks.check_preprocess(P.preprocess)
    assert checks.check_labels_and_confidence(P.labels_and_confidence)
    assert checks.check_overlay_labels(plotting.overlay_labels)
    assert checks.check_largest_class(P.largest_class)
    assert capsys.readouterr().out.count("✅") == 4


def test_preprocess_check_explains_typical_mistakes(capsys):
    def no_batch(image, transform):
        return transform(torch.from_numpy(image).permute(2, 0, 1))

    def not_resized(image, transform):
        x = torch.from_numpy(image).permute(2, 0, 1).float() / 255
        return ((x - 0.45) / 0.225)[None]

    def not_normalised(image, transform):
        return P.preprocess(image, transform) * 0.229 + 0.485

    def channels_reversed(image, transform):
        return P.preprocess(image[..., ::-1], transform)

    def todo(image, transform):
        raise NotImplementedError

    expected = {
        no_batch: "unsqueeze(0)",
        not_resized: "not resized",
        not_normalised: "Normalize",
        channels_reversed: "not the same pixels",
    }
    for fn, words in expected.items():
        result = checks.check_preprocess(fn)
        assert result.passed is False and words in result.message, (fn.__name__, result.message)
    assert checks.check_preprocess(todo).passed is None


def test_labels_check_explains_typical_mistakes():
    def logits_not_probabilities(logits):
        values, labels = logits[0].max(0)
        return labels, values

    def sigmoid(logits):
        return logits[0].argmax(0), torch.sigmoid(logits[0]).max(0).values

    def float_labels(logits):
        labels, confidence = P.labels_and_confidence(logits)
        return labels.float(), confidence

    def keeps_batch(logits):
        return logits.argmax(1), logits.softmax(1).max(1).values

    expected = {
        logits_not_probabilities: "not probabilities",
        sigmoid: "sigmoid",
        float_labels: "integers",
        keeps_batch: "drop the batch axis",
    }
    for fn, words in expected.items():
        result = checks.check_labels_and_confidence(fn)
        assert result.passed is False and words in result.message, (fn.__name__, result.message)


def test_overlay_check_explains_typical_mistakes():
    def paints_background(image, labels, palette, alpha):
        return (1 - alpha) * image / 255 + alpha * palette[labels]

    def uint8_range(image, labels, palette, alpha):
        return plotting.overlay_labels(image, labels, palette, alpha) * 255

    def swapped(image, labels, palette, alpha):
        return plotting.overlay_labels(image, labels, palette, 1 - alpha)

    expected = {paints_background: "background pixels", uint8_range: "divide", swapped: "alpha weighs the class"}
    for fn, words in expected.items():
        result = checks.check_overlay_labels(fn)
        assert result.passed is False and words in result.message, (fn.__name__, result.message)


def test_largest_class_check_explains_typical_mistakes():
    def with_background(labels, categories):
        counts = torch.bincount(labels.flatten(), minlength=len(categories))
        return categories[int(counts.argmax())], counts.max().item() / labels.numel()

    def fraction_of_foreground(labels, categories):
        name, fraction = P.largest_class(labels, categories)
        share = (labels > 0).float().mean().item()
        return name, fraction / share if share else fraction

    def crashes_on_background(labels, categories):
        counts = torch.bincount(labels.flatten(), minlength=len(categories))[1:]
        if counts.sum() == 0:
            raise ValueError("no class")
        return categories[int(counts.argmax()) + 1], counts.max().item() / labels.numel()

    expected = {
        with_background: "leave out class 0",
        fraction_of_foreground: "background included",
        crashes_on_background: "ValueError",
    }
    for fn, words in expected.items():
        result = checks.check_largest_class(fn)
        assert result.passed is False and words in result.message, (fn.__name__, result.message)


def test_behind_a_proxy_the_download_goes_through_it_and_still_fails_fast(torch_home, capsys, monkeypatch):
    with socket.socket() as s:  # a proxy that is not there
        s.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    def no_probe(*args, **kwargs):
        raise AssertionError("a direct probe would miss the proxy")

    monkeypatch.setattr(P, "_reachable", no_probe)
    seg, seconds = within(30, P.load_segmenter, NAME, timeout=2)
    out = capsys.readouterr().out
    assert not seg.pretrained and "could not be downloaded" in out and seconds < 10
