package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Report is the result of scanning one image (or one directory).
type Report struct {
	Schema      string    `json:"schema"` // SchemaVersion
	Tool        string    `json:"tool"`
	Version     string    `json:"version"`
	Image       string    `json:"image"`
	ImageSHA256 string    `json:"image_sha256,omitempty"` // only with --hash-image
	Container   string    `json:"container,omitempty"`    // raw, qcow2, vhd, ...
	ImageSize   int64     `json:"image_size,omitempty"`
	Started     time.Time `json:"started"`
	Duration    float64   `json:"duration_seconds"`
	// Interrupted: the scan was cut short (SIGINT/SIGTERM, --timeout); the
	// report holds what was done, and an "interrupted" error says why.
	Interrupted bool `json:"interrupted,omitempty"`

	Volumes   []Volume        `json:"volumes"`
	Targets   []Target        `json:"targets"` // the OS roots found and examined
	Findings  []Finding       `json:"findings"`
	Inventory []InventoryItem `json:"inventory,omitempty"` // only with --inventory
	Errors    []ScanError     `json:"errors"`
	Skipped   []Skipped       `json:"skipped,omitempty"`
	// Suppressed lists the findings a suppression file removed; only with
	// --show-suppressed (Stats.FindingsSuppressed always counts them).
	Suppressed []SuppressedFinding `json:"suppressed,omitempty"`
	Stats      Stats               `json:"stats"`
}

// Volume is one partition or bare filesystem of the image and whether it
// was scanned. A volume not scanned always says why.
type Volume struct {
	Name       string `json:"name"` // how evidence refers to it, e.g. "disk.img@2"
	Index      int    `json:"index"`
	Start      int64  `json:"start"`
	Size       int64  `json:"size"`
	PartType   string `json:"partition_type,omitempty"`
	PartName   string `json:"partition_name,omitempty"`
	Filesystem string `json:"filesystem"`
	Label      string `json:"label,omitempty"`
	UUID       string `json:"uuid,omitempty"`
	Scanned    bool   `json:"scanned"`
	Reason     string `json:"reason,omitempty"` // why not scanned
	// Truncated: the image ends before this volume does.
	Truncated bool `json:"truncated,omitempty"`
	// HoldsVolumes: an LVM physical volume read through the logical
	// volumes listed after it.
	HoldsVolumes bool `json:"holds_volumes,omitempty"`
	// Recovery is what was done with writes pending in the filesystem's
	// journal or log (nil: not a journaled filesystem, or not opened).
	Recovery *Recovery `json:"recovery,omitempty"`
}

// Recovery is a volume's or hive's crash-recovery state: "clean" (nothing
// pending), "replayed" (pending writes applied in memory; the image is never
// written) or "dirty" (pending writes not applied: the verdict cannot be
// clean).
type Recovery struct {
	State        string   `json:"state"`
	Transactions int      `json:"transactions,omitempty"`
	Blocks       int      `json:"blocks,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

// HiveState is one registry hive a Windows target's checks read, with its
// recovery state (transaction logs .LOG1/.LOG2 applied or not).
type HiveState struct {
	Path     string   `json:"path"`
	Recovery Recovery `json:"recovery"`
}

// Target is one OS root the checks ran on, with the volumes mounted into it
// (from its fstab).
type Target struct {
	OS      string            `json:"os"`
	Name    string            `json:"name,omitempty"` // PRETTY_NAME, product name
	Volume  string            `json:"volume"`
	Mounts  map[string]string `json:"mounts,omitempty"` // mount point -> volume
	Checks  []string          `json:"checks"`
	Comment string            `json:"comment,omitempty"`
	// Hives lists the registry hives read on a Windows target.
	Hives []HiveState `json:"hives,omitempty"`
}

// Stats counts the work done, for the analyst and for benchmarks.
type Stats struct {
	FilesSwept   int64 `json:"files_swept"`
	BytesSwept   int64 `json:"bytes_swept"`
	FilesSkipped int64 `json:"files_skipped"`
	// FilesVerifiedNotSwept counts files read and hashed whose bytes equal
	// their package's recorded digest and that --skip-verified kept from YARA.
	FilesVerifiedNotSwept int64          `json:"files_verified_not_swept,omitempty"`
	BySeverity            map[string]int `json:"findings_by_severity"`
	// FindingsHidden counts findings that Filter removed (--severity): the
	// report says that something was left out, not only what is shown.
	FindingsHidden int `json:"findings_hidden,omitempty"`
	// FindingsSuppressed counts findings removed by a suppression entry
	// that had not expired (--ignorefile).
	FindingsSuppressed int `json:"findings_suppressed,omitempty"`
	// FindingsInBaseline counts findings removed because the baseline
	// report (--baseline) already had them: only new findings remain.
	FindingsInBaseline int `json:"findings_in_baseline,omitempty"`
}

// FindingID derives the stable id of a finding: the same rule on the same
// file and line of the same volume gives the same id in every scan.
func FindingID(f *Finding) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", f.Rule, f.Evidence.Volume, f.Evidence.Path, f.Evidence.Line, f.Evidence.Key)))
	return "SNAP-" + hex.EncodeToString(h[:6])
}

// Max returns the highest severity among the findings, and false if there
// are none.
func (r *Report) Max() (Severity, bool) {
	if len(r.Findings) == 0 {
		return Info, false
	}
	max := Info
	for _, f := range r.Findings {
		if f.Severity > max {
			max = f.Severity
		}
	}
	return max, true
}
