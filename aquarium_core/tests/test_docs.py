"""docs/hooks.md documents every hook of aquarium/hookspecs.py, with the spec's argument names.

Both files are read from the repository this test lives in (the root is two folders above
``aquarium_core/tests``), so the test runs the same from any working directory.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOKSPECS = ROOT / "aquarium_core" / "src" / "aquarium" / "hookspecs.py"
HOOKS_MD = ROOT / "docs" / "hooks.md"

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HOOK_NAME = re.compile(r"`(aquarium_\w+)`")  # hook headings name the hook in backticks


def _arg_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Argument names in order, ``*args`` and ``**kwargs`` marked as such."""
    args = function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg:
        names.append(f"*{args.vararg.arg}")
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append(f"**{args.kwarg.arg}")
    return names


def _spec_hooks() -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(HOOKSPECS.read_text(encoding="utf-8"), filename=str(HOOKSPECS))
    return {node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("aquarium_")}


def _sections(text: str) -> list[tuple[int, str, list[str]]]:
    """(level, heading, body lines) of every Markdown heading outside fenced code blocks; a
    body runs to the next heading of the same or a higher level."""
    lines = text.splitlines()
    headings = []  # (line index, level, title)
    in_code = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and (match := _HEADING.match(line)):
            headings.append((i, len(match.group(1)), match.group(2)))
    sections = []
    for n, (i, level, title) in enumerate(headings):
        end = next((j for j, later_level, _ in headings[n + 1:] if later_level <= level), len(lines))
        sections.append((level, title, lines[i + 1:end]))
    return sections


def _code_blocks(lines: list[str]) -> list[str]:
    blocks, current = [], None
    for line in lines:
        if _FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _normalize(text: str) -> str:
    """Docstring or Markdown text without markup: roles, backticks and line breaks go."""
    text = re.sub(r":\w+:`~?([^`]*)`", r"\1", text)
    text = text.replace("`", "")
    return " ".join(text.split())


def _section_of(hook: str) -> tuple[int, str, list[str]]:
    pattern = re.compile(rf"(?<!\w){re.escape(hook)}(?!\w)")
    found = [s for s in _sections(HOOKS_MD.read_text(encoding="utf-8")) if pattern.search(s[1])]
    if not found:
        pytest.fail(f"hook {hook} (aquarium_core/src/aquarium/hookspecs.py) has no heading in docs/hooks.md")
    return found[0]


SPEC_HOOKS = _spec_hooks()


def test_hookspecs_are_found():
    assert len(SPEC_HOOKS) >= 4, f"expected the hooks of {HOOKSPECS}, found {sorted(SPEC_HOOKS)}"


@pytest.mark.parametrize("hook", sorted(SPEC_HOOKS))
def test_hook_is_documented_with_the_spec_signature(hook):
    _, title, body = _section_of(hook)
    documented = None
    for block in _code_blocks(body):
        try:
            tree = ast.parse(block)
        except SyntaxError:
            continue
        documented = next((node for node in ast.walk(tree)
                           if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == hook), None)
        if documented is not None:
            break
    assert documented is not None, (
        f"docs/hooks.md, section {title!r}: no code block with `def {hook}(...)` (the hook's signature)")
    spec = _arg_names(SPEC_HOOKS[hook])
    assert _arg_names(documented) == spec, (
        f"docs/hooks.md documents {hook}({', '.join(_arg_names(documented))}) but hookspecs.py declares "
        f"{hook}({', '.join(spec)})")


@pytest.mark.parametrize("hook", sorted(SPEC_HOOKS))
def test_hook_section_carries_the_docstring_summary(hook):
    docstring = ast.get_docstring(SPEC_HOOKS[hook]) or ""
    assert docstring.strip(), f"hookspecs.py: {hook} has no docstring (it is the hook's reference doc)"
    summary = _normalize(docstring.strip().split("\n\n")[0])
    _, title, body = _section_of(hook)
    assert summary in _normalize("\n".join(body)), (
        f"docs/hooks.md, section {title!r}, does not contain the docstring's first paragraph: {summary!r}")


def test_every_documented_hook_exists():
    documented = {name for _, title, _ in _sections(HOOKS_MD.read_text(encoding="utf-8"))
                  for name in _HOOK_NAME.findall(title)}
    stale = sorted(documented - set(SPEC_HOOKS))
    assert not stale, f"docs/hooks.md documents hooks that hookspecs.py no longer declares: {stale}"
