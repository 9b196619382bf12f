package windows

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
)

const taskXML = `<?xml version="1.0" encoding="%s"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><Author>Ünïcødé Corp</Author><URI>\Ünïcødé</URI></RegistrationInfo>
  <Triggers><BootTrigger><Enabled>true</Enabled></BootTrigger><LogonTrigger><UserId>PC\bob</UserId><Enabled>false</Enabled></LogonTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>PC\bob</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>
  <Settings><Hidden>true</Hidden><Enabled>false</Enabled></Settings>
  <Actions Context="Author">
    <Exec><Command>C:\Program Files\A B\a.exe</Command><Arguments>-x "y z"</Arguments></Exec>
    <ComHandler><ClassId>{01234567-89AB-CDEF-0123-456789ABCDEF}</ClassId></ComHandler>
    <Exec><Command>cmd.exe</Command></Exec>
  </Actions>
</Task>`

func encodeTask(t testing.TB, enc string) []byte {
	label := map[string]string{"utf-16le-bom": "UTF-16", "utf-16be-bom": "UTF-16", "utf-16le": "UTF-16", "utf-8-bom": "UTF-8", "utf-8": "UTF-8"}[enc]
	text := strings.Replace(taskXML, "%s", label, 1)
	var e *encoding.Encoder
	switch enc {
	case "utf-16le-bom":
		e = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	case "utf-16be-bom":
		e = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder()
	case "utf-16le":
		e = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder()
	case "utf-8-bom":
		return append([]byte{0xef, 0xbb, 0xbf}, text...)
	default:
		return []byte(text)
	}
	b, err := e.Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTaskEncodings(t *testing.T) {
	for _, enc := range []string{"utf-16le-bom", "utf-16be-bom", "utf-16le", "utf-8-bom", "utf-8"} {
		t.Run(enc, func(t *testing.T) {
			task, err := ParseTask(encodeTask(t, enc))
			if err != nil {
				t.Fatal(err)
			}
			if task.Author != "Ünïcødé Corp" || task.URI != `\Ünïcødé` || !task.Hidden || task.Enabled {
				t.Errorf("registration/settings: %+v", task)
			}
			if len(task.Triggers) != 2 || task.Triggers[0].Type != "BootTrigger" || task.Triggers[1].Type != "LogonTrigger" || task.Triggers[1].Enabled || task.Triggers[1].UserID != `PC\bob` {
				t.Errorf("triggers: %+v", task.Triggers)
			}
			p, ok := task.RunAs()
			if !ok || p.UserID != `PC\bob` || p.RunLevel != "HighestAvailable" {
				t.Errorf("principal: %+v", p)
			}
			if len(task.Execs) != 2 || task.Execs[0].CommandLine() != `"C:\Program Files\A B\a.exe" -x "y z"` || task.Execs[1].CommandLine() != "cmd.exe" {
				t.Errorf("execs: %+v", task.Execs)
			}
			if len(task.ComHandlers) != 1 {
				t.Errorf("com handlers: %v", task.ComHandlers)
			}
		})
	}
}

func TestParseTaskErrors(t *testing.T) {
	cases := map[string][]byte{
		"empty":            nil,
		"truncated":        encodeTask(t, "utf-16le-bom")[:300],
		"not xml":          []byte("MZ\x90\x00 this is a PE file"),
		"other root":       []byte(`<?xml version="1.0"?><Job><Exec/></Job>`),
		"foreign encoding": []byte(`<?xml version="1.0" encoding="EBCDIC-US"?><Task/>`),
		"legacy job":       readOrNil("tasks/artemis/win10/At1.job"),
	}
	for name, data := range cases {
		if data == nil && name == "legacy job" {
			continue
		}
		if _, err := ParseTask(data); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func readOrNil(rel string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "external", rel))
	if err != nil {
		return nil
	}
	return b
}

// TestExternalTasks runs the tasks check over 205 real task files from
// Windows 10 and Server 2022. The malicious ones (APT simulator: mimikatz
// from C:\TMP, a hidden PowerShell) are found; no Microsoft task, nor
// Google's, Edge's, OneDrive's or Visual Studio's updaters, is medium+.
func TestExternalTasks(t *testing.T) {
	src := external(t, "tasks")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Windows/System32"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", src, filepath.Join(dir, "Windows/System32/Tasks")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	s := newSink()
	if err := (Tasks{}).Run(context.Background(), targetFor(t, dir), s); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"DFIRArtifactMuseum/Server2022/APTSimulatorVM/GameOver":      {"task.credential-dumping", "task.odd-place"},
		"DFIRArtifactMuseum/Win10/APTSimulatorVM/GameOver":           {"task.credential-dumping", "task.odd-place"},
		"DFIRArtifactMuseum/Server2022/APTSimulatorVM/falshupdate22": {"task.powershell-hidden"},
	}
	got := map[string][]string{}
	for _, f := range s.sorted() {
		if f.Severity < report.Medium {
			continue
		}
		rel := strings.TrimPrefix(f.Evidence.Path, "/Windows/System32/Tasks/")
		got[rel] = append(got[rel], f.Rule)
		if f.Evidence.Key != "Actions/Exec[1]" || f.Evidence.SHA256 == "" || f.Technique == "" {
			t.Errorf("%s: evidence %+v technique %q", rel, f.Evidence, f.Technique)
		}
	}
	for task, rules := range want {
		if strings.Join(got[task], ",") != strings.Join(rules, ",") {
			t.Errorf("%s: medium+ rules %v, want %v", task, got[task], rules)
		}
	}
	for task := range got {
		if _, ok := want[task]; !ok {
			t.Errorf("benign task %s has medium+ findings %v", task, got[task])
		}
	}
	execs, com := 0, 0
	for _, i := range s.inventory {
		if strings.HasPrefix(i.Fields["key"], "Actions/Exec") {
			execs++
		} else if i.Fields["key"] != "Job/Application" {
			com++
		}
	}
	// LISTING.txt (made with a regex by the data's curators) gives one line
	// per task file with its Exec or ComHandler action.
	listing, err := os.ReadFile(filepath.Join(src, "LISTING.txt"))
	if err != nil {
		t.Fatal(err)
	}
	wantExec, wantCom := strings.Count(string(listing), "\tExec: "), strings.Count(string(listing), "\tComHandler ")
	if execs != wantExec || com != wantCom || wantExec < 90 {
		t.Errorf("inventory: %d Exec, %d ComHandler actions; LISTING.txt has %d and %d", execs, com, wantExec, wantCom)
	}
	// The legacy .job file among them is parsed and judged, not an error.
	if errs := s.errors["/Windows/System32/Tasks/artemis/win10/At1.job"]; len(errs) != 0 {
		t.Errorf("At1.job: %v", errs)
	}
	job := false
	for _, i := range s.inventory {
		if i.Path == "/Windows/System32/Tasks/artemis/win10/At1.job" {
			job = i.Fields["key"] == "Job/Application" && i.Fields["program"] == "cmd.exe" && i.Fields["triggers"] == "once" && i.Fields["verdict"] == "ok"
		}
	}
	if !job {
		t.Errorf("legacy At1.job not in the inventory as a judged task")
	}
}

// TestMalformedTaskKeepsGoing: one broken task file is one error; the task
// next to it is still judged.
func TestMalformedTaskKeepsGoing(t *testing.T) {
	dir := tree(t, map[string][]byte{
		"Windows/System32/Tasks/Broken": encodeTask(t, "utf-16le-bom")[:200],
		"Windows/System32/Tasks/Evil":   []byte(`<Task><Actions><Exec><Command>C:\Users\Public\xmrig.exe</Command></Exec></Actions></Task>`),
		"Windows/System32/Tasks/Big":    make([]byte, maxTaskSize+1),
	})
	s := newSink()
	if err := (Tasks{}).Run(context.Background(), targetFor(t, dir), s); err != nil {
		t.Fatal(err)
	}
	if len(s.errors["/Windows/System32/Tasks/Broken"]) != 1 || len(s.errors["/Windows/System32/Tasks/Big"]) != 1 {
		t.Errorf("errors: %v", s.errors)
	}
	miner := false
	for _, f := range s.findings {
		miner = miner || (f.Rule == "task.miner" && f.Evidence.Path == "/Windows/System32/Tasks/Evil")
	}
	if !miner {
		t.Errorf("task next to the broken one not judged: %+v", s.findings)
	}
}
