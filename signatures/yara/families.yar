/*
 * Family markers from the incident-response guides (threats.md, "Families
 * and their markers"). Written for snapscan. The names are specific enough
 * that one, or two where a name is short, in any file is a strong sign.
 */

rule SNAP_Kinsing_Dropper : family
{
    meta:
        description = "Kinsing: fetches kinsing/kdevtmpfsi, or installs libsystem.so into /etc/ld.so.preload"
        severity = "critical"
        attack = "T1496.001"
        family = "Kinsing"
        reference = "threats.md: Kinsing gi.sh | bash, bot.service, ld.so.preload naming libsystem.so"
        remediation = "Preserve the file; remove Kinsing's cron line, /lib/systemd/system/bot.service, the /etc/ld.so.preload entry, libsystem.so and the kdevtmpfsi/kinsing binaries by hand."
        author = "snapscan"
    strings:
        $dl = /(curl|wget)[^\n]{0,300}(kinsing|kdevtmpfsi)/ ascii
        $gi = /gi\.sh[ \t]*\|[ \t]*(ba)?sh/ ascii
        $lib = "libsystem.so" ascii
        $preload = "/etc/ld.so.preload" ascii
        $unit = "/lib/systemd/system/bot.service" ascii
        $n1 = "kdevtmpfsi" ascii
        $n2 = "kinsing" ascii
    condition:
        filesize < 8MB and ($dl or $gi or ($lib and $preload and any of ($n*)) or ($unit and any of ($n*)))
}

rule SNAP_Outlaw_Artifacts : family
{
    meta:
        description = "Outlaw (Dota): .configrc5 persistence directory or /tmp/.X2xi-unix/.rsync"
        severity = "high"
        attack = "T1496.001"
        family = "Outlaw"
        reference = "threats.md: Outlaw .configrc5/ in cron; ~/.configrc5, /tmp/.X2xi-unix/.rsync"
        remediation = "Remove the cron line naming .configrc5, the ~/.configrc5 and /tmp/.X2xi-unix directories, and check authorized_keys for Outlaw's key."
        author = "snapscan"
    strings:
        $a = ".configrc5" ascii wide
        $b = ".X2xi-unix" ascii wide
    condition:
        any of them
}

rule SNAP_Cleanfda_Artifacts : family
{
    meta:
        description = "Cleanfda: upat.sh / httpd2 droppers, ps/top/pstree renamed to .original"
        severity = "high"
        attack = "T1496.001"
        family = "Cleanfda"
        reference = "threats.md: /etc/upat.sh, /tmp/upat.sh, /etc/cron.d/httpd2, ps/top/pstree .original"
        remediation = "Remove upat.sh, httpd2 and their cron entries; restore ps/top/pstree from the .original copies or the package; check authorized_keys."
        author = "snapscan"
    strings:
        $u1 = "/etc/upat.sh" ascii
        $u2 = "/tmp/upat.sh" ascii
        $h1 = "/etc/httpd2" ascii
        $h2 = "/tmp/httpd2" ascii
        $h3 = "/etc/cron.d/httpd2" ascii
        $o1 = /(\/usr)?\/bin\/(ps|top|pstree)\.original/ ascii
    condition:
        any of ($u*) or 2 of ($h*, $o*)
}

rule SNAP_AliyunDuns_Artifacts : family
{
    meta:
        description = "AliyunDuns: miner disguised as a cloud agent (A_li_yun_Duns, /opt/sysetmd, sysetmd.service)"
        severity = "high"
        attack = "T1496.001"
        family = "AliyunDuns"
        reference = "threats.md: units sysetmd.service, monero.service, A_li_yun_Duns.service; /opt/sysetmd"
        remediation = "Disable and remove sysetmd.service, monero.service and A_li_yun_Duns.service, /opt/sysetmd and /etc/cron.hourly/0 (chattr -i first); remove the backdoor user."
        author = "snapscan"
    strings:
        $a = "A_li_yun_Duns" ascii wide
        $b = "/opt/sysetmd" ascii
        $c = "sysetmd.service" ascii
    condition:
        any of them
}

rule SNAP_Skidmap_Artifacts : family
{
    meta:
        description = "Skidmap: fake systemd-cgroup / systemd-deltaed binaries and units"
        severity = "high"
        attack = "T1496.001"
        family = "Skidmap"
        reference = "threats.md: systemd-cgroup(.org), systemd-deltaed(.org) in /usr/bin, their units in /lib/systemd/system"
        remediation = "Remove the systemd-cgroup/systemd-deltaed units and binaries (and the .org copies); check authorized_keys; Skidmap also loads kernel modules, so consider rebuilding the host."
        author = "snapscan"
    strings:
        $a = "systemd-cgroup.org" ascii
        $b = "systemd-deltaed" ascii
        $c = "systemd-cgroup.service" ascii
    condition:
        any of them
}
