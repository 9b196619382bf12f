#!/usr/bin/env bash
# End-to-end benchmarks of snapscan against what an analyst would otherwise run, on a generated realistic image:
# a Debian bookworm minbase root (debootstrap) with linux-infected's planted artifacts and the compiled stand-in
# miner, written into ext4 with mke2fs -d. Prints one table of medians and ratios.
#
#   scripts/bench.sh            (make bench runs it after the Go benchmarks)
#
# Environment:
#   SNAPSCAN            the binary to measure (default: bin/snapscan, built by make bench)
#   SNAPSCAN_BENCH_DIR  where the tree and images live (default /var/tmp/snapscan-bench; 14 GB apparent,
#                       ~2.5 GB on disk: the images are sparse). Kept between runs; delete it to rebuild.
#   BOOKWORM_TREE       a cached debootstrap --variant=minbase bookworm tree (default /var/cache/snapscan-test/bookworm)
#   BENCH_REPS          repetitions per measurement, median reported (default 3)
#   BENCH_TARGETED_REPS repetitions of the targeted (--no-sweep) runs (default 10; each takes tens of ms)
#   BENCH_BATCH_REPS    repetitions of the 8-image batch (default BENCH_REPS; each batch is 8 full scans)
#   BENCH_SKIP          space-separated parts to skip: targeted sweep rss4g batch hostile
#
# All timings are warm: every input is read once before it is measured (cat > /dev/null), so the page cache holds
# it, and no step drops caches (the machine is shared). The physical floor row is therefore memory bandwidth plus
# syscall cost, not disk speed. Parts needing root (debootstrap, loop mounts) or a missing tool are skipped with a
# message.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SNAPSCAN=${SNAPSCAN:-$repo/bin/snapscan}
DIR=${SNAPSCAN_BENCH_DIR:-/var/tmp/snapscan-bench}
BOOKWORM=${BOOKWORM_TREE:-/var/cache/snapscan-test/bookworm}
REPS=${BENCH_REPS:-3}
BATCH_REPS=${BENCH_BATCH_REPS:-$REPS}
TARGETED_REPS=${BENCH_TARGETED_REPS:-10} # a run takes tens of ms: more runs, so a busy neighbour does not decide it
SKIP=" ${BENCH_SKIP:-} "
NPROC=$(nproc)

say() { printf 'bench: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
skipped() { [[ $SKIP == *" $1 "* ]]; }
is_root() { [ "$(id -u)" -eq 0 ]; }

rows=() # "section|measurement|median seconds|peak RSS MiB|note"
row() { rows+=("$1|$2|$3|$4|$5"); }
notes=()

if [ ! -x "$SNAPSCAN" ]; then
	say "no snapscan binary at $SNAPSCAN (run make build, or set SNAPSCAN=...)"
	exit 1
fi
if ! have /usr/bin/time && [ ! -x /usr/bin/time ]; then
	say "GNU time (/usr/bin/time, Debian package 'time') is needed for wall time and peak RSS"
	exit 1
fi
if ! have mke2fs; then
	say "mke2fs (e2fsprogs) missing: cannot build the benchmark images; skipping scripts/bench.sh"
	exit 0
fi
mkdir -p "$DIR" || exit 1
work=$(mktemp -d "$DIR/run.XXXXXX")
trap 'cleanup' EXIT
mnt=""
cleanup() {
	if [ -n "$mnt" ] && mountpoint -q "$mnt"; then umount "$mnt"; fi
	rm -rf "$work"
}

# measure OUTFILE CMD...: one run under GNU time; appends "seconds maxrss_kib" to OUTFILE. A failing command
# (other than snapscan's findings exit code, which needs --exit-code and is not used here) aborts the part.
measure() {
	local out=$1
	shift
	local t="$work/time.$$" t0 t1
	# Wall time from the shell's clock in ns (GNU time's %e has 10 ms steps); peak RSS from GNU time (%M,
	# getrusage of the children: the largest single process).
	t0=$(date +%s%N)
	if ! /usr/bin/time -f '%M' -o "$t" "$@" >/dev/null 2>"$work/stderr"; then
		say "command failed: $*"
		sed 's/^/    /' "$work/stderr" | tail -5 >&2
		return 1
	fi
	t1=$(date +%s%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1e9}') $(tail -1 "$t")" >>"$out"
}

# reps N OUTFILE CMD...: N measured runs after one unmeasured warm-up run.
reps() {
	local n=$1 out=$2
	shift 2
	: >"$out"
	"$@" >/dev/null 2>&1 || true
	for ((i = 0; i < n; i++)); do measure "$out" "$@" || return 1; done
}

median() { # column $2 of file $1, median
	awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "-"; exit}; if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'
}
secs() { median "$1" 1; }
rss_mib() { awk -v k="$(median "$1" 2)" 'BEGIN {if (k=="-") print "-"; else printf "%.0f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a=="-"||b=="-"||b+0==0) print "-"; else printf "%.2fx", a/b}'; }
warm() { cat "$@" >/dev/null; }

