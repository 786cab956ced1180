"""Feature networks for distribution metrics (FID, KID, precision/recall): the standard FID Inception,
or the studio's own domain network, always named in the result.

* ``inception``: the Inception-v3 of TensorFlow's FID code (Heusel et al. 2017), as ported to
  PyTorch by pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``, a plain state dict): torchvision's
  Inception3 layout (1008 classes, no aux head) with the FID blocks' pooling (average pooling that
  ignores padding; max pooling in the last block). Images are resized to 299×299 bilinearly and
  scaled to [-1, 1]; the feature is the 2048-d final average pool. The weights are downloaded once
  into the studio's cache and loaded weights-only; offline, :class:`FeatureNetworkUnavailable` says
  which file is missing and how to provide it. Numbers are comparable with published FIDs.
* ``digits``: the studio's digit classifier (``checkpoints/_evaluators/digits``), 128-d pooled
  features of 32×32 grey digits. Only meaningful for digits, and **not comparable** with published
  FIDs: results say ``features: digits (studio evaluator; not Inception)``.

There is no silent substitute: asking for ``inception`` offline is an error, never a fallback.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserInputError

__all__ = [
    "FEATURE_NETWORKS",
    "FID_WEIGHTS_FILE",
    "FID_WEIGHTS_URL",
    "FeatureNetwork",
    "FeatureNetworkUnavailable",
    "FIDInceptionV3",
    "feature_network",
    "fid_weights_path",
]

logger = logging.getLogger(__name__)

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}"
FEATURE_NETWORKS = ("inception", "digits")


class FeatureNetworkUnavailable(UserInputError):
    """The feature network asked for cannot be loaded here (its weights are missing and cannot be
    downloaded)."""


def _avg_pool_no_pad(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class _FIDInceptionA(nn.Module):
    """torchvision's InceptionA with TF's padding-excluding average pool (same parameters)."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        from torchvision.models.inception import BasicConv2d

        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool_no_pad(x))], 1)


class _FIDInceptionC(nn.Module):
    """torchvision's InceptionC with TF's padding-excluding average pool."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        from torchvision.models.inception import BasicConv2d

        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_no_pad(x))], 1)


class _FIDInceptionE(nn.Module):
    """torchvision's InceptionE; the first FID block pools with the padding-excluding average, the
    second with a max pool (as TF's graph does)."""

    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        from torchvision.models.inception import BasicConv2d

        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = _max_pool(x) if self.max_pool else _avg_pool_no_pad(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3: ``f(x) -> (N, 2048)`` for RGB ``x`` in [0, 1] of any size.

    The parameter names are torchvision's ``Inception3`` (``num_classes=1008``, ``aux_logits=False``),
    which is the layout of ``pt_inception-2015-12-05-6726825d.pth``; :meth:`load_fid_weights` loads it
    strictly. The classifier head ``fc`` is kept (it is in the file) but unused.
    """

    num_features = 2048

    def __init__(self) -> None:
        from torchvision.models.inception import BasicConv2d, InceptionB, InceptionD

        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = _FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = _FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = _FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = _FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = _FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = _FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = _FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = _FIDInceptionE(1280, max_pool=False)
        self.Mixed_7c = _FIDInceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                     "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def load_fid_weights(self, path: str | os.PathLike[str]) -> FIDInceptionV3:
        """Load ``pt_inception-2015-12-05-6726825d.pth`` (weights-only, strict)."""
        from ..weights import extract_state_dict, load_strict, load_weight_file

        state = extract_state_dict(load_weight_file(path), source=Path(path).name)
        load_strict(self, state, source=Path(path).name)
        return self.eval()


class _DigitFeatures(nn.Module):
    """The digit evaluator's pooled features: RGB or grey [0, 1] images -> (N, 128)."""

    def __init__(self, classifier: nn.Module, features: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier
        self.features = features
        self.num_features = int(features(torch.zeros(1, 1, 32, 32)).shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if x.shape[1] == 3:
            x = x.mean(1, keepdim=True)
        x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
        out: torch.Tensor = self.features(x * 2 - 1)
        return out


@dataclass(frozen=True)
class FeatureNetwork:
    """A feature extractor ``module(x in [0, 1], (N, 3, H, W)) -> (N, d)`` and what to call it in results."""

    name: str
    label: str  # shown next to every number computed with it
    module: nn.Module
    comparable: bool  # numbers comparable with published FIDs


def _cache_dir() -> Path:
    root = os.environ.get("GAN_STUDIO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "gan_studio")
    return Path(root)


def fid_weights_path(*, download: bool = True) -> Path:
    """Where the FID Inception weights are: ``GAN_STUDIO_FID_WEIGHTS`` if set, else the studio's cache
    (``GAN_STUDIO_CACHE`` or ``~/.cache/gan_studio``), downloading them there once (~92 MB) when
    ``download`` and the network allow. Raises :class:`FeatureNetworkUnavailable` naming the file."""
    explicit = os.environ.get("GAN_STUDIO_FID_WEIGHTS")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FeatureNetworkUnavailable(f"GAN_STUDIO_FID_WEIGHTS={explicit!r} is not a file")
        return path
    path = _cache_dir() / FID_WEIGHTS_FILE
    if path.is_file():
        return path
    hint = (f"the FID Inception weights {FID_WEIGHTS_FILE} are not in {path.parent}; download them from "
            f"{FID_WEIGHTS_URL} into that folder (or set GAN_STUDIO_FID_WEIGHTS to the file), or use "
            "--features digits for digits (the studio's own evaluator; not comparable with published FIDs)")
    from ..hub import is_offline

    if not download or is_offline():
        raise FeatureNetworkUnavailable(hint + ("" if download else " (downloading is switched off)"))
    _download(FID_WEIGHTS_URL, path, hint)
    return path


def _download(url: str, path: Path, hint: str, timeout: float = 30.0) -> None:
    """Stream ``url`` into ``path`` (temp file + rename, so a broken download leaves nothing)."""
    import shutil
    import tempfile
    import urllib.request

    path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - any network failure: say what is missing
        Path(tmp).unlink(missing_ok=True)
        raise FeatureNetworkUnavailable(f"{hint} (download failed: {exc})") from None


def feature_network(name: str, *, download: bool = True) -> FeatureNetwork:
    """The feature network ``name`` (one of :data:`FEATURE_NETWORKS`), in eval mode on the CPU."""
    if name == "inception":
        module = FIDInceptionV3().load_fid_weights(fid_weights_path(download=download))
        return FeatureNetwork("inception", "FID Inception-v3 (pt_inception-2015-12-05)", module, comparable=True)
    if name == "digits":
        from .classifiers import load_evaluator

        clf, _ = load_evaluator("digits")
        features = getattr(clf, "features", None)
        if not isinstance(features, nn.Module):
            raise FeatureNetworkUnavailable("the digits evaluator has no feature extractor")
        return FeatureNetwork("digits", "digits (studio evaluator; not Inception, not comparable with "
                              "published FIDs)", _DigitFeatures(clf, features).eval(), comparable=False)
    raise UserInputError(f"unknown feature network {name!r}; choose one of: {', '.join(FEATURE_NETWORKS)}")
