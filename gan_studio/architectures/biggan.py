"""BigGAN-deep in the layout of huggingface/pytorch-pretrained-BigGAN, key for key.

The published checkpoints (``biggan-deep-128/256/512``, mirrored on the Hub as e.g.
``osanseviero/BigGAN-deep-128``: ``config.json`` + ``pytorch_model.bin``) hold:

* ``embeddings.weight`` — Linear(num_classes → z_dim, no bias), fed a one-hot class vector;
* ``generator.gen_z`` — spectral-normalised Linear(2·z_dim → 4·4·16·ch) on ``cat(z, embed)``;
* ``generator.layers.N`` — ``GenBlock``s (``bn_0…bn_3``, ``conv_0…conv_3``: 1×1 → 3×3 → 3×3 → 1×1
  bottleneck convs, nearest ×2 upsampling in the marked blocks, channel-dropping skip) with one
  ``SelfAttn`` (``snconv1x1_theta/phi/g/o_conv``, ``gamma``) inserted before block
  ``attention_layer_position`` — so at position 8 the attention is ``layers.8`` and the blocks
  after it are shifted by one;
* ``generator.bn`` and ``generator.conv_to_rgb`` (3×3 to ``ch`` channels, of which the first 3
  are kept), then tanh.

Every conv/linear except ``embeddings`` is spectral-normalised the ``torch.nn.utils.spectral_norm``
way: ``weight_orig`` (parameter), ``weight_u``, ``weight_v`` (buffers), and the weight used is
``weight_orig / σ`` with ``σ = u · (W v)`` from the stored vectors. That is what
``spectral_norm`` computes in ``eval()``; in ``train()`` it would first run one power iteration
and overwrite ``u``/``v``, so outputs would drift from call to call. Here the stored vectors are
always used and never changed.

Batch norms carry no learned running statistics but **precomputed statistics for 51 truncation
values** (``running_means``/``running_vars`` of shape (n_stats, C), for truncation 0, 0.02, …, 1).
A call with truncation ``t`` uses the statistics at ``t / 0.02`` exactly as the reference does,
including its weighting: with ``coef, i = modf(t / step)`` it takes
``stats[i] * coef + stats[i + 1] * (1 - coef)`` (the weights are the other way round from linear
interpolation, and float rounding makes e.g. ``t = 0.14`` (``7.000000000000001`` steps) use the
statistics of 0.16 and ``t = 0.58`` those of 0.56);
we reproduce it because the published images are made that way. The conditional batch norms scale
by ``1 + scale(cond)`` and shift by ``offset(cond)``, both spectral-normalised linears.

Call contract: ``G(z, labels, truncation=t)`` with z (N, z_dim), labels int64 (N,) class indices
(or a float (N, num_classes) class vector) and 0 < t ≤ 1; its contract's ``truncation="input"`` tells
the generation pipeline to pass ``t``. The truncation picks the statistics, which were computed
for latents drawn as the reference's ``truncated_noise_sample`` draws them:
``z = t · truncnorm(-2, 2)`` (a standard normal cut at ±2, then scaled by ``t``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = [
    "BIGGAN_DEEP_128_LAYERS",
    "BigGANBatchNorm",
    "BigGANDeepGenerator",
    "SNConv2d",
    "SNLinear",
    "imagenet_class_names",
]

# (upsample, in_multiplier, out_multiplier) per GenBlock, as in the reference BigGANConfig (128 px).
BIGGAN_DEEP_128_LAYERS: tuple[tuple[bool, int, int], ...] = (
    (False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
    (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1),
)


class _SpectralNorm(nn.Module):
    """Shared part of :class:`SNConv2d` / :class:`SNLinear`: ``weight_orig``, ``weight_u``, ``weight_v``."""

    weight_orig: nn.Parameter
    weight_u: torch.Tensor
    weight_v: torch.Tensor

    def _register_sn(self, shape: tuple[int, ...], eps: float) -> None:
        self.eps = eps
        self.weight_orig = nn.Parameter(torch.empty(shape))
        rows = shape[0]
        cols = math.prod(shape[1:])
        self.register_buffer("weight_u", F.normalize(torch.randn(rows), dim=0, eps=eps))
        self.register_buffer("weight_v", F.normalize(torch.randn(cols), dim=0, eps=eps))
        nn.init.kaiming_uniform_(self.weight_orig, a=math.sqrt(5))

    def normalized_weight(self) -> torch.Tensor:
        """``weight_orig / σ`` with ``σ = u · (W v)`` from the stored vectors (spectral_norm in eval())."""
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.reshape(w.shape[0], -1), self.weight_v))
        return w / sigma


class SNConv2d(_SpectralNorm):
    """Conv2d with a stored-vector spectral norm; keys ``weight_orig``, ``weight_u``, ``weight_v``, ``bias``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, padding: int = 0,
                 bias: bool = True, eps: float = 1e-12) -> None:
        super().__init__()
        self.padding = padding
        self._register_sn((out_channels, in_channels, kernel_size, kernel_size), eps)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalized_weight(), self.bias, padding=self.padding)


