#!/usr/bin/env bash
# mpirun on one machine, robust in containers: what the MPI tests, the scaling bench and the
# the examples in docs/distributed.md run. Usage: tests/mpi/mpirun.sh -n N PROGRAM [ARGS...]  (MPIRUN=path to use
# another mpirun). Every setting is an Open MPI 4.1 MCA parameter set through the environment:
set -euo pipefail
# CI runs as root on a fresh Debian; Open MPI refuses root without both of these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Launch local processes directly: no ssh/rsh needed (openmpi-bin does not depend on one).
export OMPI_MCA_plm=isolated
# Shared memory only: no network interface needed (and no warnings about missing ones).
export OMPI_MCA_btl=self,vader
# vader's single-copy path uses CMA (process_vm_readv), which container seccomp/ptrace rules
# often forbid; plain copies through shared memory always work.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# vader keeps its shared memory in /dev/shm; a chroot or container without a writable one gets
# the temporary directory instead (slower to set up, same results).
if [[ ! -w /dev/shm ]]; then export OMPI_MCA_btl_vader_backing_directory=${TMPDIR:-/tmp}; fi
# More ranks than cores (4 ranks on this 2-core VM), and no binding that would pin them together.
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
# Oversubscribed ranks must yield the core while they wait in a collective, not spin.
export OMPI_MCA_mpi_yield_when_idle=1
exec "${MPIRUN:-mpirun}" --oversubscribe "$@"
