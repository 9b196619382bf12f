package fsread

import "fmt"

// RecoveryState is what a reader found, and did, about writes that a
// crash-consistent snapshot left pending in a journal or log (ext4 JBD2, the
// XFS log, NTFS $LogFile). The kernel applies them before anyone reads the
// files; a scanner that does not would judge a state the running system never
// saw, so a volume whose pending writes were not applied is never "clean".
type RecoveryState string

const (
	// RecoveryNone: nothing pending (or the format has no journal).
	RecoveryNone RecoveryState = "clean"
	// RecoveryReplayed: the pending writes were applied in memory; the
	// image was not written.
	RecoveryReplayed RecoveryState = "replayed"
	// RecoveryDirty: writes are pending and were not (fully) applied.
	RecoveryDirty RecoveryState = "dirty"
)

// Recovery is a volume's recovery record, for the report.
type Recovery struct {
	State RecoveryState `json:"state"`
	// Transactions and Blocks count what a replay applied.
	Transactions int `json:"transactions,omitempty"`
	Blocks       int `json:"blocks,omitempty"`
	// Reason says why a dirty volume was not (fully) replayed.
	Reason string `json:"reason,omitempty"`
	// Warnings name what replay stopped at or skipped (a bad checksum in
	// transaction 812, an item type it cannot apply).
	Warnings []string `json:"warnings,omitempty"`
}

// Complete is false when pending writes were left unapplied.
func (r Recovery) Complete() bool { return r.State != RecoveryDirty }

// String is the one-line form the table and errors show.
func (r Recovery) String() string {
	switch r.State {
	case RecoveryReplayed:
		return fmt.Sprintf("replayed (%d transactions, %d blocks)", r.Transactions, r.Blocks)
	case RecoveryDirty:
		if r.Reason == "" {
			return "dirty, not replayed"
		}
		return "dirty, not replayed: " + r.Reason
	case "":
		return string(RecoveryNone)
	}
	return string(r.State)
}

// Recoverable is implemented by an FS whose format has a journal or log.
type Recoverable interface {
	Recovery() Recovery
}

// RecoveryOf returns fsys's recovery record; an FS without a journal (a
// directory, FAT) is clean.
func RecoveryOf(fsys FS) Recovery {
	if r, ok := fsys.(Recoverable); ok {
		return r.Recovery()
	}
	return Recovery{State: RecoveryNone}
}

// OpenOptions tune how a filesystem reader opens a volume.
type OpenOptions struct {
	// NoReplay shows the on-disk view: pending journal or log writes are
	// not applied (the volume is then reported dirty, when it is).
	NoReplay bool
}
