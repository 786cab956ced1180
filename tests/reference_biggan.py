"""The pytorch-pretrained-BigGAN ``BigGAN`` generator, rebuilt for the tests from the published structure.

huggingface/pytorch-pretrained-BigGAN ``pytorch_pretrained_biggan/model.py`` and ``config.py``:
``BigGAN`` = ``embeddings`` (Linear(num_classes, z_dim, bias=False)) + ``generator``
(``gen_z``, ``layers`` = GenBlocks with ``SelfAttn`` inserted at ``attention_layer_position``,
``bn``, ``conv_to_rgb``). As published, every conv/linear but the embedding goes through
``torch.nn.utils.spectral_norm`` (so the state dict has ``weight_orig``/``weight_u``/``weight_v``),
and the batch norms hold per-truncation statistics ``running_means``/``running_vars``, weighted
by ``math.modf(truncation / step)`` as the original does. ``forward(z, class_vector, truncation)``
takes a float class vector (one-hot), as the original.

Run it in ``eval()``: torch's spectral norm then uses the stored ``u``/``v`` (in ``train()`` it
would run a power iteration and change them). Only the tests import this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


def _sn(module: nn.Module, eps: float) -> nn.Module:
    return nn.utils.spectral_norm(module, eps=eps)


@dataclass
class RefBigGANConfig:
    """``BigGANConfig`` fields (defaults = biggan-deep-128)."""

    output_dim: int = 128
    z_dim: int = 128
    class_embed_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: list = field(default_factory=lambda: [
        [False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8],
        [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1],
    ])
    attention_layer_position: int = 8
    eps: float = 1e-4
    n_stats: int = 51

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class RefSelfAttn(nn.Module):
    def __init__(self, in_channels: int, eps: float) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.snconv1x1_theta = _sn(nn.Conv2d(in_channels, in_channels // 8, 1, bias=False), eps)
        self.snconv1x1_phi = _sn(nn.Conv2d(in_channels, in_channels // 8, 1, bias=False), eps)
        self.snconv1x1_g = _sn(nn.Conv2d(in_channels, in_channels // 2, 1, bias=False), eps)
        self.snconv1x1_o_conv = _sn(nn.Conv2d(in_channels // 2, in_channels, 1, bias=False), eps)
        self.maxpool = nn.MaxPool2d(2, stride=2, padding=0)
        self.softmax = nn.Softmax(dim=-1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, ch, h, w = x.size()
        theta = self.snconv1x1_theta(x).view(-1, ch // 8, h * w)
        phi = self.maxpool(self.snconv1x1_phi(x)).view(-1, ch // 8, h * w // 4)
        attn = self.softmax(torch.bmm(theta.permute(0, 2, 1), phi))
        g = self.maxpool(self.snconv1x1_g(x)).view(-1, ch // 2, h * w // 4)
        attn_g = torch.bmm(g, attn.permute(0, 2, 1)).view(-1, ch // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(attn_g)


class RefBigGANBatchNorm(nn.Module):
    def __init__(self, num_features: int, condition_vector_dim: int | None = None, n_stats: int = 51,
                 eps: float = 1e-4, conditional: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.conditional = conditional
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.step_size = 1.0 / (n_stats - 1)
        if conditional:
            self.scale = _sn(nn.Linear(condition_vector_dim, num_features, bias=False), eps)
            self.offset = _sn(nn.Linear(condition_vector_dim, num_features, bias=False), eps)
        else:
            self.weight = nn.Parameter(torch.Tensor(num_features))
            self.bias = nn.Parameter(torch.Tensor(num_features))

    def forward(self, x: torch.Tensor, truncation: float, condition_vector: torch.Tensor | None = None) -> torch.Tensor:
        coef, start_idx = math.modf(truncation / self.step_size)
        start_idx = int(start_idx)
        if coef != 0.0:
            running_mean = self.running_means[start_idx] * coef + self.running_means[start_idx + 1] * (1 - coef)
            running_var = self.running_vars[start_idx] * coef + self.running_vars[start_idx + 1] * (1 - coef)
        else:
            running_mean = self.running_means[start_idx]
            running_var = self.running_vars[start_idx]
        if self.conditional:
            running_mean = running_mean.unsqueeze(0).unsqueeze(-1).unsqueeze(-1)
            running_var = running_var.unsqueeze(0).unsqueeze(-1).unsqueeze(-1)
            weight = 1 + self.scale(condition_vector).unsqueeze(-1).unsqueeze(-1)
            bias = self.offset(condition_vector).unsqueeze(-1).unsqueeze(-1)
            return (x - running_mean) / torch.sqrt(running_var + self.eps) * weight + bias
        return F.batch_norm(x, running_mean, running_var, self.weight, self.bias, training=False, momentum=0.0,
                            eps=self.eps)


class RefGenBlock(nn.Module):
    def __init__(self, in_size: int, out_size: int, condition_vector_dim: int, reduction_factor: int = 4,
                 up_sample: bool = False, n_stats: int = 51, eps: float = 1e-12) -> None:
        super().__init__()
        self.up_sample = up_sample
        self.drop_channels = in_size != out_size
        middle_size = in_size // reduction_factor
        self.bn_0 = RefBigGANBatchNorm(in_size, condition_vector_dim, n_stats=n_stats, eps=eps)
        self.conv_0 = _sn(nn.Conv2d(in_size, middle_size, 1), eps)
        self.bn_1 = RefBigGANBatchNorm(middle_size, condition_vector_dim, n_stats=n_stats, eps=eps)
        self.conv_1 = _sn(nn.Conv2d(middle_size, middle_size, 3, padding=1), eps)
        self.bn_2 = RefBigGANBatchNorm(middle_size, condition_vector_dim, n_stats=n_stats, eps=eps)
        self.conv_2 = _sn(nn.Conv2d(middle_size, middle_size, 3, padding=1), eps)
        self.bn_3 = RefBigGANBatchNorm(middle_size, condition_vector_dim, n_stats=n_stats, eps=eps)
        self.conv_3 = _sn(nn.Conv2d(middle_size, out_size, 1), eps)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, cond_vector: torch.Tensor, truncation: float) -> torch.Tensor:
        x0 = x
        x = self.conv_0(self.relu(self.bn_0(x, truncation, cond_vector)))
        x = self.relu(self.bn_1(x, truncation, cond_vector))
        if self.up_sample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv_1(x)
        x = self.conv_2(self.relu(self.bn_2(x, truncation, cond_vector)))
        x = self.conv_3(self.relu(self.bn_3(x, truncation, cond_vector)))
        if self.drop_channels:
            x0 = x0[:, : x0.shape[1] // 2, ...]
        if self.up_sample:
            x0 = F.interpolate(x0, scale_factor=2, mode="nearest")
        return x + x0


class RefGenerator(nn.Module):
    def __init__(self, config: RefBigGANConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channel_width
        condition_vector_dim = config.z_dim * 2
        self.gen_z = _sn(nn.Linear(condition_vector_dim, 4 * 4 * 16 * ch), config.eps)
        layers: list[nn.Module] = []
        for i, layer in enumerate(config.layers):
            if i == config.attention_layer_position:
                layers.append(RefSelfAttn(ch * layer[1], eps=config.eps))
            layers.append(RefGenBlock(ch * layer[1], ch * layer[2], condition_vector_dim, up_sample=layer[0],
                                      n_stats=config.n_stats, eps=config.eps))
        self.layers = nn.ModuleList(layers)
        self.bn = RefBigGANBatchNorm(ch, n_stats=config.n_stats, eps=config.eps, conditional=False)
        self.relu = nn.ReLU()
        self.conv_to_rgb = _sn(nn.Conv2d(ch, ch, 3, padding=1), config.eps)
        self.tanh = nn.Tanh()

    def forward(self, cond_vector: torch.Tensor, truncation: float) -> torch.Tensor:
        z = self.gen_z(cond_vector)
        z = z.view(-1, 4, 4, 16 * self.config.channel_width).permute(0, 3, 1, 2).contiguous()
        for layer in self.layers:
            z = layer(z, cond_vector, truncation) if isinstance(layer, RefGenBlock) else layer(z)
        z = self.conv_to_rgb(self.relu(self.bn(z, truncation)))
        return self.tanh(z[:, :3, ...])


class RefBigGAN(nn.Module):
    """``BigGAN(config)``: ``forward(z, class_label, truncation)`` with a float (one-hot) class vector."""

    def __init__(self, config: RefBigGANConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = nn.Linear(config.num_classes, config.z_dim, bias=False)
        self.generator = RefGenerator(config)

    def forward(self, z: torch.Tensor, class_label: torch.Tensor, truncation: float) -> torch.Tensor:
        assert 0 < truncation <= 1
        cond_vector = torch.cat((z, self.embeddings(class_label)), dim=1)
        return self.generator(cond_vector, truncation)


@torch.no_grad()
def randomize_biggan(module: nn.Module, seed: int) -> nn.Module:
    """Seeded random weights that exercise every path: spectral-norm weights and vectors, ``gamma``
    (zero at init, which would hide the attention), and distinct statistics per truncation value."""
    gen = torch.Generator().manual_seed(seed)
    for name, param in module.named_parameters():
        if name.endswith("gamma"):
            param.fill_(0.7)
        elif param.ndim == 1:
            param.copy_(torch.rand(param.shape, generator=gen) + 0.5 if name.endswith("weight") else
                        torch.randn(param.shape, generator=gen) * 0.1)
        else:
            param.copy_(torch.randn(param.shape, generator=gen))
    for sub in module.modules():  # u, v near the top singular vectors (a converged power iteration),
        if hasattr(sub, "weight_orig") and hasattr(sub, "weight_u"):  # so sigma > 0 as in trained files
            w = sub.weight_orig.reshape(sub.weight_orig.shape[0], -1)
            u = F.normalize(torch.randn(w.shape[0], generator=gen), dim=0)
            for _ in range(30):
                v = F.normalize(w.t() @ u, dim=0)
                u = F.normalize(w @ v, dim=0)
            sub.weight_u.copy_(u)
            sub.weight_v.copy_(v)
    for name, buf in module.named_buffers():
        if name.endswith("running_means"):
            buf.copy_(torch.randn(buf.shape, generator=gen) * 0.2)
        elif name.endswith("running_vars"):
            buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
    return module
