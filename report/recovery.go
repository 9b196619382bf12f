package report

import (
	"fmt"
	"strings"
)

// recoveryNotes is each volume's and hive's recovery state for the table
// header, when any is not plainly clean: "disk.img@2 journal replayed (3
// transactions, 12 blocks)". Clean volumes are not listed; "all clean" is
// said when there were journaled volumes and all were clean.
func recoveryNotes(r *Report) []string {
	var notes []string
	journaled := false
	for _, v := range r.Volumes {
		if v.Recovery == nil {
			continue
		}
		journaled = true
		if v.Recovery.State != RecoveryClean && v.Recovery.State != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", clean(v.Name), clean(v.Recovery.String())))
		}
	}
	for _, t := range r.Targets {
		for _, h := range t.Hives {
			journaled = true
			if h.Recovery.State != RecoveryClean && h.Recovery.State != "" {
				notes = append(notes, fmt.Sprintf("hive %s on %s: %s", clean(h.Path), clean(t.Volume), clean(h.Recovery.String())))
			}
		}
	}
	if len(notes) == 0 && journaled {
		return []string{"clean (no journal or log writes pending)"}
	}
	return notes
}

// recoveryProperties are the SARIF run properties for recovery: volume name
// -> state, and hive path -> state, so that a code-scanning UI shows what
// view of a crash-consistent snapshot was judged.
func recoveryProperties(props map[string]any, r *Report) {
	vols := map[string]any{}
	for _, v := range r.Volumes {
		if v.Recovery != nil {
			vols[v.Name] = *v.Recovery
		}
	}
	if len(vols) > 0 {
		props["volumeRecovery"] = vols
	}
	var hives []HiveState
	for _, t := range r.Targets {
		hives = append(hives, t.Hives...)
	}
	if len(hives) > 0 {
		props["hiveRecovery"] = hives
	}
}

// volumeStatus is the STATUS cell of a volume row.
func volumeStatus(v Volume) string {
	status := "scanned"
	if !v.Scanned {
		status = "NOT SCANNED: " + nonEmpty(clean(v.Reason), "no reason given")
	}
	if rc := v.Recovery; rc != nil && rc.State != RecoveryClean && rc.State != "" {
		s := rc.String()
		if rc.State == RecoveryDirty {
			s = strings.ToUpper("journal dirty") + strings.TrimPrefix(s, "dirty")
		} else {
			s = "journal " + s
		}
		status += " · " + clean(s)
	}
	return status
}

// gapPrefix introduces the first gap: "could not scan: " when nothing was
// scanned, "incomplete: " when something was.
func gapPrefix(r *Report) string {
	if NothingScanned(r) {
		return "could not scan: "
	}
	return "incomplete: "
}
