#!/usr/bin/env bash
# Installs the Debian packages snapscan needs and that are missing. Build:
# libyara-dev (go-yara links the system libyara), gcc, pkg-config. Tests:
# e2fsprogs (mke2fs, debugfs), ntfs-3g (mkntfs, ntfs-3g), gdisk, fdisk,
# dosfstools, qemu-utils, libwin-hivex-perl (hivexregedit), debootstrap.
# Usage: scripts/deps.sh [build|test]   (default: test, which includes build)
set -euo pipefail
want=(libyara-dev pkg-config gcc)
if [ "${1:-test}" = test ]; then
  want+=(e2fsprogs xfsprogs ntfs-3g gdisk fdisk dosfstools mtools qemu-utils libwin-hivex-perl debootstrap yara attr faketime time tmux util-linux perl jq xz-utils rpm cpio)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; else
  echo "deps: missing packages ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
