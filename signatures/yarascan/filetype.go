package yarascan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"

	"github.com/snapscan/snapscan/signatures"
)

// UnknownFiletype is `filetype` when no magic matches (LOKI's value).
const UnknownFiletype = "UNKNOWN"

type magic struct {
	b    []byte
	name string
}

var (
	magicsOnce sync.Once
	magics     []magic
	magicsErr  error
)

func loadMagics() {
	ents, err := signatures.List("yara/filetypes.txt")
	if err != nil {
		magicsErr = err
		return
	}
	for _, e := range ents {
		b, err := hex.DecodeString(e.Field(0))
		if err != nil || len(b) == 0 || e.Field(1) == "" {
			magicsErr = fmt.Errorf("signatures: yara/filetypes.txt:%d: want HEX;TYPE", e.Line)
			return
		}
		magics = append(magics, magic{b, e.Field(1)})
	}
	sort.SliceStable(magics, func(i, j int) bool { return len(magics[i].b) > len(magics[j].b) })
}

// Filetype names the file type from its first bytes, LOKI-style.
func Filetype(head []byte) string {
	magicsOnce.Do(loadMagics)
	for _, m := range magics {
		if bytes.HasPrefix(head, m.b) {
			return m.name
		}
	}
	return UnknownFiletype
}

// FiletypeTableError reports a defect in the embedded magic table (tests).
func FiletypeTableError() error {
	magicsOnce.Do(loadMagics)
	return magicsErr
}
