"""Segmentation metrics, the simple U-Net, joint augmentation, whole-image prediction, the reference model."""

import numpy as np
import pytest
import torch
import torch.nn as nn

import course_utils as cu
from course_utils import metrics as M
from course_utils.augment import PairAugment, augmented_batches
from course_utils.checks import (
    check_bottleneck,
    check_decoder_block,
    check_encoder_block,
    check_precision_recall,
    check_simple_unet,
)
from course_utils.inference import predict_image
from course_utils.simple_unet import Bottleneck, DecoderBlock, EncoderBlock, SimpleUNet


def test_metrics_known_values():
    pred = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool).view(2, 1, 1, 4)
    true = torch.tensor([[1, 0, 1, 0], [1, 0, 0, 0]], dtype=torch.bool).view(2, 1, 1, 4)
    c = M.confusion(pred, true)
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (2, 1, 1, 4)
    assert M.pixel_accuracy(pred, true).item() == pytest.approx(6 / 8)
    assert M.precision(pred, true).item() == pytest.approx(2 / 3)
    assert M.recall(pred, true).item() == pytest.approx(2 / 3)
    assert M.iou(pred, true).item() == pytest.approx(2 / 4)
    assert M.dice(pred, true).item() == pytest.approx(4 / 6)
    per = M.iou(pred, true, reduction="none")
    assert per.tolist() == pytest.approx([1 / 3, 1.0])


def test_metrics_empty_and_full_masks():
    empty, full = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    assert M.iou(empty, empty).item() == 1 and M.dice(empty, empty).item() == 1
    assert M.precision(empty, full).item() == 1 and M.recall(empty, full).item() == 0
    assert M.iou(empty, full).item() == 0 and M.recall(full, empty).item() == 1
    assert M.pixel_accuracy(full, full).item() == 1
    # accuracy misleads: predicting background everywhere scores the background fraction
    mask = torch.zeros(1, 1, 10, 10)
    mask[..., :2, :] = 1
    assert M.pixel_accuracy(torch.zeros_like(mask), mask).item() == pytest.approx(0.8)
    with pytest.raises(ValueError, match="differ in shape"):
        M.iou(empty, torch.zeros(1, 1, 4, 5))


def test_dice_iou_relation_and_pr_curve():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(8, 1, 16, 16, generator=g) < 0.3
    logits = target.float() * 2 - 1 + torch.randn(8, 1, 16, 16, generator=g)
    j, d = M.iou(logits > 0, target).item(), M.dice(logits > 0, target).item()
    assert d == pytest.approx(2 * j / (1 + j))
    t, p, r = M.pr_curve(logits, target)
    assert t.shape == p.shape == r.shape == (41,) and t[0] == -5 and t[-1] == 5
    assert (r[1:] <= r[:-1] + 1e-12).all()  # recall never grows with the threshold
    assert r[0] > 0.99 and p[-5] > 0.95
    card = M.segmentation_scores(logits, target)
    assert set(card) == {"accuracy", "precision", "recall", "IoU", "Dice"} and card["IoU"] == pytest.approx(j)
    assert "IoU" in M.scores_table({"a": card}, floatfmt=".3f")


def test_simple_unet_shapes_and_blocks():
    f, pooled = EncoderBlock(1, 4)(torch.randn(2, 1, 16, 16))
    assert f.shape == (2, 4, 16, 16) and pooled.shape == (2, 4, 8, 8)
    assert Bottleneck(8)(torch.randn(2, 8, 4, 4)).shape == (2, 16, 4, 4)
    assert DecoderBlock(16)(torch.randn(2, 16, 4, 4), torch.randn(2, 8, 8, 8)).shape == (2, 8, 8, 8)
    net = SimpleUNet(4)
    assert net(torch.randn(3, 1, 128, 128)).shape == (3, 1, 128, 128)
    assert sum(p.numel() for p in net.parameters()) == 7_557  # 204 + 912 + 3,552 + 2,296 + 588 + 5
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.randn(1, 1, 30, 32))


