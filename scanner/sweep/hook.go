package sweep

import "github.com/snapscan/snapscan/scanner/sweep/hook"

// hookFile hands one file to every hook.
func (w *worker) hookFile(j job, osPath, sha string, data []byte) {
	if len(w.opts.Hooks) == 0 {
		return
	}
	f := hook.File{Path: j.path, OSPath: osPath, Meta: j.meta, SHA256: sha, Head: data[:min(len(data), hook.HeadSize)]}
	for _, h := range w.opts.Hooks {
		h.File(f)
	}
}
