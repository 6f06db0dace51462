#!/usr/bin/env bash
# The "mpi" engine under real mpirun processes on this machine: 2 and 3
# ranks (MpiCollectivesCheck.cpp checks every collective and element type).
# Skips (exit 0, with the reason) where Open MPI's mpirun is not installed.
set -euo pipefail
check="$1"
if ! command -v mpirun >/dev/null; then
  echo "SKIP: mpirun not found (apt install openmpi-bin libopenmpi-dev)"
  exit 0
fi
# Loopback only; vader (shared memory) between the local ranks.
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader,tcp
for n in 2 3; do
  mpirun -n "$n" --allow-run-as-root --oversubscribe "$check"
done
