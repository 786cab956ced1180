"""DDColor (Kang et al., ICCV 2023; piddnad/DDColor, Apache-2.0), key for key, weights only.

The published colorizers ``piddnad/ddcolor_paper``, ``ddcolor_modelscope``, ``ddcolor_artistic``
(DDColor-L, ConvNeXt-L encoder) and ``ddcolor_paper_tiny`` (DDColor-T, ConvNeXt-T) are
``PyTorchModelHubMixin`` folders: a ``config.json`` of DDColor's own constructor arguments
(``encoder_name``, ``decoder_name``, ``input_size``, ``num_output_channels``, ``last_norm``,
``do_normalize``, ``num_queries``, ``num_scales``, ``dec_layers``) beside a plain state dict in
``pytorch_model.bin``. This module has the same module tree as the reference ``DDColor`` (both the
``ddcolor/model.py`` and the ``basicsr/archs/ddcolor_arch.py`` versions, which give the same keys),
written in plain torch, so those files load with ``load_state_dict(strict=True)``::

    encoder.arch                    ConvNeXt: downsample_layers.{0..3} (stem 4×4/4 conv + channels-first
                                    LayerNorm; then LayerNorm + 2×2/2 conv), stages.{0..3}.{j} blocks
                                    (7×7 depthwise conv, LayerNorm, 4× MLP, layer scale ``gamma``),
                                    norm{0..3}: a channels-first LayerNorm per stage, whose outputs are
                                    the features the decoders read (the main path runs un-normalised),
                                    norm: the classifier's LayerNorm (stored, unused by colorization)
    decoder.layers.{0,1,2}          pixel decoder: three U-Net blocks, ×2 each (1/32 → 1/4): spectral-
                                    normalised 1×1 conv + BatchNorm, ReLU, pixel shuffle, blur
                                    (replication pad + 2×2 average) (``shuf``); BatchNorm of the skip
                                    feature (``bn``); ReLU; spectral 3×3 conv, ReLU, BatchNorm (``conv``)
    decoder.last_shuf               spectral 1×1 conv, ReLU, pixel shuffle ×4, blur (1/4 → full)
    decoder.color_decoder           colour decoder: ``num_queries`` learned colour queries
                                    (``query_feat`` + positional ``query_embed``) refined by
                                    ``dec_layers`` layers of cross-attention to one of the pixel
                                    decoder's three scales (1/16, 1/8, 1/4 in turn; 1×1 ``input_proj``
                                    + ``level_embed`` + sine positions), self-attention and a
                                    2048-wide FFN (post-norm, 8 heads, width 256); ``decoder_norm``,
                                    a 3-layer MLP ``color_embed``; each query's embedding dotted with
                                    the full-resolution features gives one map per query
    refine_net.0.0                  spectral 1×1 conv: the query maps + the (normalised) input → ab
    mean, std                       the ImageNet statistics the input is normalised with (buffers)

Spectral normalisation is torch's ``spectral_norm`` in eval mode, written out: keys
``weight_orig``, ``weight_u``, ``weight_v``; the weight used is ``weight_orig / (u · W v)`` with the
stored vectors (no power iteration at inference).

Call contract: ``G(x)`` with ``x`` (N, 3, H, W) the luminance drawn as a grey sRGB image in [0, 1]
(the reference pipeline: the image resized to ``input_size``, its Lab L with a = b = 0, converted
back to RGB), H and W multiples of 32, returns (N, 2, H, W) = (a*, b*) in Lab units (OpenCV float
Lab, the same scale as CIE a*, b*). The model normalises its input with ImageNet's mean and std
itself. The reference pipeline resizes ab to the photo's size and joins it with the photo's own L.

Loading: the reference loads with ``strict=False`` (its ``build_ddcolor_model``, and
``PyTorchModelHubMixin``'s default). The one known reason is the ConvNeXt classifier head
``encoder.arch.head_cls`` (``Linear(dims[-1], 4)``): the commit that removed it (1a190e2, August
2023, "remove redundant layers") also switched the reference's loading to ``strict=False``, so
checkpoints saved by the training code before it (spandrel's DDColor loader drops the same two keys)
carry ``encoder.arch.head_cls.weight`` / ``.bias``, which nothing reads. :func:`drop_unused_head`
removes exactly those two keys (checking their shapes); every other key must match, strictly. The
Hub's ``pytorch_model.bin`` files appear to hold exactly this module's keys (docs/catalogue.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from ..errors import CheckpointError
from .base import Generator

__all__ = [
    "DDCOLOR_WEIGHT_FILES",
    "DDColorGenerator",
    "ENCODERS",
    "UNUSED_HEAD_KEYS",
    "drop_unused_head",
    "is_ddcolor_config",
]

logger = logging.getLogger(__name__)

# encoder_name -> (blocks per stage, channels per stage). convnext-t and convnext-l are the published
# models (and all that ddcolor/model.py builds); convnext-s and -b are basicsr's further choices.
ENCODERS: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    "convnext-t": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "convnext-s": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "convnext-b": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "convnext-l": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}
DECODERS = ("MultiScaleColorDecoder",)
LAST_NORMS = ("Spectral",)
SIZE_MULTIPLE = 32  # the encoder downsamples by 32 and the U-Net blocks join features of each scale
HIDDEN = 256  # the colour decoder's width
HEADS = 8
FFN_WIDTH = 2048
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Weight files of a DDColor folder, in the order looked for: a safetensors conversion first.
DDCOLOR_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
# The ConvNeXt classifier head the training code had (Linear(dims[-1], 4)); see the module docstring.
UNUSED_HEAD_KEYS = ("encoder.arch.head_cls.weight", "encoder.arch.head_cls.bias")
HEAD_CLASSES = 4


# ---- building blocks ---------------------------------------------------------------------------
class _ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channels of an (N, C, H, W) tensor (ConvNeXt's ``channels_first`` norm)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class _ConvNeXtBlock(nn.Module):
    """7×7 depthwise conv → LayerNorm → Linear ×4 → GELU → Linear → × gamma, plus the input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        out: torch.Tensor = x + (self.gamma * y).permute(0, 3, 1, 2)
        return out


