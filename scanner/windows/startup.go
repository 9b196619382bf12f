package windows

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Startup reports every file in the machine and per-user Startup folders and
// judges what it runs at logon.
type Startup struct{}

func (Startup) Name() string { return "startup" }
func (Startup) OS() string   { return "windows" }

// maxScriptLines bounds how many lines of one startup script are judged.
const maxScriptLines = 4096

func (c Startup) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	patterns := append(append([]string(nil), r.startupDirs...), relocatedStartup(r, t, out)...)
	seen := map[string]bool{}
	for _, pattern := range patterns {
		for _, dir := range expandFold(t.FS, pattern) {
			if seen[strings.ToLower(dir)] {
				continue
			}
			seen[strings.ToLower(dir)] = true
			ents, err := fs.ReadDir(t.FS, dir)
			if err != nil {
				out.Error("/"+dir, fmt.Errorf("%s: %w", t.Volume, err))
				continue
			}
			user := userOfPath(dir)
			for _, e := range ents {
				if check.Deadline(ctx) {
					return ctx.Err()
				}
				if e.IsDir() {
					continue
				}
				c.item(r, t, out, path.Join(dir, e.Name()), user)
			}
		}
	}
	return nil
}

// userOfPath is the profile name in "Users/<name>/...", "" otherwise.
func userOfPath(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) > 2 && strings.EqualFold(parts[0], "Users") {
		return parts[1]
	}
	return ""
}

func (c Startup) item(r *rules, t *check.Target, out check.Sink, p, user string) {
	f, err := check.ReadFile(t, p)
	if err != nil && f == nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	} else if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
	}
	name := path.Base(p)
	ext := strings.ToLower(path.Ext(name))
	st, known := r.startupExt[ext]
	e := entry{Place: "startup", Kind: "startup", Name: name, User: user, Ev: f.Evidence, Command: name,
		Target: "/" + p, Fields: map[string]string{"type": strings.TrimPrefix(ext, ".")}}
	if !known || st.how == "ignore" {
		emit(r, c.Name(), out, e, nil)
		return
	}
	var hits []hit
	if !st.sev.none {
		hits = append(hits, hit{Rule: st.rule, Title: st.title, Severity: st.sev.Severity, Technique: st.technique, Match: name})
	}
	winPath := `C:\` + strings.ReplaceAll(p, "/", `\`)
	switch st.how {
	case "lnk":
		l, err := parseLnk(f.Data)
		if err != nil {
			out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
			break
		}
		line := l.Target
		if strings.ContainsRune(line, ' ') {
			line = `"` + line + `"`
		}
		if l.Arguments != "" {
			line += " " + l.Arguments
		}
		e.Command, e.Target = line, l.Target
		e.Fields["working_directory"] = l.WorkDir
		if strings.TrimSpace(line) != "" {
			hits = append(hits, r.judge(line, user, logonPlace)...)
		}
	case "script":
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(f.Data))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan() && n <= maxScriptLines; n++ {
			ln := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "@"))
			low := strings.ToLower(ln)
			if ln == "" || strings.HasPrefix(low, "rem ") || low == "rem" || strings.HasPrefix(ln, "::") || strings.HasPrefix(low, "echo off") || strings.HasPrefix(low, "exit") {
				continue
			}
			lines = append(lines, ln)
			for _, h := range r.judge(ln, user, logonPlace) {
				if e.Ev.Line == 0 && h.Severity >= report.Medium {
					e.Ev.Line = n
				}
				hits = append(hits, h)
			}
		}
		e.Command = clip(strings.Join(lines, " & "), 1024)
		e.MatchPerHit = true
	case "wsh", "hta", "ps":
		host := map[string]string{"wsh": "wscript.exe", "hta": "mshta.exe", "ps": "powershell.exe -File"}[st.how]
		line := host + ` "` + winPath + `"`
		e.Command = line
		hits = append(hits, r.judge(line, user, logonPlace)...)
		hits = append(hits, r.judgeText(string(f.Data))...)
	case "binary":
		hits = append(hits, r.judgeText(name)...)
	}
	emit(r, c.Name(), out, e, dedupe(hits))
}

// relocatedStartup returns the Startup folders the registry moved elsewhere
// on the system drive (User Shell Folders "Common Startup" machine-wide and
// "Startup" per user): what lies there runs at logon just the same. The
// move itself is judged by the loadpoints check.
func relocatedStartup(r *rules, t *check.Target, out check.Sink) []string {
	var dirs []string
	add := func(h *hive, key, value, user string) {
		k, err := h.open(key)
		if err != nil || k == nil {
			return
		}
		v, ok, _ := k.Value(value)
		if !ok || !isText(v) || v.Text() == "" {
			return
		}
		n := normPath(r.expand(v.Text(), user))
		if strings.HasPrefix(n, "/") && !strings.HasPrefix(n, "//") && !strings.Contains(n, "*") {
			dirs = append(dirs, strings.TrimPrefix(n, "/"))
		}
	}
	if h := openFor(t, out, softwareHive); h != nil {
		add(h, `Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders`, "Common Startup", "")
	}
	for _, u := range userHives(t) {
		if h := openFor(t, out, u.path); h != nil {
			add(h, `Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders`, "Startup", u.user)
		}
	}
	return dirs
}
