"""Kaldi's job-command line as omnirouter-jobs reads it."""

import pytest

from espnet_omnirouter_jobs.command_line import JobCommandError, parse_job_command


def test_options_range_log_and_command():
    command = parse_job_command(
        ["--gpu", "1", "--num-threads=4", "--mem", "8G", "--name", "train", "JOB=2:4",
         "exp/log.JOB.txt", "python", "-m", "x", "--job", "JOB"]
    )  # fmt: skip
    assert (command.gpu, command.num_threads, command.memory, command.name) == (1, 4, "8G", "train")
    assert command.job_ids == [2, 3, 4]
    assert str(command.log_of(3)) == "exp/log.3.txt"
    assert command.shell_command(3) == "python -m x --job 3"


def test_without_a_range_one_job_and_job_is_not_replaced():
    command = parse_job_command(["log", "echo", "JOB"])
    assert command.job_ids == [None]
    assert command.shell_command(None) == "echo JOB"


def test_arguments_with_spaces_are_quoted_others_reach_bash_as_they_are():
    command = parse_job_command(["log", "printf", "%s\\n", "a b", "$HOME", "", "|", "wc", "-l"])
    assert command.shell_command(None) == "printf %s\\n 'a b' $HOME '' | wc -l"


def test_slurm_pl_spellings_and_ignored_launch_name():
    command = parse_job_command(["--num_threads", "2", "--num_nodes", "1", "--gpu", "0", "l", "x"])
    assert command.num_threads == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--queue", "q", "log", "x"], "unknown option --queue"),
        (["--gpu"], "needs a value"),
        (["--gpu", "two", "log", "x"], "--gpu: a whole number"),
        (["--num_nodes", "2", "log", "x"], "jobs run on one node"),
        (["JOB=3:1", "log", "x"], "empty job range"),
        (["JOB=1:2", "log"], "usage"),
        (["JOB=1:2", "one.log", "x"], "2 jobs would write to one log one.log"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(argv, message):
    with pytest.raises(JobCommandError, match=message):
        parse_job_command(argv)
