"""``espnet-omnirouter-python``: the interpreter ESPnet's egs2 recipes are given as
``--python``; it runs Python as Python would, with the plugin registered in every process
that imports ESPnet's ASR task, its child processes included."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _espnet_omnirouter_startup import python as shim

SHIM = str(Path(sys.executable).with_name("espnet-omnirouter-python"))
REGISTERED = (
    "from espnet2.tasks.asr import encoder_choices; "
    "print('registered' if 'moe_conformer' in encoder_choices.classes else 'missing')"
)


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([SHIM, *args], capture_output=True, text=True, **kwargs)


def test_the_console_script_is_installed_next_to_the_interpreter():
    assert os.access(SHIM, os.X_OK)


@pytest.mark.parametrize(
    "args, refused",
    [
        (["-S", "-c", "1"], "-S"),
        (["-BE", "x.py"], "-E"),
        (["-X", "dev", "-I", "-m", "json.tool"], "-I"),
        (["-m", "mod", "-S"], None),  # the module's option, not the interpreter's
        (["-c", "1", "-E"], None),
        (["-Xdev", "script.py", "-I"], None),
        (["-W", "error", "-u", "-m", "mod"], None),
        (["--version"], None),
    ],
)
def test_refuses_only_interpreter_options_that_lose_the_plugin(args, refused):
    found = shim.refused_option(args)
    assert (found and found.split()[0]) == refused


def test_refused_option_is_named_and_fails():
    result = run("-S", "-c", "print(1)")
    assert result.returncode == 1
    assert "-S (skips sitecustomize)" in result.stderr
    assert result.stdout == ""


def test_runs_scripts_modules_and_commands_as_python_does(tmp_path):
    script = tmp_path / "show.py"
    script.write_text("import sys; print(sys.argv); sys.exit(7)\n")
    result = run(str(script), "a", "--b")
    assert (result.returncode, result.stdout.strip()) == (7, str([str(script), "a", "--b"]))
    result = run("-c", "import sys; print(sys.argv[1:])", "x", "y")
    assert (result.returncode, result.stdout.strip()) == (0, "['x', 'y']")
    result = run("-m", "json.tool", input='{"a": 1}')
    assert result.returncode == 0 and '"a": 1' in result.stdout
    result = run("-c", "raise SystemExit('boom')")
    assert (result.returncode, result.stderr.strip()) == (1, "boom")


def test_registers_the_plugin_only_where_espnet_asr_task_is_imported():
    result = run(
        "-c", "import sys; print('espnet_omnirouter' in sys.modules, 'torch' in sys.modules)"
    )
    assert result.stdout.strip() == "False False"  # nothing heavy at start-up
    result = run("-c", REGISTERED)
    assert result.returncode == 0, result.stderr
    # (ESPnet prints notices such as "Failed to import Flash Attention" to stdout)
    assert result.stdout.split("\n")[-2] == "registered"
    plain = subprocess.run([sys.executable, "-c", REGISTERED], capture_output=True, text=True)
    assert plain.stdout.split("\n")[-2] == "missing"  # the environment itself is left alone


def test_child_processes_started_with_sys_executable_register_too(tmp_path):
    """DDP workers (``torch.multiprocessing.spawn``) and ``subprocess`` children of a recipe
    step are started with ``sys.executable``, not with this command."""
    code = textwrap.dedent(
        f"""
        import multiprocessing, subprocess, sys

        def child(queue):
            from espnet2.tasks.asr import encoder_choices
            queue.put("moe_conformer" in encoder_choices.classes)

        if __name__ == "__main__":
            context = multiprocessing.get_context("spawn")
            queue = context.Queue()
            process = context.Process(target=child, args=(queue,))
            process.start()
            print("spawned", queue.get(timeout=120))
            process.join()
            out = subprocess.run([sys.executable, "-c", {REGISTERED!r}], capture_output=True,
                                 text=True).stdout.split("\\n")[-2]
            print("subprocess", out)
        """
    )
    script = tmp_path / "spawn.py"  # spawned children re-import the main module's file
    script.write_text(code)
    result = run(str(script), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-3:-1] == ["spawned True", "subprocess registered"]


def test_nested_shims_keep_one_bootstrap_entry_and_the_users_path(tmp_path):
    path = shim.python_path_with_bootstrap(f"{tmp_path}{os.pathsep}{shim.BOOTSTRAP_DIR}")
    assert path.split(os.pathsep) == [shim.BOOTSTRAP_DIR, str(tmp_path)]
    assert shim.python_path_with_bootstrap(None) == shim.BOOTSTRAP_DIR


def test_the_environments_own_sitecustomize_still_runs(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(
        "import os; os.environ['USER_SITECUSTOMIZE'] = '1'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = run(
        "-c",
        "import os, sys; print(os.environ.get('USER_SITECUSTOMIZE'), "
        "sys.modules['sitecustomize'].__file__)",
        env=env,
    )
    assert result.stdout.split() == ["1", str(tmp_path / "sitecustomize.py")]


def test_signals_reach_the_python_process_itself():
    """The command becomes the interpreter (same process), so a job system's SIGTERM
    stops Python, and the exit status says so."""
    process = subprocess.Popen(
        [SHIM, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert int(process.stdout.readline()) == process.pid
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == -signal.SIGTERM