class _ConvNeXt(nn.Module):
    """The ConvNeXt trunk; returns the four stage outputs through their ``norm{i}`` layers."""

    def __init__(self, depths: tuple[int, ...], dims: tuple[int, ...]) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), _ChannelsFirstLayerNorm(dims[0]))
        ])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(
                _ChannelsFirstLayerNorm(dims[i]), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2)))
        self.stages = nn.ModuleList(nn.Sequential(*(_ConvNeXtBlock(dims[i]) for _ in range(depths[i])))
                                    for i in range(4))
        for i in range(4):
            self.add_module(f"norm{i}", _ChannelsFirstLayerNorm(dims[i]))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)  # the classifier's norm: stored, not used here

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
            features.append(getattr(self, f"norm{i}")(x))
        return features


class _Encoder(nn.Module):
    def __init__(self, encoder_name: str) -> None:
        super().__init__()
        depths, dims = ENCODERS[encoder_name]
        self.arch = _ConvNeXt(depths, dims)


class _SpectralConv2d(nn.Module):
    """A Conv2d under torch's ``spectral_norm`` in eval mode: ``weight_orig / (u · W v)``."""

    weight_u: torch.Tensor
    weight_v: torch.Tensor

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, bias: bool) -> None:
        super().__init__()
        self.padding = (kernel_size - 1) // 2
        self.weight_orig = nn.Parameter(torch.empty(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        # placeholders until weights are loaded: u, v unit vectors of one power step (so σ = |W v| > 0)
        nn.init.kaiming_uniform_(self.weight_orig, a=math.sqrt(5))
        fan_in = in_ch * kernel_size * kernel_size
        v = torch.full((fan_in,), fan_in ** -0.5)
        u = torch.full((out_ch,), out_ch ** -0.5)
        if not self.weight_orig.is_meta:
            u = self.weight_orig.detach().flatten(1) @ v
            u = u / u.norm().clamp_min(1e-12)
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)

    def weight(self) -> torch.Tensor:
        """The normalised weight."""
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.flatten(1), self.weight_v))
        return w / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


