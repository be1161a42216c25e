"""The docs stay true: the Architecture matches the tree, every command and setting is documented, links resolve,
and the README keeps the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from bot.ops.cli import COMMANDS
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def all_docs() -> str:
    return "\n".join(read(p) for p in [ROOT / "README.md", *DOCS])


def _architecture() -> str:
    return read(ROOT / "docs" / "architecture.md").split("## Architecture", 1)[1].split("\n## ", 1)[0]


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


def test_the_readme_sets_up_with_two_commands_and_links_every_doc() -> None:
    readme = read(ROOT / "README.md")
    assert "./dev run" in readme and "./dev test" in readme
    for doc in DOCS:
        assert f"docs/{doc.name}" in readme, doc.name
    assert len(readme) < 20_000, "the README stays short: reference goes to docs/"


def test_every_command_line_subcommand_is_documented() -> None:
    text = all_docs()
    for command in COMMANDS:
        assert re.search(rf"`{re.escape(command)}\b", text) or f"liblib-bot {command}" in text, command


def _keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(section, key) for every setting, nested sections (``models.custom``) included."""
    out: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        nested = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nested is not None and name not in ("loras", "controlnets"):
            out += _keys(nested, f"{prefix}{name}.")
        elif prefix:
            out.append((prefix.rstrip("."), name))
    return out


def test_every_setting_is_documented_in_its_section() -> None:
    text = read(ROOT / "docs" / "configuration.md")
    sections = {m.group(1): m.end() for m in re.finditer(r"^### `([\w.]+)`$", text, re.M)}
    missing = []
    for section, key in _keys(Settings):
        start = sections.get(section)
        end = min((v for v in sections.values() if start is not None and v > start), default=len(text))
        if start is None or f"| `{key}` |" not in text[start:end]:
            missing.append(f"{section}.{key}")
    assert not missing, missing


def test_every_slash_command_is_documented() -> None:
    text = all_docs()
    names = {
        "imagine",
        "restyle",
        "blend",
        "models",
        "queue",
        "jobs",
        "show",
        "help",
        "usage",
        "quota",
        "settings",
        "style",
    }
    for name in names | {"prefer"}:
        assert f"`/{name}" in text, name


def test_relative_links_resolve() -> None:
    broken = []
    for path in [ROOT / "README.md", ROOT / "RELIABILITY.md", *DOCS]:
        for target in re.findall(r"\]\(([^)\s]+)\)", read(path)):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            if not resolved.exists():
                broken.append(f"{path.name}: {target}")
                continue
            if anchor and resolved.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", read(resolved), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
                if anchor not in slugs:
                    broken.append(f"{path.name}: {target}")
    assert not broken, broken


def test_docs_speak_of_the_project_not_of_its_issues() -> None:
    for path in [ROOT / "README.md", ROOT / "RELIABILITY.md", *DOCS]:
        text = read(path)
        assert not re.search(r"\bissue \d+", text, re.I), path.name
        assert "until the quota service lands" not in text, path.name
