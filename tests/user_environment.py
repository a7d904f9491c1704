"""A user's own environment on a machine where the user is not root (a cluster node): a fresh
venv with espnet_omnirouter installed from a wheel of this checkout (``pip install --no-deps``),
ESPnet, torch and the other dependencies seen through a ``.pth`` file that lists the test
environment's site-packages, no project venv to fall back on (``OMNIROUTER_VENV_ROOT`` is an
empty dir), and commands run as a non-root user with a clean environment.

Run as root, the commands run as the user ``omnirouter-tester`` (created if missing) in a
private mount namespace where ``/root`` is an empty, readable directory except for bind
mounts of the Python installation and the test environment: what the user may read and
nothing else of root's. Run as another user, the commands run as that user. Where root
cannot switch (no useradd, no mount namespace), they run as root, and ``non_root_reason``
says why.
"""

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
USER = "omnirouter-tester"


class Unavailable(RuntimeError):
    """No non-root user can be arranged on this machine (the reason)."""


@dataclass
class UserEnvironment:
    """Where the user works: ``work`` (owned by the user) and the venv ``work/venv``."""

    work: Path
    user: Optional[str]  # None: the current user
    hidden_home: Optional[Path]  # root's home, replaced by readable bind mounts
    mounts: Sequence[Path]  # directories under it the user needs (Python, site-packages)
    non_root_reason: Optional[str] = None  # why the commands run as root, where they do

    @property
    def venv(self) -> Path:
        return self.work / "venv"

    def give(self, path: Path) -> None:
        """Make ``path`` (a tree) the user's."""
        if self.user is not None:
            subprocess.run(["chown", "-R", f"{self.user}:{self.user}", str(path)], check=True)

    def environment(self) -> dict:
        home = Path(pwd.getpwnam(self.user).pw_dir) if self.user else Path.home()
        return {
            "HOME": str(home),
            "USER": self.user or pwd.getpwuid(os.getuid()).pw_name,
            "PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin",
            "VIRTUAL_ENV": str(self.venv),
            "LANG": "C.UTF-8",
            "OMNIROUTER_VENV_ROOT": str(self.work / "no_project_venv"),
            "HF_HUB_OFFLINE": "1",
        }

    def command(self, argv: Sequence[str]) -> List[str]:
        """``argv`` as the user, in the user's environment."""
        env = ["env", "-i", *(f"{k}={v}" for k, v in self.environment().items())]
        if self.user is None:
            return [*env, *argv]
        hidden = self.hidden_home
        script = [
            "set -e",
            f"mkdir -p {self.work}/.root",
            f"mount --bind {hidden} {self.work}/.root",
            f"mount -t tmpfs -o mode=755 tmpfs {hidden}",
        ]
        for path in self.mounts:
            inside = f"{self.work}/.root/{path.relative_to(hidden)}"
            script += [f"mkdir -p {path}", f"mount --bind {inside} {path}"]
        script.append(f'exec runuser -u {self.user} -- "$@"')
        return [
            "unshare", "--mount", "--propagation", "private",
            "bash", "-c", "\n".join(script), "bash", *env, *argv,
        ]  # fmt: skip

    def run(self, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), capture_output=True, text=True, **kwargs)


def _user_exists() -> bool:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return False
    return True


def _user_of_root() -> Optional[str]:
    """The non-root user root's commands run as; raises Unavailable where none can be."""
    if os.geteuid() != 0:
        return None
    for tool in ("unshare", "runuser", "mount"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not installed")
    if not _user_exists():
        made = subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/bash", USER],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0 and not _user_exists():  # or a parallel test made it
            raise Unavailable(f"useradd {USER} failed: {made.stderr.strip()}") from None
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise Unavailable(f"no private mount namespace: {probe.stderr.strip()}")
    return USER


def build_wheel(destination: Path) -> Path:
    """A wheel of this checkout's files (tracked and new, not ignored ones), built from a copy
    so that the build leaves nothing in the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    source = destination / "source"
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name, follow_symlinks=False)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(destination), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    shutil.rmtree(source)
    (wheel,) = destination.glob("espnet_omnirouter-*.whl")
    return wheel


def make_user_environment() -> UserEnvironment:
    """Build the environment (about half a minute)."""
    try:
        user, reason = _user_of_root(), None
    except Unavailable as unavailable:
        user, reason = None, str(unavailable)
    work = Path(tempfile.mkdtemp(prefix="omnirouter-user-"))
    work.chmod(0o755)
    wheel = build_wheel(work / "wheel")
    venv = work / "venv"
    subprocess.run(
        [sys._base_executable, "-m", "venv", "--without-pip", str(venv)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    site_packages = Path(sysconfig.get_paths()["purelib"])
    venv_site = next((venv / "lib").glob("python3*/site-packages"))
    (venv_site / "test_environment.pth").write_text(f"{site_packages}\n")
    (work / "no_project_venv").mkdir()
    hidden = Path.home() if user else None
    needed = [Path(sys.base_prefix), Path(sys.prefix), REPO]
    mounts = {p for p in needed if hidden and hidden in p.parents}
    mounts = sorted(mounts, key=lambda p: len(p.parts))  # a parent before what it holds
    environment = UserEnvironment(work, user, hidden, mounts, reason)
    environment.give(work)
    return environment
