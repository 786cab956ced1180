"""GAN Studio's performance harness: the studio against plain PyTorch, as ratios, in one run.

Run it from the repository root as a module (it imports ``gan_studio`` and the reference
layouts in ``tests/`` from there)::

    python -m bench.benchmark --help
    python -m bench.report bench/results/latest.json

Modules, lowest first: :mod:`.measure` (timers, memory readers, FLOPs and the machine's GEMM
peak), :mod:`.cases` (one model case per architecture and how the studio runs it),
:mod:`.app_client` (the launched app through ``gradio_client`` and Gradio's REST API),
:mod:`.scenarios` (overhead, optimisations, batching, tiling, start-up) and :mod:`.benchmark`
(the command line and the JSON result).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root: checkpoints/, app.py, bench/results/
