package windows

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Profiles reports the PowerShell profiles of the machine and of every user
// (shell-profiles.txt): each runs at the start of every PowerShell session.
// Every line is judged like an autostart command and the whole script for
// content markers (miners, pools, download cradles).
type Profiles struct{}

func (Profiles) Name() string { return "profiles" }
func (Profiles) OS() string   { return "windows" }

// maxProfileSize bounds one profile read; larger ones are judged on their
// first megabyte and said so.
const maxProfileSize = 1 << 20

func (c Profiles) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	for _, pattern := range r.evasion.profiles {
		for _, p := range expandFold(t.FS, pattern) {
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			c.profile(r, t, out, p)
		}
	}
	return nil
}

func (c Profiles) profile(r *rules, t *check.Target, out check.Sink, p string) {
	f, err := check.ReadFileMax(t, p, maxProfileSize)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	user := userOfPath(p)
	text := string(bytes.TrimPrefix(f.Data, []byte("\xef\xbb\xbf")))
	var hits []hit
	var shown []string
	e := entry{Place: "profile", Kind: "shell-profile", Name: path.Base(p), User: user, Ev: f.Evidence, Target: "/" + p, MatchPerHit: true,
		Fields: map[string]string{"scope": map[bool]string{true: "user", false: "machine"}[user != ""]}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan() && n <= maxScriptLines; n++ {
		ln := strings.TrimSpace(sc.Text())
		if ln == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		shown = append(shown, ln)
		// A line that starts a program: "& prog args", "Start-Process prog".
		cmd := strings.TrimSpace(strings.TrimPrefix(ln, "&"))
		for _, pre := range []string{"start-process ", "saps ", "start "} {
			if strings.HasPrefix(strings.ToLower(cmd), pre) {
				cmd = strings.TrimSpace(cmd[len(pre):])
			}
		}
		for _, h := range r.judge(cmd, user, logonPlace) {
			if e.Ev.Line == 0 && h.Severity >= report.Medium {
				e.Ev.Line = n
			}
			if h.Text == "" {
				h.Text = ln
			}
			hits = append(hits, h)
		}
	}
	e.Command = clip(strings.Join(shown, "; "), 1024)
	if e.Command == "" {
		e.Command = "(empty)"
	}
	e.Says = fmt.Sprintf("PowerShell profile /%s runs at the start of every session: %s", p, clip(e.Command, 512))
	emit(r, c.Name(), out, e, dedupe(hits))
}