class SNLinear(_SpectralNorm):
    """Linear with a stored-vector spectral norm; keys ``weight_orig``, ``weight_u``, ``weight_v``, ``bias``."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, eps: float = 1e-12) -> None:
        super().__init__()
        self._register_sn((out_features, in_features), eps)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class BigGANBatchNorm(nn.Module):
    """Batch norm with per-truncation precomputed statistics; class-conditional gain/bias or plain affine."""

    running_means: torch.Tensor  # buffers (n_stats, num_features)
    running_vars: torch.Tensor

    def __init__(self, num_features: int, condition_dim: int | None = None, *, n_stats: int = 51,
                 eps: float = 1e-4, conditional: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.conditional = conditional
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.step_size = 1.0 / (n_stats - 1)
        if conditional:
            if condition_dim is None:
                raise ValueError("a conditional BigGANBatchNorm needs condition_dim")
            self.scale = SNLinear(condition_dim, num_features, bias=False, eps=eps)
            self.offset = SNLinear(condition_dim, num_features, bias=False, eps=eps)
        else:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def statistics(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, var) for ``truncation``, weighted exactly as the reference does (module docstring)."""
        coef, start = math.modf(truncation / self.step_size)
        start = int(start)
        if coef != 0.0:
            mean = self.running_means[start] * coef + self.running_means[start + 1] * (1 - coef)
            var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
        else:
            mean, var = self.running_means[start], self.running_vars[start]
        return mean, var

    def forward(self, x: torch.Tensor, truncation: float, condition: torch.Tensor | None = None) -> torch.Tensor:
        mean, var = self.statistics(truncation)
        if self.conditional:
            assert condition is not None  # internal wiring
            mean = mean[None, :, None, None]
            var = var[None, :, None, None]
            weight = 1 + self.scale(condition)[:, :, None, None]
            bias = self.offset(condition)[:, :, None, None]
            normalized: torch.Tensor = (x - mean) / torch.sqrt(var + self.eps) * weight + bias
            return normalized
        return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)


