package report

import (
	"strings"
	"testing"
)

// A sweep YARA finding on a file an autostart runs becomes the chain's
// finding (rule, technique, description naming the chain, the worse
// severity of the two), the entry's own finding is raised to it, and
// what is not a YARA match on a followed target is left alone.
func TestChainTargetHits(t *testing.T) {
	target := InventoryItem{Kind: AutostartTarget, Volume: "d@1", Path: "/usr/local/bin/y", Fields: map[string]string{
		"entry": "/etc/cron.d/x:3", "entry_volume": "d@1", "chain": "/opt/a.sh → /usr/local/bin/y", "place": "cron",
		"what": "Cron job", "technique": "T1053.003", "technique_name": "Scheduled Task/Job: Cron"}}
	onMounted := target // /usr mounted from its own volume: keyed by volume and path there
	onMounted.Volume, onMounted.VolumePath = "d@2", "/local/bin/y"
	yaraHit := func(vol, volPath string, sev Severity, rules ...string) Finding {
		f := Finding{Rule: "yara." + rules[0], Check: "sweep", Severity: sev, Technique: "T1496.001",
			Evidence: Evidence{Volume: vol, Path: "/usr/local/bin/y", VolumePath: volPath}, Description: "Matched: YARA."}
		for _, r := range rules {
			f.Matches = append(f.Matches, RuleMatch{Rule: r})
		}
		return f
	}
	entry := func(sev Severity) Finding {
		return Finding{Rule: "cron.exec-hidden", Check: "cron", Severity: sev, Technique: "T1053.003",
			Evidence: Evidence{Volume: "d@1", Path: "/etc/cron.d/x", Line: 3}}
	}
	for _, tc := range []struct {
		name      string
		inv       []InventoryItem
		findings  []Finding
		wantSev   Severity // of the chained finding; -1: no chained finding
		entrySev  Severity // of the entry's finding after the join, when it has one
		wantRules int      // findings left
	}{
		{"YARA high, no entry finding", []InventoryItem{target}, []Finding{yaraHit("d@1", "", High, "SNAP_XMRig_Binary")}, High, 0, 1},
		{"YARA low, entry medium: the chain is medium", []InventoryItem{target},
			[]Finding{yaraHit("d@1", "", Low, "SNAP_Stratum_URL"), entry(Medium)}, Medium, Medium, 2},
		{"YARA critical raises the entry", []InventoryItem{target},
			[]Finding{yaraHit("d@1", "", Critical, "SNAP_Kinsing"), entry(Medium)}, Critical, Critical, 2},
		{"target on a mounted volume", []InventoryItem{onMounted}, []Finding{yaraHit("d@2", "/local/bin/y", High, "SNAP_XMRig_Binary")}, High, 0, 1},
		{"same path, other volume: no join", []InventoryItem{target}, []Finding{yaraHit("d@2", "/local/bin/y", High, "SNAP_XMRig_Binary")}, -1, 0, 1},
		{"file-name indicator only: no join", []InventoryItem{target}, []Finding{{Rule: "ioc.filename", Check: "sweep", Severity: Medium,
			Evidence: Evidence{Volume: "d@1", Path: "/usr/local/bin/y"}, Matches: []RuleMatch{{Rule: "ioc.filename"}}}}, -1, 0, 1},
		{"not an autostart target", nil, []Finding{yaraHit("d@1", "", High, "SNAP_XMRig_Binary")}, -1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Findings: tc.findings, Inventory: tc.inv}
			Finalize(r)
			once := len(r.Findings)
			Finalize(r) // a second run changes nothing
			if len(r.Findings) != once || once != tc.wantRules {
				t.Fatalf("%d findings, then %d, want %d", once, len(r.Findings), tc.wantRules)
			}
			var chained *Finding
			for i, f := range r.Findings {
				if f.Rule == "cron.target-yara" {
					chained = &r.Findings[i]
				}
				if f.Check == "cron" && f.Severity != tc.entrySev {
					t.Errorf("entry finding %s, want %s", f.Severity, tc.entrySev)
				}
			}
			if tc.wantSev < 0 {
				if chained != nil {
					t.Errorf("joined: %+v", chained)
				}
				return
			}
			if chained == nil {
				t.Fatalf("no chained finding: %+v", r.Findings)
			}
			if chained.Severity != tc.wantSev || chained.Technique != "T1053.003" || chained.ID != IDIn(VolumeKeys(r), chained) {
				t.Errorf("chained %s %s id %s", chained.Severity, chained.Technique, chained.ID)
			}
			if want := "Cron job /etc/cron.d/x line 3 runs /opt/a.sh → /usr/local/bin/y, which matches YARA rule "; !strings.HasPrefix(chained.Description, want) {
				t.Errorf("description %q", chained.Description)
			}
		})
	}
}
