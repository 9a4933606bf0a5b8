"""Type stub of the compiled kernel module (Cython); see the .pyx source."""

from typing import Any

def __getattr__(name: str) -> Any: ...
