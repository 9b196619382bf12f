package windows

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/snapscan/snapscan/artifact/zoneid"
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/ntfs"
	"github.com/snapscan/snapscan/scanner/check"
)

// Streams lists the named $DATA streams (alternate data streams) of the
// files below the folders of streams.txt on an NTFS volume, decodes
// Zone.Identifier marks of the web, and reports executables and scripts
// hidden in a stream. On other filesystems (a directory, ext4) there are no
// streams and the check does nothing.
type Streams struct{}

func (Streams) Name() string { return "streams" }
func (Streams) OS() string   { return "windows" }

// Bounds: the files looked at per scan, and the head of a stream judged.
const (
	maxStreamFiles = 1 << 18
	maxStreamHead  = 64 << 10
)

func (c Streams) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	if !ntfs.Is(t.FS) {
		return nil // only NTFS has alternate data streams
	}
	files := 0
	for _, pattern := range r.evasion.streamDirs {
		for _, dir := range expandFold(t.FS, pattern) {
			err := fsread.Walk(t.FS, dir, func(p string, d fs.DirEntry, err error) error {
				if check.Deadline(ctx) {
					return ctx.Err()
				}
				if err != nil {
					return nil // the walk's own errors are the sweep's to report
				}
				if !d.Type().IsRegular() {
					return nil
				}
				if files++; files > maxStreamFiles {
					return fs.SkipAll
				}
				c.file(r, t, out, p)
				return nil
			})
			if err != nil && !errors.Is(err, fs.SkipAll) {
				return err
			}
		}
	}
	if files > maxStreamFiles {
		out.Error("/", fmt.Errorf("%s: more than %d files below the stream folders; the rest were not looked at for alternate data streams", t.Volume, maxStreamFiles))
	}
	return nil
}

func (c Streams) file(r *rules, t *check.Target, out check.Sink, p string) {
	streams, err := ntfs.Streams(t.FS, p)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	for _, s := range streams {
		c.stream(r, t, out, p, s)
	}
}

func (c Streams) stream(r *rules, t *check.Target, out check.Sink, p string, s ntfs.Stream) {
	sr, err := ntfs.OpenStream(t.FS, p, s.Name)
	if err != nil {
		out.Error("/"+p+":"+s.Name, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	head, err := io.ReadAll(io.LimitReader(sr, maxStreamHead))
	if err != nil {
		out.Error("/"+p+":"+s.Name, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	info, err := fs.Stat(t.FS, p)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	ev := check.EvidenceFor(t, p, fsread.MetaOf(info))
	md, sh := md5.Sum(head), sha256.Sum256(head)
	ev.MD5, ev.SHA256, ev.Size = hex.EncodeToString(md[:]), hex.EncodeToString(sh[:]), s.Size
	name := path.Base(p) + ":" + s.Name
	fields := map[string]string{"stream": s.Name, "size": fmt.Sprint(s.Size), "sha256": ev.SHA256}
	e := entry{Place: "stream", Kind: "stream", Name: name, Key: ":" + s.Name, Command: name, Target: "/" + p + ":" + s.Name, User: userOfPath(p), Ev: ev, Fields: fields,
		Says: fmt.Sprintf("/%s carries an alternate data stream %q of %d bytes", p, s.Name, s.Size)}
	if strings.EqualFold(s.Name, zoneid.StreamName) {
		z := zoneid.Parse(head)
		fields["zone"], fields["referrer_url"], fields["host_url"] = z.ZoneName(), z.ReferrerURL, z.HostURL
		e.Command = "mark of the web: " + z.ZoneName()
		if z.HostURL != "" {
			e.Command += " from " + z.HostURL
		}
		emit(r, c.Name(), out, e, nil) // the mark of the web is context, not a verdict
		return
	}
	var hits []hit
	kind := ""
	switch {
	case len(head) >= 2 && head[0] == 'M' && head[1] == 'Z':
		kind = "a Windows executable (MZ header)"
	case hasExecExt(s.Name):
		kind = "a file named " + s.Name
	}
	if kind != "" {
		fields["content"] = kind
		if hh, ok := r.evasion.verdicts["exec-stream"].hit(kind); ok {
			hits = append(hits, hh)
		}
	}
	hits = append(hits, r.judgeText(string(head))...)
	emit(r, c.Name(), out, e, dedupe(hits))
}
