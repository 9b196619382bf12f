// Package evidence copies the files behind findings out of an image
// (--evidence DIR) with a manifest an examiner can hand on: where each file
// was, its metadata, and hashes recomputed from the copied bytes and
// compared with the ones in the report.
//
// Names from the image never become names on the host. Copies are stored
// by content, DIR/files/<sha256>, and the manifest maps volume and path to
// them: a file called "../../etc/passwd", "CON", "a\x00b" or 4 KiB of
// invalid UTF-8 in the image cannot escape DIR, collide with another on a
// case-insensitive host, or overwrite anything. Copies are read-only
// (0444), DIR is created 0700 and nothing in it is ever overwritten. The
// image is only read.
package evidence

import (
	"cmp"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/safewrite"
	"github.com/snapscan/snapscan/report"
)

// FilesDir is the folder under DIR holding the copies, by SHA-256.
const FilesDir = "files"

// OpenFunc opens a file of the image: volume as named in the report's
// evidence, path absolute inside that volume's filesystem.
type OpenFunc func(volume, path string) (fs.File, error)

// Manifest describes one capture: one image, one report.
type Manifest struct {
	Tool        string    `json:"tool"`
	Version     string    `json:"version"`
	Captured    time.Time `json:"captured"`
	Image       string    `json:"image"`
	ImageSHA256 string    `json:"image_sha256,omitempty"`
	// ImageHashError says why the image could not be hashed.
	ImageHashError string    `json:"image_hash_error,omitempty"`
	ScanStarted    time.Time `json:"scan_started"`
	Entries        []Entry   `json:"entries"`
	// Path is where the manifest was written (not part of the JSON).
	Path string `json:"-"`
}

