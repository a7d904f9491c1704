"""The package as users install it: declared dependencies, the wheel's metadata, the locks."""

import ast
import email
import importlib.metadata
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Dict, Set

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from espnet_omnirouter.utils.extras import EXTRA_OF_MODULE

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# The locks of the test environments, with the Python each is built on.
LOCKS = {
    REPO / "requirements.txt": "3.11",
    REPO / "tools" / "requirements-espnet202611.txt": "3.12",
}
# The releases a user's environment decides: the wheel may only ask for ranges of them.
RANGED = ("espnet", "torch", "torchaudio")


def declared(extra: str = "", python_version: str = "3.11") -> Dict[str, Requirement]:
    """The requirements of the core (``extra=""``) or of one extra on ``python_version``,
    by canonical name."""
    lines = PROJECT["optional-dependencies"][extra] if extra else PROJECT["dependencies"]
    requirements = [Requirement(line) for line in lines]
    environment = {"python_version": python_version}
    return {
        canonicalize_name(r.name): r
        for r in requirements
        if r.marker is None or r.marker.evaluate(environment)
    }


def imported_modules(path: Path) -> Set[str]:
    """Top-level names ``path`` imports, by statement or through ``import_optional``, except
    imports guarded by ``except ImportError`` (used only where installed)."""
    tree = ast.parse(path.read_text())
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
            for h in node.handlers
        ):
            guarded |= {id(n) for statement in node.body for n in ast.walk(statement)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "import_optional"
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


# Top-level modules of a declared distribution that the installed version may lack:
# ESPnet ships ``espnet3`` from 202609 on (the plugin's ESPnet3 glue needs it, not the rest).
SHIPPED_BY = {"espnet3": ["espnet"]}


def test_every_third_party_import_is_declared():
    sources = [
        *(REPO / "espnet_omnirouter").rglob("*.py"),
        *(REPO / "_espnet_omnirouter_startup").rglob("*.py"),
    ]
    own = {"espnet_omnirouter", "_espnet_omnirouter_startup"}
    distributions = importlib.metadata.packages_distributions()
    all_declared = set(declared())
    for extra in PROJECT["optional-dependencies"]:
        all_declared |= set(declared(extra))
    undeclared = {}
    for path in sources:
        for module in imported_modules(path) - own - set(sys.stdlib_module_names):
            shipped_by = distributions.get(module) or SHIPPED_BY.get(module, [module])
            names = {canonicalize_name(d) for d in shipped_by}
            if not names & all_declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(REPO)))
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_each_optional_module_is_installed_by_the_extra_its_error_names():
    distributions = importlib.metadata.packages_distributions()
    for module, extra in EXTRA_OF_MODULE.items():
        names = {canonicalize_name(d) for d in distributions[module]}
        assert names & set(declared(extra)), f"{module}: not in extra {extra!r}"
    assert set(declared("all")) == {"espnet-omnirouter"}
    assert declared("all")["espnet-omnirouter"].extras == (
        set(PROJECT["optional-dependencies"]) - {"all"}
    )


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_locks_satisfy_the_declared_ranges(lock):
    """Each environment the tests run in is one the package's metadata admits."""
    python_version = LOCKS[lock]
    pins = {}
    for line in lock.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).lstrip("=")
    ranges = declared(python_version=python_version)
    for extra in PROJECT["optional-dependencies"]:
        ranges.update(declared(extra, python_version))
    for name in RANGED:
        assert name in pins, f"{lock.name} pins no {name}"
    for name, version in pins.items():
        if name in ranges:
            assert ranges[name].specifier.contains(version), f"{lock.name}: {name}=={version}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel of this checkout, built as ``pip wheel .`` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(REPO)],
        check=True, capture_output=True,
    )  # fmt: skip
    (path,) = out.glob("espnet_omnirouter-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_asks_for_ranges_and_python_without_upper_bound(wheel):
    (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = email.message_from_bytes(wheel.read(metadata_name))
    assert metadata["Requires-Python"] == ">=3.11"
    requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist")]
    core = [r for r in requirements if "extra" not in str(r.marker)]
    for name in RANGED:
        entries = [r for r in core if canonicalize_name(r.name) == name]
        assert entries, f"no requirement on {name}"
        for requirement in entries:
            operators = {spec.operator for spec in requirement.specifier}
            assert operators and operators <= {">=", "<", "<=", "!="}, str(requirement)
    assert not [r for r in requirements if any(s.operator == "==" for s in r.specifier)]
    assert set(metadata.get_all("Provides-Extra")) == set(PROJECT["optional-dependencies"])


def test_wheel_ships_the_package_and_runs_nothing_at_start_up(wheel):
    names = wheel.namelist()
    assert "espnet_omnirouter/utils/legacy_nets.py" in names
    assert "_espnet_omnirouter_startup/bootstrap/sitecustomize.py" in names
    assert not [n for n in names if n.endswith(".pth")]
    assert not [n for n in names if n.startswith(("tests/", "egs/", "tools/"))]
