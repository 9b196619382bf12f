package report

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFinalizeOrder(t *testing.T) {
	r := &Report{Findings: []Finding{
		{Rule: "b", Severity: Low, Evidence: Evidence{Volume: "v1", Path: "/a", Line: 1}},
		{Rule: "a", Severity: Critical, Evidence: Evidence{Volume: "v2", Path: "/a", Line: 1}},
		{Rule: "z", Severity: Critical, Evidence: Evidence{Volume: "v1", Path: "/b", Line: 10}},
		{Rule: "a", Severity: Critical, Evidence: Evidence{Volume: "v1", Path: "/b", Line: 2}},
		{Rule: "b", Severity: Critical, Evidence: Evidence{Volume: "v1", Path: "/b", Line: 2}},
		{Rule: "a", Severity: Info, Evidence: Evidence{Volume: "v0", Path: "/"}},
	}}
	Finalize(r)
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Severity.String()+" "+f.Evidence.Volume+":"+f.Evidence.Path+":"+itoa(f.Evidence.Line)+" "+f.Rule)
	}
	want := []string{
		"critical v1:/b:2 a",
		"critical v1:/b:2 b",
		"critical v1:/b:10 z", // lines compare as numbers
		"critical v2:/a:1 a",
		"low v1:/a:1 b",
		"info v0:/:0 a",
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("order:\n got %q\nwant %q", got, want)
		}
	}
	if r.Stats.BySeverity["critical"] != 4 || r.Stats.BySeverity["low"] != 1 || r.Stats.BySeverity["high"] != 0 {
		t.Errorf("BySeverity %v", r.Stats.BySeverity)
	}
}

func TestFinalizeDedupeAndIDs(t *testing.T) {
	mk := func(sev Severity, key, yara string) Finding {
		f := Finding{Rule: "yara.miner", Severity: sev, Evidence: Evidence{Volume: "v", Path: "/x", Key: key}}
		if yara != "" {
			f.Matches = []RuleMatch{{Rule: yara}}
		}
		return f
	}
	r := &Report{Findings: []Finding{
		mk(Medium, "", "A"),
		mk(High, "", "B"), // same id, more severe: kept, with A merged in
		mk(High, "", "B"), // exact duplicate
		mk(High, "other-key", ""),
		{ID: "SNAP-preset00000", Rule: "keep", Severity: Low}, // preset ids are kept
	}}
	Finalize(r)
	if len(r.Findings) != 3 {
		t.Fatalf("%d findings after dedupe, want 3: %+v", len(r.Findings), r.Findings)
	}
	first := r.Findings[0]
	if first.Severity != High || len(first.Matches) != 2 || first.Matches[0].Rule != "A" || first.Matches[1].Rule != "B" {
		t.Errorf("merged finding %+v: want high with YARA matches A and B, sorted", first)
	}
	if first.ID != FindingID(&first) || first.ID == r.Findings[1].ID {
		t.Errorf("ids %q %q: want FindingID values that differ by key", first.ID, r.Findings[1].ID)
	}
	if r.Findings[2].ID != "SNAP-preset00000" {
		t.Errorf("preset id replaced by %q", r.Findings[2].ID)
	}
	// The id depends on rule, the volume's place or identity, path, line
	// and key, and on nothing else: not on the image's file name.
	a := Finding{Rule: "r", Title: "one", Severity: Low, Evidence: Evidence{Volume: "v.img@1", Path: "/p", Line: 3, Match: "x"}}
	b := a
	b.Title, b.Severity, b.Evidence.Match = "two", Critical, "y"
	b.Evidence.Volume = "golden-build42.img@1"
	if FindingID(&a) != FindingID(&b) {
		t.Error("FindingID depends on title, severity, match or the image's name")
	}
	for _, change := range []func(*Finding){
		func(f *Finding) { f.Rule = "s" },
		func(f *Finding) { f.Evidence.Volume = "v.img@2" },
		func(f *Finding) { f.Evidence.Path = "/q" },
		func(f *Finding) { f.Evidence.Line = 4 },
		func(f *Finding) { f.Evidence.Key = "k" },
	} {
		c := a
		change(&c)
		if FindingID(&c) == FindingID(&a) {
			t.Errorf("FindingID ignores a change: %+v", c)
		}
	}
	// In a report, the filesystem UUID, else the partition GUID, names the
	// volume: the same partition moved to another place keeps its ids.
	for _, tc := range []struct {
		name   string
		v1, v2 Volume
		same   bool
	}{
		{"fs uuid, other place", Volume{Name: "a.img@1", UUID: "U1"}, Volume{Name: "b.img@3", UUID: "u1"}, true},
		{"part guid, other place", Volume{Name: "a.img@1", PartUUID: "G"}, Volume{Name: "b.img@2", PartUUID: "G"}, true},
		{"other fs uuid", Volume{Name: "a.img@1", UUID: "U1"}, Volume{Name: "a.img@1", UUID: "U2"}, false},
		{"place only", Volume{Name: "a.img@1"}, Volume{Name: "b.img@1"}, true},
		{"place only, other index", Volume{Name: "a.img@1"}, Volume{Name: "a.img@2"}, false},
	} {
		ida := IDIn(VolumeKeys(&Report{Volumes: []Volume{tc.v1}}), &Finding{Rule: "r", Evidence: Evidence{Volume: tc.v1.Name, Path: "/p"}})
		idb := IDIn(VolumeKeys(&Report{Volumes: []Volume{tc.v2}}), &Finding{Rule: "r", Evidence: Evidence{Volume: tc.v2.Name, Path: "/p"}})
		if (ida == idb) != tc.same {
			t.Errorf("%s: ids %s %s, want same=%v", tc.name, ida, idb, tc.same)
		}
	}
	// Two volumes sharing a UUID (a cloned partition) are told apart.
	twins := &Report{Volumes: []Volume{{Name: "a.img@1", UUID: "U"}, {Name: "a.img@2", UUID: "U"}}}
	keys := VolumeKeys(twins)
	if keys["a.img@1"] == keys["a.img@2"] {
		t.Errorf("twin volumes share key %q", keys["a.img@1"])
	}
}

