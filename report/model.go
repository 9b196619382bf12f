// Package report holds the scan result model (findings, inventory, errors),
// severities, and the writers that render it. It never reads an image: what
// it shows is what the scanner put in it.
package report

import (
	"fmt"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON report. Bump the major part when
// a field changes meaning or disappears; adding fields bumps the minor part.
const SchemaVersion = "1.0"

// Severity orders findings. Info is for context an analyst may want; Medium
// and above are what CI gates on by default.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the lower- or upper-case name.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames, ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Evidence is what an analyst needs to find, verify and preserve the thing a
// finding is about, without re-running the scan.
type Evidence struct {
	// Volume is the volume that stores the file (for a file reached
	// through an fstab mount, the mounted volume, not the root's), and
	// Inode its inode there: IMAGE@VOLUME:/VOLUME_PATH opens this file.
	Volume string `json:"volume"`
	// Path is the file's path as the running system saw it (/home/bob/x
	// when /home is mounted from another volume).
	Path string `json:"path"`
	// VolumePath is the file's path on Volume when it is not Path (the
	// volume is mounted below /, or Path goes through a symbolic link).
	VolumePath string `json:"volume_path,omitempty"`
	Inode      uint64 `json:"inode,omitempty"`
	// Owner fields are absent where the filesystem has no numeric owner.
	UID   *uint32    `json:"uid,omitempty"`
	GID   *uint32    `json:"gid,omitempty"`
	Mode  string     `json:"mode,omitempty"`
	Size  int64      `json:"size"`
	Mtime *time.Time `json:"mtime,omitempty"`
	Atime *time.Time `json:"atime,omitempty"`
	Ctime *time.Time `json:"ctime,omitempty"`
	Btime *time.Time `json:"btime,omitempty"`
	Flags []string   `json:"flags,omitempty"`
	// Hashes of the file's content; empty when the file could not be read.
	MD5    string `json:"md5,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Line is the 1-based line number of Match in the file, 0 if not line-based.
	Line  int    `json:"line,omitempty"`
	Match string `json:"match,omitempty"`
	// Key is where inside the file the evidence sits when it is not a line:
	// a registry key and value, a JSON field, an XML element.
	Key string `json:"key,omitempty"`
	// LinkTarget is set when the path is a symbolic link.
	LinkTarget string `json:"link_target,omitempty"`
	// Binary: the content read is not text (a NUL byte in its first 8000
	// bytes, git's test), so it is placed by byte offsets, not lines.
	Binary bool `json:"binary,omitempty"`
}

// Where is the file's address inside its volume, VOLUME:/PATH, what
// 'snapscan cat IMAGE@...' takes after the image.
func (e *Evidence) Where() string {
	p := e.VolumePath
	if p == "" {
		p = e.Path
	}
	return e.Volume + ":" + p
}

// RuleMatch is one YARA rule that matched a file, with where it matched.
type RuleMatch struct {
	Rule    string        `json:"rule"`
	Tags    []string      `json:"tags,omitempty"`
	Source  string        `json:"source,omitempty"` // embedded, or the user's rule file
	Strings []StringMatch `json:"strings,omitempty"`
}

// StringMatch is one matched YARA string.
type StringMatch struct {
	Name   string `json:"name"`
	Offset uint64 `json:"offset"`
	// Line is the 1-based line of Offset in a text file, 0 in a binary.
	Line int    `json:"line,omitempty"`
	Data string `json:"data"` // printable, truncated
}

// Finding is one verdict: something on the image an analyst should look at.
type Finding struct {
	// ID is stable across scans of the same image: suppressions and baselines
	// refer to it. It is derived from rule, volume, path and line.
	ID       string   `json:"id"`
	Rule     string   `json:"rule"`  // e.g. "cron.download-exec"
	Check    string   `json:"check"` // the check or sweep that produced it
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	// Technique is the MITRE ATT&CK technique id, e.g. "T1053.003".
	Technique     string      `json:"technique"`
	TechniqueName string      `json:"technique_name,omitempty"`
	Family        string      `json:"family,omitempty"` // malware family when a marker names one
	Description   string      `json:"description,omitempty"`
	Evidence      Evidence    `json:"evidence"`
	Matches       []RuleMatch `json:"matches,omitempty"`
	// Remediation is the manual step for the analyst: snapscan only detects.
	Remediation string `json:"remediation"`
}

// InventoryItem is one thing that starts on this machine (or grants access
// to it), judged or not: a cron entry, a unit, a key, a Run value.
type InventoryItem struct {
	Kind   string `json:"kind"`   // cron, systemd, rc, preload, ssh-key, account, run-key, service, task, ...
	Volume string `json:"volume"` // the volume that stores the file
	Path   string `json:"path"`   // as the running system saw it
	// VolumePath is the file's path on Volume when it is not Path.
	VolumePath string            `json:"volume_path,omitempty"`
	Line       int               `json:"line,omitempty"`
	Summary    string            `json:"summary"` // the command, key or value, one line
	Fields     map[string]string `json:"fields,omitempty"`
}

// ScanError is something that could not be read or parsed. The report lists
// every one: what was not scanned is as important as what was found.
type ScanError struct {
	Volume string `json:"volume,omitempty"`
	Path   string `json:"path,omitempty"`
	Stage  string `json:"stage"` // open, volume, filesystem, check:NAME, sweep
	Error  string `json:"error"`
}

// Skipped is a file the content sweep did not scan, and why.
type Skipped struct {
	Volume string `json:"volume"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// Address is the file's address for the analyst commands ('snapscan cat',
// 'stat'): IMAGE@VOLUME:/PATH with image the path the scan was given.
// Volume names start with the image's base name (disk.img@2).
func Address(image string, e *Evidence) string {
	vol := strings.TrimPrefix(e.Volume, baseName(image))
	return image + vol + strings.TrimPrefix(e.Where(), e.Volume)
}

// baseName is the last element of an image path, '/' or '\' separated
// (reports are read on other systems than the one that wrote them).
func baseName(image string) string {
	if i := strings.LastIndexAny(image, `/\`); i >= 0 {
		return image[i+1:]
	}
	return image
}
