"""The project's own errors: a user mistake gets one clear line, never a traceback."""

import sys


class AudiostyleError(Exception):
    """Base of every error the command line reports as one line."""

    exit_code = 1


class ConfigError(AudiostyleError):
    """A setting is wrong; raised before any audio is read or any model is built."""

    exit_code = 2


class AudioError(AudiostyleError):
    """An input clip cannot be used: names the file and the reason."""

    exit_code = 2


class CheckpointError(AudiostyleError):
    """A checkpoint is missing, unreadable, or lacks an encoder tensor of the right shape."""

    exit_code = 2


class NumericalError(AudiostyleError):
    """The loss or gradient stopped being finite; the last finite x_G is kept."""

    exit_code = 1

    def __init__(self, message: str, iteration: int = -1, last_finite=None):
        super().__init__(message)
        self.iteration = iteration
        self.last_finite = last_finite  # x_G(iteration) as a numpy array: its samples are finite


class StorageError(AudiostyleError):
    """An output cannot be written: the folder is not writable or the disk is full."""

    exit_code = 1


def fail(err: AudiostyleError) -> None:
    """Report a user-facing error as one line and exit with its code (every entry point)."""
    print(f"audiostyle: error: {err}", file=sys.stderr)
    sys.exit(err.exit_code)
