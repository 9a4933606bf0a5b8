"""The names moved from gmmx.streaming to gmmx.sources keep their old import path."""

import pytest

import gmmx.sources as sources
import gmmx.streaming as streaming

MOVED = [
    "ArraySource",
    "CSVSource",
    "ChunkError",
    "ChunkMemoryError",
    "ChunkOSError",
    "ChunkSource",
    "ChunkValueError",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_ROWS",
    "IterableSource",
    "NpySource",
    "ParquetSource",
    "as_block",
    "as_source",
]


@pytest.mark.parametrize("name", MOVED)
def test_old_import_path_is_the_same_object(name):
    assert getattr(streaming, name) is getattr(sources, name)


def test_streaming_all_still_lists_the_sources():
    for name in streaming.__all__:
        assert hasattr(streaming, name), name
    assert {"ArraySource", "CSVSource", "ChunkError", "ChunkSource", "IterableSource",
            "NpySource", "ParquetSource", "as_source"} <= set(streaming.__all__)


def test_sources_all_resolves():
    for name in sources.__all__:
        assert hasattr(sources, name), name


def test_from_import_old_path():
    from gmmx.streaming import ChunkError, ChunkSource, as_block, as_source  # noqa: F401

    assert issubclass(sources.ChunkOSError, ChunkError) and issubclass(sources.ChunkOSError, OSError)


def test_sources_imports_only_leaf_gmmx_modules():
    """gmmx.sources imports no driver module (streaming, mixture, dask, io, gmmx)."""
    import ast
    import pathlib

    allowed = {"_validation", "_progress", "exceptions"}  # leaves
    for path in pathlib.Path(sources.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "gmmx" for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level == 0:
                    assert mod.split(".")[0] != "gmmx" or mod.split(".")[1] in allowed, (path, mod)
                elif node.level == 2:
                    assert mod.split(".")[0] in allowed, (path, mod)
                else:
                    assert node.level == 1, (path, mod)