class _GenBlock(nn.Module):
    """BigGAN-deep residual block (reference ``GenBlock``)."""

    def __init__(self, in_size: int, out_size: int, condition_dim: int, *, up_sample: bool, n_stats: int,
                 eps: float, reduction: int = 4) -> None:
        super().__init__()
        self.up_sample = up_sample
        self.drop_channels = in_size != out_size
        middle = in_size // reduction
        batch_norm = functools.partial(BigGANBatchNorm, condition_dim=condition_dim, n_stats=n_stats, eps=eps,
                                       conditional=True)
        self.bn_0 = batch_norm(in_size)
        self.conv_0 = SNConv2d(in_size, middle, 1, eps=eps)
        self.bn_1 = batch_norm(middle)
        self.conv_1 = SNConv2d(middle, middle, 3, padding=1, eps=eps)
        self.bn_2 = batch_norm(middle)
        self.conv_2 = SNConv2d(middle, middle, 3, padding=1, eps=eps)
        self.bn_3 = batch_norm(middle)
        self.conv_3 = SNConv2d(middle, out_size, 1, eps=eps)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, condition: torch.Tensor, truncation: float) -> torch.Tensor:
        skip = x
        x = self.conv_0(self.relu(self.bn_0(x, truncation, condition)))
        x = self.relu(self.bn_1(x, truncation, condition))
        if self.up_sample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv_1(x)
        x = self.conv_2(self.relu(self.bn_2(x, truncation, condition)))
        x = self.conv_3(self.relu(self.bn_3(x, truncation, condition)))
        if self.drop_channels:
            skip = skip[:, : skip.shape[1] // 2]
        if self.up_sample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return x + skip


class _SelfAttention(nn.Module):
    """SAGAN self-attention as in the reference ``SelfAttn`` (max-pooled keys and values, learned ``gamma``)."""

    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.channels = channels
        self.snconv1x1_theta = SNConv2d(channels, channels // 8, 1, bias=False, eps=eps)
        self.snconv1x1_phi = SNConv2d(channels, channels // 8, 1, bias=False, eps=eps)
        self.snconv1x1_g = SNConv2d(channels, channels // 2, 1, bias=False, eps=eps)
        self.snconv1x1_o_conv = SNConv2d(channels // 2, channels, 1, bias=False, eps=eps)
        self.maxpool = nn.MaxPool2d(2, stride=2, padding=0)
        self.softmax = nn.Softmax(dim=-1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, ch, h, w = x.shape
        theta = self.snconv1x1_theta(x).view(-1, ch // 8, h * w)
        phi = self.maxpool(self.snconv1x1_phi(x)).view(-1, ch // 8, h * w // 4)
        attention = self.softmax(torch.bmm(theta.permute(0, 2, 1), phi))
        g = self.maxpool(self.snconv1x1_g(x)).view(-1, ch // 2, h * w // 4)
        attended = torch.bmm(g, attention.permute(0, 2, 1)).view(-1, ch // 2, h, w)
        out: torch.Tensor = self.snconv1x1_o_conv(attended)
        return x + self.gamma * out


class _Generator(nn.Module):
    """The reference ``Generator`` (the part under ``generator.``)."""

    def __init__(self, z_dim: int, channel_width: int, layers: Sequence[Sequence[bool | int]],
                 attention_layer_position: int, eps: float, n_stats: int) -> None:
        super().__init__()
        ch = channel_width
        self.channel_width = ch
        condition_dim = 2 * z_dim
        self.gen_z = SNLinear(condition_dim, 4 * 4 * 16 * ch, eps=eps)
        blocks: list[nn.Module] = []
        for i, (up, in_mult, out_mult) in enumerate(layers):
            if i == attention_layer_position:
                blocks.append(_SelfAttention(ch * int(in_mult), eps))
            blocks.append(_GenBlock(ch * int(in_mult), ch * int(out_mult), condition_dim,
                                    up_sample=bool(up), n_stats=n_stats, eps=eps))
        self.layers = nn.ModuleList(blocks)
        self.bn = BigGANBatchNorm(ch, n_stats=n_stats, eps=eps, conditional=False)
        self.relu = nn.ReLU()
        self.conv_to_rgb = SNConv2d(ch, ch, 3, padding=1, eps=eps)
        self.tanh = nn.Tanh()

    def forward(self, condition: torch.Tensor, truncation: float) -> torch.Tensor:
        z = self.gen_z(condition)
        # The TF-converted weights are laid out (N, H, W, C).
        z = z.view(-1, 4, 4, 16 * self.channel_width).permute(0, 3, 1, 2).contiguous()
        for layer in self.layers:
            z = layer(z, condition, truncation) if isinstance(layer, _GenBlock) else layer(z)
        z = self.conv_to_rgb(self.relu(self.bn(z, truncation)))
        image: torch.Tensor = self.tanh(z[:, :3])
        return image


class BigGANDeepGenerator(Generator):
    """Class-conditional BigGAN-deep ``G(z, labels, truncation) -> image`` in [-1, 1], (N, 3, S, S).

    The constructor arguments are the published ``config.json`` (``BigGANConfig``) fields.

    Args:
        output_dim: image side the config is for (informational; the layers decide: 4 · 2^ups).
        z_dim: latent length; the class embedding has the same length.
        class_embed_dim: kept from the published config; the reference network does not use it
            (its embedding has ``z_dim`` outputs), so it must equal ``z_dim``.
        channel_width: the base width ``ch`` (128 in the published models).
        num_classes: number of classes (1000 ImageNet classes in the published models).
        layers: per GenBlock ``[upsample, in_multiplier, out_multiplier]`` (of ``ch``).
        attention_layer_position: index of the GenBlock the self-attention is inserted before.
        eps: epsilon of the batch norms and of the spectral norms.
        n_stats: number of truncation values with precomputed batch-norm statistics.
    """

    architecture = "biggan_deep"
    default_task = Task.CONDITIONAL


    def __init__(
        self,
        output_dim: int = 128,
        z_dim: int = 128,
        class_embed_dim: int = 128,
        channel_width: int = 128,
        num_classes: int = 1000,
        layers: Sequence[Sequence[bool | int]] | None = None,
        attention_layer_position: int = 8,
        eps: float = 1e-4,
        n_stats: int = 51,
    ) -> None:
        super().__init__()
        for name, value in (("output_dim", output_dim), ("z_dim", z_dim), ("channel_width", channel_width),
                            ("num_classes", num_classes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if class_embed_dim != z_dim:
            raise ValueError(
                f"class_embed_dim ({class_embed_dim!r}) must equal z_dim ({z_dim!r}): the reference network "
                f"embeds classes into z_dim values"
            )
        if not isinstance(attention_layer_position, int) or isinstance(attention_layer_position, bool):
            raise ValueError(f"attention_layer_position must be an int (-1 for none), got {attention_layer_position!r}")
        if not isinstance(n_stats, int) or isinstance(n_stats, bool) or n_stats < 2:
            raise ValueError(f"n_stats must be an int >= 2, got {n_stats!r}")
        layers = [list(layer) for layer in (BIGGAN_DEEP_128_LAYERS if layers is None else layers)]
        for layer in layers:
            if len(layer) != 3 or not isinstance(layer[0], bool) or not all(
                isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in layer[1:]
            ):
                raise ValueError(f"each entry of layers must be [upsample (bool), in_mult, out_mult], got {layer!r}")
        if layers and layers[0][1] != 16:
            raise ValueError(f"the first layer must take 16·channel_width channels (as gen_z makes), got {layers[0]!r}")
        if any(channel_width * layer[1] < 4 for layer in layers):
            raise ValueError(f"channel_width {channel_width!r} is too small: GenBlocks need >= 4 input channels")
        if 0 <= attention_layer_position < len(layers) and channel_width * layers[attention_layer_position][1] < 8:
            raise ValueError(f"channel_width {channel_width!r} is too small: the self-attention needs >= 8 channels")
        self.output_dim = output_dim
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.n_stats = n_stats
        self.image_size = 4 * 2 ** sum(1 for layer in layers if layer[0])
        self.embeddings = nn.Linear(num_classes, z_dim, bias=False)
        self.generator = _Generator(z_dim, channel_width, layers, attention_layer_position, float(eps), n_stats)

    def class_vector(self, labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(N, num_classes) from int64 labels (one-hot) or a float class vector (as given)."""
        if labels.dim() == 1 and not labels.is_floating_point():
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
                raise ValueError(f"class labels must be in 0 … {self.num_classes - 1}, got {labels.tolist()}")
            return F.one_hot(labels.long(), self.num_classes).to(dtype)
        if labels.dim() == 2 and labels.is_floating_point() and labels.shape[1] == self.num_classes:
            return labels.to(dtype)
        raise ValueError(
            f"labels must be int64 class indices (N,) or a float class vector (N, {self.num_classes}), "
            f"got {labels.dtype} {tuple(labels.shape)}"
        )

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.CONDITIONAL, latent_dim=self.z_dim, num_classes=self.num_classes,
                        truncation="input", native_size=self.image_size)

    def forward(self, z: torch.Tensor, labels: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """Images (N, 3, S, S) in [-1, 1] for latents z (N, z_dim), classes ``labels`` and 0 < truncation ≤ 1."""
        truncation = float(truncation)
        if not 0.0 < truncation <= 1.0:
            raise ValueError(f"truncation must be in (0, 1] for BigGAN, got {truncation}")
        if z.dim() == 4 and z.shape[2:] == (1, 1):
            z = z.flatten(1)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        classes = self.class_vector(labels, z.dtype)
        if classes.shape[0] != z.shape[0]:
            raise ValueError(f"{z.shape[0]} latents but {classes.shape[0]} labels")
        condition = torch.cat((z, self.embeddings(classes)), dim=1)
        image: torch.Tensor = self.generator(condition, truncation)
        return image


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names in index order, from torchvision's bundled weight metadata.

    No download: the names ship inside torchvision (the list already tells the two WordNet
    synsets that share a word apart: "crane bird"/"crane", "maillot"/"maillot tank suit").
    """
    from torchvision.models import ResNet50_Weights

    names = tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    if len(names) != 1000 or len(set(names)) != 1000:  # pragma: no cover - torchvision data changed
        raise RuntimeError("torchvision's ImageNet class list is not 1,000 unique names")
    return names
