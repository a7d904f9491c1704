"""espnet_omnirouter: Switch and Omni-router Mixture-of-Experts ASR for ESPnet."""

from pathlib import Path

from setuptools import find_packages, setup


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
    entry_points={
        "console_scripts": ["omnirouter-transcribe = espnet_omnirouter.bin.transcribe:main"]
    },
    **pinned_requirements(),
)
