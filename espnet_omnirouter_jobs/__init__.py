"""The recipes' job runner: Kaldi's job-command convention on Dask.

``omnirouter-jobs [options] [JOB=1:N] LOG COMMAND...`` is what a recipe's ``cmd.sh`` sets
``train_cmd``, ``cuda_cmd`` and ``decode_cmd`` to (the command line of Kaldi's ``run.pl``
and ``slurm.pl``, which ESPnet's ``asr.sh`` and ``espnet2.bin.launch`` call). The jobs run
on a Dask cluster: ``distributed.LocalCluster`` on this machine by default, or a
``dask_jobqueue`` cluster (Slurm, PBS, SGE, LSF, HTCondor, OAR, Moab) from a YAML file in
the form of ESPnet3's ``parallel:`` block, the engine ESPnet3 runs its own parallel work on.

- ``command_line``: the job command's options, job range, log and command.
- ``engine``: the cluster configuration and the cluster a run of jobs gets.
- ``job``: one job, run by a Dask worker: its command under bash, its log.
- ``cli``: ``omnirouter-jobs``.

Nothing here imports ESPnet or torch: a recipe calls the runner at every stage, and its
workers start quickly.
"""