def test_block_checks_pass_the_reference_and_explain_mistakes(capsys):
    for check, cls in [
        (check_encoder_block, EncoderBlock),
        (check_bottleneck, Bottleneck),
        (check_decoder_block, DecoderBlock),
        (check_simple_unet, SimpleUNet),
    ]:
        check(cls)
    out = capsys.readouterr().out
    assert out.count("✅") == 4 and "❌" not in out

    class NoPool(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.c = nn.Conv2d(i, o, 3, padding=1)

        def forward(self, x):
            return self.c(x), self.c(x)

    check_encoder_block(NoPool)
    out = capsys.readouterr().out
    assert out.startswith("❌") and "MaxPool2d(2) halves" in out

    class Todo(nn.Module):
        def __init__(self, *a):
            raise NotImplementedError

    check_decoder_block(Todo)
    assert capsys.readouterr().out.startswith("⏳")


def test_precision_recall_check(capsys):
    def good(pred, target):
        return M.precision(pred, target).item(), M.recall(pred, target).item()

    def swapped(pred, target):
        return good(pred, target)[::-1]

    def nan_when_empty(pred, target):
        tp = (pred & target).sum().item()
        return tp / pred.sum().item() if pred.sum() else float("nan"), good(pred, target)[1]

    check_precision_recall(good)
    check_precision_recall(swapped)
    check_precision_recall(nan_when_empty)
    out = capsys.readouterr().out.split("\n")
    assert out[0].startswith("✅") and any(line.startswith("❌ swapped") for line in out)
    assert any("NaN" in line for line in out)


def test_augmentation_moves_image_and_mask_together():
    cu.seed_everything(0)
    aug = PairAugment(elastic=True, intensity=False, p_affine=1.0, p_elastic=1.0)
    mask = torch.zeros(1, 32, 32)
    mask[:, 4:14, 6:25] = 1
    for _ in range(10):
        img, m = aug(mask.clone(), mask.clone())
        assert set(torch.unique(m).tolist()) <= {0.0, 1.0}  # the mask stays binary
        assert ((img > 0.5) == (m > 0.5)).float().mean() > 0.97  # same geometry as the image
    flips = PairAugment(affine=False, intensity=False)
    img, m = flips(torch.arange(16.0).view(1, 4, 4), torch.arange(16.0).view(1, 4, 4))
    assert torch.equal(img, m)  # exact, same transform
    x = torch.rand(1, 32, 32)
    bright = PairAugment(flips=False, rot90=False, affine=False)(x, mask)
    assert torch.equal(bright[1], mask) and not torch.equal(bright[0], x)  # intensity: image only
    assert bright[0].min() >= 0 and bright[0].max() <= 1
    with pytest.raises(ValueError, match="augmented_batches"):
        aug(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8))


def test_augmented_batches():
    X, Y = torch.rand(5, 1, 16, 16), (torch.rand(5, 1, 16, 16) > 0.5).float()
    x, y = augmented_batches(X, Y, 7, PairAugment())()
    assert x.shape == y.shape == (7, 1, 16, 16)
    x, y = augmented_batches(X, Y, 3)()
    assert any(torch.equal(x[0], X[i]) and torch.equal(y[0], Y[i]) for i in range(5))


def test_predict_image_tiles_agree_with_one_pass():
    torch.manual_seed(0)
    net = nn.Sequential(*[nn.Conv2d(1 if i == 0 else 4, 4 if i < 3 else 1, 3, padding=1) for i in range(4)])
    img = torch.rand(70, 90)
    whole = predict_image(net, img, device="cpu")
    tiled = predict_image(net, img, tile=32, overlap=4, device="cpu")  # receptive field 9: 4 px of context suffice
    assert whole.shape == (70, 90) and torch.allclose(whole, tiled, atol=1e-5)
    unet = cu.UNet(1, 1, 4, depth=2).eval()
    assert predict_image(unet, np.random.rand(3, 1, 37, 41).astype(np.float32), device="cpu").shape == (3, 1, 37, 41)
    assert predict_image(unet, torch.rand(1, 50, 60), device="cpu").shape == (1, 50, 60)


