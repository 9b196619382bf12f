package taskcache

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []*Actions{
		{Version: 3, Context: "Author", List: []Action{{Type: TypeExec, Command: `C:\Program Files (x86)\Google\Update\GoogleUpdate.exe`, Arguments: "/c"}}},
		{Version: 2, List: []Action{{Type: TypeExec, ID: "a1", Command: "cmd.exe", Arguments: "/c calc", WorkingDirectory: `C:\`},
			{Type: TypeComHandler, ClassID: "{84F0FAE1-C27B-4F6F-807B-28CF6F96287D}", Data: "x"}}},
		{Version: 1, List: nil},
	}
	for i, c := range cases {
		got, err := Parse(Encode(c))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, got, c)
		}
	}
	if l := cases[0].List[0].CommandLine(); l != `"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe" /c` {
		t.Errorf("command line %q", l)
	}
}

func TestBad(t *testing.T) {
	good := Encode(&Actions{Version: 3, Context: "Author", List: []Action{{Type: TypeExec, Command: "x.exe"}}})
	unknown := append(append([]byte(nil), good...), 0x12, 0x34)
	long := append([]byte(nil), good...)
	long[2] = 0xff // context longer than the blob
	cases := map[string][]byte{"empty": nil, "version 0": {0, 0}, "version 9": {9, 0}, "cut": good[:len(good)-3], "unknown type": unknown, "long string": long}
	for name, b := range cases {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
