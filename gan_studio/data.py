"""The data sets that training, evaluation and comparison share; they ship inside installed
packages (nothing is downloaded).

* **Digits**: scikit-learn's ``load_digits`` (1,797 labelled 8×8 digits, 0–16 grey levels; BSD-3-Clause,
  a copy of the UCI "Optical Recognition of Handwritten Digits" test set), upscaled to 32×32 with
  bicubic interpolation and scaled to [-1, 1] (white strokes on black). A fixed, stratified 80/20
  split (``random_state=0``) separates the images the generators and classifiers train on from the
  held-out images the evaluation uses.
* **Digit attributes** for StarGAN: ``thick`` (grey dilation), ``slanted`` (italic shear) and
  ``inverted`` (negative), applied by classical transforms to any digit, so every image carries a
  known binary attribute vector.
* **Photos**: the colour photos bundled with scikit-learn and scikit-image whose licences allow
  redistribution of derived works (see :data:`PHOTOS`), each split into vertical strips
  (train / classifier / evaluation) so that evaluation crops are never seen in training.
* **Pencil sketches**: a classical colour-dodge pencil-sketch filter (:func:`pencil_sketch`).

The random crops that only training draws are in :mod:`gan_studio.training.data`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

DIGIT_SIZE = 32
DIGIT_SPLIT_SEED = 0
DIGIT_TEST_FRACTION = 0.2

ATTRIBUTES = ("thick", "slanted", "inverted")
SHEAR = 0.4  # x-shift per unit of y (normalised coordinates) of the `slanted` attribute


# ----------------------------------------------------------------------------------------- digits
@cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float32) / 16.0, bunch.target.astype(np.int64)


@cache
def _digit_split() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    _, labels = _digits_arrays()
    idx = np.arange(len(labels))
    train, test = train_test_split(
        idx, test_size=DIGIT_TEST_FRACTION, random_state=DIGIT_SPLIT_SEED, stratify=labels
    )
    return np.sort(train), np.sort(test)


def upscale_digits(images: np.ndarray | torch.Tensor, size: int = DIGIT_SIZE) -> torch.Tensor:
    """(N, 8, 8) grey levels in [0, 1] -> (N, 1, size, size) in [-1, 1] (bicubic, clamped)."""
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 3:
        x = x[:, None]
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(0.0, 1.0)
    return x * 2.0 - 1.0


def load_digits_32(split: str = "train", size: int = DIGIT_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits at ``size``×``size`` in [-1, 1] and their labels.

    ``split`` is ``"train"`` (1,437 images), ``"test"`` (360 held-out images) or ``"all"``.
    """
    images, labels = _digits_arrays()
    train, test = _digit_split()
    if split == "train":
        idx = train
    elif split == "test":
        idx = test
    elif split == "all":
        idx = np.arange(len(labels))
    else:
        raise ValueError(f"unknown digits split {split!r}; choose one of: train, test, all")
    return upscale_digits(images[idx], size), torch.as_tensor(labels[idx])


def apply_attributes(x: torch.Tensor, attrs: torch.Tensor) -> torch.Tensor:
    """Apply the :data:`ATTRIBUTES` transforms to digits.

    ``x`` (N, C, H, W) in [-1, 1] (white strokes on black), ``attrs`` (N, 3) in {0, 1} in the order
    of :data:`ATTRIBUTES`: ``thick`` = 3×3 grey dilation, ``slanted`` = italic shear by
    :data:`SHEAR`, ``inverted`` = negative (black strokes on white).
    """
    attrs = attrs.to(x.dtype)
    a = attrs[:, 0].view(-1, 1, 1, 1)
    x = a * F.max_pool2d(x, 3, stride=1, padding=1) + (1 - a) * x
    s = attrs[:, 1]
    n = x.shape[0]
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 1] = -SHEAR * s  # sample x' = x - k*y: the top leans right
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # pad with the background (-1) by shifting to [0, 2] where zero-padding is black
    x = F.grid_sample(x + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1.0
    v = attrs[:, 2].view(-1, 1, 1, 1)
    return v * (-x) + (1 - v) * x


def to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Replicate a 1-channel image to 3 channels."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


# ----------------------------------------------------------------------------------------- photos
@dataclass(frozen=True)
class Photo:
    """An image bundled in an installed package, with its licence."""

    name: str
    package: str  # import name of the package that ships it
    relpath: str  # path inside the package
    license: str
    attribution: str


PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in (
        Photo("china", "sklearn", "datasets/images/china.jpg", "CC-BY-2.0",
              "Summer Palace, Beijing, by danielbuechele (Flickr), via scikit-learn"),
        Photo("flower", "sklearn", "datasets/images/flower.jpg", "CC-BY-2.0",
              "flower by vultilion (Flickr), via scikit-learn"),
        Photo("astronaut", "skimage", "data/astronaut.png", "public domain",
              "Eileen Collins, NASA, via scikit-image"),
        Photo("chelsea", "skimage", "data/chelsea.png", "CC0-1.0",
              "Chelsea the cat by Stefan van der Walt, via scikit-image"),
        Photo("coffee", "skimage", "data/coffee.png", "CC0-1.0",
              "coffee cup by Rachel Michetti, via scikit-image"),
        Photo("rocket", "skimage", "data/rocket.jpg", "public domain",
              "SpaceX Falcon 9 launch, SpaceX (public domain), via scikit-image"),
    )
}
# scikit-image's other colour images are not used: motorcycle_left/right (Middlebury stereo set,
# no licence stated), color.png (no licence stated), hubble_deep_field/retina/ihc (not photos of
# everyday scenes).

