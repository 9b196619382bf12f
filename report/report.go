package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
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
	// PartUUID is the GPT partition GUID: with UUID, what identifies the
	// volume in finding ids whatever the image file is called.
	PartUUID string `json:"partition_uuid,omitempty"`
	Scanned  bool   `json:"scanned"`
	Reason   string `json:"reason,omitempty"` // why not scanned
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
	// InventoryOmitted counts inventory items past the caps (per file and
	// per scan, docs/limits.md): counted, not listed.
	InventoryOmitted int64 `json:"inventory_omitted,omitempty"`
	// ErrorsOmitted counts errors past the per-file cap: the file is named
	// with the count, the rest are not listed one by one.
	ErrorsOmitted int64 `json:"errors_omitted,omitempty"`
	// LinksJudgedOnce counts names of multiply-linked files whose content
	// was judged under another name (a hard link of an earlier file).
	LinksJudgedOnce int64 `json:"links_judged_once,omitempty"`
	// MemoryLimit is the --max-memory budget the scan kept to, in bytes.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
}

// FindingID derives the stable id of a finding from what it is: its rule,
// the identity of the volume that stores the file, the path, line and key.
// Never from the image's file name or folder: the same golden image built
// as golden-build42.img in another directory gives the same ids, so that
// baselines, suppressions and SARIF fingerprints follow it. Without the
// report, the volume is known by its place in the image (@2, @vg/lv, or
// the whole image); IDIn uses the volume's UUID when the report has it.
func FindingID(f *Finding) string { return findingID(f, placeKey(f.Evidence.Volume)) }

func findingID(f *Finding, volumeKey string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("v2\x00%s\x00%s\x00%s\x00%d\x00%s", f.Rule, volumeKey, f.Evidence.Path, f.Evidence.Line, f.Evidence.Key)))
	return "SNAP-" + hex.EncodeToString(h[:6])
}

// placeKey is a volume's identity from its name alone: what follows the
// image's base name ("@2", "@vg/root"), "" for a bare filesystem. Volume
// group and LV names cannot hold '@'; an image name may.
func placeKey(volume string) string {
	if i := strings.LastIndexByte(volume, '@'); i >= 0 {
		return "at:" + volume[i+1:]
	}
	return "at:"
}

// VolumeKeys gives each volume of r its identity for finding ids: the
// filesystem UUID, else the GPT partition GUID, else its place in the
// image. A UUID two volumes share (a cloned partition) identifies neither.
func VolumeKeys(r *Report) map[string]string {
	count := map[string]int{}
	for _, v := range r.Volumes {
		count["fs:"+strings.ToLower(v.UUID)]++
		count["part:"+strings.ToLower(v.PartUUID)]++
	}
	keys := make(map[string]string, len(r.Volumes))
	for _, v := range r.Volumes {
		fsKey, partKey := "fs:"+strings.ToLower(v.UUID), "part:"+strings.ToLower(v.PartUUID)
		switch {
		case v.UUID != "" && count[fsKey] == 1:
			keys[v.Name] = fsKey
		case v.PartUUID != "" && count[partKey] == 1:
			keys[v.Name] = partKey
		default:
			keys[v.Name] = placeKey(v.Name)
		}
	}
	return keys
}

// IDIn is f's id in report r, whose volumes give their identities.
func IDIn(keys map[string]string, f *Finding) string {
	if k, ok := keys[f.Evidence.Volume]; ok {
		return findingID(f, k)
	}
	return FindingID(f)
}

// LegacyIDs are the ids f had before ids named volume identities (report
// schema 1.0, snapscan before 2026-12): computed from the volume name, which
// holds the image's base name. A file under an fstab mount was named by
// the root's volume (checks) or by its path on its own volume (sweep).
// Suppression files and baselines written then still match through them.
func LegacyIDs(r *Report, f *Finding) []string {
	old := func(volume, path string) string {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", f.Rule, volume, path, f.Evidence.Line, f.Evidence.Key)))
		return "SNAP-" + hex.EncodeToString(h[:6])
	}
	ids := []string{old(f.Evidence.Volume, f.Evidence.Path)}
	if f.Evidence.VolumePath != "" {
		ids = append(ids, old(f.Evidence.Volume, f.Evidence.VolumePath))
	}
	for _, t := range r.Targets {
		for _, v := range t.Mounts {
			if v == f.Evidence.Volume {
				ids = append(ids, old(t.Volume, f.Evidence.Path))
			}
		}
	}
	return ids
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
