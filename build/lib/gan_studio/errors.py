"""Exceptions that gan_studio raises on purpose.

Every message names the bad value and, where there is a fixed set, the valid choices.
They all derive from :class:`GanStudioError`, so a caller (the CLI, the UI) can turn any of them
into a readable message instead of a traceback.
"""

from __future__ import annotations

import logging
import secrets


class GanStudioError(Exception):
    """Base class of the errors a user can cause or fix: their message is shown as it is.

    Anything else that escapes the library is an internal fault: the CLI and the UI log it with its
    traceback and show a short id instead of disguising it as the user's mistake.
    """


class UserInputError(GanStudioError, ValueError):
    """A value the user gave that cannot be used (out of range, unknown choice, wrong kind)."""


class UnknownModelError(UserInputError, KeyError):
    """A model id that is neither in the registry nor a local model folder."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownArchitectureError(UserInputError):
    """An architecture name that is not in ``ARCHITECTURES``."""


class WrongTaskError(UserInputError):
    """A model used for a task it does not do (e.g. a translator on the Generate tab)."""


class CheckpointError(UserInputError):
    """A weight file that is corrupt, unsafe, or does not match the architecture."""


class HubError(GanStudioError, RuntimeError):
    """The Hub could not give us a file (missing repo/file, or unreachable and not cached)."""


class HubEntryNotFoundError(HubError):
    """The repo exists but has no such file (lets callers try the next candidate file)."""


class ImageInputError(UserInputError):
    """An uploaded or given image that cannot be used."""


class CatalogueError(UserInputError):
    """A malformed catalogue or user models TOML file."""


class OutOfMemory(GanStudioError, MemoryError):
    """The device ran out of memory even after a retry at a smaller batch."""


def report_internal_error(logger: logging.Logger, where: str) -> str:
    """Log the exception being handled, with its traceback, under a short random id; return the
    message for the user, which quotes that id. Call it inside an ``except`` block.

    For faults that are not the user's (anything but a :class:`GanStudioError`): the user sees that
    something broke and an id to report; the log has the details.
    """
    incident = secrets.token_hex(4)
    logger.exception("internal error (id %s) in %s", incident, where)
    return f"internal error (id {incident}): please report it"
