# How the recipes run their jobs (Kaldi's and ESPnet's convention; each recipe's cmd.sh links
# here). A job command takes options, an optional job range and a log file, then the command:
#   ${train_cmd} [--num-threads N] [--mem 4G] [JOB=1:N] LOG COMMAND...   CPU jobs
#   ${cuda_cmd} --gpu N LOG COMMAND...                                    training (N GPUs)
#   ${decode_cmd} [JOB=1:N] LOG COMMAND...                                decoding
# JOB in LOG and COMMAND becomes the job's number. The recipes use them for data preparation
# (--nj jobs), feature statistics, training and decoding (--nj jobs, each one share of every
# test set); a job's output goes to its log, and the recipe prints its progress lines.
#
# The job command is omnirouter-jobs (espnet_omnirouter_jobs: the jobs run on Dask), with the
# cluster configuration conf/jobs/<backend>.yaml; choose the backend here or with
# OMNIROUTER_CMD_BACKEND (job commands already set in the environment are kept):
#   local  every job on this machine (a Dask LocalCluster: as many at a time as CPUs)
#   slurm  Slurm jobs (dask-jobqueue; partitions, GPUs and memory in conf/jobs/slurm.yaml:
#          adapt it to the cluster). The compute nodes must reach this checkout and its
#          Python environment.
# Another conf/jobs/<name>.yaml (env: pbs, sge, lsf, ...) is a backend too. Any other
# Kaldi-style job command works as well, e.g. Kaldi's utils/parallel/queue.pl for Grid Engine:
# export train_cmd="/path/to/queue.pl --mem 4G" cuda_cmd=... decode_cmd=...  (docs/cluster.md)
_omnirouter_conf="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)/conf/jobs"
cmd_backend="${OMNIROUTER_CMD_BACKEND:-local}"
if [ ! -f "${_omnirouter_conf}/${cmd_backend}.yaml" ]; then
    echo "cmd.sh: unknown backend '${cmd_backend}' (OMNIROUTER_CMD_BACKEND): one of" \
        "$(cd "${_omnirouter_conf}" && ls ./*.yaml | sed 's|^\./||; s|\.yaml$||' | tr '\n' ' ')" \
        "(files of ${_omnirouter_conf})" >&2
    return 1 2>/dev/null || exit 1
fi
_omnirouter_cmd="omnirouter-jobs --config ${_omnirouter_conf}/${cmd_backend}.yaml"
export train_cmd="${train_cmd:-${_omnirouter_cmd}}"
export cuda_cmd="${cuda_cmd:-${_omnirouter_cmd}}"
export decode_cmd="${decode_cmd:-${_omnirouter_cmd}}"
unset _omnirouter_conf _omnirouter_cmd
