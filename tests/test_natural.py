"""Offline natural images: fixed split, crops, Gaussian noise of the stated sigma."""
import pytest
import torch

from course_utils import natural as N


def test_split_is_fixed_and_disjoint():
    assert not set(N.TRAIN_IMAGES) & set(N.TEST_IMAGES)
    train, test = N.skimage_images("train"), N.skimage_images("test")
    assert len(train) == len(N.TRAIN_IMAGES) and len(test) == 4
    for im in train + test:
        assert im.dtype == torch.float32 and im.shape[0] == 1 and 0 <= im.min() and im.max() <= 1
    colour = N.skimage_images("test", gray=False)
    assert all(im.shape[0] == 3 for im in colour)
    with pytest.raises(ValueError, match="split"):
        N.skimage_images("val")


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
