"""espnet_omnirouter: Switch and Omni-router Mixture-of-Experts ASR for ESPnet."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

# A start-up hook that only waits for ESPnet to be imported, so that a model needing our
# classes in a process that did not `import espnet_omnirouter` fails with an error saying so
# (see _espnet_omnirouter_hint.py). Lines of a .pth file that start with "import" run at
# start-up; this one does nothing where the module is gone (a deleted editable checkout).
HINT_PTH_NAME = "espnet_omnirouter-hint.pth"
HINT_PTH_LINE = (
    "import importlib.util; importlib.util.find_spec('_espnet_omnirouter_hint') "
    "and __import__('_espnet_omnirouter_hint').install()\n"
)


class BuildPyWithHint(build_py):
    """Puts the .pth file at the top of the wheel, i.e. into site-packages."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            (Path(self.build_lib) / HINT_PTH_NAME).write_text(HINT_PTH_LINE)


class EditableWheelWithHint(editable_wheel):
    """``pip install -e``: the same .pth file, written beside setuptools' own."""

    def _select_strategy(self, *args, **kwargs):
        strategy = super()._select_strategy(*args, **kwargs)

        class WithHint:
            def __enter__(self):
                strategy.__enter__()
                return self

            def __exit__(self, *exc_info):
                return strategy.__exit__(*exc_info)

            def __call__(self, wheel, files, mapping) -> None:
                strategy(wheel, files, mapping)
                wheel.writestr(HINT_PTH_NAME, HINT_PTH_LINE)

        return WithHint()


def pinned_requirements() -> dict:
    """Split requirements.txt (the verified pins) into install and test extras."""
    runtime, test = [], []
    for line in Path(__file__).with_name("requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            (test if line.split("==")[0] in ("pytest", "ruff") else runtime).append(line)
    return {"install_requires": runtime, "extras_require": {"test": test}}


setup(
    name="espnet_omnirouter",
    version="0.1.0",
    description="Switch and Omni-router Mixture-of-Experts speech recognition for ESPnet",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["espnet_omnirouter", "espnet_omnirouter.*"]),
    py_modules=["_espnet_omnirouter_hint"],
    cmdclass={"build_py": BuildPyWithHint, "editable_wheel": EditableWheelWithHint},
    entry_points={
        "console_scripts": ["omnirouter-transcribe = espnet_omnirouter.bin.transcribe:main"]
    },
    **pinned_requirements(),
)
