#!/usr/bin/env bash
# Adds to the windows-sample tree what is awkward to keep in git: a scheduled task in the on-disk encoding Windows
# uses (UTF-16LE with a byte-order mark, CRLF). Run by make.sh as: bash -euo pipefail windows-sample.pre.sh STAGEDIR.
stage=$1
dir="$stage/Windows/System32/Tasks/Microsoft/Windows/Defrag"
mkdir -p "$dir"
{
	printf '\xff\xfe'
	sed 's/$/\r/' <<'XML' | iconv -f UTF-8 -t UTF-16LE
<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.6" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Source>$(@%systemroot%\system32\dfrgui.exe,-103)</Source>
    <Author>$(@%systemroot%\system32\dfrgui.exe,-105)</Author>
    <Description>$(@%systemroot%\system32\dfrgui.exe,-104)</Description>
    <URI>\Microsoft\Windows\Defrag\ScheduledDefrag</URI>
  </RegistrationInfo>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
    </Principal>
  </Principals>
  <Settings>
    <DisallowStartIfOnBatteries>true</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>true</StopIfGoingOnBatteries>
    <Enabled>true</Enabled>
    <MaintenanceSettings>
      <Period>P7D</Period>
      <Deadline>P1M</Deadline>
      <Exclusive>true</Exclusive>
    </MaintenanceSettings>
    <Priority>5</Priority>
  </Settings>
  <Triggers />
  <Actions Context="LocalSystem">
    <Exec>
      <Command>%windir%\system32\defrag.exe</Command>
      <Arguments>-c -h -o -$</Arguments>
    </Exec>
  </Actions>
</Task>
XML
} > "$dir/ScheduledDefrag"