# Greyscale textures and photos, and two colour images that are not everyday scenes, used only to
# teach the upscaler fine structure (edges, text, grain); each licence is the one scikit-image's
# docstring for the image states. Loaded as RGB (a grey image's three channels are equal).
DETAIL_IMAGES: dict[str, Photo] = {
    p.name: p
    for p in (
        Photo("brick", "skimage", "data/brick.png", "CC0-1.0", "Bricks25 texture, CC0Textures, via scikit-image"),
        Photo("grass", "skimage", "data/grass.png", "CC0-1.0", "grass texture, CC0Textures, via scikit-image"),
        Photo("gravel", "skimage", "data/gravel.png", "CC0-1.0", "Gravel04 texture, CC0Textures, via scikit-image"),
        Photo("camera", "skimage", "data/camera.png", "CC0-1.0",
              "cameraman by Lav Varshney (CC0), via scikit-image"),
        Photo("coins", "skimage", "data/coins.png", "no known copyright restrictions",
              "Greek coins from Pompeii, Brooklyn Museum Collection, via scikit-image"),
        Photo("text", "skimage", "data/text.png", "public domain",
              "text for corner detection (Wikipedia, File:Corner.png), via scikit-image"),
        Photo("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "public domain",
              "Hubble eXtreme Deep Field, NASA, via scikit-image"),
        Photo("retina", "skimage", "data/retina.jpg", "CC0-1.0",
              "fundus photograph of a normal left eye (Wikimedia Commons, CC0), via scikit-image"),
    )
}

# The colorizer's split, by whole photo (a photo is either trained on or held out, never both), chosen
# by content, not by colour: half the photos each, with a sky in both halves. Training: china
# (daylight sky, trees, water, a building), flower (a flower, leaves), coffee (an interior: cup,
# saucer, wooden table). Held out: astronaut (skin, hair, a flag, a spacesuit), chelsea (an animal's
# fur), rocket (a dusk sky, launch towers, lights). No bundled photo with a licence shows a street.
COLORIZATION_TRAIN_PHOTOS = ("china", "flower", "coffee")
COLORIZATION_HELDOUT_PHOTOS = ("astronaut", "chelsea", "rocket")


def photo_path(name: str) -> Path:
    """Path of a bundled photo or detail image (``ValueError`` listing the valid names for an unknown one)."""
    import importlib

    try:
        photo = PHOTOS[name] if name in PHOTOS else DETAIL_IMAGES[name]
    except KeyError:
        raise ValueError(f"unknown photo {name!r}; choose one of: {', '.join([*PHOTOS, *DETAIL_IMAGES])}") from None
    pkg = importlib.import_module(photo.package)
    if pkg.__file__ is None:  # a namespace package: no folder to find the photo in
        raise ValueError(f"photo {name!r}: package {photo.package!r} has no files")
    return Path(pkg.__file__).parent / photo.relpath


def image_info(name: str) -> Photo:
    """The :class:`Photo` record (source, licence, attribution) of a bundled photo or detail image."""
    photo_path(name)  # the ValueError naming the choices for an unknown name
    return PHOTOS[name] if name in PHOTOS else DETAIL_IMAGES[name]


@cache
def load_photo(name: str) -> np.ndarray:
    """A bundled photo or detail image as float32 RGB (H, W, 3) in [0, 1]."""
    from PIL import Image

    with Image.open(photo_path(name)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


# Vertical strips of every photo: training, classifier training, evaluation (held out).
STRIPS = {"train": (0.0, 0.7), "classifier": (0.7, 0.85), "eval": (0.85, 1.0)}


def photo_strip(name: str, strip: str) -> np.ndarray:
    """The ``strip`` (``train``/``classifier``/``eval``, see :data:`STRIPS`) columns of a photo."""
    if strip == "full":
        return load_photo(name)
    try:
        lo, hi = STRIPS[strip]
    except KeyError:
        raise ValueError(f"unknown strip {strip!r}; choose one of: full, {', '.join(STRIPS)}") from None
    img = load_photo(name)
    w = img.shape[1]
    return img[:, int(round(lo * w)) : int(round(hi * w))]


def pencil_sketch(rgb: np.ndarray, sigma: float = 3.0, gamma: float = 2.0) -> np.ndarray:
    """Classical pencil sketch of an RGB image (H, W, 3) in [0, 1] -> grey (H, W) in [0, 1].

    Grayscale, colour-dodge blend of the grey image with its Gaussian-blurred negative
    (``grey / (1 - blur(1 - grey))``), then ``gamma`` darkens the strokes. No paper texture.
    """
    from scipy.ndimage import gaussian_filter

    grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    blurred = gaussian_filter(1.0 - grey, sigma=sigma)
    dodge = np.clip(grey / np.maximum(1.0 - blurred, 1e-3), 0.0, 1.0)
    sketch: np.ndarray = (dodge**gamma).astype(np.float32)
    return sketch


def sketch_rgb(rgb: np.ndarray, **kwargs: float) -> np.ndarray:
    """:func:`pencil_sketch` replicated to 3 channels (H, W, 3)."""
    s = pencil_sketch(rgb, **kwargs)
    return np.repeat(s[..., None], 3, axis=2)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) in [0, 1] -> (C, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))) * 2.0 - 1.0


def grid_crops(img: torch.Tensor, size: int, stride: int | None = None) -> torch.Tensor:
    """All ``size`` crops of a (C, H, W) image on a regular grid (deterministic)."""
    stride = stride or size
    _, h, w = img.shape
    crops = [
        img[:, top : top + size, left : left + size]
        for top in range(0, h - size + 1, stride)
        for left in range(0, w - size + 1, stride)
    ]
    return torch.stack(crops)
