"""Animated GIFs through any image task, frame by frame: each frame of an
:class:`~gan_studio.image_io.Animation` goes through the same task call (same model, seed and
settings), and the results keep the animation's frame durations and loop count.

>>> animation = load_animation("clip.gif", keep_alpha=True)                    # doctest: +SKIP
>>> done = run_frames(lambda frame: studio.colorize("photo-colorizer", frame), animation)  # doctest: +SKIP
>>> Path("clip-colour.gif").write_bytes(done.gif_bytes())                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .common import ProgressFn, Result, report

if TYPE_CHECKING:
    from PIL import Image

    from ..image_io import Animation

__all__ = ["AnimatedResult", "animation_params", "run_frames"]


@dataclass
class AnimatedResult:
    """The results of one task run on every frame of an animation, with its timing."""

    frames: list[Result]
    durations: list[int]
    loop: int | None
    params: dict[str, Any]

    @property
    def images(self) -> list[Image.Image]:
        return [r.image for r in self.frames]

    def gif_bytes(self) -> bytes:
        """The output as an animated GIF: the frames with the input's durations and loop count, and the
        provenance (:attr:`params`) as the GIF's comment, which ``python -m gan_studio info`` reads."""
        from ..image_io import gif_bytes
        from ..metadata import provenance_json

        return gif_bytes(self.images, duration_ms=self.durations, loop=self.loop, comment=provenance_json(self.params))


def animation_params(first: dict[str, Any], frames: int, durations: list[int], loop: int | None) -> dict[str, Any]:
    """The provenance of an animated result: the first frame's parameters (every frame ran with the
    same ones) plus ``animation`` (frame count, durations in ms, loop count)."""
    params = dict(first)
    params["animation"] = {"frames": frames, "durations": list(durations), "loop": loop}
    return params


def run_frames(task: Callable[[Any], Result], animation: Animation, *,
               progress: ProgressFn | None = None) -> AnimatedResult:
    """Run ``task(frame) -> Result`` on every frame of ``animation``, reporting ``frame k/n``.

    The GIF encoder merges consecutive frames that come out identical (their durations add up), so
    such an animation plays the same with fewer frames."""
    total = len(animation.frames)
    results: list[Result] = []
    for index, frame in enumerate(animation.frames):
        report(progress, index / total, f"frame {index + 1}/{total}")
        results.append(task(frame))
    report(progress, 1.0, f"frame {total}/{total}")
    sizes = {r.image.size for r in results}
    if len(sizes) > 1:  # same-size frames give same-size outputs; anything else is a fault of ours
        raise RuntimeError(f"the frames' results have different sizes {sorted(sizes)}")
    params = animation_params(results[0].params, total, animation.durations, animation.loop)
    _mark_new_steps(params, animation)
    return AnimatedResult(results, list(animation.durations), animation.loop, params)


def _mark_new_steps(params: dict[str, Any], animation: Animation) -> None:
    """Steps of the chain made in this run (``task`` chaining several tasks, as ``pipe`` does) ran on
    every frame too: give them the same ``animation`` block (the input's own earlier steps keep theirs)."""
    from ..metadata import CHAIN_KEY, chain_steps, image_provenance

    chain = params.get(CHAIN_KEY)
    if not isinstance(chain, list) or not animation.frames:
        return
    before = image_provenance(animation.frames[0])
    known = len(chain_steps(before)) if before is not None else 0
    for step in chain[known:]:
        if isinstance(step, dict):
            step.setdefault("animation", params["animation"])
