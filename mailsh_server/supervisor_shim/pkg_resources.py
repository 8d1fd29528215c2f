"""The two things supervisor 4.2 takes from `pkg_resources`, without importing setuptools.

Debian bookworm's supervisor imports `pkg_resources` only to resolve the
`module:attribute` specs of its config (`EntryPoint.parse(...).resolve()`) and to read
its sample config; importing the real one scans every installed distribution and costs
supervisord about 16 MB of its 21 (supervisor 4.3 itself moved to importlib). This
directory is on PYTHONPATH for supervisord and supervisorctl only (the programs
supervisord starts get `[supervisord] environment`).
"""

from __future__ import annotations

import importlib
import importlib.resources
from typing import Any


class EntryPoint:
    """`name = module:attr.attr`, resolved with importlib."""

    def __init__(self, name: str, module: str, attrs: str) -> None:
        self.name, self.module, self.attrs = name, module, attrs

    @classmethod
    def parse(cls, src: str) -> EntryPoint:
        name, _, value = src.partition("=")
        module, _, attrs = value.strip().partition(":")
        return cls(name.strip(), module.strip(), attrs.strip())

    def resolve(self) -> Any:
        found: Any = importlib.import_module(self.module)
        for attr in filter(None, self.attrs.split(".")):
            found = getattr(found, attr)
        return found


def resource_string(package: str, name: str) -> bytes:
    return importlib.resources.files(package).joinpath(name).read_bytes()
