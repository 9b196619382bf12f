// Package windows holds the checks for Windows roots: registry autostarts
// (Run keys, Winlogon), services, scheduled tasks (XML, legacy .job and the
// registry's TaskCache), Startup folders, the hosts file, Microsoft Defender
// tampering, Image File Execution Options and accessibility backdoors, DLL
// and program load points (LSA, BootExecute, AppInit/AppCert DLLs, Winlogon
// Notify, print monitors, netsh helpers, service FailureCommands) and the
// SAM's local accounts. Each check parses its artifacts into inventory
// records first and then judges them with the data files under
// signatures/windows/.
//
// Hives are read with regparser, under recover and with our own bounded
// walking of subkey/value lists (see hive.go). A dirty hive is read through
// its transaction logs (.LOG1/.LOG2/.LOG, applied in memory by
// artifact/hivelog) as Windows would load it; without a usable log it is read
// as it is and reported dirty. Known limits: UsrClass.dat and COM handler
// classes of tasks are not judged; AppInit_DLLs given as 8.3 short names
// are judged by the short name; shell links are read for target, arguments
// and working directory only.
package windows

import (
	"io/fs"

	"github.com/snapscan/snapscan/scanner/check"
)

// Checks is every Windows check, in the order their findings read best.
func Checks() []check.Check {
	return []check.Check{RunKeys{}, Services{}, Tasks{}, Startup{}, Hosts{}, Defender{}, IFEO{}, LoadPoints{}, Accounts{}, TaskCache{}, Profiles{}, Streams{}, WMI{}}
}

// IsRoot says whether fsys looks like a Windows system volume: it holds the
// SOFTWARE hive where Windows keeps it.
func IsRoot(fsys fs.FS) bool {
	_, err := resolveFold(fsys, softwareHive)
	return err == nil
}
