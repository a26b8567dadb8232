"""Files of an export written on the server: identifiable health data, so readable by their owner alone.

Each file is created with mode 0600 and each directory with 0700 from the start (``os.open`` with the mode, not a
``chmod`` afterwards, so there is no moment at which another account of the machine can open them), whatever the
process's umask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_directory(path: Path) -> None:
    """Create ``path`` and its missing parents readable by the owner alone; an existing ``path`` is narrowed to
    0700 (existing parents are left as they are)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
        os.chmod(directory, DIRECTORY_MODE)  # mkdir's mode is filtered by the umask
    path.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    os.chmod(path, DIRECTORY_MODE)  # an existing directory keeps its own mode otherwise


def open_private(path: Path) -> IO[str]:
    """``path`` opened for writing text (created, or emptied), readable and writable by the owner alone."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)  # a file that existed keeps its mode through O_CREAT
    return os.fdopen(descriptor, "w", encoding="utf-8")


def write_private(path: Path, text: str) -> None:
    with open_private(path) as file:
        file.write(text)
