#!/usr/bin/env bash
# Generates the parts of the ext4-sample tree that git cannot hold or that would bloat it.
# Run by make.sh as: bash -euo pipefail ext4-sample.pre.sh STAGEDIR (cwd = repo root).
stage=$1

# Sparse file: 16 MiB logical size, three small islands of data, holes everywhere else
# (larger than the 8 MiB filesystem, so a reader that materialises holes on disk is wrong).
sparse=$stage/var/lib/sparse.bin
truncate -s 16M "$sparse"
printf 'BEGIN-OF-SPARSE' | dd of="$sparse" bs=1 seek=0 conv=notrunc status=none
printf 'MIDDLE-OF-SPARSE' | dd of="$sparse" bs=1 seek=$((5 * 1024 * 1024 + 100)) conv=notrunc status=none
printf 'END-OF-SPARSE' | dd of="$sparse" bs=1 seek=$((16 * 1024 * 1024 - 13)) conv=notrunc status=none

# A file spanning well over 12 blocks (48 KiB at 4 KiB blocks): 120,000 bytes of numbered lines.
seq -f 'line %06g of a file larger than twelve blocks' 1 2500 > "$stage/usr/share/doc/sample/big.txt"

# A directory with 300 entries, so ext4 gives it an htree index.
mkdir -p "$stage/var/spool/many"
for i in $(seq -w 1 300); do
	printf 'entry %s\n' "$i" > "$stage/var/spool/many/file-with-a-longish-name-$i.txt"
done

# A name of exactly 255 bytes, the ext4 maximum.
name=$(printf 'n%.0s' $(seq 1 251))
printf 'longest name\n' > "$stage/var/lib/${name}.txt"
