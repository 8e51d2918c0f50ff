#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing (apt-get; sudo when not
# root). Usage: scripts/install-deps.sh GROUP... where GROUP is one of the names below.
set -euo pipefail

# core is all `make run` may need (the library and the seed example); every other part of the
# build is optional (CMakeLists.txt) and its group is installed by the target that uses it.
# scripts/fresh-debian.sh checks these lists on a bare Debian 12 root (.ci/run does so for `make run`).
declare -A GROUPS_PKGS=(
  [core]="g++ cmake ninja-build libhwy-dev"
  [cli]="libcli11-dev time"
  [tests]="libgtest-dev pkg-config"
  [sanitize]="clang-14 libclang-rt-14-dev"
  [cross]="g++-aarch64-linux-gnu"
  [python]="python3 python3-dev pybind11-dev libdlpack-dev python3-numpy python3-pytest python3-scipy python3-pip python3-setuptools python3-wheel"
  [torch]="python3-torch"
  [mpi]="libopenmpi-dev openmpi-bin python3-mpi4py"
  [bench]="libbenchmark-dev libtorch-dev libdnnl-dev libxnnpack-dev libpthreadpool-dev python3-matplotlib python3-scipy"
)

wanted=()
for group in "$@"; do
  [[ -n "${GROUPS_PKGS[$group]+x}" ]] || { echo "install-deps: unknown group '$group'" >&2; exit 2; }
  for pkg in ${GROUPS_PKGS[$group]}; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      wanted+=("$pkg")
    fi
  done
done
((${#wanted[@]})) || exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "install-deps: installing ${wanted[*]}" >&2
log=$(mktemp)
if ! { "${sudo[@]}" apt-get update -q && \
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${wanted[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed (log above)" >&2
  exit 1
fi
rm -f "$log"
