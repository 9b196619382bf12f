#!/usr/bin/env bash
# make.sh — builds snapscan's test images with the real tools (mke2fs, debugfs, mkfs.vfat, mkntfs + ntfs-3g, sgdisk,
# sfdisk, mkswap, qemu-img) and writes them gzip-compressed beside this script, with SHA256SUMS of the decompressed
# images. Tests only read the committed .gz files (internal/testimg), so they need neither root nor these tools.
#
# Usage (as root): testdata/images/make.sh [IMAGE...]      no argument: every image in images.conf
# Environment:     SOURCE_DATE_EPOCH (default 1700000000)  every timestamp the tools let us fix
#                  KEEP=1                                  keep the scratch dir testdata/images/out/
#                  TESTIMG_CONF, TESTIMG_SRC, TESTIMG_OUT  another table, source dir, output dir (make.sh's own test)
#
# What goes into each image is listed in images.conf (read that table first). Filesystem contents come from
# src/<tree>/ plus two optional companions, because git cannot store owners, flags, device nodes or empty dirs:
#
#   src/<tree>.pre.sh   run as `bash -euo pipefail HOOK STAGEDIR`, cwd = repo root, after the tree is copied into
#                       STAGEDIR (owned 0:0, dirs 0755, files 0644 or 0755 if executable in git) and before the
#                       filesystem is made. It may add, change or delete anything in STAGEDIR (umask 022, as root).
#   src/<tree>.attrs    one directive a line; blank lines and lines starting with # are ignored. Fields are split on
#                       whitespace; a backslash escapes the next character (write a space in a path as "\ ").
#                       PATH is relative to the filesystem root (a leading / is optional; "/" is the root itself).
#                       Keywords in the first field take precedence over a PATH of the same name.
#       mkdir PATH                        directory (and missing parents), 0755 root:root
#       mknod PATH c|b MAJOR MINOR        character / block device; mknod PATH p: FIFO (MAJOR MINOR optional)
#       symlink PATH TARGET               symbolic link PATH -> TARGET (TARGET is stored verbatim)
#       hardlink PATH EXISTING            PATH becomes another name of EXISTING (link counts stay right)
#       PATH UID GID MODE [FLAGS]         UID/GID numeric or -; MODE octal permission bits (e.g. 04755) or -;
#                                         FLAGS comma list of immutable, append-only, nodump, noatime, sync,
#                                         dirsync, secrm, unrm, compr, topdir, or 0xHEX, or - (ORed into i_flags)
#       mtime|atime|ctime|crtime PATH UNIXSECONDS
#   Order of application: trees are copied in SOURCE order; then each tree's hook runs; then each tree's
#   mkdir/mknod/symlink/hardlink lines are carried out in the staging dir (so the filesystem maker copies them with
#   correct link counts); every timestamp is set to SOURCE_DATE_EPOCH; after the filesystem is made, the owner, mode,
#   flag and time lines are applied in file order — on ext4 with `debugfs -w` (set_inode_field), on NTFS through the
#   ntfs-3g mount (times only: mtime/atime with touch, crtime via system.ntfs_crtime; ctime, owners, modes and flags
#   have no NTFS meaning and are reported as ignored), on FAT not at all. A path that does not exist is an error.
#   For a split tree (SOURCE TREE:SUBDIR / TREE:!SUBDIR) lines whose PATH is SUBDIR or below it go to the SUBDIR
#   filesystem with the SUBDIR/ prefix stripped; all others go to the rest.
#
# Images whose source tree does not exist yet are skipped with a message. Deterministic where the tools allow:
# UUIDs, GUIDs, volume ids and hash seeds are derived from the image name, mke2fs/debugfs run with
# E2FSPROGS_FAKE_TIME, mkntfs with -T, and ntfs-3g, mtools and qemu-img under libfaketime with a frozen clock.
# qemu-img's VHDX/VHD/VMDK writers put random ids in their headers, so those containers differ between runs.
set -euo pipefail
shopt -s inherit_errexit
umask 022
export LC_ALL=C.UTF-8 TZ=UTC
: "${SOURCE_DATE_EPOCH:=1700000000}"
export SOURCE_DATE_EPOCH E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH MTOOLS_SKIP_CHECK=1 DEBUGFS_PAGER=__none__ PAGER=cat
EPOCH=$SOURCE_DATE_EPOCH

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
IMAGES=${TESTIMG_OUT:-testdata/images} # where the .gz files and SHA256SUMS go
SRC=${TESTIMG_SRC:-testdata/images/src}
CONF=${TESTIMG_CONF:-testdata/images/images.conf}
WORK=$IMAGES/out
MNT=

