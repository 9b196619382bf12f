package linux

import "github.com/snapscan/snapscan/scanner/check"

// Checks returns every Linux check. Adding a check is one file and one line.
func Checks() []check.Check {
	return []check.Check{
		Cron{},
		Systemd{},
		RC{},
		Preload{},
		SSHKeys{},
		Accounts{},
		Immutable{},
		Binaries{},
		Markers{},
		Hosts{},
		Firewall{},
		MinerFiles{},
		KernelModules{},
		Sudo{},
		SetID{},
		Logins{},
		SSHD{},
		SELinux{},
		Sysctl{},
		CloudAgents{},
		LdSoConf{},
		UnitEnv{},
		RenamedTools{},
		History{},
		Timestomp{},
		ShellRC{},
		Autostart{},
		Droppers{},
		Containers{},
	}
}