def _conv_layer(in_ch: int, out_ch: int, kernel_size: int, *, relu: bool, batch_norm: bool) -> nn.Sequential:
    """Spectral conv (with a bias unless a BatchNorm follows), then ReLU, then BatchNorm, as asked."""
    layers: list[nn.Module] = [_SpectralConv2d(in_ch, out_ch, kernel_size, bias=not batch_norm)]
    if relu:
        layers.append(nn.ReLU())
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    return nn.Sequential(*layers)


class _PixelShuffleUp(nn.Module):
    """1×1 spectral conv (+ BatchNorm), ReLU, pixel shuffle by ``scale``, blur (pad + 2×2 average)."""

    def __init__(self, in_ch: int, out_ch: int, *, scale: int, batch_norm: bool) -> None:
        super().__init__()
        self.conv = _conv_layer(in_ch, out_ch * scale * scale, 1, relu=False, batch_norm=batch_norm)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_shuffle(F.relu(self.conv(x)), self.scale)
        return F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)


class _UnetBlockWide(nn.Module):
    """Upsample ``up_in`` ×2, join it with the BatchNorm'd skip feature, ReLU, 3×3 conv block."""

    def __init__(self, up_in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.shuf = _PixelShuffleUp(up_in_ch, out_ch, scale=2, batch_norm=True)
        self.bn = nn.BatchNorm2d(skip_ch)
        self.conv = _conv_layer(out_ch + skip_ch, out_ch, 3, relu=True, batch_norm=True)

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.relu(torch.cat([self.shuf(up_in), self.bn(skip)], dim=1)))
        return out


