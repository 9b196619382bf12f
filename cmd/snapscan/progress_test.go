package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/snapscan/snapscan/scanner/sweep"
)

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	cols := 200
	p := newProgressTo(&buf, 2, func() int { return cols })
	p.now = func() time.Time { return clock }
	last := func() string {
		draws := strings.Split(buf.String(), "\r")
		return strings.TrimSuffix(draws[len(draws)-1], "\x1b[K")
	}

	done := p.image("/images/web-01.img")
	if got := last(); got != "[0/2 images]  checks: web-01.img" {
		t.Errorf("start: %q", got)
	}
	cb := p.sweep("web-01.img@2")
	clock = clock.Add(time.Second)
	cb(sweep.Progress{FilesDone: 3, FilesSeen: 10, BytesDone: 1 << 20, BytesSeen: 4 << 20})
	if got := last(); !strings.Contains(got, "sweep: web-01.img@2") || !strings.Contains(got, "3/10+ files") || !strings.Contains(got, "1.0 MiB/4.0 MiB+") || !strings.Contains(got, "ETA --:--") {
		t.Errorf("walking: %q", got)
	}
	// Updates closer than the interval are not drawn.
	n := strings.Count(buf.String(), "\r")
	cb(sweep.Progress{FilesDone: 4, FilesSeen: 10, BytesDone: 1 << 20, BytesSeen: 4 << 20})
	if strings.Count(buf.String(), "\r") != n {
		t.Error("redrawn within the interval")
	}
	// The walk is done: 1 MiB took 2 s, 3 MiB are left.
	clock = clock.Add(2 * time.Second)
	cb(sweep.Progress{FilesDone: 5, FilesSeen: 10, BytesDone: 1 << 20, BytesSeen: 4 << 20, WalkDone: true})
	if got := last(); !strings.Contains(got, "5/10 files") || !strings.Contains(got, "ETA 0:06") {
		t.Errorf("walk done: %q", got)
	}
	done()
	if got := last(); !strings.HasPrefix(got, "[1/2 images]") {
		t.Errorf("after one image: %q", got)
	}
	// A long name is cut: the line never reaches the last column.
	cols = 72
	buf.Reset()
	p.image("/images/" + strings.Repeat("very-long-image-name-", 10) + ".img")
	if buf.Len() == 0 {
		t.Fatal("not drawn")
	}
	for _, d := range strings.Split(buf.String(), "\r") {
		if w := utf8.RuneCountInString(strings.TrimSuffix(d, "\x1b[K")); w > 71 {
			t.Errorf("a draw is %d wide on a 72-column terminal: %q", w, d)
		}
	}
	p.finish()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("finish does not erase the line: %q", buf.String()[buf.Len()-20:])
	}
	n = buf.Len()
	cb(sweep.Progress{FilesDone: 9, FilesSeen: 10, WalkDone: true})
	p.image("late")()
	if buf.Len() != n {
		t.Error("drawn after finish")
	}
	var nilp *progress // no terminal: every method is a no-op
	nilp.image("x")()
	nilp.finish()
	if nilp.sweep("x") != nil {
		t.Error("nil progress gives a callback")
	}
}

// The real terminal, through tmux: the table fits 80 and 200 columns,
// severities are coloured on the terminal and not through a pipe or with
// NO_COLOR, and nothing of the progress line is left above the report.
func TestTerminalOutputInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	bin := filepath.Join(t.TempDir(), "snapscan")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	image := img(t, "linux-infected.img")
	sgr := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, tc := range []struct {
		name  string
		width int
		cmd   string
		color bool
	}{
		{"80 columns", 80, bin + " scan " + image, true},
		{"200 columns", 200, bin + " scan " + image, true},
		{"piped", 120, bin + " scan " + image + " | cat", false},
		{"NO_COLOR", 120, "NO_COLOR=1 " + bin + " scan " + image, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sock, conf := filepath.Join(dir, "tmux.sock"), filepath.Join(dir, "tmux.conf")
			// The whole report stays in the scrollback to be read back.
			if err := os.WriteFile(conf, []byte("set -g history-limit 100000\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			tmux := func(args ...string) string {
				out, err := exec.Command("tmux", append([]string{"-S", sock, "-f", conf}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("tmux %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			marker := filepath.Join(t.TempDir(), "done")
			script := "unset COLUMNS; export TERM=xterm-256color; clear; " + tc.cmd + "; touch " + marker + "; sleep 60"
			tmux("new-session", "-d", "-x", itoa(tc.width), "-y", "50", "sh", "-c", script)
			defer exec.Command("tmux", "-S", sock, "kill-server").Run()
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("scan did not finish in 60 s")
				}
				time.Sleep(100 * time.Millisecond)
			}
			screen := tmux("capture-pane", "-p", "-e", "-J", "-S", "-", "-E", "-")
			plain := sgr.ReplaceAllString(screen, "")
			lines := strings.Split(strings.TrimRight(plain, "\n"), "\n")
			first := ""
			for _, l := range lines {
				if strings.TrimSpace(l) != "" {
					first = l
					break
				}
			}
			if !strings.HasPrefix(first, "snapscan ") {
				t.Errorf("first line on the screen %q: the report must start it, with no progress left over", first)
			}
			if strings.Contains(plain, "sweep: ") || strings.Contains(plain, "checks: ") {
				t.Error("progress text left on the screen")
			}
			for _, l := range lines {
				if w := utf8.RuneCountInString(strings.TrimRight(l, " ")); w > tc.width {
					t.Errorf("line of %d columns on a %d-column terminal: %q", w, tc.width, l)
				}
			}
			if widest := maxWidth(lines); tc.width == 200 && widest <= 100 {
				t.Errorf("on 200 columns the widest line is %d: the table does not use the terminal's width", widest)
			}
			colored := strings.Contains(screen, "CRITICAL") && sgr.MatchString(screen)
			if colored != tc.color {
				t.Errorf("coloured %v, want %v", colored, tc.color)
			}
		})
	}
}

func maxWidth(lines []string) int {
	w := 0
	for _, l := range lines {
		w = max(w, utf8.RuneCountInString(strings.TrimRight(l, " ")))
	}
	return w
}

func itoa(n int) string { return strconv.Itoa(n) }
