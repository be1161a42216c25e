"""The README's Architecture section matches the tree: every package is listed, every path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _architecture() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Architecture", 1)[1].split("\n## ", 1)[0]


def test_every_package_is_listed_once() -> None:
    block = _architecture().split("```", 2)[1]
    listed = [line.split()[0] for line in block.splitlines() if line and not line[0].isspace()]
    packages = sorted(
        f"{p.parent.relative_to(ROOT)}/" for p in (ROOT / "bot").glob("*/__init__.py") if p.parent.name != "__pycache__"
    )
    dirs = [entry for entry in listed if entry.endswith("/")]
    assert sorted(d for d in dirs if d.startswith("bot/")) == packages
    assert "cogs/" in dirs and len(dirs) == len(set(dirs))


def test_every_named_path_exists() -> None:
    named = set(re.findall(r"`((?:bot|cogs|tests)/[\w/.]+)`", _architecture()))
    assert named, "the section names no paths"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing
