#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing (apt-get; sudo when not
# root). Usage: scripts/install-deps.sh GROUP... where GROUP is one of the names below.
set -euo pipefail

declare -A GROUPS_PKGS=(
  [core]="g++ cmake ninja-build pkg-config libgtest-dev libhwy-dev"
  [cli]="libcli11-dev time"
  [sanitize]="clang-14 libclang-rt-14-dev"
  [cross]="g++-aarch64-linux-gnu"
  [python]="pybind11-dev libdlpack-dev python3-dev python3-numpy python3-pytest"
  [torch]="python3-torch"
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
