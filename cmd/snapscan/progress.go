package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/snapscan/snapscan/scanner/sweep"
)

// progress is the one status line a scan shows on a terminal (standard
// error): images done of the total in a batch, the phase, the image and
// volume, files and bytes done of what the walk has found, and an ETA once
// the walk has finished. The line never wraps (it is cut to the terminal's
// width), so "\r" and erase-line always take it back, and finish erases
// it before the report is written. A nil *progress does nothing.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	width  func() int
	now    func() time.Time
	every  time.Duration
	images int
	done   int
	// active images (by path) and the volume each is sweeping
	active map[string]*imageProgress
	order  []string // active images, most recently updated last
	last   time.Time
	shown  bool
	closed bool
}

type imageProgress struct {
	volume  string
	p       sweep.Progress
	started time.Time // of this volume's sweep
}

// progressInterval bounds how often the line is redrawn.
const progressInterval = 150 * time.Millisecond

// newProgress returns the status line for a run of images scans, or nil
// when standard error is not a terminal or the user asked for none.
func newProgress(images int, disabled bool) *progress {
	fd := int(os.Stderr.Fd())
	if disabled || !term.IsTerminal(fd) {
		return nil
	}
	return newProgressTo(os.Stderr, images, func() int { return terminalWidth(fd) })
}

func newProgressTo(w io.Writer, images int, width func() int) *progress {
	return &progress{w: w, width: width, now: time.Now, every: progressInterval, images: images, active: map[string]*imageProgress{}}
}

// image marks the scan of one image as started; the function it returns
// marks it done.
func (p *progress) image(path string) func() {
	if p == nil {
		return func() {}
	}
	p.mu.Lock()
	p.active[path] = &imageProgress{}
	p.touch(path)
	p.draw(true)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.active, path)
		p.order = remove(p.order, path)
		p.done++
		p.draw(true)
	}
}

// sweep returns the sweep.Options.Progress callback for one volume. The
// volume's name starts with its image's base name (disk.img@2).
func (p *progress) sweep(volume string) func(sweep.Progress) {
	if p == nil {
		return nil
	}
	return func(sp sweep.Progress) {
		p.mu.Lock()
		defer p.mu.Unlock()
		path := volume
		for a := range p.active {
			if b := filepath.Base(a); volume == b || strings.HasPrefix(volume, b+"@") {
				path = a
			}
		}
		ip := p.active[path]
		if ip == nil {
			ip = &imageProgress{}
			p.active[path] = ip
		}
		if ip.volume != volume {
			ip.volume, ip.started = volume, p.now()
		}
		ip.p = sp
		p.touch(path)
		p.draw(false)
	}
}

// finish erases the line for good: the report follows on a clean screen.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
	p.closed = true
}

func (p *progress) touch(path string) {
	p.order = append(remove(p.order, path), path)
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func (p *progress) draw(force bool) {
	if p.closed {
		return
	}
	now := p.now()
	if !force && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	line := p.line(now)
	if w := p.width(); w > 1 {
		line = cutToWidth(line, w-1) // never the last column: some terminals wrap there
	}
	fmt.Fprint(p.w, "\r"+line+"\x1b[K")
	p.shown = true
}

// line is the status text.
func (p *progress) line(now time.Time) string {
	var parts []string
	if p.images > 1 {
		parts = append(parts, fmt.Sprintf("[%d/%d images]", p.done, p.images))
	}
	if len(p.order) == 0 {
		return strings.Join(append(parts, "writing the report"), " ")
	}
	path := p.order[len(p.order)-1]
	ip := p.active[path]
	if ip.volume == "" {
		parts = append(parts, "checks: "+filepath.Base(path))
	} else {
		sp := ip.p
		files := fmt.Sprintf("%d/%d", sp.FilesDone, sp.FilesSeen)
		bytes := fmt.Sprintf("%s/%s", humanBytes(sp.BytesDone), humanBytes(sp.BytesSeen))
		if !sp.WalkDone {
			files += "+"
			bytes += "+"
		}
		parts = append(parts, "sweep: "+ip.volume, files+" files", bytes, "ETA "+eta(sp, now.Sub(ip.started)))
	}
	if n := len(p.order) - 1; n > 0 {
		parts = append(parts, fmt.Sprintf("(+%d more)", n))
	}
	return strings.Join(parts, "  ")
}

// eta is the time left at the rate so far, once the walk knows the total.
func eta(sp sweep.Progress, elapsed time.Duration) string {
	if !sp.WalkDone || sp.BytesDone <= 0 || elapsed <= 0 {
		return "--:--"
	}
	left := time.Duration(float64(elapsed) * float64(sp.BytesSeen-sp.BytesDone) / float64(sp.BytesDone))
	s := int(left.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// cutToWidth keeps the first w runes (the line is ASCII but for names from
// the image, which humanBytes and filepath.Base leave as they are).
func cutToWidth(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	return string(r[:w])
}

// terminalWidth is COLUMNS when set, else the terminal's width, else 0.
func terminalWidth(fd int) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if w, _, err := term.GetSize(fd); err == nil && w > 0 {
		return w
	}
	return 0
}

// tableOptions says how the table fits where it is written: COLUMNS, else
// the terminal's width when w is one (else the writer's default); colour
// only on a terminal, and never with NO_COLOR set (no-color.org) or
// TERM=dumb.
func tableOptions(w io.Writer) (width int, color bool) {
	if t, isOut := w.(interface{ Terminal() *os.File }); isOut {
		if tf := t.Terminal(); tf != nil {
			w = tf
		}
	}
	f, ok := w.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		width = n
	} else if tty {
		width = terminalWidth(int(f.Fd()))
	}
	color = tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return width, color
}
