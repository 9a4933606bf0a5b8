"""Text the docs render: command-line options keep their two hyphens."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _render(rst):
    core = pytest.importorskip("docutils.core")
    return core.publish_string(rst, writer_name="html", settings_overrides={
        "smart_quotes": True, "report_level": 5, "halt_level": 5}).decode()


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_usage_lines_render_two_hyphens(script):
    # sphinx-gallery renders the docstring as reST, smartquotes on: a usage
    # line outside a literal block shows --out as an en dash.
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    html = _render(doc)
    assert "\u2013" not in html and "\u2014" not in html
    for option in re.findall(r"\[(--[a-z]+)", doc):
        assert option in html


def test_sphinx_does_not_turn_double_hyphens_into_dashes():
    tree = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    values = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Name)
              and isinstance(node.value, ast.Constant)}
    assert "D" not in values.get("smartquotes_action", "qDe")


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_title_underline_is_long_enough(script):
    # sphinx-gallery's title: reST refuses (a warning, an error under -W) an
    # underline shorter than its title
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")), clean=False)
    title, underline = doc.split("\n")[:2]
    assert set(underline) == {"="} and len(underline) >= len(title.strip())
