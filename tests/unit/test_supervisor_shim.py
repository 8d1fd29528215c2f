"""The pkg_resources stand-in gives supervisor what it asks for."""

from __future__ import annotations

import os.path
import sys

from mailsh_server.supervisor_status import SHIM


def test_an_entry_point_spec_resolves_to_the_named_object() -> None:
    real = sys.modules.pop("pkg_resources", None)
    sys.path.insert(0, str(SHIM))
    try:
        import pkg_resources  # the stand-in: SHIM is first on the path

        assert pkg_resources.__file__.startswith(str(SHIM))
        entry = pkg_resources.EntryPoint.parse("x=os.path:join")
        assert entry.resolve() is os.path.join
    finally:
        sys.path.remove(str(SHIM))
        sys.modules.pop("pkg_resources", None)
        if real is not None:
            sys.modules["pkg_resources"] = real
