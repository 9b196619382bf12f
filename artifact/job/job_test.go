package job

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func external(t testing.TB, rel string) []byte {
	_, err := os.Stat("../../../shared/external")
	if err != nil {
		t.Skipf("../shared/external not present: %v", err)
	}
	b, err := os.ReadFile(filepath.Join("../../../shared/external", rel))
	if err != nil {
		t.Skipf("%s: %v", rel, err)
	}
	return b
}

// TestRealJobs decodes real .job files: plaso's wintask.job (a Google Update
// task; expected values from plaso's own winjob parser test) and artemis's
// At1.job (made by NetScheduleJobAdd on Windows 10).
func TestRealJobs(t *testing.T) {
	cases := []struct {
		file, app, params, author, comment string
		lastRun                            string
		triggers                           string
	}{
		{"hives/plaso/wintask.job", `C:\Program Files (x86)\Google\Update\GoogleUpdate.exe`, "/ua /installsource scheduler", "Brian",
			"Keeps your Google software up to date.", "2013-08-24T12:42:00.112Z", "daily"},
		{"tasks/artemis/win10/At1.job", "cmd.exe", "", `WORKGROUP\DESKTOP-EIS938N$`, "Created by NetScheduleJobAdd.", "", "once"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			j, err := Parse(external(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if j.Application != c.app || j.Parameters != c.params || j.Author != c.author || !strings.HasPrefix(j.Comment, c.comment) {
				t.Errorf("got %q %q %q %q", j.Application, j.Parameters, j.Author, j.Comment)
			}
			lr := ""
			if !j.LastRun.IsZero() {
				lr = j.LastRun.Format("2006-01-02T15:04:05.000Z")
			}
			var trig []string
			for _, tr := range j.Triggers {
				trig = append(trig, tr.Type)
			}
			if lr != c.lastRun || strings.Join(trig, ",") != c.triggers {
				t.Errorf("last run %q triggers %v", lr, trig)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	j := &Job{ProductVersion: 0x0a00, FileVersion: 1, Flags: FlagHidden, Application: `C:\ProgramData\x\x.exe`, Parameters: "-o pool:3333",
		Author: "SYSTEM", LastRun: time.Date(2024, 5, 6, 7, 8, 9, 10e6, time.UTC),
		Triggers: []Trigger{{Type: "boot"}, {Type: "daily", Begin: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Hour: 3, Min: 4}}}
	got, err := Parse(Encode(j))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, j) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, j)
	}
	if !got.Hidden() || got.Disabled() || got.CommandLine() != `C:\ProgramData\x\x.exe -o pool:3333` {
		t.Errorf("flags/command: %v %v %q", got.Hidden(), got.Disabled(), got.CommandLine())
	}
}

func TestBadJobs(t *testing.T) {
	good := Encode(&Job{Application: "cmd.exe", Triggers: []Trigger{{Type: "logon"}}})
	v2 := append([]byte(nil), good...)
	v2[2] = 2
	long := append([]byte(nil), good...)
	long[fixedSize+2] = 0xff // application name longer than the file
	cases := map[string][]byte{"empty": nil, "short": good[:40], "version": v2, "name past end": long, "trigger cut": good[:len(good)-10]}
	for name, b := range cases {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
