package cim

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzScan: no panic; the same bytes give the same result twice; every
// record's offset points at its class name in the input, every string is
// text of the input, and the record cap holds.
// Run with: go test -fuzz FuzzScan ./artifact/cim
func FuzzScan(f *testing.F) {
	f.Add(page("CommandLineEventConsumer\x00\x00x\x00\x00cmd.exe /c y\x00"))
	f.Add([]byte("__FilterToConsumerBinding CommandLineEventConsumer.Name=\"a\" __EventFilter.Name=\"b\""))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Scan(bytes.NewReader(b), int64(len(b)))
		res2, err2 := Scan(bytes.NewReader(b), int64(len(b)))
		if err != nil || err2 != nil || !reflect.DeepEqual(res, res2) {
			t.Fatalf("Scan differs or fails on an in-memory reader: %v %v", err, err2)
		}
		if len(res.Records) > MaxRecords || len(res.Bindings) > MaxRecords {
			t.Fatal("record cap exceeded")
		}
		for _, r := range res.Records {
			if r.Offset < 0 || r.Offset+int64(len(r.Class)) > int64(len(b)) || string(b[r.Offset:r.Offset+int64(len(r.Class))]) != r.Class {
				t.Fatalf("record at %d is not its class name", r.Offset)
			}
			for _, s := range r.Strings {
				if !bytes.Contains(b, []byte(s)) {
					t.Fatalf("string %q not in the input", s)
				}
			}
		}
		for _, bd := range res.Bindings {
			if bd.Offset < 0 || bd.Offset >= int64(len(b)) || !bytes.Contains(b, []byte(bd.Consumer)) || !bytes.Contains(b, []byte(bd.Filter)) {
				t.Fatalf("binding %+v not in the input", bd)
			}
		}
	})
}
