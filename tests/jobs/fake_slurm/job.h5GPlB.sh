#!/usr/bin/env bash

#SBATCH -J dask-worker
#SBATCH -e /tmp/pytest-of-root/pytest-11/test_a_lost_cluster_job_fails_0/dask/dask-worker-%J.err
#SBATCH -o /tmp/pytest-of-root/pytest-11/test_a_lost_cluster_job_fails_0/dask/dask-worker-%J.out
#SBATCH -n 1
#SBATCH --cpus-per-task=1
#SBATCH --mem=4G
#SBATCH -t 00:30:00

/root/.cache/espnet_omnirouter/venv-espnet202611-c350149839afe16a/bin/python -m distributed.cli.dask_worker tcp://192.0.2.2:44419 --name SLURMCluster-0 --nthreads 1 --memory-limit 3.73GiB --nanny --death-timeout 60 --resources job=1
