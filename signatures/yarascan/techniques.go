package yarascan

import (
	"sync"

	"github.com/snapscan/snapscan/signatures"
)

// techniqueTables are read in order; the first name for an id wins. The
// Linux and Windows tables belong to the checks and may be absent.
var techniqueTables = []string{"yara/techniques.txt", "linux/techniques.txt", "windows/techniques.txt"}

var (
	techOnce  sync.Once
	techNames map[string]string
)

// TechniqueName is the ATT&CK name of id from the embedded technique
// tables, "" when none has it.
func TechniqueName(id string) string {
	techOnce.Do(func() {
		techNames = map[string]string{}
		for _, t := range techniqueTables {
			ents, err := signatures.List(t)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if _, ok := techNames[e.Field(0)]; !ok && e.Field(1) != "" {
					techNames[e.Field(0)] = e.Field(1)
				}
			}
		}
	})
	return techNames[id]
}