# --- the image -----------------------------------------------------------------------------------------------

tree=$DIR/tree
build_tree() {
	[ -f "$DIR/tree.ok" ] && return 0
	rm -rf "$tree"
	if [ -d "$BOOKWORM/usr/bin" ]; then
		say "copying the cached bookworm tree $BOOKWORM"
		cp -a "$BOOKWORM" "$tree" || return 1
	elif is_root && have debootstrap; then
		say "debootstrap --variant=minbase bookworm (a few minutes; set BOOKWORM_TREE to reuse a tree)"
		debootstrap --variant=minbase bookworm "$tree" >"$DIR/debootstrap.log" 2>&1 || {
			say "debootstrap failed, see $DIR/debootstrap.log"
			return 1
		}
	else
		say "no bookworm tree at $BOOKWORM and no root+debootstrap to make one"
		return 1
	fi
	# Through tar, so that the planted bin/, sbin/, lib/ land in usr/ behind bookworm's merged-/usr symlinks.
	tar -C "$repo/testdata/images/src/linux-infected" -cf - . | tar -C "$tree" -xf - --keep-directory-symlink || return 1
	if have gcc; then
		mkdir -p "$tree/usr/local/lib/.cache"
		gcc -O2 -s -o "$tree/usr/local/lib/.cache/kworkerd" "$repo/testdata/images/src/fakeminer.c" || return 1
	else
		notes+=("gcc missing: the compiled stand-in miner is not in the image")
	fi
	touch "$DIR/tree.ok"
}

# mkimg NAME SIZE_MIB: ext4 of SIZE_MIB holding the tree (cached by name).
mkimg() {
	local img=$DIR/$1 size=$2
	[ -f "$img.ok" ] && return 0
	rm -f "$img"
	truncate -s "${size}M" "$img" || return 1
	say "mke2fs -d $tree -> $img (${size} MiB, sparse)"
	mke2fs -q -F -t ext4 -L root -d "$tree" "$img" >/dev/null || return 1
	touch "$img.ok"
}

if ! build_tree; then
	say "cannot make the benchmark tree; skipping scripts/bench.sh"
	exit 0
fi
tree_mib=$(du -sm "$tree" | awk '{print $1}')
base_mib=$((tree_mib * 2 + 64))
mkimg base.img "$base_mib" || exit 1
mkimg big.img $((base_mib * 10)) || exit 1
base=$DIR/base.img
big=$DIR/big.img
nfiles=$(find "$tree" -type f | wc -l)
say "tree: $tree_mib MiB in $nfiles regular files; base.img $base_mib MiB, big.img $((base_mib * 10)) MiB (sparse)"

# --- 1. targeted checks: cost independent of image size ------------------------------------------------------

