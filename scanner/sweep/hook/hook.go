// Package hook is the contract between the content sweep and what watches
// its one walk over a volume: per-file facts (mode bits, hashes, the first
// bytes) without a second walk, and without importing the sweep (which
// needs libyara).
package hook

import (
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
)

// HeadSize is how much of a file's start a Hook sees: enough for ELF
// and script magic, nothing a hook would have to buffer.
const HeadSize = 64

// File is one regular file as the walk and its one read saw it.
type File struct {
	Path   string // inside the volume, slash form without a leading '/'
	OSPath string // where the OS sees it (MountPoint + path), with a leading '/'
	Meta   *fsread.Meta
	SHA256 string // "" when the file was not read in full (skipped, unreadable, short)
	MD5    string // as SHA256: dpkg records MD5, so verification needs no second read
	SHA1   string // as SHA256, but only when a hook is a SHA1Wanter (apk records SHA-1) or IOCs need it
	Head   []byte // up to HeadSize bytes of content; valid only during the call
}

// Hook watches the sweep's one walk, so that per-file facts (mode bits,
// hashes) need no second walk. File is called once for every regular file,
// from several workers at once, and must be cheap; Done is called once after
// the last File, and what it returns joins the sweep's result (errors are
// files the hook could not read, which make the volume's verdict incomplete).
type Hook interface {
	File(f File)
	Done() ([]report.Finding, []report.InventoryItem, []report.ScanError)
}

// SHA1Wanter is a Hook that needs File.SHA1: the sweep then computes it in
// the same read (it costs a third hash, so only on request).
type SHA1Wanter interface {
	WantSHA1() bool
}

// Verifier is a Hook that can vouch for a file: its bytes are those its
// package recorded. With Options.SkipVerified the sweep then skips YARA on
// the file (hash IOCs are still matched). Verified is called after File,
// from the same worker.
type Verifier interface {
	Verified(f File) bool
}
