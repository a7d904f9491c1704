"""The package's import arrows point one way: every import of every module (those inside
functions too), read with ``ast``, goes from a part of the package to a part below it."""

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / "espnet_omnirouter"
# The parts of the package each part may import (besides itself). A part is a subpackage,
# or a top-level module: ``__init__`` (the package itself, which registers the plugin
# through ``registration``) and ``registration``. The bottom: ``utils`` (with
# ``utils.legacy_nets``, ESPnet's network modules wherever the installed ESPnet keeps them)
# and ``runtime`` (torch-free and standalone: an export dir carries a copy of it).
ALLOWED: Dict[str, Set[str]] = {
    "utils": set(),
    "runtime": set(),
    "layers": {"utils"},
    "lm": {"utils"},
    "data": {"utils", "runtime"},
    "corpora": {"data", "utils"},
    "scoring": {"layers", "utils"},
    "analysis": {"layers", "utils"},
    "train": {"data", "layers", "utils"},
    "asr": {"layers", "runtime", "utils"},
    "registration": {"asr", "utils"},
    "__init__": {"registration"},
    "export": {"asr", "layers", "runtime", "utils"},
    "publishing": {"asr", "layers", "utils"},
    "espnet3": {"__init__", "asr", "data", "runtime", "scoring", "utils"},
    "bin": {
        "__init__",
        "analysis",
        "asr",
        "corpora",
        "data",
        "export",
        "layers",
        "lm",
        "publishing",
        "runtime",
        "scoring",
        "train",
        "utils",
    },  # fmt: skip
}
# What the runtime must run without.
NOT_IN_RUNTIME = {"torch", "torchaudio", "espnet", "espnet2", "espnet3", "espnet_omnirouter"}


def part_of(module: str) -> str:
    """``espnet_omnirouter.asr.decoding.x`` -> ``asr``; the package itself -> ``__init__``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    names = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(names)


def imports(path: Path) -> Iterator[Tuple[str, int, bool]]:
    """(absolute name of every module imported by ``path``, line, whether relative);
    ``from a import b`` gives ``a`` (``a.b`` for relative imports: ``b`` may be a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno, False) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module, node.lineno, False
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{base}.{node.module}" if node.module else base
            yield from ((f"{base}.{alias.name}", node.lineno, True) for alias in node.names)


def modules() -> Iterator[Tuple[Path, str]]:
    """(every module file of the package, its part)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, part_of(module_name(path))


def test_every_part_is_in_the_table_and_the_arrows_form_no_cycle():
    parts = {part for _, part in modules()}
    assert parts == set(ALLOWED), f"parts missing from ALLOWED: {parts - set(ALLOWED)}"
    below: Dict[str, Set[str]] = {}

    def reachable(part: str, path: Tuple[str, ...]) -> Set[str]:
        assert part not in path, f"import cycle: {' -> '.join(path + (part,))}"
        if part not in below:
            below[part] = set(ALLOWED[part])
            for lower in ALLOWED[part]:
                below[part] |= reachable(lower, path + (part,))
        return below[part]

    for part in ALLOWED:
        reachable(part, ())


def test_each_part_imports_only_the_parts_below_it():
    wrong = []
    for path, part in modules():
        for imported, line, _ in imports(path):
            if imported.split(".")[0] != "espnet_omnirouter":
                continue
            target = part_of(imported)
            if target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({part} -> {target})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_runtime_imports_only_itself_relatively_and_nothing_of_torch_or_espnet():
    """Relative imports only: an export dir's copy is the package ``omnirouter_runtime``."""
    wrong = []
    for path in sorted((PACKAGE / "runtime").rglob("*.py")):
        for imported, line, relative in imports(path):
            if imported.split(".")[0] in NOT_IN_RUNTIME and not relative:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
            if relative and part_of(imported) != "runtime":
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_the_reader_sees_imports_inside_functions_and_relative_imports():
    """The test's own ``imports``: nested and relative imports resolve to absolute names."""
    found = {(name, relative) for name, _, relative in imports(PACKAGE / "runtime" / "decoding.py")}
    assert ("espnet_omnirouter.runtime.ctc_search.ctc_greedy_search", True) in found
    registration = {name for name, _, _ in imports(PACKAGE / "registration.py")}
    assert "espnet_omnirouter.asr.u2pp_model" in registration  # imported inside a function
