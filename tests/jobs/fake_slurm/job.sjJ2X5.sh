#!/usr/bin/env bash

#SBATCH -J dask-worker
#SBATCH -e /tmp/pytest-of-root/pytest-7/popen-gw0/test_a_killed_job_fails_the_ru1/logs/dask/dask-worker-%J.err
#SBATCH -o /tmp/pytest-of-root/pytest-7/popen-gw0/test_a_killed_job_fails_the_ru1/logs/dask/dask-worker-%J.out
#SBATCH -p cpu
#SBATCH -n 1
#SBATCH --cpus-per-task=1
#SBATCH --mem=4G
#SBATCH -t 00:10:00

/root/.cache/espnet_omnirouter/venv-8cbeb1bbd5e40781/bin/python -m distributed.cli.dask_worker tcp://192.0.2.2:41015 --name SLURMCluster-0 --nthreads 1 --memory-limit 3.73GiB --nanny --death-timeout 60 --resources job=1
