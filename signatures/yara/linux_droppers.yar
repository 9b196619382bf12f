/*
 * Shell droppers of Linux cryptomining campaigns. Written for snapscan.
 *
 * The behaviours the incident-response guides describe: fetch a payload and
 * run it, install it in cron, unlock and relock persistence files with
 * chattr, write /etc/ld.so.preload to hide the miner, and kill competing
 * miners. A single mention is not enough for a high severity: these rules
 * need the command shape (a pipe into a shell, a redirect into the file), not
 * the bare word, and a clean Debian system matches none of them (tested).
 */

rule SNAP_Cron_Download_Exec : dropper cron
{
    meta:
        description = "Cron-format line that downloads and runs a script (curl/wget piped into a shell)"
        severity = "high"
        attack = "T1053.003"
        reference = "threats.md: cron download-and-execute (Kinsing gi.sh | bash, AliyunDuns /etc/cron.hourly/0 wget)"
        remediation = "Preserve the file, remove the cron line by hand (chattr -i first if the file is immutable), and fetch the URL's payload only on an analysis host."
        author = "snapscan"
    strings:
        $cron = /(@reboot|@hourly|@daily|\*\/[0-9]{1,2}|\* \* \* \*)[^\n]{0,200}(curl|wget)[^\n|]{1,300}\|[ \t]*(sudo[ \t]+)?(ba|da|z|k)?sh\b/ ascii
    condition:
        filesize < 4MB and $cron
}

