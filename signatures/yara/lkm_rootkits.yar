/*
 * Loadable-kernel-module rootkits that cryptomining campaigns install to hide
 * the miner (Skidmap, TeamTNT/Kiss-a-dog with Diamorphine, Reptile in Chinese
 * campaigns). Written for snapscan from the names in the rootkits' public
 * sources: module and hook function names survive in a built .ko's symbol and
 * string tables (modules are not stripped), and the sources themselves are
 * often left where they were compiled on the victim.
 *
 * A distribution module matches none of these: each rule needs the rootkit's
 * own name or several of its hook names together, and kernel modules do not
 * name their functions hacked_kill or n_tcp4_seq_show.
 */

private rule snap_elf_relocatable
{
    meta:
        description = "ELF relocatable object (e_type 1): what a .ko kernel module is (used by other rules)"
    condition:
        uint32(0) == 0x464c457f and
        ((uint8(5) == 1 and uint16(16) == 1) or (uint8(5) == 2 and uint16be(16) == 1))
}

rule SNAP_LKM_Diamorphine : rootkit lkm
{
    meta:
        description = "Diamorphine LKM rootkit (hides processes with kill -31, itself with kill -63, gives root with kill -64)"
        severity = "critical"
        attack = "T1547.006"
        family = "Diamorphine"
        reference = "github.com/m0nad/Diamorphine: MAGIC_PREFIX diamorphine_secret, hacked_kill/hacked_getdents hooks; used by TeamTNT and Kiss-a-dog"
        remediation = "Preserve the module; if it may be loaded, reboot from known-good media (a loaded Diamorphine hides itself and files named diamorphine_secret*), remove the .ko and whatever loads it (modules-load.d, rc.local, cron), and rebuild the host."
        author = "snapscan"
    strings:
        $magic = "diamorphine_secret" ascii
        $name = "diamorphine" ascii
        $h1 = "hacked_kill" ascii
        $h2 = "hacked_getdents" ascii
        $h3 = "give_root" ascii
        $h4 = "module_hide" ascii
        $h5 = "module_show" ascii
        $h6 = "is_invisible" ascii
        $h7 = "orig_getdents64" ascii
    condition:
        snap_elf_relocatable and ($magic or ($name and 2 of ($h*)) or 4 of ($h*))
}

rule SNAP_LKM_Reptile : rootkit lkm
{
    meta:
        description = "Reptile LKM rootkit (khook-based hiding of files, processes and connections, magic-packet backdoor)"
        severity = "critical"
        attack = "T1547.006"
        family = "Reptile"
        reference = "github.com/f0rb1dd3n/Reptile: reptile_init, khook_* hooks (inet_ioctl, tcp4_seq_show, filldir), kmatryoshka loader"
        remediation = "Preserve the module and /reptile (or the configured hide directory); reboot from known-good media, remove the module, its loader and start script, and rebuild the host."
        author = "snapscan"
    strings:
        $init = "reptile_init" ascii
        $exit = "reptile_exit" ascii
        $loader = "kmatryoshka" ascii
        $k1 = "khook_inet_ioctl" ascii
        $k2 = "khook_tcp4_seq_show" ascii
        $k3 = "khook_filldir" ascii
        $k4 = "khook_load_elf_binary" ascii
        $k5 = "khook_copy_creds" ascii
        $k6 = "khook_vfs_statx" ascii
        $k7 = "khook_ip_rcv" ascii
    condition:
        snap_elf_relocatable and (($init and $exit) or $loader or 3 of ($k*))
}

rule SNAP_LKM_Suterusu : rootkit lkm
{
    meta:
        description = "Suterusu LKM rootkit (inline-hooks proc and socket listings, hides ports, files, PIDs and promiscuous mode)"
        severity = "critical"
        attack = "T1547.006"
        family = "Suterusu"
        reference = "github.com/mncoppola/suterusu: hijack_start/hijack_pause inline hooks, n_tcp4_seq_show, n_root_filldir, hide_tcp4_port"
        remediation = "Preserve the module; reboot from known-good media, remove the module and its loader, and rebuild the host."
        author = "snapscan"
    strings:
        $name = "suterusu" ascii nocase
        $s1 = "n_tcp4_seq_show" ascii
        $s2 = "n_root_filldir" ascii
        $s3 = "n_proc_filldir" ascii
        $s4 = "n_inet_ioctl" ascii
        $s5 = "hide_tcp4_port" ascii
        $s6 = "hijack_start" ascii
        $s7 = "hijack_pause" ascii
        $s8 = "n_dev_get_flags" ascii
    condition:
        snap_elf_relocatable and (($name and 2 of ($s*)) or 4 of ($s*))
}

rule SNAP_LKM_Rootkit_Source : rootkit lkm
{
    meta:
        description = "Source of a Diamorphine-style LKM rootkit (left where it was compiled on the host)"
        severity = "high"
        attack = "T1547.006"
        reference = "Diamorphine's diamorphine.h (MAGIC_PREFIX, SIGINVIS/SIGSUPER/SIGMODINVIS) and its forks"
        remediation = "Preserve the directory, look for the built .ko and what loads it (modules-load.d, rc.local, cron, /lib/modules), and treat the host as rooted."
        author = "snapscan"
    strings:
        $m = "MAGIC_PREFIX" ascii
        $s1 = "SIGINVIS" ascii
        $s2 = "SIGSUPER" ascii
        $s3 = "SIGMODINVIS" ascii
        $h = "hacked_getdents" ascii
        $k = "sys_call_table" ascii
    condition:
        filesize < 1MB and not uint32(0) == 0x464c457f and $m and 2 of ($s*) and ($h or $k)
}

rule SNAP_LKM_Syscall_Hooker : rootkit lkm
{
    meta:
        description = "Kernel module that patches the system call table with getdents/kill hooks (generic LKM rootkit shape)"
        severity = "high"
        attack = "T1014"
        reference = "common shape of public LKM rootkits: sys_call_table lookup plus hooked getdents64/kill and hidden PIDs or modules"
        remediation = "Preserve the module and find what loads it; an unknown module that hooks getdents is a rootkit until shown otherwise."
        author = "snapscan"
    strings:
        $t = "sys_call_table" ascii
        $g1 = "hacked_getdents" ascii
        $g2 = "hook_getdents" ascii
        $g3 = "hooked_getdents" ascii
        $g4 = "orig_getdents" ascii
        $k1 = "hacked_kill" ascii
        $k2 = "hook_kill" ascii
        $k3 = "orig_kill" ascii
        $x1 = "hide_pid" ascii
        $x2 = "hide_module" ascii
        $x3 = "module_hide" ascii
    condition:
        snap_elf_relocatable and $t and any of ($g*) and (any of ($k*) or any of ($x*))
}