if ! skipped targeted; then
	warm "$base"
	reps "$TARGETED_REPS" "$work/t-base" "$SNAPSCAN" scan --no-sweep -f json -o /dev/null "$base" &&
		reps "$TARGETED_REPS" "$work/t-big" "$SNAPSCAN" scan --no-sweep -f json -o /dev/null "$big" && {
		a=$(secs "$work/t-base") b=$(secs "$work/t-big")
		row "1 targeted" "snapscan scan --no-sweep, ${base_mib} MiB image" "$a" "$(rss_mib "$work/t-base")" "1.00x"
		row "1 targeted" "same files, 10x image (${base_mib}0 MiB sparse)" "$b" "$(rss_mib "$work/t-big")" "$(ratio "$b" "$a") of the ${base_mib} MiB run"
		# Bytes read from the image: the size-independence that timing noise on a shared CPU can blur.
		if have strace; then
			for i in base big; do
				strace -f -e trace=pread64,read -o "$work/strace.$i" "$SNAPSCAN" scan --no-sweep -f json -o /dev/null "$DIR/$i.img" >/dev/null 2>&1
				eval "rd_$i=$(awk '/pread64\(|read\(/ && $NF ~ /^[0-9]+$/ {s+=$NF} END {printf "%.0f", s/1024}' "$work/strace.$i")"
			done
			notes+=("targeted checks read ${rd_base} KiB (all read/pread64 calls, strace) from the ${base_mib} MiB image and ${rd_big} KiB from the 10x one")
		fi
	}
fi

# --- 2. full content sweep vs mount+find+yara, vs reading the image --------------------------------------------

