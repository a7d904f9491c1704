#!/usr/bin/env bash

#SBATCH -J dask-worker
#SBATCH -e /tmp/pytest-of-root/pytest-11/test_every_job_runs_with_its_n1/logs/dask/dask-worker-%J.err
#SBATCH -o /tmp/pytest-of-root/pytest-11/test_every_job_runs_with_its_n1/logs/dask/dask-worker-%J.out
#SBATCH -p cpu
#SBATCH -n 1
#SBATCH --cpus-per-task=1
#SBATCH --mem=4G
#SBATCH -t 00:10:00

/root/.cache/espnet_omnirouter/venv-espnet202611-c350149839afe16a/bin/python -m distributed.cli.dask_worker tcp://192.0.2.2:37113 --name SLURMCluster-1 --nthreads 1 --memory-limit 3.73GiB --nanny --death-timeout 60 --resources job=1