// TestFinalizeDeterministic: whatever order parallel checks deliver things
// in, the finalized report renders to the same bytes.
func TestFinalizeDeterministic(t *testing.T) {
	render := func(r *Report) []byte {
		Finalize(r)
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	want := render(sampleReport())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		r := sampleReport()
		rng.Shuffle(len(r.Findings), func(i, j int) { r.Findings[i], r.Findings[j] = r.Findings[j], r.Findings[i] })
		rng.Shuffle(len(r.Errors), func(i, j int) { r.Errors[i], r.Errors[j] = r.Errors[j], r.Errors[i] })
		rng.Shuffle(len(r.Inventory), func(i, j int) { r.Inventory[i], r.Inventory[j] = r.Inventory[j], r.Inventory[i] })
		rng.Shuffle(len(r.Skipped), func(i, j int) { r.Skipped[i], r.Skipped[j] = r.Skipped[j], r.Skipped[i] })
		if got := render(r); !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d renders differently: %s", i, firstDiff(want, got))
		}
	}
	// Finalize is idempotent.
	r := sampleReport()
	once := render(r)
	if twice := render(r); !bytes.Equal(once, twice) {
		t.Errorf("second Finalize changed the report: %s", firstDiff(once, twice))
	}
}

func TestFinalizeCounts(t *testing.T) {
	r := sampleReport()
	r.Stats.FilesSkipped = 0 // the scanner forgot to count
	Finalize(r)
	if r.Stats.FilesSkipped != int64(len(r.Skipped)) {
		t.Errorf("FilesSkipped %d, want at least the %d listed", r.Stats.FilesSkipped, len(r.Skipped))
	}
	if len(r.Errors) != 2 {
		t.Errorf("%d errors, want the duplicate dropped", len(r.Errors))
	}
}

func TestFinalizeFoldsNameOnlySweepHits(t *testing.T) {
	ev := Evidence{Volume: "d@1", Path: "/etc/httpd2"}
	check := Finding{Rule: "marker.path", Check: "markers", Severity: Critical, Evidence: ev}
	nameHit := Finding{Rule: "ioc.filename", Check: "sweep", Severity: High, Evidence: ev, Matches: []RuleMatch{{Rule: "ioc.filename"}}}
	yaraHit := Finding{Rule: "yara.X", Check: "sweep", Severity: High, Evidence: ev, Matches: []RuleMatch{{Rule: "SNAP_X"}}}
	worse := Finding{Rule: "ioc.filename", Check: "sweep", Severity: Critical, Evidence: Evidence{Volume: "d@1", Path: "/tmp/k"}, Matches: []RuleMatch{{Rule: "ioc.filename"}}}
	milder := Finding{Rule: "cron.exec-tmp", Check: "cron", Severity: High, Evidence: Evidence{Volume: "d@1", Path: "/tmp/k"}}
	r := &Report{Findings: []Finding{nameHit, check, yaraHit, worse, milder}}
	Finalize(r)
	if len(r.Findings) != 4 {
		t.Fatalf("%d findings, want 4 (the name-only hit folded into the marker): %+v", len(r.Findings), r.Findings)
	}
	for _, f := range r.Findings {
		if f.Rule == "marker.path" && (len(f.Matches) != 1 || f.Matches[0].Rule != "ioc.filename") {
			t.Errorf("marker finding did not take the name match: %+v", f.Matches)
		}
		if f.Evidence.Path == "/tmp/k" && f.Rule == "ioc.filename" && f.Severity != Critical {
			t.Errorf("critical name hit lowered")
		}
	}
}