die() { echo "make.sh: $*" >&2; exit 1; }
say() { echo "make.sh: $*" >&2; }

[[ $(id -u) == 0 ]] || die "must run as root (mknod, chown and the ntfs-3g mount need it)"
need=(mke2fs:e2fsprogs debugfs:e2fsprogs e2fsck:e2fsprogs mkfs.vfat:dosfstools mmd:mtools mcopy:mtools
	mkntfs:ntfs-3g ntfs-3g:ntfs-3g sgdisk:gdisk sfdisk:fdisk mkswap:util-linux qemu-img:qemu-utils
	setfattr:attr iconv:libc-bin gzip:gzip sha256sum:coreutils)
missing=()
for n in "${need[@]}"; do command -v "${n%%:*}" >/dev/null || missing+=("${n#*:}"); done
FAKETIME_LIB=$(compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' | head -n1 || true)
[[ -n $FAKETIME_LIB ]] || missing+=(libfaketime)
((${#missing[@]} == 0)) || die "missing tools; install: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"

mkdir -p "$WORK"
exec 9>"$WORK/.lock"
flock -w 600 9 || die "another make.sh has held $WORK/.lock for 10 minutes"
rm -rf "${WORK:?}"/* # a converted image must never start from a stale raw image of an earlier run

cleanup() {
	if [[ -n $MNT ]] && mountpoint -q "$MNT"; then umount "$MNT" || true; fi
	if [[ ${KEEP:-} != 1 ]]; then rm -rf "${WORK:?}"/*; fi
}
trap cleanup EXIT

# frozen runs a command with the clock stopped at SOURCE_DATE_EPOCH (monotonic time keeps running, so timeouts work).
frozen() {
	LD_PRELOAD=$FAKETIME_LIB FAKETIME="$(date -u -d "@$EPOCH" '+%Y-%m-%d %H:%M:%S')" FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"
}

# hexid KEY N prints N hex digits derived from KEY: stable ids without a table of magic numbers.
hexid() { printf 'snapscan-testimg:%s' "$1" | sha256sum | cut -c1-"$2"; }
uuid() {
	local h
	h=$(hexid "$1" 32)
	printf '%s-%s-4%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" $(((0x${h:16:1} & 3) | 8)) "${h:17:3}" "${h:20:12}"
}

opt() { # opt OPTS KEY DEFAULT: value of KEY=... in a comma list
	local o
	IFS=, read -ra o <<<"$1"
	for kv in "${o[@]}"; do [[ $kv == "$2="* ]] && { echo "${kv#*=}"; return; }; [[ $kv == "$2" ]] && { echo yes; return; }; done
	echo "$3"
}

# ---------------------------------------------------------------- the table
declare -a R_IMG R_TAB R_P R_TYPE R_PNAME R_FS R_LABEL R_SIZE R_SRC R_OPTS
ORDER=()
while read -r img tab p typ pname fs label size src opts rest; do
	[[ -z $img || $img == \#* ]] && continue
	[[ -n $opts && -z $rest ]] || die "$CONF: bad line for $img (want 10 fields)"
	R_IMG+=("$img"); R_TAB+=("$tab"); R_P+=("$p"); R_TYPE+=("$typ"); R_PNAME+=("$pname"); R_FS+=("$fs")
	R_LABEL+=("$label"); R_SIZE+=("$size"); R_SRC+=("$src"); R_OPTS+=("$opts")
	[[ " ${ORDER[*]-} " == *" $img "* ]] || ORDER+=("$img")
done <"$CONF"

rows_of() { local i; for i in "${!R_IMG[@]}"; do [[ ${R_IMG[$i]} == "$1" ]] && echo "$i"; done; }

# ---------------------------------------------------------------- attrs
# attrs_lines FILE: prints each directive as one NUL-separated record of unit-separated fields, after escapes.
attrs_lines() {
	local f=$1 line n=0
	[[ -f $f ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		local -a a
		# shellcheck disable=SC2162 # no -r on purpose: a backslash escapes the next character (spaces in names)
		read -a a <<<"$line"
		(IFS=$'\x1f'; printf '%s:%d\x1f%s\0' "$f" "$n" "${a[*]}")
	done <"$f"
}

norm() { local p=${1#/}; p=${p%/}; echo "${p:-.}"; }

# structural STAGE ATTRSFILE: mkdir/mknod/symlink/hardlink in the staging dir.
structural() {
	local stage=$1 rec where
	while IFS= read -r -d '' rec; do
		IFS=$'\x1f' read -ra f <<<"$rec"
		where=${f[0]}
		case ${f[1]} in
		mkdir) mkdir -p "$stage/$(norm "${f[2]}")" ;;
		mknod)
			local p; p=$stage/$(norm "${f[2]}")
			mkdir -p "$(dirname "$p")"; rm -f "$p"
			case ${f[3]:-} in
			p) mknod "$p" p ;;
			c | b) [[ -n ${f[5]:-} ]] || die "$where: mknod c|b needs MAJOR MINOR"; mknod "$p" "${f[3]}" "${f[4]}" "${f[5]}" ;;
			*) die "$where: mknod type must be c, b or p" ;;
			esac ;;
		symlink)
			[[ -n ${f[3]:-} ]] || die "$where: symlink PATH TARGET"
			local p; p=$stage/$(norm "${f[2]}")
			mkdir -p "$(dirname "$p")"; ln -sfn "${f[3]}" "$p" ;;
		hardlink)
			local p e; p=$stage/$(norm "${f[2]}"); e=$stage/$(norm "${f[3]:-}")
			[[ -e $e && ! -d $e ]] || die "$where: hardlink target ${f[3]:-} does not exist (or is a directory)"
			mkdir -p "$(dirname "$p")"; ln -f "$e" "$p" ;;
		esac
	done < <(attrs_lines "$2")
}

# inode_lines STAGE ATTRSFILE: checks the owner/mode/flag/time lines against the staging dir and prints them again as
# records "KIND<US>PATH<US>ARGS..." for the post-mkfs phase.
inode_lines() {
	local stage=$1 rec where
	while IFS= read -r -d '' rec; do
		IFS=$'\x1f' read -ra f <<<"$rec"
		where=${f[0]}
		case ${f[1]} in
		mkdir | mknod | symlink | hardlink) continue ;;
		mtime | atime | ctime | crtime)
			[[ ${f[3]:-} =~ ^[0-9]+$ && -z ${f[4]:-} ]] || die "$where: ${f[1]} PATH UNIXSECONDS"
			local p; p=$(norm "${f[2]}")
			[[ -e $stage/$p || -L $stage/$p ]] || die "$where: no such path in the tree: $p"
			printf '%s\x1f%s\x1f%s\x1f%s\0' "$where" "${f[1]}" "$p" "${f[3]}" ;;
		*)
			[[ -n ${f[4]:-} && -z ${f[6]:-} ]] || die "$where: want PATH UID GID MODE [FLAGS]"
			local p fb; p=$(norm "${f[1]}")
			[[ -e $stage/$p || -L $stage/$p ]] || die "$where: no such path in the tree: $p"
			[[ ${f[2]} =~ ^([0-9]+|-)$ && ${f[3]} =~ ^([0-9]+|-)$ ]] || die "$where: UID and GID must be numbers or -"
			[[ ${f[4]} =~ ^([0-7]{1,5}|-)$ ]] || die "$where: MODE must be octal permission bits or -"
			fb=$(flagbits "$where" "${f[5]:--}")
			printf '%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\0' "$where" own "$p" "${f[2]}" "${f[3]}" "${f[4]}" "$fb" ;;
		esac
	done < <(attrs_lines "$2")
}

flagbits() {
	local where=$1 v=0 x
	[[ $2 == - ]] && { echo 0; return; }
	IFS=, read -ra fl <<<"$2"
	for x in "${fl[@]}"; do
		case $x in
		secrm) v=$((v | 0x1)) ;; unrm) v=$((v | 0x2)) ;; compr) v=$((v | 0x4)) ;; sync) v=$((v | 0x8)) ;;
		immutable) v=$((v | 0x10)) ;; append-only) v=$((v | 0x20)) ;; nodump) v=$((v | 0x40)) ;;
		noatime) v=$((v | 0x80)) ;; dirsync) v=$((v | 0x10000)) ;; topdir) v=$((v | 0x20000)) ;;
		0x*) v=$((v | x)) ;;
		*) die "$where: unknown flag $x" ;;
		esac
	done
	echo "$v"
}

# ---------------------------------------------------------------- staging
# stage IMAGE TREES: copies the trees into $WORK/stage/IMAGE/TREES, runs hooks, carries out structural attrs, fixes
# owners, modes and times; writes the pending inode directives to the same path + .inode. Done once per image+TREES.
stage() {
	local img=$1 trees=$2 t dir
	dir=$WORK/stage/$img/${trees//+/_}
	[[ -d $dir ]] && { echo "$dir"; return; }
	mkdir -p "$dir"
	IFS=+ read -ra tl <<<"$trees"
	for t in "${tl[@]}"; do cp -R --preserve=links "$SRC/$t/." "$dir/"; done
	chown -R -h 0:0 "$dir"
	find "$dir" -type d -exec chmod 0755 {} +
	find "$dir" -type f -perm /111 -exec chmod 0755 {} +
	find "$dir" -type f ! -perm /111 -exec chmod 0644 {} +
	for t in "${tl[@]}"; do
		if [[ -f $SRC/$t.pre.sh ]]; then
			say "  hook $SRC/$t.pre.sh"
			bash -euo pipefail "$SRC/$t.pre.sh" "$dir" >&2 || die "hook $SRC/$t.pre.sh failed"
		fi
	done
	for t in "${tl[@]}"; do structural "$dir" "$SRC/$t.attrs"; done
	: >"$dir.inode"
	for t in "${tl[@]}"; do inode_lines "$dir" "$SRC/$t.attrs" >>"$dir.inode"; done
	find "$dir" -exec touch -h -d "@$EPOCH" {} +
	echo "$dir"
}

# content IMAGE SOURCE: prints the directory whose contents become the filesystem and writes DIR.inode for it.
content() {
	local img=$1 src=$2 trees sel dir out
	trees=${src%%:*}
	sel=; [[ $src == *:* ]] && sel=${src#*:}
	dir=$(stage "$img" "$trees")
	[[ -z $sel ]] && { echo "$dir"; return; }
	local sub=${sel#!}
	sub=$(norm "$sub")
	if [[ ! -d $dir.sub-$sub ]]; then # split once: the subtree moves out, an empty mount point stays
		[[ -d $dir/$sub ]] || die "$img: $trees has no $sub/ to split off"
		mv "$dir/$sub" "$dir.sub-$sub"
		mkdir "$dir/$sub"; touch -d "@$EPOCH" "$dir/$sub" "$(dirname "$dir/$sub")"
		: >"$dir.sub-$sub.inode"; : >"$dir.rest.inode"
		local rec
		while IFS= read -r -d '' rec; do
			IFS=$'\x1f' read -ra f <<<"$rec"
			if [[ ${f[2]} == "$sub" || ${f[2]} == "$sub/"* ]]; then
				local rel=${f[2]#"$sub"}; rel=$(norm "$rel")
				f[2]=$rel
				(IFS=$'\x1f'; printf '%s\0' "${f[*]}") >>"$dir.sub-$sub.inode"
			else
				printf '%s\0' "$rec" >>"$dir.rest.inode"
			fi
		done <"$dir.inode"
		cp "$dir.rest.inode" "$dir.inode"
	fi
	if [[ $sel == !* ]]; then echo "$dir"; else echo "$dir.sub-$sub"; fi
}

# ---------------------------------------------------------------- filesystems
sizebytes() { echo $((${1%M} * 1024 * 1024)); }

# autosize DIR: a first guess in MiB, grown by the builders when the content does not fit.
autosize() {
	local kib files
	kib=$(du -sk "$1" | cut -f1)
	files=$(find "$1" | wc -l)
	echo $(((kib * 5 / 4 + files * 4 + 6 * 1024) / 1024 + 1))
}

debugfs_q() { debugfs -R "$1" "$2" 2>/dev/null; }

mkext4() { # mkext4 OUT SIZE LABEL KEY DIR OPTS
	local out=$1 size=$2 label=$3 key=$4 dir=$5 opts=$6 mib bs args=()
	bs=$(opt "$opts" bs "")
	[[ -n $bs ]] && args+=(-b "$bs")
	[[ $label != - ]] && args+=(-L "$label")
	if [[ $size == auto ]]; then # 8 MiB at least: below 2048 blocks mke2fs leaves out the journal
		mib=$(autosize "$dir"); ((mib >= 8)) || mib=8
	else mib=${size%M}; fi
	local tries=0
	while :; do
		rm -f "$out"
		if mke2fs -q -F -t ext4 "${args[@]}" -U "$(uuid "$key:fs")" \
			-E "hash_seed=$(uuid "$key:hash"),root_owner=0:0" -d "$dir" "$out" "${mib}M" >"$out.log" 2>&1; then
			break
		fi
		[[ $size == auto && $tries -lt 8 ]] || { cat "$out.log" >&2; die "mke2fs failed for $out (${mib} MiB)"; }
		tries=$((tries + 1)); mib=$((mib * 3 / 2 + 1))
	done
	echo "${mib}M" >"$out.size"
	# Every inode's times to SOURCE_DATE_EPOCH (mke2fs -d copies ctime from the staging dir), then the .inode lines.
	local script=$out.debugfs p
	{
		while IFS= read -r -d '' p; do
			p=${p#"$dir"}; p=/${p#/}
			for t in atime mtime ctime crtime; do printf 'sif "%s" %s @%s\n' "$p" "$t" "$EPOCH"; done
		done < <(find "$dir" -print0 | LC_ALL=C sort -z)
		local rec
		while IFS= read -r -d '' rec; do
			IFS=$'\x1f' read -ra f <<<"$rec"
			if [[ ${f[2]} == . ]]; then p=/; else p=/${f[2]}; fi
			[[ $p != *'"'* ]] || die "${f[0]}: debugfs cannot quote a path containing \""
			case ${f[1]} in
			mtime | atime | ctime | crtime) printf 'sif "%s" %s @%s\n' "$p" "${f[1]}" "${f[3]}" ;;
			own)
				if [[ ${f[3]} != - ]]; then printf 'sif "%s" uid %s\n' "$p" "${f[3]}"; fi
				if [[ ${f[4]} != - ]]; then printf 'sif "%s" gid %s\n' "$p" "${f[4]}"; fi
				if [[ ${f[5]} != - || ${f[6]} != 0 ]]; then
					local st typ mode cur
					st=$(debugfs_q "stat \"$p\"" "$out"); st=${st%%$'\n'*}
					[[ $st =~ Type:\ ([a-zA-Z ]+[a-zA-Z])\ +Mode:\ +([0-7]+)\ +Flags:\ +(0x[0-9a-f]+) ]] ||
						die "${f[0]}: cannot stat $p in $out: $st"
					case ${BASH_REMATCH[1]} in
					regular) typ=0100000 ;; directory) typ=040000 ;; symlink) typ=0120000 ;; FIFO) typ=010000 ;;
					"character special") typ=020000 ;; "block special") typ=060000 ;; socket) typ=0140000 ;;
					*) die "${f[0]}: unknown inode type ${BASH_REMATCH[1]}" ;;
					esac
					mode=${BASH_REMATCH[2]}; cur=${BASH_REMATCH[3]}
					if [[ ${f[5]} != - ]]; then mode=${f[5]}; fi
					printf 'sif "%s" mode 0%o\n' "$p" $((typ | 8#$mode))
					if [[ ${f[6]} != 0 ]]; then printf 'sif "%s" flags 0x%x\n' "$p" $((cur | f[6])); fi
				fi ;;
			esac
		done <"$dir.inode"
	} >"$script"
	debugfs -w -f "$script" "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "debugfs failed on $out"; }
	if grep -v '^debugfs' "$out.log" | grep -q .; then cat "$out.log" >&2; die "debugfs complained on $out"; fi
	# mke2fs -d links entries one by one and leaves every directory linear; e2fsck -D indexes the big ones (htree),
	# as the kernel would have. Exit 1 means "optimised", anything above an error.
	local rc=0
	frozen e2fsck -fyD "$out" >"$out.log" 2>&1 || rc=$?
	((rc <= 1)) || { cat "$out.log" >&2; die "e2fsck -D failed on $out"; }
	frozen e2fsck -fn "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "e2fsck finds $out inconsistent"; }
}

mkvfat() { # mkvfat OUT SIZE LABEL KEY DIR OPTS
	local out=$1 size=$2 label=$3 key=$4 dir=$5 opts=$6 args=() p
	[[ $size != auto ]] || die "vfat: give a size"
	rm -f "$out"; truncate -s "$(sizebytes "$size")" "$out"
	args=(--invariant -F "$(opt "$opts" fat 16)" -i "$(hexid "$key:vol" 8)" --mbr=n)
	[[ $(opt "$opts" fat 16) == 32 ]] || args+=(-s 1)
	[[ $label != - ]] && args+=(-n "$label")
	frozen mkfs.vfat "${args[@]}" "$out" >/dev/null
	while IFS= read -r -d '' p; do # sorted, one by one: directory entry order must not follow readdir order
		local rel=${p#"$dir"/}
		if [[ -L $p ]]; then die "vfat cannot hold the symlink $rel"
		elif [[ -d $p ]]; then frozen mmd -i "$out" "::/$rel"
		elif [[ -f $p ]]; then frozen mcopy -m -i "$out" "$p" "::/$rel"
		else die "vfat cannot hold the special file $rel"; fi
	done < <(find "$dir" -mindepth 1 -print0 | LC_ALL=C sort -z)
	[[ ! -s $dir.inode ]] || say "  $out: FAT has no owners, modes, flags or settable times: .attrs inode lines ignored"
	echo "$size" >"$out.size"
}

mkswapfs() { # mkswapfs OUT SIZE LABEL KEY
	rm -f "$1"; truncate -s "$(sizebytes "$2")" "$1"
	local args=(-U "$(uuid "$4:swap")"); [[ $3 != - ]] && args+=(-L "$3")
	chmod 0600 "$1"; mkswap "${args[@]}" "$1" >/dev/null 2>&1 || die "mkswap failed on $1"
	echo "$2" >"$1.size"
}

ntfs_time() { # NTFS FILETIME (100 ns since 1601) of unix seconds, as the little-endian hex setfattr wants
	local v=$((($1 + 11644473600) * 10000000)) i out=0x
	for i in 0 1 2 3 4 5 6 7; do out+=$(printf '%02x' $(((v >> (8 * i)) & 255))); done
	echo "$out"
}

mkntfsfs() { # mkntfsfs OUT SIZE LABEL KEY DIR OPTS STARTSECTOR
	local out=$1 size=$2 label=$3 key=$4 dir=$5 start=${7:-0} mib tries=0 pid
	if [[ $size == auto ]]; then mib=$(autosize "$dir"); else mib=${size%M}; fi
	MNT=$WORK/mnt; mkdir -p "$MNT"
	while :; do
		rm -f "$out"; truncate -s $((mib * 1024 * 1024)) "$out"
		local args=(-F -f -Q -T -s 512 -p "$start" -H 255 -S 63); [[ $label != - ]] && args+=(-L "$label")
		mkntfs "${args[@]}" "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "mkntfs failed on $out"; }
		frozen ntfs-3g -o no_detach "$out" "$MNT" 2>>"$out.log" &
		pid=$!
		for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
		mountpoint -q "$MNT" || { cat "$out.log" >&2; die "ntfs-3g did not mount $out"; }
		if ntfs_fill "$dir" "$MNT" "$out"; then
			umount "$MNT"; wait "$pid" || die "ntfs-3g exited with an error on $out"
			break
		fi
		umount "$MNT"; wait "$pid" || true
		[[ $size == auto && $tries -lt 8 ]] || { cat "$out.log" >&2; die "could not fill $out (${mib} MiB)"; }
		tries=$((tries + 1)); mib=$((mib * 3 / 2 + 1))
	done
	MNT=
	ntfsfix -n "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "ntfsfix finds $out inconsistent"; }
	echo "${mib}M" >"$out.size"
}

ntfs_fill() { # copies DIR into the mounted NTFS in sorted order (MFT record order must not follow readdir order)
	local dir=$1 m=$2 out=$3 p rel
	declare -A seen=()
	while IFS= read -r -d '' p; do
		rel=${p#"$dir"/}
		local t=$m/$rel
		if [[ -L $p ]]; then ln -s "$(readlink "$p")" "$t" || return 1
		elif [[ -d $p ]]; then mkdir "$t" || return 1
		elif [[ -f $p ]]; then
			local id; id=$(stat -c %d:%i "$p")
			if [[ -n ${seen[$id]:-} ]]; then ln "$m/${seen[$id]}" "$t" || return 1
			else seen[$id]=$rel; cp --sparse=always "$p" "$t" 2>>"$out.log" || return 1; fi
		elif [[ -p $p ]]; then mknod "$t" p || return 1
		elif [[ -c $p || -b $p ]]; then
			local ty=c; [[ -b $p ]] && ty=b
			mknod "$t" "$ty" $((0x$(stat -c %t "$p"))) $((0x$(stat -c %T "$p"))) || return 1
		fi
	done < <(find "$dir" -mindepth 1 -print0 | LC_ALL=C sort -z)
	# Times: one system.ntfs_times write per path (creation, modification, access, MFT change). After ntfs-3g has
	# set times from an xattr it ignores later utimensat calls on that inode, so touch would be lost. The MFT change
	# time cannot be set at all: ntfs-3g stamps it with the (frozen) clock.
	local rec ignored=0 path
	declare -A cr=() mt=() at=()
	while IFS= read -r -d '' rec; do
		IFS=$'\x1f' read -ra f <<<"$rec"
		path=${f[2]}
		case ${f[1]} in
		mtime) mt[$path]=${f[3]} ;;
		atime) at[$path]=${f[3]} ;;
		crtime) cr[$path]=${f[3]} ;;
		*) ignored=$((ignored + 1)); continue ;;
		esac
		: "${mt[$path]:=$EPOCH}" "${at[$path]:=$EPOCH}" "${cr[$path]:=$EPOCH}"
	done <"$dir.inode"
	for path in "${!mt[@]}"; do
		local v
		v=$(ntfs_time "${cr[$path]}")$(ntfs_time "${mt[$path]}")$(ntfs_time "${at[$path]}")$(ntfs_time "$EPOCH")
		setfattr -h -n system.ntfs_times -v "0x${v//0x/}" "$m/$path" || die "setting NTFS times of $path in $out"
	done
	((ignored == 0)) || say "  $out: $ignored .attrs line(s) without NTFS meaning ignored (owner/mode/flags/ctime)"
	sync -f "$m"
}

# ---------------------------------------------------------------- disks
build_image() {
	local img=$1 rows i tab
	mapfile -t rows < <(rows_of "$img")
	tab=${R_TAB[${rows[0]}]}
	if [[ $tab == qemu ]]; then
		i=${rows[0]}
		local src=${R_SRC[$i]} raw=$WORK/${R_SRC[$i]}
		if [[ ! -f $raw ]]; then
			[[ -f $IMAGES/$src.gz ]] || { say "SKIP $img: its source $src is neither built nor committed"; return; }
			gzip -dc "$IMAGES/$src.gz" >"$raw"
		fi
		local args=(-f raw -O "${R_FS[$i]}")
		[[ ${R_OPTS[$i]} != - ]] && args+=(-o "${R_OPTS[$i]}")
		rm -f "$WORK/$img"
		frozen qemu-img convert "${args[@]}" "$raw" "$WORK/$img"
		if same_container "$img" "$raw"; then
			say "  $img: committed copy has the same format and content, kept (qemu-img writes random ids)"
			return
		fi
		finish "$img"
		return
	fi
	for i in "${rows[@]}"; do # every tree must exist before anything is built
		local s=${R_SRC[$i]%%:*} t
		[[ $s == - ]] && continue
		IFS=+ read -ra tl <<<"$s"
		for t in "${tl[@]}"; do
			[[ -d $SRC/$t ]] || { say "SKIP $img: source tree $SRC/$t/ does not exist yet"; return; }
		done
	done
	say "building $img"
	mkdir -p "$WORK/parts"
	local parts=()
	for i in "${rows[@]}"; do
		local part=$WORK/parts/$img.p${R_P[$i]} key=$img:${R_P[$i]} dir=
		if [[ ${R_SRC[$i]} != - ]]; then dir=$(content "$img" "${R_SRC[$i]}"); fi
		local start=0
		if [[ $tab != none ]]; then start=$(next_start "$img" "${R_P[$i]}"); fi
		case ${R_FS[$i]} in
		ext4) mkext4 "$part" "${R_SIZE[$i]}" "${R_LABEL[$i]}" "$key" "$dir" "${R_OPTS[$i]}" ;;
		vfat) mkvfat "$part" "${R_SIZE[$i]}" "${R_LABEL[$i]}" "$key" "$dir" "${R_OPTS[$i]}" ;;
		swap) mkswapfs "$part" "${R_SIZE[$i]}" "${R_LABEL[$i]}" "$key" ;;
		ntfs) mkntfsfs "$part" "${R_SIZE[$i]}" "${R_LABEL[$i]}" "$key" "$dir" "${R_OPTS[$i]}" "$start" ;;
		*) die "$img: unknown fs ${R_FS[$i]}" ;;
		esac
		parts+=("$i")
		echo "$part" >"$WORK/parts/$img.last"
	done
	case $tab in
	none)
		((${#rows[@]} == 1)) || die "$img: a bare image holds one filesystem"
		mv "$WORK/parts/$img.p-" "$WORK/$img" ;;
	gpt | mbr) assemble "$img" "$tab" "${rows[@]}" ;;
	*) die "$img: unknown table $tab" ;;
	esac
	finish "$img"
}

# next_start IMAGE P: start sector of partition P, 1 MiB aligned, after the previous partitions' built sizes.
next_start() {
	local img=$1 want=$2 s=2048 i
	for i in $(rows_of "$img"); do
		[[ ${R_P[$i]} == "$want" ]] && { echo "$s"; return; }
		local sz; sz=$(cat "$WORK/parts/$img.p${R_P[$i]}.size")
		s=$((s + ${sz%M} * 2048))
	done
	die "$img: no partition $want"
}

assemble() {
	local img=$1 tab=$2; shift 2
	local out=$WORK/$img s=2048 i sgargs=() sfscript
	sfscript=$(printf 'label: dos\nlabel-id: 0x%s\nunit: sectors\n\n' "$(hexid "$img:disk" 8)")
	sgargs=(-o -U "$(uuid "$img:disk")")
	local starts=()
	for i in "$@"; do
		local sz sec
		sz=$(cat "$WORK/parts/$img.p${R_P[$i]}.size"); sec=$((${sz%M} * 2048))
		starts+=("$s")
		if [[ $tab == gpt ]]; then
			sgargs+=(-n "${R_P[$i]}:$s:$((s + sec - 1))" -t "${R_P[$i]}:${R_TYPE[$i]}" -u "${R_P[$i]}:$(uuid "$img:${R_P[$i]}:part")")
			[[ ${R_PNAME[$i]} != - ]] && sgargs+=(-c "${R_P[$i]}:${R_PNAME[$i]}")
		else
			local boot=; [[ $(opt "${R_OPTS[$i]}" bootable no) == yes ]] && boot=", bootable"
			sfscript+=$(printf '\nstart=%d, size=%d, type=%s%s' "$s" "$sec" "${R_TYPE[$i]}" "$boot")
		fi
		s=$((s + sec))
	done
	rm -f "$out"; truncate -s $(((s + 2048) * 512)) "$out"
	if [[ $tab == gpt ]]; then
		sgdisk "${sgargs[@]}" "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "sgdisk failed on $img"; }
	else
		sfdisk -q --no-reread --no-tell-kernel "$out" <<<"$sfscript" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "sfdisk failed on $img"; }
	fi
	local k=0
	for i in "$@"; do
		dd if="$WORK/parts/$img.p${R_P[$i]}" of="$out" bs=1M seek=$((starts[k] / 2048)) conv=notrunc,sparse status=none
		k=$((k + 1))
	done
	rm -f "$out.log"
}

# same_container IMAGE RAW: true when the committed IMAGE.gz is of the same format, create type and virtual size as
# the fresh $WORK/IMAGE and holds exactly RAW's bytes. VHD, VHDX and VMDK headers carry random ids, so without this
# every rebuild would rewrite them in git although nothing changed.
same_container() {
	local img=$1 raw=$2 old=$WORK/$1.old
	[[ -f $IMAGES/$img.gz ]] || return 1
	gzip -dc "$IMAGES/$img.gz" >"$old" || return 1
	local a b
	a=$(qemu-img info "$old" 2>/dev/null | grep -E '^(file format|virtual size|cluster_size):|create type:') || return 1
	b=$(qemu-img info "$WORK/$img" 2>/dev/null | grep -E '^(file format|virtual size|cluster_size):|create type:') || return 1
	[[ $a == "$b" ]] || return 1
	qemu-img compare -q "$old" "$raw" >/dev/null 2>&1 || return 1
	mv "$old" "$WORK/$img"
}

finish() {
	local img=$1
	gzip -n -9 -c "$WORK/$img" >"$IMAGES/$img.gz.tmp"
	mv "$IMAGES/$img.gz.tmp" "$IMAGES/$img.gz"
	say "  $img: $(stat -c %s "$WORK/$img") bytes, $(stat -c %s "$IMAGES/$img.gz") gzipped"
}

# ---------------------------------------------------------------- main
targets=("$@")
((${#targets[@]})) || targets=("${ORDER[@]}")
for t in "${targets[@]}"; do
	[[ " ${ORDER[*]} " == *" $t "* ]] || die "$t is not in $CONF"
done
for img in "${ORDER[@]}"; do # table order, so converted images come after their source
	case " ${targets[*]} " in *" $img "*) build_image "$img" ;; esac # not in an && list: that would disable set -e
done

# SHA256SUMS of every committed image, decompressed: what internal/testimg checks.
sums=$IMAGES/SHA256SUMS
{
	for gz in "$IMAGES"/*.gz; do
		[[ -f $gz ]] || continue
		n=$(basename "$gz" .gz)
		printf '%s  %s\n' "$(gzip -dc "$gz" | sha256sum | cut -d' ' -f1)" "$n"
	done
} >"$sums.tmp"
mv "$sums.tmp" "$sums"
say "wrote $sums"
du -cb "$IMAGES"/*.gz | tail -n1 | awk '{printf "make.sh: %d bytes committed in .gz files\n", $1}' >&2