rule SNAP_Cron_Installer : dropper cron
{
    meta:
        description = "Script that installs a downloading cron job (echo ... curl/wget ... into crontab or /etc/cron.d)"
        severity = "high"
        attack = "T1053.003"
        reference = "threats.md: cron persistence of Kinsing, Cleanfda, Outlaw"
        remediation = "Preserve the script, then inspect /etc/crontab, /etc/cron.d and /var/spool/cron for the line it installs and remove it by hand."
        author = "snapscan"
    strings:
        $a = /echo[ \t]+["'][^\n]{0,60}\*[^\n]{0,200}(curl|wget)[^\n]{0,300}["'][ \t]*(>>?[ \t]*\/(etc\/crontab|etc\/cron\.d|var\/spool\/cron)|\|[ \t]*crontab)/ ascii
        $b = /crontab -l[^\n]{0,200}(curl|wget)[^\n]{0,300}\|[ \t]*crontab[ \t]+-/ ascii
    condition:
        filesize < 4MB and any of them
}

rule SNAP_Script_Download_Exec : dropper
{
    meta:
        description = "Shell script that downloads a file into a temporary or hidden place and runs it"
        severity = "medium"
        attack = "T1105"
        reference = "threats.md: commands in /tmp, /var/tmp, /dev/shm, hidden directories"
        remediation = "Preserve the script and the downloaded file, find what runs the script (cron, systemd, rc) and remove both by hand."
        author = "snapscan"
    strings:
        $fetch = /(curl|wget)[^\n]{1,300}(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\n]{0,200}[;&\n][ \t]*chmod[ \t]+(\+x|[0-7]?7[0-7][0-7])[ \t]+[^\n]{0,200}(\/tmp|\/var\/tmp|\/dev\/shm)\// ascii
    condition:
        filesize < 4MB and uint16(0) == 0x2123 and $fetch     // "#!"
}

rule SNAP_Preload_Writer : dropper rootkit
{
    meta:
        description = "Writes a library into /etc/ld.so.preload (hides the miner's process from ps and top)"
        severity = "high"
        attack = "T1574.006"
        reference = "threats.md: Kinsing /etc/ld.so.preload naming libsystem.so"
        remediation = "Preserve the script; on the image check /etc/ld.so.preload and the library it names; remove the entry and the library by hand."
        author = "snapscan"
    strings:
        $w1 = /(>|>>|tee( -a)?)[ \t]*\/etc\/ld\.so\.preload/ ascii
        $w2 = /(cp|mv|cat)[ \t][^\n]{1,200}[ \t]\/etc\/ld\.so\.preload/ ascii
    condition:
        filesize < 4MB and not uint32(0) == 0x464c457f and any of them
}

rule SNAP_Chattr_Persistence : dropper
{
    meta:
        description = "chattr toggling the immutable or append-only flag on cron, SSH, account or preload files (anti-removal)"
        severity = "medium"
        attack = "T1222.002"
        reference = "threats.md: chattr +i makes persistence files undeletable (AliyunDuns, Cleanfda)"
        remediation = "Check the named files' flags (lsattr) on the image and their content; after removing malicious entries, clear the flag by hand."
        author = "snapscan"
    strings:
        $c = /chattr[ \t]+(-R[ \t]+)?[-+][aiAI]{1,3}[ \t][^\n;|&]{0,200}(\/etc\/(crontab|cron\.|ld\.so\.preload|passwd|shadow|hosts|rc\.local|init\.d)|\/var\/spool\/cron|authorized_keys|\/root\/\.ssh)/ ascii
    condition:
        filesize < 4MB and $c
}

rule SNAP_Miner_Killer_Script : dropper
{
    meta:
        description = "Script that kills cryptominers by name; droppers do this to competitors (a clean-up script does it too, hence medium)"
        severity = "medium"
        attack = "T1496.001"
        reference = "threats.md: families installing miners and removing others"
        remediation = "Read the script: a dropper also fetches and starts its own miner (see other matches); find what runs it and remove it by hand."
        author = "snapscan"
    strings:
        $k1 = /pkill[ \t]+(-9[ \t]+)?-f/ ascii
        $k2 = "killall" ascii fullword
        $k3 = /kill[ \t]+-9[ \t]/ ascii
        $k4 = /grep[ \t][^\n]{0,120}awk[^\n]{0,80}\$2[^\n]{0,80}(xargs[ \t]+)?kill/ ascii
        $n1 = "kdevtmpfsi" ascii
        $n2 = "kinsing" ascii
        $n3 = "xmrig" ascii nocase
        $n4 = "minerd" ascii fullword
        $n5 = "xmr-stak" ascii
        $n6 = "cryptonight" ascii
        $n7 = "kthreaddi" ascii
        $n8 = "sysupdate" ascii fullword
        $n9 = "networkservice" ascii fullword
        $n10 = "watchbog" ascii
        $n11 = "ddgs" ascii fullword
        $n12 = "stratum" ascii
        $n13 = "dbused" ascii fullword
    condition:
        filesize < 4MB and not uint32(0) == 0x464c457f and
        any of ($k*) and 3 of ($n*)
}

rule SNAP_Miner_Dropper_Killer : dropper
{
    meta:
        description = "Miner dropper: kills competing miners and also downloads, installs cron entries or unlocks files with chattr"
        severity = "high"
        attack = "T1496.001"
        reference = "threats.md: Kinsing, Outlaw, Cleanfda droppers; multiple persistence mechanisms at once"
        remediation = "Preserve the script; find what runs it, the miner it installs, and every persistence place it touches (cron, systemd, ld.so.preload, authorized_keys); remove them by hand."
        author = "snapscan"
    strings:
        $k1 = /pkill[ \t]+(-9[ \t]+)?-f/ ascii
        $k2 = "killall" ascii fullword
        $k3 = /kill[ \t]+-9[ \t]/ ascii
        $n1 = "kdevtmpfsi" ascii
        $n2 = "kinsing" ascii
        $n3 = "xmrig" ascii nocase
        $n4 = "minerd" ascii fullword
        $n5 = "xmr-stak" ascii
        $n6 = "cryptonight" ascii
        $n7 = "kthreaddi" ascii
        $n8 = "watchbog" ascii
        $n9 = "ddgs" ascii fullword
        $d1 = /(curl|wget)[ \t][^\n]{0,200}https?:\/\// ascii
        $d2 = /chattr[ \t]+-[aiAI]/ ascii
        $d3 = /crontab[ \t]+-/ ascii
        $d4 = /\/etc\/crontab|\/var\/spool\/cron|\/etc\/cron\.d\// ascii
    condition:
        filesize < 4MB and not uint32(0) == 0x464c457f and
        any of ($k*) and 2 of ($n*) and 2 of ($d*)
}
