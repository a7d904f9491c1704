#!/usr/bin/env bash
# Run a command as jobs of a job command (cmd.sh) and print the progress lines of their logs
# while they run: the recipes' way to show what a long stage does.
#
# Usage: utils/run_jobs.sh JOB_COMMAND NJ LOG TAGS COMMAND...
#   JOB_COMMAND  a job command with its options, e.g. "${train_cmd} --num-threads 4"
#   NJ           the number of jobs (JOB=1:NJ; JOB in LOG and COMMAND becomes the job's number)
#   LOG          the log file of each job (with JOB when NJ > 1)
#   TAGS         which log lines to print: those that start with "[TAG] ", TAGS being one tag
#                or several joined by "|" (e.g. "prepare|format")
# The job command reports a failed job (omnirouter-jobs names its log and shows its last
# lines); the status is then 1.
set -euo pipefail
if [ $# -lt 5 ]; then
    sed -n '2,/^set/{/^#/s/^# \{0,1\}//p}' "$0" >&2
    exit 2
fi
job_command="$1" nj="$2" log="$3" tags="$4"
shift 4
logs=()
for ((job = 1; job <= nj; job++)); do logs+=("${log//JOB/${job}}"); done
rm -f "${logs[@]}"
mkdir -p "$(dirname "${log}")"
# shellcheck disable=SC2086
${job_command} JOB=1:"${nj}" "${log}" "$@" &
pid=$!
tail -q -n +1 -F --pid="${pid}" "${logs[@]}" 2>/dev/null \
    | grep --line-buffered -E "^\[(${tags})\] " || true
wait "${pid}" && exit 0
echo "$0: ${*:1:4} ... failed (logs: ${log//JOB/*})" >&2
exit 1
