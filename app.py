"""GAN Studio: start the Gradio studio (``python app.py --help``; installed: ``gan-studio-app``).

The launcher lives in :mod:`gan_studio.app`; this file is what Hugging Face Spaces and a checkout run.
"""

from __future__ import annotations

import sys

from gan_studio.app import main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
