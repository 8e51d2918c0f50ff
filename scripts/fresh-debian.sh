#!/usr/bin/env bash
# A new user's machine: a bare Debian 12 (bookworm) root - debootstrap --variant=minbase plus only
# git and make - with a clone of this checkout's committed HEAD in /root/smx, then COMMAND run
# there as root. It checks that the README's commands install everything they need.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/fresh-debian.sh [--refresh] [--keep] [COMMAND]
Runs COMMAND (default: 'make run') with bash in a clone of this checkout's committed HEAD inside a
bare Debian 12 root (debootstrap minbase + git + make), as root with a clean environment.
COMMAND's stdout and stderr pass through; its exit status is returned. Uncommitted changes are
not in the clone.
  --refresh   rebuild the cached root (kept as a tarball, so later runs start in seconds)
  --keep      leave the root on disk afterwards and say where it is
  --share DIR make DIR visible, read-only, at /root/shared: beside the clone (/root/smx) as the
              folder ../shared is beside a checkout (CI passes ../shared: the conformance vectors)
Needs root (or sudo), the Debian package registry and ~5 GB free for `make test`.
Environment: SMX_FRESH_CACHE  where the tarball is kept (default /var/cache/smx-fresh-debian)
             SMX_FRESH_TMP    where roots are unpacked (default /var/tmp)
             SMX_DEBIAN_MIRROR  (default http://deb.debian.org/debian)
EOF
}

refresh=0 keep=0 share=""
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --refresh) refresh=1; shift ;;
    --keep) keep=1; shift ;;
    --share)
      [[ -d ${2:-} ]] || { echo "fresh-debian: --share needs a directory" >&2; exit 2; }
      share=$(cd "$2" && pwd); shift 2 ;;
    --) shift; break ;;
    -*) echo "fresh-debian: unknown option '$1' (--help for usage)" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($# <= 1)) || { echo "fresh-debian: give COMMAND as one quoted argument (--help for usage)" >&2; exit 2; }
command=${1:-make run}

checkout=$(cd "$(dirname "$0")/.." && pwd)
cache_dir=${SMX_FRESH_CACHE:-/var/cache/smx-fresh-debian}
tmp_dir=${SMX_FRESH_TMP:-/var/tmp}
mirror=${SMX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The name says what the root holds; a change to that must change the name.
tarball=$cache_dir/bookworm-minbase-git-make.tar.gz

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "fresh-debian: needs root or sudo" >&2; exit 1; }
  as_root=(sudo)
fi
root() { "${as_root[@]}" "$@"; }

# Runs bash -c SCRIPT [ARG...] chrooted in DIR as root with a clean environment. The root gets
# /proc, /sys and /dev (and the --share folder at /root/shared) in a private mount namespace: they
# vanish when it ends, however it ends, and nothing mounted there reaches the host.
in_root() {
  local dir=$1; shift
  root cp /etc/resolv.conf "$dir/etc/resolv.conf"
  # shellcheck disable=SC2016  # expanded by the inner shell
  root env SHARE="$share" unshare --mount --propagation private /bin/sh -c '
    set -e; r=$1; shift
    mount -t proc proc "$r/proc"
    mount -t sysfs -o ro sysfs "$r/sys"
    mount --rbind /dev "$r/dev"
    if [ -n "$SHARE" ]; then
      mkdir -p "$r/root/shared"
      mount --bind "$SHARE" "$r/root/shared"
      mount -o remount,bind,ro "$r/root/shared"
    fi
    exec chroot "$r" /usr/bin/env -i HOME=/root USER=root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$@"' \
    in_root "$dir" "$@"
}

# Cleanup on any exit: the bundle, a half-built root, the unpacked root. Mounts live in the
# namespaces above, but rm stays on one file system all the same.
bundle="" building="" workdir=""
cleanup() {
  local status=$?
  [[ -z $bundle ]] || rm -f "$bundle"
  [[ -z $building ]] || root rm -rf --one-file-system "$building" "$building.log"
  if [[ -n $workdir ]]; then
    if ((keep)); then
      echo "fresh-debian: the root is kept at $workdir" >&2
    else
      root rm -rf --one-file-system "$workdir"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The clone's source: a bundle of HEAD, made as the caller (git may refuse a checkout owned by
# someone else when run as root). The branch goes along so the clone checks it out by name.
git -C "$checkout" rev-parse -q --verify HEAD >/dev/null ||
  { echo "fresh-debian: $checkout has no commit to clone" >&2; exit 1; }
git -C "$checkout" diff --quiet HEAD ||
  echo "fresh-debian: note: uncommitted changes in $checkout are not in the clone" >&2
bundle=$(mktemp --suffix=.bundle)
branch=$(git -C "$checkout" symbolic-ref -q --short HEAD || true)
git -C "$checkout" bundle create "$bundle" HEAD ${branch:+"$branch"} 2>/dev/null

# The cached root: debootstrap once (a minute or two), later runs only unpack it. A lock keeps
# two runs from building it at once; the tarball appears by rename, never half-written.
make_tarball() {
  if [[ ! -x /usr/sbin/debootstrap ]]; then
    echo "fresh-debian: installing debootstrap" >&2
    { root apt-get update -q &&
      root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
    } >/dev/null || { echo "fresh-debian: could not install debootstrap" >&2; return 1; }
  fi
  building=$(root mktemp -d "$tmp_dir/smx-debootstrap.XXXXXX")
  root chmod 755 "$building"  # apt's _apt user must be able to reach its files
  echo "fresh-debian: debootstrapping Debian 12 into $building (once; cached as $tarball)" >&2
  # What the user adds by hand: git and make, nothing they recommend. The package lists go again,
  # as in Debian's container images, so every install we need must run its own apt-get update.
  if ! { root unshare --mount --propagation private debootstrap --variant=minbase bookworm "$building" "$mirror" &&
         share= in_root "$building" 'export DEBIAN_FRONTEND=noninteractive
           apt-get update -q && apt-get install -y -q --no-install-recommends git make &&
           apt-get clean && rm -rf /var/lib/apt/lists/*'
       } 2>&1 | root tee "$building.log" >/dev/null; then
    tail -20 "$building.log" >&2
    echo "fresh-debian: building the root failed (log above)" >&2
    return 1
  fi
  root tar -C "$building" -czf "$tarball.partial" . && root mv "$tarball.partial" "$tarball"
  root rm -rf --one-file-system "$building" "$building.log"
  building=""
}
root mkdir -p "$cache_dir"
root touch "$cache_dir/lock"
root chmod 666 "$cache_dir/lock"
exec 9>>"$cache_dir/lock"
flock 9
if ((refresh)) || [[ ! -f $tarball ]]; then make_tarball; fi
exec 9>&-

# A fresh root from the tarball, the clone, then COMMAND.
workdir=$(root mktemp -d "$tmp_dir/smx-fresh.XXXXXX")
root chmod 755 "$workdir"
root tar -C "$workdir" -xzf "$tarball"
root cp "$bundle" "$workdir/root/smx.bundle"
# shellcheck disable=SC2016  # expanded inside the root
in_root "$workdir" 'set -e
  git -c advice.detachedHead=false clone -q /root/smx.bundle /root/smx && rm /root/smx.bundle
  cd /root/smx && exec bash -c "$1"' fresh-debian "$command"
