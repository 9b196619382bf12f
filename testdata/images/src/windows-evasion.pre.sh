#!/usr/bin/env bash
# Pre-build hook of the windows-evasion tree. It runs after windows-evasion-clean.pre.sh on the same stage (the
# image's SOURCE is windows-evasion-clean+windows-evasion) and plants on top of the clean twin:
#   - SOFTWARE: windows-evasion-hives/software-evasion.reg (Defender off and excluded, IFEO debuggers, a silent-exit
#     monitor, AppInit_DLLs, a Winlogon Notify DLL, a netsh helper);
#   - SYSTEM (regipy's real hive): windows-evasion-hives/system-evasion.reg (LSA security package, BootExecute,
#     AppCertDlls, print monitor, service FailureCommand);
#   - SAM (regipy's real hive): windows-evasion-hives/sam-evasion.pl (hidden admin account, Guest enabled with a
#     hijacked RID);
#   - Preston's NTUSER.DAT: windows-evasion-hives/ntuser-evasion.reg (a logon script, UserInitMprLogonScript);
#   - Windows/System32/utilman.exe replaced by a copy of cmd.exe;
#   - Windows/Tasks/WinSvcUpdate.job: a hidden legacy job starting the miner at boot (windows-evasion-hives/mkjob.pl);
#   - real task XML files (shared/external/tasks): OneDrive's, whose TaskCache record software-evasion.reg changes,
#     and Edge's, left without a TaskCache record;
#   - OBJECTS.DATA: a WMI subscription starting the miner (windows-evasion-hives/mkobjects.pl).
# What each must give is in windows-evasion.expect.
#   bash testdata/images/src/windows-evasion.pre.sh STAGEDIR     (cwd = repository root)
set -euo pipefail

stage=${1:?usage: $0 STAGEDIR}
src=testdata/images/src
cfg="$stage/Windows/System32/config"
[[ -f $cfg/SAM ]] || { echo "$0: run windows-evasion-clean.pre.sh on $stage first" >&2; exit 1; }
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$cfg/SOFTWARE" "$src/windows-evasion-hives/software-evasion.reg"
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$cfg/SYSTEM" "$src/windows-evasion-hives/system-evasion.reg"
perl "$src/windows-evasion-hives/sam-evasion.pl" "$cfg/SAM"
hivexregedit --merge --prefix 'HKEY_CURRENT_USER' "$stage/Users/Preston/NTUSER.DAT" "$src/windows-evasion-hives/ntuser-evasion.reg"
cp "$stage/Windows/System32/cmd.exe" "$stage/Windows/System32/utilman.exe"
mkdir -p "$stage/Windows/Tasks"
perl "$src/windows-evasion-hives/mkjob.pl" "$stage/Windows/Tasks/WinSvcUpdate.job" 'C:\ProgramData\WinSvcData\winsvc.exe' \
	'-o pool.supportxmr.com:443 --donate-level 1' 'SYSTEM' 6 200
tasks=${SNAPSCAN_EXTERNAL:-../shared/external}/tasks/DFIRArtifactMuseum/Win10/APTSimulatorVM
cp "$tasks/OneDrive Standalone Update Task-S-1-5-21-2212929841-2730996645-2649195864-1000" "$tasks/MicrosoftEdgeUpdateTaskMachineCore" \
	"$stage/Windows/System32/Tasks/"
perl "$src/windows-evasion-hives/mkobjects.pl" "$stage/Windows/System32/wbem/Repository/OBJECTS.DATA" \
	'CommandLineEventConsumer|WinSvcUpdater|C:\ProgramData\WinSvcData\winsvc.exe -o pool.supportxmr.com:443' \
	'__EventFilter|WinSvcFilter|root\cimv2|SELECT * FROM __InstanceModificationEvent WITHIN 60 WHERE TargetInstance ISA '"'"'Win32_PerfFormattedData_PerfOS_System'"'"'' \
	'__FilterToConsumerBinding|CommandLineEventConsumer.Name="WinSvcUpdater"|__EventFilter.Name="WinSvcFilter"'
