package sweep

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/snapscan/snapscan/fsread/ntfs"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// sweepStreams scans the named $DATA streams (alternate data streams) of an
// NTFS file with the same rules and hash IOCs as the file itself; a match is
// reported on FILE:STREAM. Zone.Identifier, the mark of the web every
// download carries, is not swept (the Windows streams check decodes it). On
// other filesystems a file has no streams and this costs one type check.
func (w *worker) sweepStreams(j job, o *outcome) {
	if !ntfs.Is(w.fsys) {
		return
	}
	streams, err := ntfs.Streams(w.fsys, j.path)
	if err != nil || len(streams) == 0 {
		return
	}
	evPath := "/" + check.Clean(j.path)
	for _, s := range streams {
		if strings.EqualFold(s.Name, "Zone.Identifier") {
			continue
		}
		name := j.path + ":" + s.Name
		if s.Size > w.opts.MaxFileSize || s.Size < 0 {
			o.extraSkipped = append(o.extraSkipped, report.Skipped{Volume: w.opts.Volume, Path: evPath + ":" + s.Name, Size: s.Size,
				Reason: fmt.Sprintf("alternate data stream larger than the size cap (%d > %d bytes); not read", s.Size, w.opts.MaxFileSize)})
			continue
		}
		r, err := ntfs.OpenStream(w.fsys, j.path, s.Name)
		if err != nil {
			o.errs = append(o.errs, scanError(w.opts.Volume, name, err))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(r, s.Size))
		if err != nil {
			o.errs = append(o.errs, scanError(w.opts.Volume, name, err))
			continue
		}
		md, sh := md5.Sum(data), sha256.Sum256(data)
		md5hex, sha2hex := hex.EncodeToString(md[:]), hex.EncodeToString(sh[:])
		var hits []hit
		if w.opts.IOCs != nil {
			for _, h := range w.opts.IOCs.MatchHashes(md5hex, "", sha2hex) {
				hits = append(hits, hashHit(h))
			}
		}
		if w.sc != nil {
			ms, err := w.sc.Scan(data, w.vars(job{path: name, meta: j.meta}, osPathOf(w.opts, evPath+":"+s.Name), data, md5hex))
			if err != nil {
				o.errs = append(o.errs, scanError(w.opts.Volume, name, fmt.Errorf("yara: %w", err)))
			}
			for _, m := range ms {
				hits = append(hits, yaraHit(m))
			}
		}
		o.bytes += int64(len(data))
		if len(hits) > 0 {
			ev := check.EvidenceFor(w.tgt, j.path, j.meta)
			ev.Path, ev.Size, ev.MD5, ev.SHA256 = evPath+":"+s.Name, s.Size, md5hex, sha2hex
			o.extra = append(o.extra, *buildFinding(ev, hits))
		}
	}
}
