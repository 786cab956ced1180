"""Every image conversion in gan_studio: decoding uploads safely, PIL <-> tensor, sizes, Lab colour,
grids and GIFs.

Nothing else in the code base converts images by hand; pipelines, the UI and the CLI call in here.

* :mod:`~gan_studio.image_io.decode`: :func:`load_image` decodes untrusted files (format
  allow-list, pixel cap read from the header before any pixel is decoded, every failure an
  :class:`~gan_studio.errors.ImageInputError` naming the file) into 8-bit RGB with notes on what
  was done (``keep_alpha=True`` keeps transparency as ``RGBA``; the studio's own provenance text
  survives as ``info[PROVENANCE_KEY]``); :func:`load_animation` decodes every frame of an animated
  GIF with its timing and loop count, within caps on frames and frames × pixels; :func:`ensure_rgb` converts any
  Pillow mode; :func:`split_alpha` / :func:`join_alpha` take an image's alpha off before a model
  runs (compositing onto white) and put it back on the output (:func:`transparency` reads it).
* :mod:`~gan_studio.image_io.tensors`: ``float32`` tensors ``(N, C, H, W)`` in ``[-1, 1]``
  (:func:`pil_to_tensor`, :func:`tensor_to_pil`).
* :mod:`~gan_studio.image_io.sizing`: :func:`working_size`, :func:`resize`, :func:`center_crop`
  (and the box it cuts, :func:`center_crop_box`).
* :mod:`~gan_studio.image_io.lab`: CIE Lab (sRGB, D65, 2° observer, the same formulas as
  ``skimage.color.rgb2lab``/``lab2rgb``) with ``L/50 - 1`` and ``ab/110`` scaling.
* :mod:`~gan_studio.image_io.grids`: :func:`make_grid`, GIFs (:func:`gif_bytes`, :func:`save_gif`,
  :func:`frames_to_gif`).

torch is imported lazily inside the functions that need it: importing this package only costs
PIL and numpy.
"""

from __future__ import annotations

from .decode import (
    ALLOWED_FORMATS,
    DEFAULT_MAX_ANIMATION_PIXELS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    PROVENANCE_KEY,
    Animation,
    ensure_rgb,
    is_animated_gif,
    join_alpha,
    load_animation,
    load_image,
    split_alpha,
    transparency,
)
from .grids import frames_to_gif, gif_bytes, make_grid, save_gif
from .lab import (
    LAB_BAND_ROWS,
    denormalize_ab,
    denormalize_l,
    lab_to_rgb,
    merge_lab,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
    split_luminance,
)
from .sizing import center_crop, center_crop_box, resize, working_size
from .tensors import pil_to_tensor, tensor_to_pil

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_ANIMATION_PIXELS",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_PIXELS",
    "PROVENANCE_KEY",
    "Animation",
    "LAB_BAND_ROWS",
    "center_crop",
    "center_crop_box",
    "denormalize_ab",
    "denormalize_l",
    "ensure_rgb",
    "frames_to_gif",
    "gif_bytes",
    "is_animated_gif",
    "join_alpha",
    "load_animation",
    "lab_to_rgb",
    "load_image",
    "make_grid",
    "merge_lab",
    "normalize_ab",
    "normalize_l",
    "pil_to_tensor",
    "resize",
    "rgb_to_lab",
    "save_gif",
    "split_alpha",
    "split_luminance",
    "tensor_to_pil",
    "transparency",
    "working_size",
]