def test_joint_transform_check(capsys):
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from course_utils.checks import check_joint_transform

    t = v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=20, scale=(0.8, 1.2), interpolation=v2.InterpolationMode.BILINEAR),
        ]
    )

    def good(image, mask):
        return t(tv_tensors.Image(image), tv_tensors.Mask(mask))

    def separately(image, mask):
        return t(tv_tensors.Image(image)), t(tv_tensors.Mask(mask))

    def mask_as_image(image, mask):
        return t(tv_tensors.Image(image), tv_tensors.Image(mask))

    def fixed(image, mask):
        return image, mask

    for fn in (good, separately, mask_as_image, fixed):
        check_joint_transform(fn)
    out = capsys.readouterr().out.strip().split("\n")
    verdicts = [line for line in out if line[:1] in "✅❌⏳"]
    assert [v[0] for v in verdicts] == ["✅", "❌", "❌", "❌"]
    assert "transformed differently" in out[out.index(verdicts[1]) + 1] or "differently" in " ".join(out)
    assert "tv_tensors.Mask" in " ".join(out) and "not random" in " ".join(out)


# ---------------------------------------------------------------- metrics on bad input: an error, not a wrong number


def test_iou_and_dice_refuse_logits_and_probabilities():
    mask = torch.ones(1, 1, 4, 4)
    for fn in (M.iou, M.dice, M.precision, M.recall, M.pixel_accuracy):
        with pytest.raises(ValueError, match=r"logits > 0"):
            fn(torch.full((1, 1, 4, 4), -3.0), mask)  # logits: before, IoU 1.0
    with pytest.raises(ValueError, match=r"probabilities > 0.5"):
        M.iou(torch.full((1, 1, 4, 4), 0.3), mask)
    half = torch.zeros(1, 1, 4, 4)
    half[..., :2] = 1
    with pytest.raises(ValueError, match="the mask holds values from -1 to 1"):
        M.iou(half > 0, half * 2 - 1)  # a mask in {-1, 1}
    # binary maps of every kind still work: booleans, 0/1 floats, 0/255 integers (a mask read from a file)
    assert M.iou(mask > 0, (mask * 255).to(torch.uint8)).item() == 1
    assert M.dice(mask.long(), mask.double()).item() == 1
    assert M.iou(np.ones((1, 4, 4), dtype=bool), mask[0].tolist()).item() == 1  # NumPy arrays and lists too
    nan = mask.clone()
    nan[0, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="1 NaN"):
        M.iou(nan, mask)


def test_pr_curve_reads_probabilities_as_probabilities():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(4, 1, 16, 16, generator=g) < 0.3
    logits = target.float() * 4 - 2 + torch.randn(4, 1, 16, 16, generator=g)
    t, p, r = M.pr_curve(logits, target)
    with pytest.warns(UserWarning, match="probabilities=True"):
        tp, pp, rp = M.pr_curve(torch.sigmoid(logits), target)
    assert torch.allclose(tp, torch.sigmoid(t))  # the same operating points, on the probability scale
    assert torch.allclose(pp, p) and torch.allclose(rp, r)
    _, p2, r2 = M.pr_curve(torch.sigmoid(logits), target, [0.2, 0.5], probabilities=True)
    assert torch.equal(p2[1], M.precision(torch.sigmoid(logits) > 0.5, target))
    with pytest.warns(UserWarning, match="logit thresholds"):  # or the logits of an untrained net: compared as given
        _, p4, _ = M.pr_curve(torch.sigmoid(logits), target, np.linspace(-5, 5, 41))
    assert (p4[:20] == p4[0]).all()
    with pytest.raises(ValueError, match="logit thresholds"):
        M.pr_curve(torch.sigmoid(logits), target, np.linspace(-5, 5, 41), probabilities=True)
    with pytest.raises(ValueError, match="not probabilities"):
        M.pr_curve(logits, target, probabilities=True)
    _, p3, _ = M.pr_curve(torch.sigmoid(logits), target, probabilities=False)  # logits that lie in [0, 1]: as told
    assert p3[0] == p3[19]  # every threshold -5 ... -0.25 is below all values


# ---------------------------------------------------------------- segment_nuclei on bad input


class Threshold(nn.Module):
    """A stand-in for a nucleus model: logit (x - 1/2)·10, so the mask is "normalised image > 1/2"."""

    def forward(self, x):
        return (x - 0.5) * 10


