package signatures

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
)

// Digest identifies the embedded signature data (YARA rules, IOC lists,
// check markers): SHA-256 over every file's path and content in walk
// order, and the number of files. Two builds with the same digest judge
// images by the same data.
func Digest() (sum string, files int) {
	h := sha256.New()
	fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(Files, p)
		if err != nil {
			return err
		}
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
		files++
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), files
}