if ! skipped sweep; then
	warm "$base"
	reps "$REPS" "$work/cat" cat "$base"
	floor=$(secs "$work/cat")
	row "2 sweep" "cat IMAGE > /dev/null (physical floor, warm)" "$floor" "$(rss_mib "$work/cat")" "1.00x"
	if reps "$REPS" "$work/s-snap" "$SNAPSCAN" scan -f json -o /dev/null "$base"; then
		s=$(secs "$work/s-snap")
		row "2 sweep" "snapscan scan (checks + SHA-256/MD5 + YARA, every file)" "$s" "$(rss_mib "$work/s-snap")" "$(ratio "$s" "$floor") of floor"
		notes+=("sweep throughput: $(awk -v m="$tree_mib" -v t="$s" 'BEGIN {printf "%.0f", m/t}') MiB/s of file data ($tree_mib MiB in $nfiles files), checks included")
		"$SNAPSCAN" scan -f json -o "$work/snap.json" "$base" >/dev/null 2>&1 || true
		# Package verification (dpkg MD5 of every packaged file, from the same read) and what --skip-verified
		# saves. The three modes run interleaved, so a neighbour's load falls on all of them alike.
		: >"$work/v-full"; : >"$work/v-nover"; : >"$work/v-skip"
		"$SNAPSCAN" scan --skip-verified -f json -o "$work/skipv.json" "$base" >/dev/null 2>&1 || true
		vok=1
		for ((i = 0; i < REPS; i++)); do
			measure "$work/v-full" "$SNAPSCAN" scan -f json -o /dev/null "$base" &&
				measure "$work/v-nover" "$SNAPSCAN" scan --verify-packages=false -f json -o /dev/null "$base" &&
				measure "$work/v-skip" "$SNAPSCAN" scan --skip-verified -f json -o /dev/null "$base" || { vok=0; break; }
		done
		if [ $vok -eq 1 ]; then
			vf=$(secs "$work/v-full") nv=$(secs "$work/v-nover") sv=$(secs "$work/v-skip")
			nskip=$(jq -r '.[0].stats.files_verified_not_swept // 0' "$work/skipv.json" 2>/dev/null || echo "?")
			row "2 sweep" "  interleaved: full scan (dpkg verification on, the default)" "$vf" "$(rss_mib "$work/v-full")" "1.00x"
			row "2 sweep" "  interleaved: --verify-packages=false (no dpkg verification)" "$nv" "$(rss_mib "$work/v-nover")" "verification: $(ratio "$vf" "$nv") of this"
			row "2 sweep" "  interleaved: --skip-verified (YARA only on files not verified)" "$sv" "$(rss_mib "$work/v-skip")" "$(ratio "$sv" "$vf") of full; $nskip files not YARA-swept"
		fi
	fi
	if ! is_root; then
		say "part 2: not root: skipping the mount -o loop,ro + find + yara comparison"
		notes+=("mount+find+yara skipped: needs root")
	elif ! have yara; then
		say "part 2: yara CLI missing (apt-get install yara): skipping the comparison"
		notes+=("mount+find+yara skipped: yara CLI missing")
	else
		mnt=$work/mnt
		mkdir -p "$mnt"
		rules=()
		for f in "$repo"/signatures/yara/*.yar; do rules+=("snapscan:$f"); done
		ext=(-d filename= -d filepath= -d extension= -d filetype= -d md5= -d owner=)
		# The same cap as snapscan's default --max-file-size (64 MiB): larger files are not scanned by either.
		cat >"$work/analyst.sh" <<-EOF
			set -e
			mount -o loop,ro,noload "$base" "$mnt"
			find "$mnt" -xdev -type f -size -65537k >"$work/list"
			yara -w -p $NPROC ${ext[*]} ${rules[*]} --scan-list "$work/list" >"$work/yara.out"
			umount "$mnt"
		EOF
		cat >"$work/analyst-hash.sh" <<-EOF
			set -e
			mount -o loop,ro,noload "$base" "$mnt"
			find "$mnt" -xdev -type f -size -65537k >"$work/list"
			yara -w -p $NPROC ${ext[*]} ${rules[*]} --scan-list "$work/list" >"$work/yara.out"
			tr '\n' '\0' <"$work/list" | xargs -0 -P $NPROC -n 256 sha256sum >/dev/null
			umount "$mnt"
		EOF
		if reps "$REPS" "$work/s-yara" bash "$work/analyst.sh" &&
			reps "$REPS" "$work/s-yarahash" bash "$work/analyst-hash.sh"; then
			y=$(secs "$work/s-yara") yh=$(secs "$work/s-yarahash")
			row "2 sweep" "mount -o loop,ro + find + yara -p $NPROC --scan-list" "$y" "$(rss_mib "$work/s-yara")" "$(ratio "$y" "$floor") of floor"
			row "2 sweep" "  the same + sha256sum over the list (-P $NPROC)" "$yh" "$(rss_mib "$work/s-yarahash")" "$(ratio "$yh" "$floor") of floor"
			[ -n "${s:-}" ] && row "2 sweep" "snapscan scan / (mount+find+yara+sha256sum)" "-" "-" "$(ratio "$s" "$yh")"
			if [ -s "$work/snap.json" ] && have jq; then
				# Parity: every file the yara CLI flags must be among snapscan's sweep findings (which add IOC hash
				# and file-name hits, so they may be more).
				awk -v m="$mnt" '{p=$2; sub("^" m, "", p); print p}' "$work/yara.out" | sort -u >"$work/yara.paths"
				jq -r '.[].findings[] | select(.check=="sweep") | .evidence.path' "$work/snap.json" | sort -u >"$work/snap.paths"
				ny=$(wc -l <"$work/yara.paths") ns=$(wc -l <"$work/snap.paths")
				missing=$(comm -23 "$work/yara.paths" "$work/snap.paths" | wc -l)
				notes+=("parity: the yara CLI flagged $ny files, snapscan's sweep $ns (YARA + IOC hash/name hits); flagged by yara but not by snapscan: $missing")
				if [ "$missing" -gt 0 ]; then
					comm -23 "$work/yara.paths" "$work/snap.paths" | head -5 | sed 's/^/    yara only: /' >&2
				fi
			fi
		fi
		rmdir "$mnt" 2>/dev/null
		mnt=""
	fi
fi

# --- 3. peak RSS with one 4 GiB file -------------------------------------------------------------------------

if ! skipped rss4g; then
	img4=$DIR/onefile4g.img
	if [ ! -f "$img4.ok" ]; then
		rm -rf "$DIR/tree4g" "$img4"
		mkdir -p "$DIR/tree4g"
		f=$DIR/tree4g/huge.bin
		truncate -s 4G "$f"
		# 16 MiB of data at the start, at each GiB and at the end; holes between (mke2fs -d keeps them sparse).
		for off in 0 1024 2048 3072 4080; do
			head -c 16M /dev/urandom | dd of="$f" bs=1M seek="$off" conv=notrunc status=none
		done
		truncate -s 4200M "$img4"
		mke2fs -q -F -t ext4 -d "$DIR/tree4g" "$img4" >/dev/null && touch "$img4.ok"
		rm -rf "$DIR/tree4g"
	fi
	if [ -f "$img4.ok" ]; then
		warm "$img4"
		if reps "$REPS" "$work/r-cap" "$SNAPSCAN" scan -f json -o /dev/null "$img4"; then
			row "3 memory" "scan, one 4 GiB file (80 MiB data + holes), default 64 MiB cap: skipped" "$(secs "$work/r-cap")" "$(rss_mib "$work/r-cap")" "listed as skipped"
		fi
		if reps 1 "$work/r-full" "$SNAPSCAN" scan -f json -o /dev/null --max-file-size 5GiB --max-memory 6GiB "$img4"; then
			row "3 memory" "  the same, --max-file-size 5GiB --max-memory 6GiB: read, hashed, YARA" "$(secs "$work/r-full")" "$(rss_mib "$work/r-full")" "1 run; buffer = file size"
		fi
	fi
fi

# --- 4. a batch of 8 images, one after another vs two at a time ----------------------------------------------

if ! skipped batch; then
	batch=()
	for i in 1 2 3 4 5 6 7 8; do
		b=$DIR/batch$i.img
		[ -f "$b" ] || cp --sparse=always "$base" "$b"
		batch+=("$b")
	done
	warm "${batch[@]}"
	printf '%s\n' "${batch[@]}" >"$work/batch.list"
	cat >"$work/seq.sh" <<-EOF
		set -e
		while read -r b; do "$SNAPSCAN" scan -f json -o /dev/null "\$b"; done <"$work/batch.list"
	EOF
	cat >"$work/par.sh" <<-EOF
		set -e
		xargs -P 2 -I{} "$SNAPSCAN" scan -f json -o /dev/null {} <"$work/batch.list"
	EOF
	if reps "$BATCH_REPS" "$work/b-seq" bash "$work/seq.sh" && reps "$BATCH_REPS" "$work/b-par" bash "$work/par.sh"; then
		q=$(secs "$work/b-seq") p=$(secs "$work/b-par")
		row "4 batch" "8 x full scan, one after another" "$q" "$(rss_mib "$work/b-seq")" "$(awk -v t="$q" 'BEGIN {printf "%.2f images/min", 8*60/t}')"
		row "4 batch" "8 x full scan, 2 processes at once (xargs -P2)" "$p" "$(rss_mib "$work/b-par")" "$(awk -v t="$p" 'BEGIN {printf "%.2f images/min", 8*60/t}'); $(ratio "$q" "$p") speed-up"
	fi
fi

# --- 5. hostile images: peak RSS and time of each memory bomb (internal/hostile checks the same bounds) ----------

if ! skipped hostile; then
	if have qemu-img && have perl && have debugfs && have hivexregedit; then
		hdir=$work/hostile
		if bash "$repo/testdata/images/hostile.sh" "$hdir" qcow2-l1 vhd-bat vmdk-gd vhdx-meta links-200 links-100000 crontab-1e7 deep-dirs hive-value >/dev/null 2>"$work/hostile.err"; then
			for c in qcow2-l1.qcow2 vhd-bat.vhd vmdk-gd.vmdk vhdx-meta.vhdx links-200.img links-100000.img crontab-1e7.img deep-dirs.img hive-value.img; do
				# Exit 3 (no volume readable) is the expected answer for a refused container.
				if reps "$REPS" "$work/h-$c" bash -c '"$0" "$@"; c=$?; [ $c -eq 0 ] || [ $c -eq 3 ]' \
					"$SNAPSCAN" scan --inventory -f json -o "$work/h-$c.json" "$hdir/$c"; then
					what=""
					if have jq; then
						# What the report says it refused or cut, in a few words.
						what=$(jq -r '[(.findings[] | select(.rule | endswith(".oversized")) | .title | .[0:40]),
							(.errors[] | .error | select(test("claims|deeper|limit|size cap|cap;")) | capture("(?<m>[^:]*(claims|deeper|limit|size cap|cap;)[^:]*)").m | ltrimstr(" ") | .[0:40]),
							(if .stats.links_judged_once then "\(.stats.links_judged_once) links judged once" else empty end)] | unique | join("; ") | .[0:34]' "$work/h-$c.json" 2>/dev/null)
					fi
					row "5 hostile" "scan --inventory $c ($(du -h --apparent-size "$hdir/$c" | cut -f1) apparent, $(du -h "$hdir/$c" | cut -f1) on disk)" "$(secs "$work/h-$c")" "$(rss_mib "$work/h-$c")" "${what:-read lazily}"
				fi
			done
			notes+=("hostile: testdata/images/hostile.sh; the bound is 512 MiB peak RSS and 60 s per image (internal/hostile); default --max-memory 1GiB")
			# The sweep's memory: four 100 MiB files (holes: YARA and the hashes still see 100 MiB each).
			img100=$DIR/four100m.img
			if [ ! -f "$img100.ok" ]; then
				rm -rf "$DIR/tree100" && mkdir -p "$DIR/tree100/etc" "$DIR/tree100/data"
				echo 'root:x:0:0:root:/root:/bin/bash' >"$DIR/tree100/etc/passwd"
				for i in 1 2 3 4; do truncate -s 100M "$DIR/tree100/data/f$i"; done
				mke2fs -q -F -t ext4 -d "$DIR/tree100" "$img100" 64M >/dev/null 2>&1 && touch "$img100.ok"
				rm -rf "$DIR/tree100"
			fi
			if [ -f "$img100.ok" ]; then
				reps "$REPS" "$work/m-def" "$SNAPSCAN" scan -f json -o /dev/null --max-file-size 128MiB "$img100" &&
					row "5 hostile" "scan, four 100 MiB files, --max-file-size 128MiB ($NPROC workers)" "$(secs "$work/m-def")" "$(rss_mib "$work/m-def")" "workers x file size + base"
				reps "$REPS" "$work/m-384" "$SNAPSCAN" scan -f json -o /dev/null --max-file-size 128MiB --max-memory 384MiB "$img100" &&
					row "5 hostile" "  the same, --max-memory 384MiB (sweep share 128 MiB)" "$(secs "$work/m-384")" "$(rss_mib "$work/m-384")" "one file at a time, none skipped"
			fi
		else
			say "part 5: hostile.sh failed:"
			tail -5 "$work/hostile.err" >&2
		fi
	else
		say "part 5: qemu-img, perl, debugfs or hivexregedit missing: skipping the hostile images"
	fi
fi

# --- the table -----------------------------------------------------------------------------------------------

echo
echo "snapscan benchmarks — $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $NPROC CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r), $(go version 2>/dev/null | awk '{print $3}')"
echo "image: Debian bookworm minbase + linux-infected artifacts, $nfiles files / $tree_mib MiB in a ${base_mib} MiB ext4; warm page cache (nothing dropped; the image file is sparse, so cat reads its holes without I/O); median of $REPS runs (targeted: $TARGETED_REPS, batch: $BATCH_REPS)"
echo
printf '| %-10s | %-72s | %9s | %8s | %-34s |\n' part measurement "median s" "peak RSS" "ratio / note"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..74})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..36})"
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e <<<"$r"
	[ "$d" != "-" ] && d="$d MiB"
	printf '| %-10s | %-72s | %9s | %8s | %-34s |\n' "$a" "$b" "$c" "$d" "$e"
done
echo "note: peak RSS is GNU time's %M: the largest single process of the command (for xargs -P2, one of the two)"
for n in "${notes[@]}"; do echo "note: $n"; done
