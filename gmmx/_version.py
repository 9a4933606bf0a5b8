"""The version of gmmx (one place; read by the package, the file format and the CLI)."""

__version__ = "0.1.0"