def _raw(seed, shape=(32, 32)):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_segment_nuclei_refuses_nan_and_inf_pixels():
    from course_utils.segmentation import segment_nuclei

    img = _raw(0)
    img[3, 3] = np.nan  # before: an empty mask, without a word
    with pytest.raises(ValueError, match=r"1 NaN .*nan_to_num"):
        segment_nuclei(img, Threshold(), device="cpu")
    img[3, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        segment_nuclei(img, Threshold(), normalize=False, device="cpu")


def test_segment_nuclei_segments_each_image_of_a_batch():
    from course_utils.segmentation import segment_nuclei

    stack = np.stack([_raw(1), _raw(2)])[:, None]  # (2, 1, H, W): before, one (H, W) mask
    masks = segment_nuclei(stack, Threshold(), device="cpu")
    assert masks.shape == (2, 32, 32) and masks.dtype == bool
    for i in range(2):
        assert np.array_equal(masks[i], segment_nuclei(stack[i, 0], Threshold(), device="cpu"))
    assert segment_nuclei(torch.from_numpy(stack[:1]), Threshold(), device="cpu").shape == (1, 32, 32)
    assert segment_nuclei(stack[0], Threshold(), device="cpu").shape == (32, 32)  # (1, H, W): one image


def test_segment_nuclei_tells_a_stack_from_a_colour_image():
    from course_utils.segmentation import segment_nuclei

    one = _raw(3)
    with pytest.raises(ValueError, match=r"image\[:, None\]"):
        segment_nuclei(np.stack([one, _raw(4), _raw(5)]), Threshold(), device="cpu")  # before: read as RGB
    with pytest.raises(ValueError, match=r"image\[:, None\]"):
        segment_nuclei(np.stack([_raw(i) for i in range(6)]), Threshold(), device="cpu")
    want = segment_nuclei(one, Threshold(), device="cpu")
    blue = np.stack([np.zeros_like(one), np.zeros_like(one), one])  # fluorescence stored as RGB, channels first
    assert np.array_equal(segment_nuclei(blue, Threshold(), device="cpu"), want)
    gray = np.stack([one, one, one])  # a gray image saved as RGB
    assert np.array_equal(segment_nuclei(gray, Threshold(), device="cpu"), want)
    assert np.array_equal(segment_nuclei(np.moveaxis(blue, 0, -1), Threshold(), device="cpu"), want)  # (H, W, 3)
    eight = (one * 255).astype(np.uint8)
    near_copies = np.stack([np.zeros_like(eight), eight, np.maximum(eight, 1) - 1])  # uint8 differences must not wrap
    assert np.array_equal(
        segment_nuclei(near_copies, Threshold(), device="cpu"), segment_nuclei(eight, Threshold(), device="cpu")
    )


@pytest.mark.parametrize("diameter", [0, -5, 0.5, float("nan"), float("inf"), "big"])
def test_segment_nuclei_refuses_a_diameter_that_is_not_positive(diameter):
    from course_utils.segmentation import segment_nuclei

    with pytest.raises(ValueError, match=r"diameter .*\"auto\""):
        segment_nuclei(_raw(0), Threshold(), diameter=diameter, device="cpu")


def test_segment_nuclei_shrinks_large_nuclei_to_the_target_size_and_never_enlarges():
    from course_utils.segmentation import TARGET_DIAMETER, _segment, segment_nuclei

    seen = []

    class Record(Threshold):
        def forward(self, x):
            seen.append(tuple(x.shape[-2:]))
            return super().forward(x)

    img = _raw(0, (120, 120))
    for diameter, shape in [(None, (120, 120)), (TARGET_DIAMETER / 2, (120, 120)), (3 * TARGET_DIAMETER, (40, 40))]:
        mask = segment_nuclei(img, Record(), diameter=diameter, device="cpu")
        assert seen[-1] == shape, f"diameter={diameter}: the model saw {seen[-1]}, not {shape}"
        assert mask.shape == (120, 120), "the mask comes back at the image's size"
    # the benchmark's sweep of the target size (bench_segmentation.py --targets) passes it instead of the constant
    _segment(img, Record(), 0.5, True, 3 * TARGET_DIAMETER, None, "cpu", target=2 * TARGET_DIAMETER)
    assert seen[-1] == (80, 80)


# ---------------------------------------------------------------- validation split and training cells (03, 04)
def _lab_data(n=12, n_train=9):
    from course_utils.nuclei_data import SegmentationData

    X = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    return SegmentationData(X, (X > 5).float(), n_train, [f"im{i}" for i in range(n)])


def test_split_validation_sets_training_images_apart():
    data = _lab_data()
    (Xt, Yt), (Xv, Yv) = data.split_validation(3)
    assert Xt.shape == (6, 1, 4, 4) and Xv.shape == (3, 1, 4, 4) and Yv.shape == Xv.shape
    ids_train, ids_val = Xt[:, 0, 0, 0].tolist(), Xv[:, 0, 0, 0].tolist()
    assert sorted(ids_train + ids_val) == list(range(9)), "train + validation = the training images, no test image"
    assert ids_train == sorted(ids_train) and ids_val == sorted(ids_val)
    assert torch.equal(Yv, (Xv > 5).float()), "each mask stays with its image"
    (_, _), (Xv2, _) = data.split_validation(3)
    assert torch.equal(Xv, Xv2), "a fixed choice"


def test_split_validation_of_the_lab_data():
    from course_utils.nuclei_data import N_VALIDATION, nuclei_dataset

    data = nuclei_dataset()
    (Xt, _), (Xv, _) = data.split_validation()
    assert len(Xv) == N_VALIDATION and len(Xt) == data.n_train - N_VALIDATION
    train = data.train[0].flatten(1)
    assert all((train == x.flatten()).all(1).any() for x in Xv), "validation images are training images"
    assert not any((data.test[0].flatten(1) == x.flatten()).all(1).any() for x in Xv), "and never test images"


@pytest.mark.parametrize("n", [0, 9, -1, 2.5, True, "3"])
def test_split_validation_refuses_a_size_that_leaves_nothing(n):
    with pytest.raises(ValueError, match="whole number from 1 to 8"):
        _lab_data().split_validation(n)


def test_training_seconds_scales_with_steps_and_leaves_the_model_alone(g):
    from course_utils.segmentation import training_seconds

    net = SimpleUNet(2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batches = lambda: (torch.rand(2, 1, 16, 16, generator=g), (torch.rand(2, 1, 16, 16, generator=g) > 0.5).float())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads spin against any other busy process and make a tiny step take seconds
    try:
        t = training_seconds(net, batches, 100)
    finally:
        torch.set_num_threads(threads)
    assert 0 < t < 100, "a step of a tiny net takes well under a second"
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), "the model itself is not trained"
    assert training_seconds(net, batches, 0) == 0
    with pytest.raises(ValueError, match="probe >= 1"):
        training_seconds(net, batches, 10, probe=0)


def test_trained_models_say_which_cell_to_run():
    from course_utils.segmentation import NotTrainedError, TrainedModels

    models = TrainedModels("the training cell of section 7")
    models[4] = "net4"
    assert models[4] == "net4" and 4 in models and models.get(32) is None and list(models) == [4]
    told = r"32 has not been trained yet \(trained so far: 4\): run the training cell of section 7 to the end first"
    with pytest.raises(NotTrainedError, match=told):
        models[32]
    with pytest.raises(NotTrainedError, match=r"trained so far: none"):
        TrainedModels("the cell above")[("with augmentation", 0)]
    assert not isinstance(NotTrainedError("x"), KeyError), "never a bare KeyError"
    with pytest.raises(TypeError, match="which cell"):
        TrainedModels("")


# ---------------------------------------------------------------- instance view: split_nuclei, instances=True
def _discs(shape, centres, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.any([(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r for cy, cx in centres], axis=0)


def test_split_nuclei_splits_two_touching_discs_and_keeps_one_disc_whole():
    from course_utils.segmentation import split_nuclei

    two = _discs((40, 60), [(20, 18), (20, 38)], 10)  # touching: one connected component
    assert M.count_objects(torch.from_numpy(two)) == 1
    labels = split_nuclei(two)
    assert labels.dtype == np.int32 and labels.shape == two.shape
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2] and np.array_equal(labels > 0, two)
    assert labels[20, 12] != labels[20, 44] and labels[20, 12] > 0 and labels[20, 44] > 0  # one label per disc
    left = labels == labels[20, 12]
    assert abs(left.sum() - two.sum() / 2) <= 10  # cut near the neck, not through a disc
    for r in (3, 12, 40):  # a lone disc of any size stays one nucleus
        one = _discs((100, 100), [(50, 50)], r)
        assert np.unique(split_nuclei(one)).tolist() == [0, 1]
    ellipse = np.zeros((60, 60), bool)
    yy, xx = np.mgrid[:60, :60]
    ellipse[((yy - 30) / 8) ** 2 + ((xx - 30) / 22) ** 2 <= 1] = True  # an elongated nucleus is not cut in two
    assert split_nuclei(ellipse).max() == 1


def test_split_nuclei_separate_nuclei_cluster_border_and_messages():
    from course_utils.segmentation import split_nuclei

    apart = _discs((50, 50), [(10, 10), (38, 38)], 6)
    assert np.array_equal(split_nuclei(apart), M.label_objects(torch.from_numpy(apart)).numpy())  # raster order
    row = _discs((30, 90), [(15, 14), (15, 44), (15, 74)], 12)  # three overlapping in a row
    assert split_nuclei(row).max() == 3
    cut = _discs((40, 40), [(20, 0), (20, 19)], 10)  # one cut by the border, touching another
    assert split_nuclei(cut).max() == 2
    assert split_nuclei(np.zeros((5, 5))).max() == 0
    assert split_nuclei(torch.from_numpy(apart).float()).max() == 2  # tensors and 0/1 floats
    dots = apart.copy()
    dots[0, 49] = True
    assert split_nuclei(dots, min_size=5).max() == 2  # the stray pixel is dropped
    specks = _discs((60, 60), [(15, 15), (40, 40)], 8)
    specks[[2, 2, 55, 57], [50, 52, 3, 30]] = True  # 4 one-pixel specks: the typical nucleus stays ~200 px
    assert split_nuclei(specks).max() == 6 and split_nuclei(specks, min_fraction=0.05).max() == 2
    with pytest.raises(ValueError, match="one \\(H, W\\) mask"):
        split_nuclei(np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_nuclei(apart, depth=1.5)


def test_segment_nuclei_instances_returns_labels_whose_foreground_is_the_mask():
    from course_utils.segmentation import segment_nuclei

    img = _discs((48, 64), [(24, 20), (24, 40)], 10).astype(np.float32) * 0.9 + 0.05
    mask = segment_nuclei(img, Threshold(), device="cpu")
    labels = segment_nuclei(img, Threshold(), device="cpu", instances=True)
    assert labels.dtype == np.int32 and np.array_equal(labels > 0, mask) and labels.max() == 2
    batch = segment_nuclei(np.stack([img, img])[:, None], Threshold(), device="cpu", instances=True)
    assert batch.shape == (2, 48, 64) and np.array_equal(batch[1], labels)


def test_estimate_diameter_of_a_large_image_looks_at_fewer_pixels_and_agrees(monkeypatch):
    """Over ESTIMATE_PIXELS pixels, every k-th row and column is used (4 times faster at 1024²); the estimate stays
    within 10 % of the one on every pixel, for nuclei of the trained size and for large ones."""
    from course_utils import segmentation
    from course_utils.nuclei import make_nuclei

    for scale, tile in [((7.0, 7.0), 128), ((25.0, 25.0), 256)]:
        img = np.tile(make_nuclei(1, tile, generator=3, scale=scale)[0][0, 0].numpy(), (1040 // tile + 1,) * 2)
        fast = segmentation.estimate_diameter(img)
        with monkeypatch.context() as m:
            m.setattr(segmentation, "ESTIMATE_PIXELS", img.size)
            full = segmentation.estimate_diameter(img)
        assert fast == pytest.approx(full, rel=0.1), f"semi-axis {scale[0]}: {fast:.1f} px against {full:.1f} px"
        assert full == pytest.approx(2 * scale[0], rel=0.35), "the estimate is the nuclei's diameter"
