# How the recipes run their jobs (Kaldi's and ESPnet's convention; each recipe's cmd.sh links
# here). A job command takes options, an optional job range and a log file, then the command:
#   ${train_cmd} [--num-threads N] [--mem 4G] [JOB=1:N] LOG COMMAND...   CPU jobs
#   ${cuda_cmd} --gpu N LOG COMMAND...                                    training (N GPUs)
#   ${decode_cmd} [JOB=1:N] LOG COMMAND...                                decoding
# JOB in LOG and COMMAND becomes the job's number. The recipes use them for data preparation
# (--nj jobs), feature statistics, training and decoding (--nj jobs, each one share of every
# test set); a job's output goes to its log, and the recipe prints its progress lines.
#
# Choose the backend here or with OMNIROUTER_CMD_BACKEND (job commands already set in the
# environment are kept):
#   local  every job on this machine (utils/run.pl: as many at a time as there are CPUs)
#   slurm  sbatch jobs (utils/slurm.pl; partitions, GPUs and memory in conf/slurm.conf: adapt
#          it to the cluster). Jobs run `. ./path.sh` in the recipe dir, so the Python
#          environment must be reachable from the compute nodes.
# Any other run.pl-compatible script works too, e.g. Kaldi's utils/parallel/queue.pl for
# Grid Engine: export train_cmd="/path/to/queue.pl --mem 4G" cuda_cmd=... decode_cmd=...
_omnirouter_template="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
cmd_backend="${OMNIROUTER_CMD_BACKEND:-local}"
case "${cmd_backend}" in
    local) _omnirouter_cmd="${_omnirouter_template}/utils/run.pl" ;;
    slurm)
        _omnirouter_cmd="${_omnirouter_template}/utils/slurm.pl"
        _omnirouter_cmd+=" --config ${_omnirouter_template}/conf/slurm.conf"
        ;;
    *)
        echo "cmd.sh: unknown backend '${cmd_backend}' (OMNIROUTER_CMD_BACKEND): local or slurm" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
export train_cmd="${train_cmd:-${_omnirouter_cmd}}"
export cuda_cmd="${cuda_cmd:-${_omnirouter_cmd}}"
export decode_cmd="${decode_cmd:-${_omnirouter_cmd}}"
unset _omnirouter_template _omnirouter_cmd