def sine_positions(x: torch.Tensor, num_feats: int = HIDDEN // 2, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised sine position embedding of an (N, C, H, W) feature map: (N, 2·num_feats, H, W),
    y's sines and cosines first, then x's."""
    n, _, h, w = x.shape
    ones = torch.ones((n, h, w), device=x.device, dtype=torch.float32)
    y = ones.cumsum(1)
    xs = ones.cumsum(2)
    scale, eps = 2 * math.pi, 1e-6
    y = y / (y[:, -1:, :] + eps) * scale
    xs = xs / (xs[:, :, -1:] + eps) * scale
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=x.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_feats)
    pos_x = xs[:, :, :, None] / dim_t
    pos_y = y[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class _SelfAttentionLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(HIDDEN, HEADS)
        self.norm = nn.LayerNorm(HIDDEN)

    def forward(self, tgt: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        q = k = tgt + query_pos
        out: torch.Tensor = self.norm(tgt + self.self_attn(q, k, value=tgt, need_weights=False)[0])
        return out


class _CrossAttentionLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(HIDDEN, HEADS)
        self.norm = nn.LayerNorm(HIDDEN)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor,
                query_pos: torch.Tensor) -> torch.Tensor:
        attended = self.multihead_attn(query=tgt + query_pos, key=memory + pos, value=memory, need_weights=False)[0]
        out: torch.Tensor = self.norm(tgt + attended)
        return out


class _FFNLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear1 = nn.Linear(HIDDEN, FFN_WIDTH)
        self.linear2 = nn.Linear(FFN_WIDTH, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN)

    def forward(self, tgt: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.norm(tgt + self.linear2(F.relu(self.linear1(tgt))))
        return out


class _MLP(nn.Module):
    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class _MultiScaleColorDecoder(nn.Module):
    """Colour queries refined against the pixel decoder's scales; one map per query at full size."""

    def __init__(self, in_channels: tuple[int, ...], num_queries: int, dec_layers: int) -> None:
        super().__init__()
        self.transformer_self_attention_layers = nn.ModuleList(_SelfAttentionLayer() for _ in range(dec_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(_CrossAttentionLayer() for _ in range(dec_layers))
        self.transformer_ffn_layers = nn.ModuleList(_FFNLayer() for _ in range(dec_layers))
        self.decoder_norm = nn.LayerNorm(HIDDEN)
        self.query_feat = nn.Embedding(num_queries, HIDDEN)
        self.query_embed = nn.Embedding(num_queries, HIDDEN)
        self.level_embed = nn.Embedding(len(in_channels), HIDDEN)
        self.input_proj = nn.ModuleList(nn.Conv2d(c, HIDDEN, kernel_size=1) for c in in_channels)
        self.color_embed = _MLP(HIDDEN, 3)

    def forward(self, scales: list[torch.Tensor], image_features: torch.Tensor) -> torch.Tensor:
        src, pos = [], []
        for i, feature in enumerate(scales):
            pos.append(sine_positions(feature).flatten(2).permute(2, 0, 1))  # (HW, N, C)
            projected = self.input_proj[i](feature).flatten(2) + self.level_embed.weight[i][None, :, None]
            src.append(projected.permute(2, 0, 1))
        n = src[0].shape[1]
        query_pos = self.query_embed.weight.unsqueeze(1).repeat(1, n, 1)  # (Q, N, C)
        out = self.query_feat.weight.unsqueeze(1).repeat(1, n, 1)
        for i in range(len(self.transformer_ffn_layers)):
            level = i % len(scales)
            out = self.transformer_cross_attention_layers[i](out, src[level], pos[level], query_pos)
            out = self.transformer_self_attention_layers[i](out, query_pos)
            out = self.transformer_ffn_layers[i](out)
        colours = self.color_embed(self.decoder_norm(out).transpose(0, 1))  # (N, Q, C)
        return torch.einsum("bqc,bchw->bqhw", colours, image_features)


class _DualDecoder(nn.Module):
    """The pixel decoder (U-Net blocks + last shuffle) feeding the colour decoder."""

    def __init__(self, encoder_dims: tuple[int, ...], nf: int, num_queries: int, dec_layers: int) -> None:
        super().__init__()
        skips = encoder_dims[-2::-1]  # stage 3, 2, 1 features joined on the way up
        outs = [nf] * (len(skips) - 1) + [nf // 2]
        ins = [encoder_dims[-1], *outs[:-1]]
        self.layers = nn.Sequential(*(_UnetBlockWide(i, s, o) for i, s, o in zip(ins, skips, outs, strict=True)))
        self.last_shuf = _PixelShuffleUp(nf // 2, nf // 2, scale=4, batch_norm=False)
        self.color_decoder = _MultiScaleColorDecoder(tuple(outs), num_queries, dec_layers)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        scales = []
        for block, skip in zip(self.layers, features[-2::-1], strict=True):
            x = block(x, skip)
            scales.append(x)
        out: torch.Tensor = self.color_decoder(scales, self.last_shuf(x))
        return out


# ---- the generator -----------------------------------------------------------------------------
class DDColorGenerator(Generator):
    """``G(grey RGB in [0, 1]) -> (a*, b*)``: DDColor's dual-decoder colorizer.

    Args (DDColor's own ``config.json`` keys; the published repos state all but ``nf`` and
    ``num_input_channels``, and upstream's class defaults differ, so the defaults here are the
    published DDColor-L's):
        encoder_name: ``"convnext-t"`` (DDColor-T), ``"convnext-l"`` (DDColor-L), or basicsr's
            ``"convnext-s"`` / ``"convnext-b"``.
        decoder_name: ``"MultiScaleColorDecoder"`` (the published models; basicsr's single-scale
            variant has no published weights and is not built).
        input_size: the ``[height, width]`` the reference pipeline resizes to (512 × 512); only the
            working size: the network itself takes any multiple of 32.
        num_output_channels: 2 (a*, b*).
        last_norm: ``"Spectral"``: the normalisation of the last upsampling conv.
        do_normalize: False (True would de-normalise a 3-channel output; not a colorizer's).
        num_queries: colour queries (100).
        num_scales: pixel-decoder scales the queries attend to (3: 1/16, 1/8, 1/4).
        dec_layers: colour-decoder layers (9).
        nf: pixel-decoder width (512; the colour decoder's inputs are fixed at 512, 512, 256).
        num_input_channels: 3 (the grey RGB input).
    """

    architecture = "ddcolor"
    default_task = Task.COLORIZATION
    own_folder_format = True  # DDColor's PyTorchModelHubMixin folders: its config.json, pytorch_model.bin
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        encoder_name: str = "convnext-l",
        decoder_name: str = "MultiScaleColorDecoder",
        input_size: list[int] | tuple[int, int] = (512, 512),
        num_output_channels: int = 2,
        last_norm: str = "Spectral",
        do_normalize: bool = False,
        num_queries: int = 100,
        num_scales: int = 3,
        dec_layers: int = 9,
        nf: int = 512,
        num_input_channels: int = 3,
    ) -> None:
        super().__init__()
        if encoder_name not in ENCODERS:
            raise ValueError(f"unknown encoder_name {encoder_name!r}; choose one of: {', '.join(ENCODERS)}")
        if decoder_name not in DECODERS:
            raise ValueError(f"unsupported decoder_name {decoder_name!r}; choose one of: {', '.join(DECODERS)}")
        if last_norm not in LAST_NORMS:
            raise ValueError(f"unsupported last_norm {last_norm!r}; choose one of: {', '.join(LAST_NORMS)}")
        size = [int(s) for s in input_size]
        if len(size) != 2 or min(size) < SIZE_MULTIPLE or any(s % SIZE_MULTIPLE for s in size):
            raise ValueError(f"input_size must be [height, width], multiples of {SIZE_MULTIPLE}, got {input_size!r}")
        for name, value, wanted in (("num_output_channels", num_output_channels, 2), ("num_scales", num_scales, 3),
                                    ("nf", nf, 512), ("num_input_channels", num_input_channels, 3)):
            if int(value) != wanted:
                raise ValueError(f"{name} must be {wanted} for DDColor's colorizer, got {value!r}")
        if do_normalize:
            raise ValueError("do_normalize=True de-normalises an RGB output; DDColor's colorizers use False")
        if int(num_queries) < 1 or int(dec_layers) < 1:
            raise ValueError(f"num_queries and dec_layers must be >= 1, got {num_queries}, {dec_layers}")
        self.input_size = size
        self.encoder_name = encoder_name
        self.encoder = _Encoder(encoder_name)
        self.decoder = _DualDecoder(ENCODERS[encoder_name][1], nf, int(num_queries), int(dec_layers))
        self.refine_net = nn.Sequential(_conv_layer(int(num_queries) + 3, 2, 1, relu=False, batch_norm=False))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.COLORIZATION, in_channels=3, out_channels=2, colour_input="grey_rgb",
                        colour_output="ab", ab_scale=1.0, square_input=True, size_multiple=SIZE_MULTIPLE,
                        native_size=self.input_size[0],
                        auto_bf16=False)  # bf16 not measured (bench/): fp32 unless asked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(a*, b*) (N, 2, H, W) for the grey RGB image ``x`` (N, 3, H, W) in [0, 1], sides multiples of 32."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"DDColor takes a grey RGB image (N, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % SIZE_MULTIPLE or x.shape[-2] % SIZE_MULTIPLE:
            raise ValueError(f"DDColor needs sides that are multiples of {SIZE_MULTIPLE}, got {tuple(x.shape[-2:])}")
        x = (x - self.mean) / self.std
        features = self.encoder.arch(x)
        queries = self.decoder(features)
        out: torch.Tensor = self.refine_net(torch.cat([queries, x], dim=1))
        return out

    # ---- DDColor's folder format ----------------------------------------------------------------
    @classmethod
    def recognises_config(cls, config: Mapping[str, Any]) -> bool:
        return is_ddcolor_config(config)

    @classmethod
    def complete_meta(cls, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        size = config.get("input_size") or [512, 512]
        encoder = str(config.get("encoder_name", "convnext-l"))
        out = {
            "architecture": cls.architecture,
            "task": cls.default_task.value,
            "image_size": int(size[0]) if isinstance(size, list | tuple) else int(size),
            "channels": 3,  # the colorized image (the network itself returns a*, b*)
            "description": f"{ {'convnext-t': 'DDColor-T', 'convnext-l': 'DDColor-L'}.get(encoder, 'DDColor')} "
                           f"({encoder} encoder): grey photo in, Lab colour out (Kang et al., ICCV 2023)",
        }
        return {**out, **meta}

    @classmethod
    def hub_files(cls, subfolder: str | None = None) -> tuple[str, ...]:
        prefix = f"{subfolder}/" if subfolder else ""
        return tuple(f"{prefix}{name}" for name in (CONFIG_FILE, *DDCOLOR_WEIGHT_FILES, CARD_FILE))

    @classmethod
    def local_weights(cls, path: Path) -> Path | None:
        return next((path / n for n in DDCOLOR_WEIGHT_FILES if (path / n).is_file()), None)

    @classmethod
    def load_folder(cls, path: Path) -> DDColorGenerator:
        """Build from ``path/config.json`` (DDColor's keys, or ours with a ``_gan_studio`` block) and
        load ``model.safetensors`` or ``pytorch_model.bin`` (weights only) strictly, less the unused
        classifier head (:func:`drop_unused_head`)."""
        from ..folder import read_config, split_config
        from ..weights import extract_state_dict, load_strict, load_weight_file

        path = Path(path)
        kwargs, meta = split_config(read_config(path), where=str(path / CONFIG_FILE))
        named = meta.get("architecture")
        if named not in (None, cls.architecture):
            raise CheckpointError(f"{str(path)!r} holds a {named!r} model, not {cls.architecture!r} ({cls.__name__})")
        weights = cls.local_weights(path)
        if weights is None:
            raise CheckpointError(f"DDColor folder {str(path)!r} has none of {', '.join(DDCOLOR_WEIGHT_FILES)}")
        try:
            module = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path / CONFIG_FILE}: not a DDColor config ({exc})") from None
        state = extract_state_dict(load_weight_file(weights), source=weights.name)
        state = drop_unused_head(state, encoder_dim=ENCODERS[module.encoder_name][1][-1], source=weights.name)
        load_strict(module, state, source=str(weights))
        return module


def is_ddcolor_config(config: Mapping[str, Any]) -> bool:
    """Whether a ``config.json`` is a DDColor ``PyTorchModelHubMixin`` config (its ``encoder_name`` is a
    ConvNeXt and ``decoder_name`` a DDColor decoder; a ``_gan_studio`` block naming another
    architecture wins)."""
    if not isinstance(config, Mapping):
        return False
    meta = config.get("_gan_studio")
    if isinstance(meta, Mapping) and meta.get("architecture") not in (None, DDColorGenerator.architecture):
        return False
    return config.get("encoder_name") in ENCODERS and config.get("decoder_name") in (*DECODERS, "SingleColorDecoder")


def drop_unused_head(state_dict: Mapping[str, Any], *, encoder_dim: int, source: str = "checkpoint") -> dict[str, Any]:
    """``state_dict`` without the ConvNeXt classifier head ``encoder.arch.head_cls`` (weight
    ``(4, encoder_dim)``, bias ``(4,)``) that checkpoints from DDColor's training code carry and the
    reference skips with ``strict=False``. Only those two keys, at those shapes, are dropped."""
    out = dict(state_dict)
    expected = {UNUSED_HEAD_KEYS[0]: (HEAD_CLASSES, encoder_dim), UNUSED_HEAD_KEYS[1]: (HEAD_CLASSES,)}
    present = [k for k in UNUSED_HEAD_KEYS if k in out]
    for key in present:
        if tuple(out[key].shape) != expected[key]:
            raise CheckpointError(f"{source}: {key} has shape {tuple(out[key].shape)}, expected {expected[key]} "
                                  f"(DDColor's unused classifier head)")
        del out[key]
    if present:
        logger.info("%s: dropped DDColor's unused ConvNeXt classifier head (%s)", source, ", ".join(present))
    return out

