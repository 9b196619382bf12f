/*
 * Miner configuration files and command lines. Written for snapscan.
 *
 * XMRig and its forks read a JSON config with a "pools" array of objects
 * holding "url", "user" (the wallet) and "pass"; "donate-level" is
 * XMRig-specific. A config alone is a high-severity finding: nothing but a
 * miner reads one.
 */

rule SNAP_Miner_Config_JSON : miner config
{
    meta:
        description = "Cryptominer JSON configuration (pools with url and user, plus donate-level or other miner keys)"
        severity = "high"
        attack = "T1496.001"
        family = "XMRig"
        reference = "https://xmrig.com/docs/miner/config"
        remediation = "Preserve the config (it names the pool and the wallet), find the miner binary that reads it (usually in the same directory) and what starts that binary; remove both by hand."
        author = "snapscan"
    strings:
        $pools = "\"pools\"" ascii wide
        $url = "\"url\"" ascii wide
        $user = "\"user\"" ascii wide
        $donate = "\"donate-level\"" ascii wide
        $donate2 = "\"donate-over-proxy\"" ascii wide
        $k1 = "\"algo\"" ascii wide
        $k2 = "\"coin\"" ascii wide
        $k3 = "\"rig-id\"" ascii wide
        $k4 = "\"nicehash\"" ascii wide
        $k5 = "\"keepalive\"" ascii wide
        $k6 = "\"randomx\"" ascii wide
        $k7 = "\"huge-pages\"" ascii wide
        $k8 = "\"max-threads-hint\"" ascii wide
        $k9 = "\"cpu\"" ascii wide
        $stratum = /stratum2?\+(tcp|ssl|tls):\/\// ascii wide nocase
    condition:
        filesize < 4MB and $pools and $url and $user and
        (any of ($donate*) or 2 of ($k*, $stratum))
}

rule SNAP_Miner_Config_INI : miner config
{
    meta:
        description = "Cryptominer key=value or legacy JSON configuration naming a stratum pool and a wallet or worker"
        severity = "high"
        attack = "T1496.001"
        reference = "https://github.com/pooler/cpuminer"
        remediation = "Preserve the config, find the miner binary that reads it and what starts it; remove both by hand."
        author = "snapscan"
    strings:
        $url = /(url|pool|pool_address|pool1)["']?\s*[=:]\s*["']?stratum2?\+(tcp|ssl|tls):\/\/[A-Za-z0-9._-]{3,}/ ascii nocase
        $u1 = /(user|wallet|userpass|wallet_address|worker)["']?\s*[=:]\s*["']?[A-Za-z0-9]{20,}/ ascii nocase
    condition:
        filesize < 1MB and $url and $u1
}

rule SNAP_Miner_Commandline : miner script
{
    meta:
        description = "Command line starting a cryptominer: stratum pool plus wallet, or XMRig options, in a script, unit or cron file"
        severity = "high"
        attack = "T1496.001"
        reference = "https://xmrig.com/docs/miner/command-line-options"
        remediation = "Preserve the file, remove the autostart entry that runs it and the miner binary it names."
        author = "snapscan"
    strings:
        $pool = /(-o|--url)[ =]+["']?(stratum2?\+(tcp|ssl|tls):\/\/)?[A-Za-z0-9._-]{3,}:[0-9]{2,5}/ ascii
        $wallet = /(-u|--user)[ =]+["']?[48][1-9A-HJ-NP-Za-km-z]{94}/ ascii
        $donate = /--donate-level[ =]+[0-9]/ ascii
        $tls = "--tls" ascii fullword
        $bg = /(-B|--background)\b/ ascii
        $threads = /(-t|--threads)[ =]+[0-9]/ ascii
        $algo = /(-a|--algo)[ =]+["']?(rx\/0|cn\/|cryptonight|randomx|rx\/wow|argon2|gr\b|kawpow)/ ascii nocase
    condition:
        filesize < 4MB and $pool and ($wallet or $donate or ($algo and any of ($tls, $bg, $threads)))
}
