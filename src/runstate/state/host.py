"""Who and where: the user and host a run or release is attributed to."""

from __future__ import annotations

import getpass
import os
import socket

__all__ = ["current_host", "current_user"]


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def current_host() -> str:
    return socket.gethostname()
