#!/bin/sh
# Rebuilds the fuzz seed images (each 64 KiB): a tiny tree with an extent
# file, an inline file, a fast and a slow symlink, a subdirectory, on ext4;
# the same tree on ext2 (block maps, no filetype).
set -eu
cd "$(dirname "$0")"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
mkdir -p "$src/d/e"
printf 'hello\n' > "$src/d/e/f"
head -c 3000 /dev/zero | tr '\0' 'a' > "$src/big"
printf 'x' > "$src/one"
ln -s d/e/f "$src/fast"
ln -s "$(printf 'd/%.0s' $(seq 1 30))../../d/e/f" "$src/slow"
export E2FSPROGS_FAKE_TIME=1700000000
rm -f tiny-ext4.img tiny-ext2.img
mke2fs -q -F -t ext4 -b 1024 -N 32 -O ^has_journal,inline_data,^resize_inode -E root_owner=0:0 -U 6d0f6b8e-3c1a-4b7e-9a55-2f7f9f7a1c01 -L tiny -d "$src" tiny-ext4.img 96k
mke2fs -q -F -t ext2 -b 1024 -N 32 -O ^filetype,^resize_inode -E root_owner=0:0 -U 6d0f6b8e-3c1a-4b7e-9a55-2f7f9f7a1c02 -L tiny2 -d "$src" tiny-ext2.img 96k
