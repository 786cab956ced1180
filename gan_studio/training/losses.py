"""GAN losses, regularisers and DiffAugment, shared by the recipes.

* minimax and non-saturating losses (Goodfellow et al. 2014), WGAN critic loss (Arjovsky et al. 2017),
* hinge loss (Lim & Ye 2017; Miyato et al. 2018) for D and G,
* least-squares loss (Mao et al. 2017), the CycleGAN reference's default,
* the original GAN loss (Goodfellow et al. 2014): the logistic D loss with the minimax
  (saturating) generator loss ``E[log(1 - D(G(z)))]`` or its non-saturating form ``-E[log D(G(z))]``,
* the Wasserstein critic and generator losses (Arjovsky et al. 2017),
* WGAN-GP gradient penalty (Gulrajani et al. 2017) and the R1 penalty (Mescheder et al. 2018),
* DiffAugment (Zhao et al. 2020): differentiable translation + cutout (+ brightness/contrast)
  applied to both real and fake images before D, so D cannot memorise a small data set.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "diff_augment",
    "d_hinge",
    "g_hinge",
    "d_lsgan",
    "g_lsgan",
    "gradient_penalty",
    "r1_penalty",
    "d_minimax",
    "g_minimax",
    "g_nonsaturating",
    "d_wgan",
    "g_wgan",
    "d_loss",
    "g_loss",
    "LOSS_NAMES",
]


def d_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss: ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss: ``-E[D(G(z))]``."""
    return -fake_logits.mean()


def d_lsgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares D loss (targets 1 for real, 0 for fake), halved as in the CycleGAN reference."""
    return 0.5 * (((real_logits - 1.0) ** 2).mean() + (fake_logits**2).mean())


def g_lsgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares G loss (target 1)."""
    return ((fake_logits - 1.0) ** 2).mean()


def d_minimax(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The original D loss (binary cross-entropy on logits): ``-E[log D(x)] - E[log(1 - D(G(z)))]``."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The original (saturating) G loss, ``E[log(1 - D(G(z)))]``: its gradient vanishes while D wins."""
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating G loss, ``-E[log D(G(z))]`` (Goodfellow et al. 2014, section 3)."""
    return F.softplus(-fake_logits).mean()


def d_wgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss ``E[D(G(z))] - E[D(x)]`` (add :func:`gradient_penalty` for WGAN-GP)."""
    return fake_logits.mean() - real_logits.mean()


def g_wgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss ``-E[D(G(z))]``."""
    return -fake_logits.mean()


#: Loss name -> (D loss, G loss); WGAN-GP's penalty is added by the trainer.
_LOSSES: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "minimax": (d_minimax, g_minimax),
    "non-saturating": (d_minimax, g_nonsaturating),
    "least-squares": (d_lsgan, g_lsgan),
    "wgan-gp": (d_wgan, g_wgan),
    "hinge": (d_hinge, g_hinge),
}
LOSS_NAMES = tuple(_LOSSES)


def _pair(name: str) -> tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(_LOSSES)}") from None


def d_loss(name: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator loss called ``name`` (one of :data:`LOSS_NAMES`)."""
    return _pair(name)[0](real_logits, fake_logits)


def g_loss(name: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator loss called ``name`` (one of :data:`LOSS_NAMES`)."""
    return _pair(name)[1](fake_logits)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP: ``E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates of real and fake.

    ``critic`` maps images (or any batch, e.g. (N, 2) points) to logits (any shape; summed).
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, generator=generator)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    penalty: torch.Tensor = ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    return penalty


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1: ``E[||grad_x D(x)||^2]`` on real data (``real`` must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def diff_augment(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    translation: float = 0.125,
    cutout: float = 0.5,
    color: bool = False,
) -> torch.Tensor:
    """DiffAugment: the same *kind* of random, differentiable transforms for real and fake batches.

    ``translation``: shift by up to this fraction of the side (zero padding at -1 is avoided by
    padding with the image's border value), ``cutout``: a square of this fraction of the side set
    to 0, ``color``: random brightness/saturation/contrast.
    """
    n, c, h, w = x.shape
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    if color:
        x = x + (rand(n, 1, 1, 1) - 0.5)
        if c > 1:
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (rand(n, 1, 1, 1) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) + 0.5) + mean
    if translation > 0:
        sh, sw = int(h * translation + 0.5), int(w * translation + 0.5)
        ty = (rand(n) * (2 * sh + 1)).long() - sh
        tx = (rand(n) * (2 * sw + 1)).long() - sw
        gy = torch.arange(h, device=dev).view(1, h, 1) - ty.view(n, 1, 1)
        gx = torch.arange(w, device=dev).view(1, 1, w) - tx.view(n, 1, 1)
        gy = gy.clamp(0, h - 1).expand(n, h, w)
        gx = gx.clamp(0, w - 1).expand(n, h, w)
        flat = (gy * w + gx).view(n, 1, h * w).expand(n, c, h * w)
        x = x.reshape(n, c, h * w).gather(2, flat).view(n, c, h, w)
    if cutout > 0:
        ch, cw = int(h * cutout + 0.5), int(w * cutout + 0.5)
        cy = (rand(n) * (h + 1 - ch % 2)).long()
        cx = (rand(n) * (w + 1 - cw % 2)).long()
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        inside = ((ys - cy.view(n, 1, 1)).abs() <= ch // 2) & ((xs - cx.view(n, 1, 1)).abs() <= cw // 2)
        x = x * (~inside).unsqueeze(1).to(x.dtype)
    return x
