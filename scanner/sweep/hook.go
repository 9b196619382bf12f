package sweep

import "github.com/snapscan/snapscan/scanner/sweep/hook"

// hookFile hands one file to every hook.
// It returns whether a Verifier hook vouched for the file's bytes.
func (w *worker) hookFile(j job, osPath, md5hex, sha1hex, sha string, data []byte) (verified bool) {
	if len(w.opts.Hooks) == 0 {
		return false
	}
	f := hook.File{Path: j.path, OSPath: osPath, Meta: j.meta, SHA256: sha, MD5: md5hex, SHA1: sha1hex, Head: data[:min(len(data), hook.HeadSize)]}
	for _, h := range w.opts.Hooks {
		h.File(f)
		if v, ok := h.(hook.Verifier); ok && sha != "" && v.Verified(f) {
			verified = true
		}
	}
	return verified
}

// hooksWantSHA1 says a hook asked for SHA-1 (hook.SHA1Wanter).
func hooksWantSHA1(hs []hook.Hook) bool {
	for _, h := range hs {
		if w, ok := h.(hook.SHA1Wanter); ok && w.WantSHA1() {
			return true
		}
	}
	return false
}
