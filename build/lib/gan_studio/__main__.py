"""``python -m gan_studio`` — see :mod:`gan_studio.cli`."""

from .cli import main

raise SystemExit(main())
