#!/bin/bash
# Hook run by the image builder as: bash linux-privesc.pre.sh STAGEDIR (cwd = repo root), and by the scanner/linux
# tests on their copy of the tree. Builds the binaries the planted cases need: stand-in programs (privesc-stub.c),
# stand-in kernel modules (privesc-lkm.c, ELF relocatable objects with Diamorphine's names or a driver's), and copies
# of the build host's dash (the shell whose SUID copies are planted, as perfctl leaves one).
set -euo pipefail
stage=${1:?usage: linux-privesc.pre.sh STAGEDIR}
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v gcc >/dev/null || { echo "linux-privesc.pre.sh: gcc is needed" >&2; exit 1; }
dash=$(command -v dash || true)
[[ -n $dash ]] || { echo "linux-privesc.pre.sh: dash is needed" >&2; exit 1; }
stub() { # stub PATH TAG
	mkdir -p "$(dirname "$stage/$1")"
	gcc -O2 -s -o "$stage/$1" -DTAG="\"$2\"" "$src/privesc-stub.c"
}
lkm() { # lkm PATH DEFINE
	mkdir -p "$(dirname "$stage/$1")"
	gcc -O0 -c -o "$stage/$1" "$2" "$src/privesc-lkm.c"
}
# Shells: the real dash; planted set-id copies of it in /var/tmp (suid check) and /usr/local/sbin (sweep hook); a copy
# named "nologin " (trailing blank) that the systemd-coredump account's shell field points at.
mkdir -p "$stage/usr/bin" "$stage/usr/local/sbin" "$stage/var/tmp/.cache" "$stage/usr/sbin"
cp "$dash" "$stage/usr/bin/dash"
cp "$dash" "$stage/var/tmp/.cache/dbus-helper"
cp "$dash" "$stage/usr/local/sbin/kupdate"
cp "$dash" "$stage/usr/sbin/nologin "
stub usr/sbin/nologin nologin
# Set-id programs: stock ones a dpkg list names, a hidden helper, one no package owns, one in a home.
stub usr/bin/su su
stub usr/bin/passwd passwd
stub usr/bin/crontab crontab
stub usr/lib/.systemd/sd-helper sd-helper
stub usr/sbin/pwck-helper pwck-helper
stub home/alice/bin/tool tool
# Download tools: curl and a byte-identical copy named cd1; wget gone, wd1 in its place; chattr untouched.
stub usr/bin/curl curl
cp "$stage/usr/bin/curl" "$stage/usr/bin/cd1"
stub usr/bin/wd1 wget
stub usr/bin/chattr chattr
# Cloud agents: Tencent YunJing and Huawei HostGuard installed (the first one's unit masked in the attrs).
stub usr/local/qcloud/YunJing/YDEyes/YDService YDService
stub usr/local/hostguard/bin/hostguard hostguard
# Kernel modules: the distro driver modules.dep names; Diamorphine in /var/tmp/.k; Skidmap-like modules in /opt and in
# a non-standard part of /lib/modules.
lkm lib/modules/6.1.0-13-amd64/kernel/drivers/net/ethernet/intel/e1000/e1000.ko -DDRIVER=\"e1000\"
lkm var/tmp/.k/diamorphine.ko -DDIAMORPHINE
lkm opt/rk/netlink.ko -DDRIVER=\"netlink\"
lkm lib/modules/6.1.0-13-amd64/misc/iproute.ko -DDRIVER=\"iproute\"