// Entry is one file behind one or more findings.
type Entry struct {
	// Volume and Path are as the findings name them.
	Volume string `json:"volume"`
	Path   string `json:"path"`
	// PathQuoted is Path as a Go-quoted string when it is not valid UTF-8,
	// which JSON cannot carry exactly.
	PathQuoted string `json:"path_quoted,omitempty"`
	// ReadVolume and ReadPath are where the bytes were read, when that
	// differs: a check reports /home/bob/x on the root volume through the
	// mounted tree, and the file lives on the /home volume.
	ReadVolume string   `json:"read_volume,omitempty"`
	ReadPath   string   `json:"read_path,omitempty"`
	FindingIDs []string `json:"finding_ids"`

	Inode uint64     `json:"inode,omitempty"`
	UID   *uint32    `json:"uid,omitempty"`
	GID   *uint32    `json:"gid,omitempty"`
	Mode  string     `json:"mode,omitempty"`
	Flags []string   `json:"flags,omitempty"`
	Size  int64      `json:"size"`
	Mtime *time.Time `json:"mtime,omitempty"`
	Atime *time.Time `json:"atime,omitempty"`
	Ctime *time.Time `json:"ctime,omitempty"`
	Btime *time.Time `json:"btime,omitempty"`

	// MD5 and SHA256 are computed from the copied bytes.
	MD5    string `json:"md5,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// ReportedSHA256 is what the report says; HashCheck is "match",
	// "mismatch" (the file changed, or the scan read it differently) or
	// "not in report".
	ReportedSHA256 string `json:"reported_sha256,omitempty"`
	HashCheck      string `json:"hash_check,omitempty"`
	// File is the copy, relative to DIR: files/<sha256>.
	File string `json:"file,omitempty"`
	// Error says why the file was not captured.
	Error string `json:"error,omitempty"`
}

// Capture copies every regular file that a finding of r points at into
// DIR/files and writes a manifest DIR/manifest-<image>-<time>.json. It
// returns the manifest; a file that cannot be read is an entry with Error,
// not a failure. Only problems on the host side (DIR not writable) are
// errors. A report without findings writes nothing. now is the capture
// time, version the tool version.

// MaxCopySize caps one evidence copy (--evidence-max-size).
var MaxCopySize int64 = 4 << 30

var errTooLarge = errors.New("evidence file too large")

func Capture(dir string, r *report.Report, open OpenFunc, now time.Time, version string) (*Manifest, error) {
	m := &Manifest{Tool: "snapscan", Version: version, Captured: now.UTC(), Image: r.Image,
		ScanStarted: r.Started, Entries: []Entry{}}
	groups := group(r)
	if len(groups) == 0 {
		return m, nil
	}
	files := filepath.Join(dir, FilesDir)
	if err := os.MkdirAll(files, 0o700); err != nil {
		return nil, fmt.Errorf("evidence directory: %w", err)
	}
	m.ImageSHA256 = r.ImageSHA256
	if m.ImageSHA256 == "" {
		if sum, err := ImageSHA256(r.Image); err != nil {
			m.ImageHashError = err.Error()
		} else {
			m.ImageSHA256 = sum
		}
	}
	for _, g := range groups {
		e, err := captureGroup(files, r, g, open)
		if err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, e)
	}
	p, err := writeManifest(dir, m)
	if err != nil {
		return nil, err
	}
	m.Path = p
	return m, nil
}

type fileGroup struct {
	volume, path string
	ids          []string
	reportedSHA  string
	sweepOnly    bool
}

// group collects the findings by file: one copy per file, however many
// findings point at it.
func group(r *report.Report) []*fileGroup {
	byKey := map[[2]string]*fileGroup{}
	var out []*fileGroup
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Evidence.Path == "" || f.Evidence.Volume == "" {
			continue
		}
		k := [2]string{f.Evidence.Volume, f.Evidence.Path}
		g := byKey[k]
		if g == nil {
			g = &fileGroup{volume: k[0], path: k[1], sweepOnly: true}
			byKey[k] = g
			out = append(out, g)
		}
		id := f.ID
		if id == "" {
			id = report.FindingID(f)
		}
		g.ids = append(g.ids, id)
		if g.reportedSHA == "" {
			g.reportedSHA = f.Evidence.SHA256
		}
		// "sweep" is scanner/sweep.CheckName; importing it would link YARA.
		if f.Check != "sweep" {
			g.sweepOnly = false
		}
	}
	for _, g := range out {
		slices.Sort(g.ids)
		g.ids = slices.Compact(g.ids)
	}
	slices.SortFunc(out, func(a, b *fileGroup) int {
		return cmp.Or(cmp.Compare(a.volume, b.volume), cmp.Compare(a.path, b.path))
	})
	return out
}

type location struct{ volume, path string }

// candidates lists where a finding's file may be read, most likely first.
// Checks see a Linux root with its fstab mounts composed, and name the
// root's volume with the path in that tree; the content sweep names the
// volume it walked with the path where the volume is mounted. So: the
// path through the root's mounts, the path as given, the path with the
// volume's own mount point stripped. The sweep's order puts "as given"
// first: on the root volume it saw the root's own (possibly shadowed) file.
func candidates(r *report.Report, g *fileGroup) []location {
	var composed, own []location
	for _, t := range r.Targets {
		mps := make([]string, 0, len(t.Mounts))
		for mp := range t.Mounts {
			mps = append(mps, mp)
		}
		// Longest mount point first: /home/bob/data before /home.
		slices.SortFunc(mps, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b)) })
		for _, mp := range mps {
			rel, ok := under(g.path, mp)
			if !ok {
				continue
			}
			if t.Volume == g.volume && len(composed) == 0 {
				composed = append(composed, location{t.Mounts[mp], rel})
			}
			if t.Mounts[mp] == g.volume {
				own = append(own, location{g.volume, rel})
			}
		}
	}
	direct := []location{{g.volume, g.path}}
	var all []location
	if g.sweepOnly {
		all = slices.Concat(direct, own, composed)
	} else {
		all = slices.Concat(composed, direct, own)
	}
	var out []location
	for _, l := range all {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// under reports whether p lies under mount point mp, and p relative to it.
func under(p, mp string) (string, bool) {
	mp = strings.TrimRight(mp, "/")
	if mp == "" {
		return "", false
	}
	if p == mp {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, mp+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

type copied struct {
	loc       location
	tmp       *safewrite.File
	md5, sha  string
	meta      *fsread.Meta
	readError string
}

func captureGroup(files string, r *report.Report, g *fileGroup, open OpenFunc) (Entry, error) {
	e := Entry{Volume: g.volume, Path: g.path, FindingIDs: g.ids, ReportedSHA256: g.reportedSHA}
	if !utf8.ValidString(g.path) {
		e.PathQuoted = strconv.Quote(g.path)
	}
	var tried []copied
	defer func() {
		for _, c := range tried {
			c.tmp.Abort() // no-op for the one committed
		}
	}()
	var chosen *copied
	var errs []string
	notFile := ""
	for _, loc := range candidates(r, g) {
		c, err := copyOut(files, loc, open)
		if err != nil {
			var he *hostError
			if errors.As(err, &he) {
				return e, err
			}
			msg := fmt.Sprintf("%s:%s: %v", loc.volume, loc.path, err)
			if errors.Is(err, errNotRegular) && notFile == "" {
				notFile = msg + ": nothing to copy"
			}
			errs = append(errs, msg)
			continue
		}
		tried = append(tried, c)
		if g.reportedSHA == "" || c.sha == g.reportedSHA {
			chosen = &tried[len(tried)-1]
			break
		}
	}
	if chosen == nil && len(tried) > 0 {
		chosen = &tried[0] // none matches the report: keep the likeliest
	}
	if chosen == nil {
		e.Error = cmp.Or(notFile, strings.Join(errs, "; "))
		if e.Error == "" {
			e.Error = "no location to read"
		}
		return e, nil
	}
	if chosen.loc != (location{g.volume, g.path}) {
		e.ReadVolume, e.ReadPath = chosen.loc.volume, chosen.loc.path
	}
	m := chosen.meta
	e.Inode, e.Mode, e.Size, e.Flags = m.Inode, fsread.ModeString(m.Mode), m.Size, m.FlagNames()
	if m.HasOwner {
		uid, gid := m.UID, m.GID
		e.UID, e.GID = &uid, &gid
	}
	e.Mtime, e.Atime, e.Ctime, e.Btime = tp(m.Mtime), tp(m.Atime), tp(m.Ctime), tp(m.Btime)
	e.MD5, e.SHA256 = chosen.md5, chosen.sha
	switch {
	case g.reportedSHA == "":
		e.HashCheck = "not in report"
	case g.reportedSHA == chosen.sha:
		e.HashCheck = "match"
	default:
		e.HashCheck = "mismatch"
	}
	// The same name means the same content, captured before: an existing
	// copy is kept, never replaced.
	final := filepath.Join(files, chosen.sha)
	if err := chosen.tmp.CommitAs(final); err != nil && !errors.Is(err, safewrite.ErrExist) {
		return e, &hostError{err}
	}
	e.File = FilesDir + "/" + chosen.sha
	return e, nil
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// hostError is a failure to write on the host: it stops the capture,
// unlike a file the image cannot give.
type hostError struct{ err error }

func (e *hostError) Error() string { return "evidence: " + e.err.Error() }
func (e *hostError) Unwrap() error { return e.err }

// copyOut copies one file of the image into a temporary file in files,
// hashing it on the way.
func copyOut(files string, loc location, open OpenFunc) (copied, error) {
	c := copied{loc: loc}
	f, err := open(loc.volume, loc.path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c, err
	}
	if !fi.Mode().IsRegular() {
		return c, fmt.Errorf("%w (%s)", errNotRegular, fsread.ModeString(fi.Mode()))
	}
	c.meta = fsread.MetaOf(fi)
	tmp, err := safewrite.CreateTemp(files, safewrite.Options{Mode: 0o444, NoReplace: true, Guard: WriteGuard})
	if err != nil {
		return c, &hostError{err}
	}
	hm, hs := md5.New(), sha256.New()
	// An inode may claim any size: copying is capped so that one hostile
	// file cannot fill the examiner's disk.
	var hostErr error
	n, cerr := io.Copy(io.MultiWriter(hostSide{tmp, &hostErr}, hm, hs), io.LimitReader(f, MaxCopySize+1))
	if cerr == nil && n > MaxCopySize {
		cerr = fmt.Errorf("%w: larger than %d bytes, not copied (raise --evidence-max-size)", errTooLarge, MaxCopySize)
	}
	if cerr != nil {
		tmp.Abort()
		if hostErr != nil {
			return copied{}, &hostError{hostErr}
		}
		if errors.Is(cerr, errTooLarge) {
			return copied{}, cerr
		}
		return copied{}, fmt.Errorf("reading: %w", cerr)
	}
	c.tmp = tmp
	c.md5, c.sha = hexSum(hm), hexSum(hs)
	return c, nil
}

// errNotRegular: a finding on a directory (a miner's folder) or a device
// names something there is no content to copy from.
var errNotRegular = errors.New("not a regular file")

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// hostSide marks write errors as the host's (the evidence disk), not the
// image's: they stop the capture.
type hostSide struct {
	w   io.Writer
	err *error
}

func (h hostSide) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	if err != nil {
		*h.err = err
	}
	return n, err
}

// WriteGuard refuses evidence writes onto the run's inputs (the image, a
// --dir tree); the CLI sets it.
var WriteGuard *safewrite.Guard

// ImageSHA256 hashes an image file or block device, for the chain of
// custody (--hash-image, the evidence manifest).
func ImageSHA256(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() && fi.Mode()&(os.ModeDevice|os.ModeCharDevice) != os.ModeDevice {
		return "", fmt.Errorf("%s is not an image file or block device (a directory scan has no image to hash)", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hexSum(h), nil
}

// writeManifest writes m as DIR/manifest-<image>-<time>.json, read-only,
// with a number added if that name is taken: a second capture never
// replaces the first one's manifest.
func writeManifest(dir string, m *Manifest) (string, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	base := "manifest-" + SafeName(path.Base(filepath.ToSlash(m.Image))) + "-" + m.Captured.Format("20060102T150405Z")
	for i := 1; i < 1000; i++ {
		name := base + ".json"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.json", base, i)
		}
		p := filepath.Join(dir, name)
		err := safewrite.WriteFile(p, data, safewrite.Options{Mode: 0o444, NoReplace: true, Guard: WriteGuard})
		if errors.Is(err, safewrite.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("evidence manifest: %w", err)
		}
		return p, nil
	}
	return "", fmt.Errorf("evidence manifest: %s*.json: too many captures with the same name", filepath.Join(dir, base))
}

// SafeName turns any string into a short file name that is safe on Linux,
// macOS and Windows: ASCII letters, digits, '.', '-', '_' only, no leading
// dot, at most 64 bytes, never a Windows device name.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if stem, _, _ := strings.Cut(strings.ToUpper(out), "."); windowsReserved(stem) {
		out = "_" + out
	}
	if out == "" {
		out = "image"
	}
	return out
}

func windowsReserved(stem string) bool {
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '0' && stem[3] <= '9' {
		return true
	}
	return false
}
