#!/usr/bin/env bash
# Pre-build hook of the windows-evasion-clean tree (the clean twin of windows-evasion): writes the hives.
#   bash testdata/images/src/windows-evasion-clean.pre.sh STAGEDIR     (cwd = repository root)
#   - Windows/System32/config/SAM and SYSTEM: real Windows 10 hives from regipy's test data (MIT licence), read from
#     ../shared/external/hives/regipy/ and decompressed: stock accounts (Administrator and Guest disabled, the setup
#     account in Administrators), stock LSA packages, BootExecute and print monitors;
#   - Windows/System32/config/SOFTWARE: an empty hive (no real SOFTWARE hive is public) with windows-evasion-hives/
#     software-clean.reg merged by hivexregedit: stock Defender settings, a vendor's exclusion under Program Files,
#     IFEO keys holding only mitigation settings, stock Winlogon values, stock netsh helpers, a dormant AppInit_DLLs;
#   - Windows/Tasks/GoogleUpdateTaskMachineUA.job: plaso's real legacy Google Update job (Apache licence);
#   - Windows/System32/Tasks/GoogleUpdateTaskMachineCore{...}: a real task XML (shared/external/tasks), registered in
#     the TaskCache of software-clean.reg;
#   - Users/Preston/NTUSER.DAT: regipy's real Windows 10 user hive, as the setup account's profile;
#   - Windows/System32/wbem/Repository/OBJECTS.DATA: the stock SCM Event Log subscription every Windows has
#     (windows-evasion-hives/mkobjects.pl).
# Every entry of this tree must stay below medium (windows-evasion.expect lists the ones asserted by name).
set -euo pipefail

stage=${1:?usage: $0 STAGEDIR}
src=testdata/images/src
ext=${SNAPSCAN_EXTERNAL:-../shared/external}/hives/regipy
for tool in hivexregedit perl xz; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is required (Debian: libwin-hivex-perl, perl, xz-utils)" >&2; exit 1; }
done
[[ -f $ext/SAM.xz && -f $ext/SYSTEM.xz && -f $ext/../plaso/wintask.job ]] || { echo "$0: $ext/SAM.xz SYSTEM.xz and ../plaso/wintask.job are required (shared/external)" >&2; exit 1; }

cfg="$stage/Windows/System32/config"
mkdir -p "$cfg"
xz -dc "$ext/SAM.xz" >"$cfg/SAM"
xz -dc "$ext/SYSTEM.xz" >"$cfg/SYSTEM"
mkdir -p "$stage/Users/Preston"
xz -dc "$ext/NTUSER.DAT.xz" >"$stage/Users/Preston/NTUSER.DAT"
perl "$src/windows-hives/minimal-hive.pl" "$cfg/SOFTWARE" 'CMI-CreateHive{199DAFC2-6F16-4946-BF90-5A3FC3A60902}'
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$cfg/SOFTWARE" "$src/windows-evasion-hives/software-clean.reg"
mkdir -p "$stage/Windows/Tasks"
cp "$ext/../plaso/wintask.job" "$stage/Windows/Tasks/GoogleUpdateTaskMachineUA.job"
tasks=${SNAPSCAN_EXTERNAL:-../shared/external}/tasks/DFIRArtifactMuseum/Win10/APTSimulatorVM
mkdir -p "$stage/Windows/System32/Tasks"
cp "$tasks/GoogleUpdateTaskMachineCore{CF8953F0-7413-4BC6-94A3-B0282ACC3AE4}" "$stage/Windows/System32/Tasks/"
wbem="$stage/Windows/System32/wbem/Repository"
mkdir -p "$wbem"
perl "$src/windows-evasion-hives/mkobjects.pl" "$wbem/OBJECTS.DATA" \
	'NTEventLogEventConsumer|SCM Event Log Consumer|NT AUTHORITY\LocalService|Service Control Manager' \
	'__EventFilter|SCM Event Log Filter|root\cimv2|select * from MSFT_SCMEventLogEvent' \
	'__FilterToConsumerBinding|NTEventLogEventConsumer.Name="SCM Event Log Consumer"|__EventFilter.Name="SCM Event Log Filter"'
