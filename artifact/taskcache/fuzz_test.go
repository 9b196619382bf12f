package taskcache

import (
	"reflect"
	"testing"
)

// FuzzParse: no panic; the same blob decodes the same twice; the decoded
// strings fit in the blob; and a blob of exec and COM handler actions that
// decodes re-encodes to one that decodes to the same actions.
// Run with: go test -fuzz FuzzParse ./artifact/taskcache
func FuzzParse(f *testing.F) {
	f.Add(Encode(&Actions{Version: 3, Context: "Author", List: []Action{{Type: TypeExec, Command: "cmd.exe", Arguments: "/c x"}}}))
	f.Add(Encode(&Actions{Version: 2, List: []Action{{Type: TypeComHandler, ClassID: "{84F0FAE1-C27B-4F6F-807B-28CF6F96287D}"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		a2, err2 := Parse(b)
		if !reflect.DeepEqual(a, a2) || (err == nil) != (err2 == nil) {
			t.Fatal("Parse differs between two runs")
		}
		if a == nil {
			return
		}
		n := len(a.Context)
		for _, act := range a.List {
			n += len(act.ID) + len(act.Command) + len(act.Arguments) + len(act.WorkingDirectory) + len(act.Data)
		}
		if n > 3*len(b) { // UTF-16 to UTF-8 grows each unit by at most 3/2
			t.Fatalf("%d bytes of text from a %d-byte blob", n, len(b))
		}
		if err != nil {
			return
		}
		for _, act := range a.List {
			if act.Type != TypeExec && act.Type != TypeComHandler {
				return
			}
		}
		back, err := Parse(Encode(a))
		if err != nil || !reflect.DeepEqual(back, a) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, back, a)
		}
	})
}
