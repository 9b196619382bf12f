#!/bin/bash
# mklvm.sh OUTDIR VGNAME NPV — build LVM2 PV images with the real LVM tools on a
# kernel without device-mapper, and put a small ext4 filesystem on each LV
# where LVM's own report (lvs --segments, pvs) says its extents are.
#
# Outputs in OUTDIR: pv0.img .. pv<NPV-1>.img (copies taken before the VG is
# removed), report.json (lvs + pvs + vgs JSON), devices.tsv (image, loop device
# named in the report), expect.tsv (LV, bytes, sha256
# of the filesystem written to it), meta.txt (vgcfgbackup of the final VG).
#
# No device-mapper: every LVM command gets --driverloaded n (activation off),
# lvcreate also --activate n --zero n; --devices limits LVM to our loop devices
# and backup/archive are off so nothing is left in /etc/lvm.
# NPV=1: linear "root", two-segment "data" (a hole between its segments), and
#        via vgcfgrestore (the tools refuse to create these without dm) a
#        snapshot, a thin pool with a thin LV, and a raid1 LV.
# NPV=2: also a 2-stripe LV "stripe" and "span", extended from pv0 onto pv1;
#        pv1 is created with --metadatacopies 0.
# Needs root, lvm2, mke2fs, jq, losetup.
set -euo pipefail
OUT=$1 VG=$2 NPV=${3:-1}
export LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p "$OUT"
WORK=$(mktemp -d)
DEVS=()
cleanup() {
	if [ ${#DEVS[@]} -gt 0 ]; then
		vgremove --driverloaded n --config 'backup{backup=0 archive=0}' --devices "$(IFS=,; echo "${DEVS[*]}")" -f "$VG" >/dev/null 2>&1 || true
		for d in "${DEVS[@]}"; do losetup -d "$d" || true; done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

for i in $(seq 0 $((NPV - 1))); do
	truncate -s 24M "$WORK/pv$i.img"
	DEVS+=("$(losetup -f --show "$WORK/pv$i.img")")
done
DEVLIST=$(IFS=,; echo "${DEVS[*]}")
L=(--driverloaded n --config 'backup{backup=0 archive=0}' --devices "$DEVLIST")
q() { # run quietly, keeping the exit status
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	grep -v -e 'Activation disabled' -e 'not zeroed' -e 'NOT backed up' <<<"$out" >&2 || true
	return $rc
}
NEW=(--activate n --zero n)

q pvcreate "${L[@]}" "${DEVS[0]}"
# Further PVs carry no metadata area: the VG is only described on pv0.
[ "$NPV" -ge 2 ] && q pvcreate "${L[@]}" --metadatacopies 0 "${DEVS[@]:1}"
q vgcreate "${L[@]}" -s 1m "$VG" "${DEVS[@]}"
q lvcreate "${L[@]}" "${NEW[@]}" -n root -L 2m "$VG" "${DEVS[0]}"
q lvcreate "${L[@]}" "${NEW[@]}" -n data -L 2m "$VG" "${DEVS[0]}"
q lvcreate "${L[@]}" "${NEW[@]}" -n gap -L 1m "$VG" "${DEVS[0]}"
q lvextend "${L[@]}" -L +1m "$VG/data" "${DEVS[0]}"
q lvremove "${L[@]}" -f "$VG/gap"
if [ "$NPV" -ge 2 ]; then
	q lvcreate "${L[@]}" "${NEW[@]}" -n stripe -i 2 -I 64k -L 4m "$VG" "${DEVS[0]}" "${DEVS[1]}"
	q lvcreate "${L[@]}" "${NEW[@]}" -n span -L 1m "$VG" "${DEVS[0]}"
	q lvextend "${L[@]}" -L +2m "$VG/span" "${DEVS[1]}"
else
	# Types LVM cannot create without dm targets: written by vgcfgrestore from
	# the VG's own backup with these LV sections added (free extents 6..; 4 is the hole in data).
	id() { tr -d - </proc/sys/kernel/random/uuid | cut -c1-32 | sed -E 's/^(.{6})(.{4})(.{4})(.{4})(.{4})(.{4})(.{6})$/\1-\2-\3-\4-\5-\6-\7/'; }
	lin() { # name status start count
		printf '%s {\nid = "%s"\nstatus = [%s]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = %d\ntype = "striped"\nstripe_count = 1\nstripes = ["pv0", %d]\n}\n}\n' "$1" "$(id)" "$2" "$4" "$3"
	}
	{
		lin snap '"READ", "VISIBLE"' 6 1
		printf 'snapshot0 {\nid = "%s"\nstatus = ["READ"]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = "snapshot"\nchunk_size = 8\norigin = "root"\ncow_store = "snap"\n}\n}\n' "$(id)"
		printf 'pool {\nid = "%s"\nstatus = ["READ", "WRITE", "VISIBLE"]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = "thin-pool"\nmetadata = "pool_tmeta"\npool = "pool_tdata"\ntransaction_id = 1\nchunk_size = 128\ndiscards = "passdown"\nzero_new_blocks = 1\n}\n}\n' "$(id)"
		printf 'thin1 {\nid = "%s"\nstatus = ["READ", "WRITE", "VISIBLE"]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 4\ntype = "thin"\nthin_pool = "pool"\ntransaction_id = 0\ndevice_id = 1\n}\n}\n' "$(id)"
		lin pool_tmeta '"READ", "WRITE"' 7 1
		lin pool_tdata '"READ", "WRITE"' 8 2
		lin lvol0_pmspare '"READ", "WRITE"' 10 1
		printf 'r1 {\nid = "%s"\nstatus = ["READ", "WRITE", "VISIBLE"]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 1\ntype = "raid1"\ndevice_count = 2\nregion_size = 1024\nraids = ["r1_rmeta_0", "r1_rimage_0", "r1_rmeta_1", "r1_rimage_1"]\n}\n}\n' "$(id)"
		lin r1_rmeta_0 '"READ", "WRITE"' 11 1
		lin r1_rimage_0 '"READ", "WRITE"' 12 1
		lin r1_rmeta_1 '"READ", "WRITE"' 13 1
		lin r1_rimage_1 '"READ", "WRITE"' 14 1
	} >"$WORK/extra.txt"
	q vgcfgbackup "${L[@]}" -f "$WORK/vg.txt" "$VG"
	awk -v extra="$WORK/extra.txt" '{print} /^\tlogical_volumes \{/ {while ((getline l < extra) > 0) print l}' "$WORK/vg.txt" >"$WORK/vg2.txt"
	q vgcfgrestore "${L[@]}" --force -f "$WORK/vg2.txt" "$VG"
fi

lvs "${L[@]}" -a --segments -o lv_name,lv_attr,lv_size,segtype,seg_start_pe,seg_size_pe,seg_pe_ranges,stripes,stripe_size --units b --nosuffix --reportformat json "$VG" >"$WORK/lvs.json"
pvs "${L[@]}" -o pv_name,pv_uuid,pe_start --units b --nosuffix --reportformat json >"$WORK/pvs.json"
vgs "${L[@]}" -o vg_name,vg_uuid,vg_extent_size,vg_seqno --units b --nosuffix --reportformat json "$VG" >"$WORK/vgs.json"
q vgcfgbackup "${L[@]}" -f "$OUT/meta.txt" "$VG"
jq -s '{lvs: .[0].report[0].seg, pvs: .[1].report[0].pv, vg: .[2].report[0].vg[0]}' "$WORK/lvs.json" "$WORK/pvs.json" "$WORK/vgs.json" >"$OUT/report.json"
EXT=$(jq -r '.vg.vg_extent_size' "$OUT/report.json")
for i in "${!DEVS[@]}"; do printf 'pv%d.img\t%s\n' "$i" "${DEVS[$i]}"; done >"$OUT/devices.tsv"

# devfile DEV: the image file behind a loop device.
devfile() { for i in "${!DEVS[@]}"; do [ "${DEVS[$i]}" = "$1" ] && echo "$WORK/pv$i.img"; done; }
pestart() { jq -r --arg d "$1" '.pvs[] | select(.pv_name == $d) | .pe_start' "$OUT/report.json"; }

: >"$OUT/expect.tsv"
for lv in $(jq -r '.lvs[] | select(.segtype == "linear" or .segtype == "striped") | select(.lv_attr | test("^[-o]")) | .lv_name' "$OUT/report.json" | sort -u); do
	case $lv in snap) continue ;; esac # copy-on-write store, not a filesystem
	size=$(jq -r --arg n "$lv" '[.lvs[] | select(.lv_name == $n)][0].lv_size' "$OUT/report.json")
	fs="$WORK/$lv.ext4"
	mkdir -p "$WORK/tree-$lv/etc"
	printf 'NAME="LVM test %s"\nID=%s\n' "$lv" "$lv" >"$WORK/tree-$lv/etc/os-release"
	mke2fs -q -F -t ext4 -O ^has_journal -b 1024 -N 32 -L "$lv" -d "$WORK/tree-$lv" "$fs" $((size / 1024)) >/dev/null
	# Place the filesystem chunk by chunk: for each segment, chunk k of the
	# segment goes to stripe k mod n, row k div n (linear: one chunk per segment).
	jq -r --arg n "$lv" '.lvs[] | select(.lv_name == $n) | [.seg_start_pe, .seg_size_pe, .stripes, .stripe_size, .seg_pe_ranges] | @tsv' "$OUT/report.json" |
		while IFS=$'\t' read -r sstart ssize nstripes ssz ranges; do
			read -r -a rng <<<"$ranges"
			seglen=$((ssize * EXT))
			[ "$nstripes" -le 1 ] && ssz=$seglen
			for ((k = 0; k * ssz < seglen; k++)); do
				r=${rng[$((k % nstripes))]}
				dev=${r%%:*} pe=${r#*:} pe=${pe%%-*}
				dst=$(($(pestart "$dev") + pe * EXT + (k / nstripes) * ssz))
				dd if="$fs" of="$(devfile "$dev")" bs=64k iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc status=none \
					skip=$((sstart * EXT + k * ssz)) seek=$dst count=$ssz
			done
		done
	printf '%s\t%d\t%s\n' "$lv" "$(stat -c %s "$fs")" "$(sha256sum <"$fs" | cut -d' ' -f1)" >>"$OUT/expect.tsv"
done
sync
for i in $(seq 0 $((NPV - 1))); do cp --sparse=always "$WORK/pv$i.img" "$OUT/pv$i.img"; done
