"""docs/architecture.md names every room of the package, so it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "newsqa"
DOC = ROOT / "docs" / "architecture.md"
#: Packages whose every module gets its own sentence (the others are described as a whole).
MODULE_BY_MODULE = ("index", "query", "api")


def rooms() -> list[str]:
    """The names the document must mention: each subpackage, each top-level module, and each
    module of the packages described module by module."""
    names = []
    for path in sorted(PACKAGE.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            names.append(f"{path.name}/")
        elif path.is_dir() and path.name == "web":
            names.append("web/")
        elif path.suffix == ".py" and path.name != "__init__.py":
            names.append(path.name)
    for package in MODULE_BY_MODULE:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            if path.name == "__init__.py":
                if path.parent != PACKAGE / package:
                    names.append(f"{path.parent.relative_to(PACKAGE)}/")
                continue
            names.append(str(path.relative_to(PACKAGE)))
    return names


def test_every_room_is_described() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in rooms() if f"`{name}`" not in text]
    assert not missing, f"docs/architecture.md does not describe: {missing}"
