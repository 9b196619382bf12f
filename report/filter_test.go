package report

import (
	"testing"
)

func TestParseSeveritySet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // SeveritySet.String()
		wantErr bool
	}{
		{"", "critical,high,medium,low,info", false},
		{"info", "critical,high,medium,low,info", false},
		{"medium", "critical,high,medium", false},
		{"MEDIUM", "critical,high,medium", false},
		{"medium+", "critical,high,medium", false},
		{"high+,critical", "", true},
		{"critical", "critical", false},
		{"HIGH,CRITICAL", "critical,high", false},
		{"low, info", "low,info", false},
		{"high,high", "high", false},
		{"high,", "", true},
		{"severe", "", true},
		{"high,bogus", "", true},
	} {
		got, err := ParseSeveritySet(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseSeveritySet(%q) error %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got.String() != tc.want {
			t.Errorf("ParseSeveritySet(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAtLeast(t *testing.T) {
	for min := Info; min <= Critical; min++ {
		set := AtLeast(min)
		for s := Info; s <= Critical; s++ {
			if set.Has(s) != (s >= min) {
				t.Errorf("AtLeast(%s).Has(%s) = %v", min, s, set.Has(s))
			}
		}
	}
	if AtLeast(Critical+1) != 0 || AtLeast(Info-1) != AllSeverities {
		t.Error("out-of-range minimums")
	}
	if AllSeverities.Has(Severity(7)) || AllSeverities.Has(Severity(-1)) {
		t.Error("Has accepts an unknown severity")
	}
}

func TestFilter(t *testing.T) {
	all := []Severity{Critical, High, Medium, Low, Info, High}
	for _, tc := range []struct {
		name       string
		keep       SeveritySet
		wantKept   int
		wantHidden int
	}{
		{"keep all", AllSeverities, 6, 0},
		{"medium and up", AtLeast(Medium), 4, 2},
		{"critical only", AtLeast(Critical), 1, 5},
		{"exact set high,low", 1<<High | 1<<Low, 3, 3},
		{"empty set", 0, 0, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := withFindings(all...)
			r.Errors = []ScanError{{Stage: "sweep", Error: "e"}}
			r.Inventory = []InventoryItem{{Kind: "cron"}}
			Finalize(r)
			FilterSet(r, tc.keep)
			if len(r.Findings) != tc.wantKept || r.Stats.FindingsHidden != tc.wantHidden {
				t.Errorf("kept %d hidden %d, want %d and %d", len(r.Findings), r.Stats.FindingsHidden, tc.wantKept, tc.wantHidden)
			}
			total := 0
			for _, f := range r.Findings {
				if !tc.keep.Has(f.Severity) {
					t.Errorf("kept a %s finding", f.Severity)
				}
			}
			for _, n := range r.Stats.BySeverity {
				total += n
			}
			if total != tc.wantKept || len(r.Stats.BySeverity) != 5 {
				t.Errorf("BySeverity %v does not count the kept findings", r.Stats.BySeverity)
			}
			if len(r.Errors) != 1 || len(r.Inventory) != 1 {
				t.Error("Filter removed errors or inventory")
			}
		})
	}
	r := withFindings(all...)
	Filter(r, High)
	if len(r.Findings) != 3 || r.Stats.FindingsHidden != 3 {
		t.Errorf("Filter(High): kept %d hidden %d", len(r.Findings), r.Stats.FindingsHidden)
	}
}
