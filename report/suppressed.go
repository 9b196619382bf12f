package report

// SuppressedFinding is a finding that a suppression entry (.snapscanignore)
// removed from Findings. The report keeps it (with --show-suppressed) so
// that an accepted risk stays visible and auditable.
type SuppressedFinding struct {
	Finding Finding `json:"finding"`
	// Reason is the entry's reason, as the person who accepted the risk
	// wrote it.
	Reason string `json:"reason"`
	// Expires is the entry's expiry (RFC 3339 date or time), if it has one.
	Expires string `json:"expires,omitempty"`
	// Entry names the suppression entry: FILE:LINE.
	Entry string `json:"entry"`
}

// Recount recomputes Stats.BySeverity after findings were removed by
// something other than FilterSet (suppression, baseline).
func Recount(r *Report) { r.Stats.BySeverity = countBySeverity(r.Findings) }
