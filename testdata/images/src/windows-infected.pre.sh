#!/usr/bin/env bash
# Pre-build hook of the windows-infected tree: writes what cannot be committed as plain files.
#   bash testdata/images/src/windows-infected.pre.sh STAGEDIR     (cwd = repository root)
# STAGEDIR already holds a copy of testdata/images/src/windows-infected/. This adds:
#   - the registry hives SOFTWARE, SYSTEM (Windows/System32/config/) and the NTUSER.DAT of alice and bob, made by
#     hivexregedit --merge (libhivex) from testdata/images/src/windows-hives/*.reg onto an empty hive;
#   - the scheduled tasks of testdata/images/src/windows-tasks/*.xml, converted with iconv to UTF-16LE with a BOM
#     the way Task Scheduler stores them under Windows/System32/Tasks/.
# The planted artifacts and the findings they must give are listed in windows-infected.expect.
set -euo pipefail

stage=${1:?usage: $0 STAGEDIR}
src=testdata/images/src
for tool in hivexregedit perl iconv; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is required (Debian: libwin-hivex-perl, perl, libc-bin)" >&2; exit 1; }
done

# hive FILE PREFIX REGFILE ROOTNAME: an empty hive, then the .reg merged into it.
hive() {
	local out=$1 prefix=$2 reg=$3 root=$4
	mkdir -p "$(dirname "$out")"
	perl "$src/windows-hives/minimal-hive.pl" "$out" "$root"
	hivexregedit --merge --prefix "$prefix" "$out" "$reg"
}

hive "$stage/Windows/System32/config/SOFTWARE" 'HKEY_LOCAL_MACHINE\SOFTWARE' "$src/windows-hives/software.reg" 'CMI-CreateHive{199DAFC2-6F16-4946-BF90-5A3FC3A60902}'
hive "$stage/Windows/System32/config/SYSTEM" 'HKEY_LOCAL_MACHINE\SYSTEM' "$src/windows-hives/system.reg" 'CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}'
hive "$stage/Users/alice/NTUSER.DAT" 'HKEY_CURRENT_USER' "$src/windows-hives/ntuser-alice.reg" 'CMI-CreateHive{D43B12B8-09B5-40DB-B4F6-F6DFEB78DAEC}'
# bob's hive is spelled in lower case: NTFS does not care, and the checks must not either.
hive "$stage/Users/bob/ntuser.dat" 'HKEY_CURRENT_USER' "$src/windows-hives/ntuser-bob.reg" 'CMI-CreateHive{D43B12B8-09B5-40DB-B4F6-F6DFEB78DAEC}'

tasks="$stage/Windows/System32/Tasks"
while IFS= read -r -d '' xml; do
	rel=${xml#"$src/windows-tasks/"}
	out="$tasks/${rel%.xml}"
	mkdir -p "$(dirname "$out")"
	{ printf '\xff\xfe'; sed 's/$/\r/' "$xml" | iconv -f UTF-8 -t UTF-16LE; } >"$out"
done < <(find "$src/windows-tasks" -name '*.xml' -type f -print0)
