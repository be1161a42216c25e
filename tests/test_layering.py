"""The import graph of bot/ and cogs/ (read with ast, every import counted, lazy and TYPE_CHECKING ones too).

Layers, top to bottom: the entry points (composition root, command line) → cogs → bot.discord_app → the core
(bot.jobs, bot.generation, bot.media, bot.quotas, bot.storage, bot.liblib, ...). Imports only go down.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cogs")
# Build everything or run the command line; nothing else imports them.
ENTRY = frozenset({"bot.__main__", "bot.composition", "bot.ops.cli", "bot.ops.check"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imported(name: str, path: Path) -> Iterator[str]:
    """The project modules ``name`` imports (``from pkg import sub`` is the submodule ``pkg.sub``)."""
    known = modules()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join([*package, *([node.module] if node.module else [])])
            subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


@functools.cache
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(_imported(name, path)) for name, path in modules().items()}


def unit(module: str) -> str:
    """The layer-level node: ``cogs``, an entry point, a ``bot`` subpackage, or a top-level ``bot`` module."""
    if module.startswith("cogs") or module in ENTRY:
        return "cogs" if module.startswith("cogs") else module
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def package_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        edges.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return edges


def find_cycle(edges: dict[str, set[str]] | dict[str, frozenset[str]]) -> list[str] | None:
    """One cycle (its nodes in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def importers(of: str) -> dict[str, set[str]]:
    """module -> the modules of ``of`` (a package or module prefix) it imports."""
    found: dict[str, set[str]] = {}
    for module, targets in graph().items():
        hits = {t for t in targets if t == of or t.startswith(of + ".")}
        if hits:
            found[module] = hits
    return found


def test_the_scan_sees_the_wiring() -> None:
    assert "bot.discord_app.client" in graph()["bot.composition"]
    assert "cogs.admin" in graph()["bot.composition"]
    assert "bot.jobs.admission" in graph()["bot.discord_app.requester"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_import_cycles() -> None:
    assert find_cycle(graph()) is None


def test_packages_form_layers() -> None:
    assert find_cycle(package_graph()) is None


def test_only_entry_points_import_entry_points() -> None:
    for entry in ENTRY:
        assert set(importers(entry)) <= ENTRY, entry


def test_the_core_never_imports_the_discord_adapter_or_the_cogs() -> None:
    adapter = ("cogs", "bot.discord_app")
    for layer in adapter:
        outside = {m for m in importers(layer) if m not in ENTRY and not m.startswith(adapter)}
        assert not outside, (layer, outside)
    assert not {m for m in importers("cogs") if m.startswith("bot.discord_app")}


def test_cogs_import_no_other_cog_and_not_the_bot_class() -> None:
    for module, targets in graph().items():
        if module.startswith("cogs."):
            assert not {t for t in targets if t.startswith("cogs") and t != module}, module
            assert "bot.discord_app.client" not in targets, module
