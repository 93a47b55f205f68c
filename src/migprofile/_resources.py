"""Where the bundled catalogue lives.

In a wheel, ``indicators/`` and ``metadata/`` are packaged as
``migprofile/_data/indicators`` and ``migprofile/_data/metadata`` and found
through :mod:`importlib.resources`. In a source checkout (an editable install,
or ``PYTHONPATH=src``) the package has no ``_data`` folder; the catalogue is
then the top-level folders of the checkout, which are the source of truth the
wheel is built from.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

__all__ = ["bundled_dirs"]

_NAMES = ("metadata", "indicators")


def bundled_dirs() -> tuple[Traversable, ...]:
    """The bundled catalogue folders, metadata first."""
    data = resources.files("migprofile") / "_data"
    if data.is_dir():
        return tuple(data / name for name in _NAMES)
    checkout = Path(__file__).resolve().parents[2]
    found = tuple(checkout / name for name in _NAMES)
    if all(d.is_dir() for d in found):
        return found
    raise FileNotFoundError(
        "the bundled catalogue is missing: neither migprofile/_data nor a source "
        f"checkout at {checkout} holds indicators/ and metadata/; reinstall migprofile"
    )
