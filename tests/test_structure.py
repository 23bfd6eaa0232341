"""The shape of ``src/``, read with ``ast``: no import circle between modules, no module over
~450 lines, no class declared twice.

What the redesign (issue 21) has not yet split is listed below, each at its size today: a listed
module may not grow, a listed circle or duplicate may not spread, and an entry that is no longer
true fails too, so the lists only shrink."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.support import REPO

SRC = REPO / "src"
MAX_LINES = 450
#: Modules still to split, at their length today.
TOO_LONG = {
}
#: Import circles still to break (none left).
KNOWN_CYCLES: list[set[str]] = []
#: Classes still declared twice: none (the API's schemas are derived from the domain's records).
KNOWN_DUPLICATES: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``src/`` that ``name`` imports, at any depth (lazy imports count):
    ``from package import submodule`` is an edge to the submodule, not to the package."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            found = [s for s in subs if s in modules]
            out.update(found)
            if len(found) < len(subs) and node.module in modules:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.add(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


def test_the_cycle_finder_finds_a_circle_and_only_a_circle() -> None:
    """The rule's own check: a -> b -> c -> a is one circle, d -> a none."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules() -> None:
    modules = _modules()
    graph = {m: _imports(m, f, modules) for m, f in modules.items()}
    cycles = _cycles(graph)
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not new, f"import circle(s): {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"no longer a circle, remove from KNOWN_CYCLES: {gone}"


def test_no_module_over_the_limit() -> None:
    lengths = {m: len(f.read_text().splitlines()) for m, f in _modules().items()}
    over = {m: n for m, n in lengths.items() if n > TOO_LONG.get(m, MAX_LINES)}
    assert not over, f"over {MAX_LINES} lines (or longer than listed in TOO_LONG): {over}"
    split = [m for m in TOO_LONG if lengths.get(m, 0) <= MAX_LINES]
    assert not split, f"now within {MAX_LINES} lines, remove from TOO_LONG: {split}"


def test_no_class_declared_twice() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for m, f in _modules().items():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(m)
    twice = {n: ms for n, ms in where.items() if len(ms) > 1}
    assert set(twice) <= KNOWN_DUPLICATES, {n: twice[n] for n in set(twice) - KNOWN_DUPLICATES}
    assert KNOWN_DUPLICATES <= set(twice), "declared once now: remove from KNOWN_DUPLICATES"


def test_embedding_imports_neither_the_settings_nor_the_index() -> None:
    """``embedding/`` sits below the index and knows no settings: which embedders run for an
    index, and with which settings, is chosen in ``assemble.py``."""
    modules = _modules()
    above = ("newsqa.settings", "newsqa.index")
    wrong = {
        m: sorted(i for i in _imports(m, f, modules) if i.startswith(above))
        for m, f in modules.items() if m.startswith("newsqa.embedding")
    }
    wrong = {m: found for m, found in wrong.items() if found}
    assert not wrong, f"embedding/ imports settings/ or index/: {wrong}"


#: The modules serving runs of the reader may import: its own and the embedder's (the word-piece
#: vocabulary it shares). So it sits below ``query/``, which reads with it, and below the service.
READER_MAY_IMPORT = ("newsqa.reader", "newsqa.embedding")
#: Training code, and the one module outside it that may import it (the command that runs it).
TRAINING = "newsqa.training"
RUNS_TRAINING = {"newsqa.cli.train_reader"}
TORCH = {"torch", "transformers", "sentence_transformers"}


def _third_party(path: Path) -> set[str]:
    """The top-level names of what ``path`` imports from outside ``src/`` (lazy imports count)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
    return out


def test_the_reader_sits_below_query() -> None:
    modules = _modules()
    wrong = {
        m: sorted(i for i in _imports(m, f, modules) if not i.startswith(READER_MAY_IMPORT))
        for m, f in modules.items() if m.startswith("newsqa.reader")
    }
    wrong = {m: found for m, found in wrong.items() if found}
    assert not wrong, f"reader/ imports above itself: {wrong}"


def test_serving_code_imports_no_training_code() -> None:
    modules = _modules()
    wrong = {
        m: sorted(i for i in _imports(m, f, modules) if i.startswith(TRAINING))
        for m, f in modules.items() if not m.startswith(TRAINING) and m not in RUNS_TRAINING
    }
    wrong = {m: found for m, found in wrong.items() if found}
    assert not wrong, f"serving code imports training code: {wrong}"


def test_no_path_from_the_reader_imports_torch() -> None:
    """Every module the reader's modules reach, at any depth, imports no torch (the runtime is
    ONNX): a module that needs torch belongs to ``training/``."""
    modules = _modules()
    graph = {m: _imports(m, f, modules) for m, f in modules.items()}
    reached: set[str] = set()
    todo = [m for m in modules if m.startswith("newsqa.reader")]
    while todo:
        m = todo.pop()
        if m not in reached:
            reached.add(m)
            todo.extend(graph[m])
    wrong = {m: sorted(_third_party(modules[m]) & TORCH) for m in reached}
    wrong = {m: found for m, found in wrong.items() if found}
    assert not wrong, f"the reader reaches torch through: {wrong}"
