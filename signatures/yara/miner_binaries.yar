/*
 * Cryptominer executables. Written for snapscan.
 *
 * Rules here only fire on executables (ELF, PE, Mach-O magic at offset 0)
 * and need several independent markers, so a man page, a README or a
 * packet-capture dissector that names a pool or the stratum protocol does
 * not match. Text that merely mentions mining is left to stratum_pools.yar,
 * at low or info severity.
 */

private rule snap_executable
{
    meta:
        description = "ELF, PE or Mach-O executable (used by other rules)"
    condition:
        uint32(0) == 0x464c457f or                       // \x7fELF
        (uint16(0) == 0x5a4d and filesize > 0x40 and
            uint32(uint32(0x3c)) == 0x00004550) or      // MZ ... PE\0\0
        uint32(0) == 0xfeedfacf or uint32(0) == 0xcffaedfe or
        uint32(0) == 0xfeedface or uint32(0) == 0xcefaedfe
}

rule SNAP_XMRig_Binary : miner xmrig
{
    meta:
        description = "XMRig or an XMRig fork: miner executable with XMRig's option names, donation pool, banner or algorithm ids"
        severity = "high"
        attack = "T1496.001"
        family = "XMRig"
        reference = "https://xmrig.com/docs/miner/command-line-options"
        remediation = "Preserve the binary (hashes in the evidence), then find and remove what starts it (cron, systemd, rc, Run keys, services, tasks) before deleting it; block the pool named in its config or command line."
        author = "snapscan"
    strings:
        $banner = "XMRig/" ascii wide
        $donate_host1 = "donate.v2.xmrig.com" ascii wide
        $donate_host2 = "donate.ssl.xmrig.com" ascii wide
        $donate_opt = "--donate-level" ascii wide
        $donate_key = "\"donate-level\"" ascii wide
        $opt1 = "--cpu-max-threads-hint" ascii wide
        $opt2 = "--randomx-1gb-pages" ascii wide
        $opt3 = "--randomx-mode" ascii wide
        $opt4 = "--rig-id" ascii wide
        $opt5 = "--nicehash" ascii wide
        $opt6 = "--cpu-priority" ascii wide
        $opt7 = "--huge-pages-jit" ascii wide
        $algo1 = "cryptonight" ascii wide nocase
        $algo2 = "RandomX" ascii wide
        $algo3 = "rx/0" ascii wide fullword
        $algo4 = "cn/half" ascii wide
        $algo5 = "argon2/chukwa" ascii wide
        $algo6 = "rx/wow" ascii wide
        $stratum = "stratum+tcp://" ascii wide nocase
        $stratum_tls = "stratum+ssl://" ascii wide nocase
    condition:
        snap_executable and (
            any of ($donate_host*) or
            ($banner and (any of ($donate_opt, $donate_key) or 2 of ($opt*))) or
            (any of ($donate_opt, $donate_key) and 3 of ($opt*, $algo*, $stratum*))
        )
}

rule SNAP_Miner_Binary_Generic : miner
{
    meta:
        description = "Cryptominer executable: speaks the stratum mining protocol and carries miner names or options"
        severity = "high"
        attack = "T1496.001"
        reference = "https://en.bitcoin.it/wiki/Stratum_mining_protocol"
        remediation = "Preserve the binary (hashes in the evidence), then find and remove what starts it before deleting it; block the pool it names."
        author = "snapscan"
    strings:
        $url1 = "stratum+tcp://" ascii wide nocase
        $url2 = "stratum+ssl://" ascii wide nocase
        $url3 = "stratum+tls://" ascii wide nocase
        $url4 = "stratum2+tcp://" ascii wide nocase
        $m1 = "mining.subscribe" ascii wide
        $m2 = "mining.authorize" ascii wide
        $m3 = "mining.submit" ascii wide
        $m4 = "mining.set_difficulty" ascii wide
        $m5 = "mining.notify" ascii wide
        $m6 = "mining.extranonce.subscribe" ascii wide
        $x1 = "\"method\":\"login\"" ascii wide
        $x2 = "\"method\":\"submit\"" ascii wide
        $x3 = "\"method\":\"keepalived\"" ascii wide
        $n1 = "xmr-stak" ascii wide nocase
        $n2 = "cpuminer" ascii wide nocase
        $n3 = "minerd" ascii wide fullword
        $n4 = "lolMiner" ascii wide
        $n5 = "SRBMiner" ascii wide
        $n6 = "PhoenixMiner" ascii wide
        $n7 = "nanominer" ascii wide
        $n8 = "XMRig" ascii wide
        $n9 = "NBMiner" ascii wide
        $o1 = "--donate-level" ascii wide
        $o2 = "--userpass" ascii wide
        $o3 = "--cpu-priority" ascii wide
        $o4 = "--max-cpu-usage" ascii wide
    condition:
        snap_executable and (
            (any of ($url*) and 2 of ($m*, $x*)) or
            (any of ($url*) and any of ($n*) and any of ($o*)) or
            (3 of ($m*) and any of ($n*, $o*)) or
            (2 of ($x*) and any of ($n*, $o*))
        )
}

rule SNAP_UPX_Packed_Executable : packer
{
    meta:
        description = "UPX-packed executable: Linux miners and droppers (Kinsing, Sysrv) are usually shipped UPX-packed; distribution packages are not"
        severity = "medium"
        attack = "T1027.002"
        reference = "https://upx.github.io/"
        remediation = "Unpack a copy (upx -d) on an analysis host and rescan it; find what starts the file."
        author = "snapscan"
    strings:
        $upx1 = "UPX!" ascii
        $upx2 = "$Info: This file is packed with the UPX executable packer" ascii
        $sec0 = "UPX0" ascii
        $sec1 = "UPX1" ascii
    condition:
        snap_executable and filesize < 100MB and
        ($upx2 or ($upx1 and #upx1 >= 2) or ($sec0 and $sec1 and $upx1))
}
