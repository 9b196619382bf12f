#!/bin/sh
# make-gaps.sh OUTDIR: images a scan must never call clean (issue 17, 12).
# Built at test time by real tools, never committed:
#   ext4-truncated.img  the first 8 MiB of a 1.2 GiB ext4 filesystem with a
#                       Linux root (a copy that stopped early)
#   xfs-truncated.img   the first 16 MiB of a 320 MiB XFS filesystem
#   ntfs-truncated.img  the first 8 MiB of a 64 MiB NTFS filesystem
#   ext4-dirty.img      an 8 MiB ext4 root whose superblock says the journal
#                       needs recovery (debugfs sets needs_recovery)
# Needs mke2fs, debugfs; mkfs.xfs and mkntfs optional (their images are
# then missing, and the tests that want them skip).
set -eu
out=$1
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/root/etc" "$tmp/root/etc/cron.d"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' >"$tmp/root/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tmp/root/etc/passwd"
printf 'SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n' >"$tmp/root/etc/crontab"

# SOURCE_DATE_EPOCH and a fixed UUID keep the images the same on every run.
export E2FSPROGS_FAKE_TIME=1700000000
truncate -s 1200M "$tmp/big.img"
mke2fs -q -F -t ext4 -L big -U 1b9e6d2c-6f1e-4c2a-9d4b-0c3e6a1f2b77 -E root_owner=0:0 -d "$tmp/root" "$tmp/big.img"
head -c 8M "$tmp/big.img" >"$out/ext4-truncated.img"

truncate -s 8M "$out/ext4-dirty.img"
mke2fs -q -F -t ext4 -L dirty -U 3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f -E root_owner=0:0 -d "$tmp/root" "$out/ext4-dirty.img"
debugfs -w -R "feature needs_recovery" "$out/ext4-dirty.img" >/dev/null 2>&1

if command -v mkfs.xfs >/dev/null 2>&1; then
	truncate -s 320M "$tmp/xfs.img"
	mkfs.xfs -q -f -L xfsbig "$tmp/xfs.img"
	head -c 16M "$tmp/xfs.img" >"$out/xfs-truncated.img"
fi
if command -v mkntfs >/dev/null 2>&1; then
	truncate -s 64M "$tmp/ntfs.img"
	mkntfs -q -F -f -L ntfsbig "$tmp/ntfs.img" >/dev/null 2>&1
	head -c 8M "$tmp/ntfs.img" >"$out/ntfs-truncated.img"
fi
