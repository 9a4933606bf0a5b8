"""Names of a package loaded on first use (PEP 562), for light import paths."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_names(package: str, namespace: dict[str, Any], attributes: dict[str, str],
               submodules: tuple[str, ...]) -> tuple[Callable[[str], Any],
                                                    Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    namespace : dict
        Its ``globals()``: a name, once loaded, is stored there.
    attributes : dict
        Name -> the submodule (relative to ``package``) that defines it.
    submodules : tuple of str
        Submodules that stay attributes of the package (imported on access).

    Returns
    -------
    getattr, dir : callable
        To assign to the package's ``__getattr__`` and ``__dir__``.
    """

    def __getattr__(name: str) -> Any:
        if name in attributes:
            value = getattr(importlib.import_module(f"{package}.{attributes[name]}"), name)
            namespace[name] = value
            return value
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(attributes) | set(submodules))

    return __getattr__, __dir__
