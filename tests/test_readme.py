"""The README's layer diagram names each layer once, as docs/architecture.md does."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

if not README.is_file():  # e.g. tests run from an installed wheel
    pytest.skip("README.md not found", allow_module_level=True)


def _layer_diagram(text):
    """The fenced block that starts with the shell layer."""
    found = re.findall(r"^```\n( cli(?:\.py|/), plotting\.py .*?)^```", text,
                       flags=re.S | re.M)
    assert len(found) == 1, "expected one layer diagram"
    return found[0]


def test_readme_layer_diagram_lists_each_layer_once():
    diagram = _layer_diagram(README.read_text(encoding="utf-8"))
    layers = [name for line in diagram.splitlines()
              for name in re.findall(r"(?:^|\s)([a-z_]+/)(?=\s)", line[:26])]
    assert len(layers) == len(set(layers)), layers
    assert layers == ["finance/", "mixture/", "hmm/", "drivers/", "sources/", "core/",
                      "_kernels/"]
