/*
 * Mentions of mining infrastructure. Written for snapscan.
 *
 * These fire on any file, text included, so they are low or info: a
 * firewall rule blocking a pool or a document about mining names a pool as
 * well as a miner config does. They add context to a file that a stronger
 * rule flags, and they point at files worth a look.
 *
 * Keep SNAP_Mining_Pool_Domain in step with ../ioc/pools.txt (a test checks).
 */

rule SNAP_Stratum_URL : pool
{
    meta:
        description = "Stratum mining-pool URL (stratum+tcp://host:port); a text that only mentions one is low severity"
        severity = "low"
        attack = "T1496.001"
        reference = "https://en.bitcoin.it/wiki/Stratum_mining_protocol"
        remediation = "Check whether the file configures or starts a miner; if so, find the miner and its autostart entry."
        author = "snapscan"
    strings:
        $url = /stratum2?\+(tcp|ssl|tls):\/\/[A-Za-z0-9][A-Za-z0-9._-]{2,253}(:[0-9]{2,5})?/ ascii wide nocase
    condition:
        $url
}

rule SNAP_Mining_Pool_Domain : pool
{
    meta:
        description = "Names a public mining pool (or XMRig's donation pool); on its own only context"
        severity = "info"
        attack = "T1496.001"
        reference = "signatures/ioc/pools.txt"
        remediation = "Check whether the file configures or starts a miner, or pins a pool in hosts/firewall rules."
        author = "snapscan"
    strings:
        $p01 = "minexmr.com" ascii wide nocase
        $p02 = "supportxmr.com" ascii wide nocase
        $p03 = "nanopool.org" ascii wide nocase
        $p04 = "moneroocean.stream" ascii wide nocase
        $p05 = "c3pool.com" ascii wide nocase
        $p06 = "c3pool.org" ascii wide nocase
        $p07 = "hashvault.pro" ascii wide nocase
        $p08 = "2miners.com" ascii wide nocase
        $p09 = "herominers.com" ascii wide nocase
        $p10 = "minergate.com" ascii wide nocase
        $p11 = "crypto-pool.fr" ascii wide nocase
        $p12 = "xmrpool.eu" ascii wide nocase
        $p13 = "monerohash.com" ascii wide nocase
        $p14 = "f2pool.com" ascii wide nocase
        $p15 = "nicehash.com" ascii wide nocase
        $p16 = "unmineable.com" ascii wide nocase
        $p17 = "dwarfpool.com" ascii wide nocase
        $p18 = "ethermine.org" ascii wide nocase
        $p19 = "kryptex.network" ascii wide nocase
        $p20 = "xmrig.com" ascii wide nocase
    condition:
        any of them
}

rule SNAP_Monero_Wallet : wallet
{
    meta:
        description = "Monero wallet address (standard or subaddress, 95 base58 characters starting with 4 or 8; integrated, 106 starting with 4)"
        severity = "low"
        attack = "T1496.001"
        reference = "https://docs.getmonero.org/public-address/standard-address/"
        remediation = "A wallet in a script, unit or config usually means a miner is configured; find the miner and its autostart entry."
        author = "snapscan"
    strings:
        // Written as alternations, not character classes: libyara then
        // extracts 3-byte atoms and the rule costs ~0.5 s per 100 MB instead
        // of ~8 s. The leading delimiter keeps hex dumps and base64 runs out.
        $std = /(\x00|"| |=|\x27|:|\n)(4|8)(0|1|2|3|4|5|6|7|8|9|A|B)[1-9A-HJ-NP-Za-km-z]{93}[^1-9A-HJ-NP-Za-km-z]/ ascii
        $integrated = /(\x00|"| |=|\x27|:|\n)4(0|1|2|3|4|5|6|7|8|9|A|B)[1-9A-HJ-NP-Za-km-z]{104}[^1-9A-HJ-NP-Za-km-z]/ ascii
    condition:
        any of them
}
