package cim

import (
	"bytes"
	"strings"
	"testing"
)

// page builds an 8 KiB repository page holding records laid out the way
// flare-wmi and PyWMIPersistenceFinder describe instance data: class name,
// NULs, binary noise, then the NUL-separated property strings. No public
// test data set carries a real OBJECTS.DATA; these pages are our own.
func page(records ...string) []byte {
	p := make([]byte, 8192)
	off := 64
	for _, r := range records {
		off += copy(p[off:], r) + 97
	}
	return p
}

func TestScan(t *testing.T) {
	data := append(page(
		"CommandLineEventConsumer\x00\x00\x01\x07\xff\x00\x10\x00Updater\x00\x00powershell.exe -nop -w hidden -enc SQBFAFgA\x00",
		"__EventFilter\x00\x00\x02\x00\x00UpdFilter\x00\x00root\\cimv2\x00SELECT * FROM __InstanceModificationEvent WITHIN 60 WHERE TargetInstance ISA 'Win32_PerfFormattedData_PerfOS_System'\x00",
		"__FilterToConsumerBinding\x00\x00\x00CommandLineEventConsumer.Name=\"Updater\"\x00\x00__EventFilter.Name=\"UpdFilter\"\x00",
	), page("NTEventLogEventConsumer\x00\x00\x03SCM Event Log Consumer\x00\x00NT AUTHORITY\\LocalService\x00")...)
	// The second page straddles nothing; a third record right at the chunk
	// seam is exercised by the fuzz target and TestChunkSeam.
	res, err := Scan(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, r := range res.Records {
		classes = append(classes, r.Class)
	}
	if got := strings.Join(classes, ","); got != "CommandLineEventConsumer,NTEventLogEventConsumer,__EventFilter" {
		t.Errorf("records: %s", got)
	}
	cl := res.Records[0]
	if len(cl.Strings) < 2 || cl.Strings[0] != "Updater" || !strings.HasPrefix(cl.Strings[1], "powershell.exe -nop") {
		t.Errorf("consumer strings: %q", cl.Strings)
	}
	if len(res.Bindings) != 1 || res.Bindings[0] != (Binding{Offset: res.Bindings[0].Offset, ConsumerClass: "CommandLineEventConsumer", Consumer: "Updater", Filter: "UpdFilter"}) {
		t.Errorf("bindings: %+v", res.Bindings)
	}
}

// TestChunkSeam puts a record across the chunk boundary: it is found once.
func TestChunkSeam(t *testing.T) {
	data := make([]byte, chunk+8192)
	rec := "CommandLineEventConsumer\x00\x00Seam\x00\x00cmd.exe /c calc\x00"
	copy(data[chunk-10:], rec)
	res, err := Scan(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].Offset != chunk-10 || res.Records[0].Strings[0] != "Seam" {
		t.Errorf("records: %+v", res.Records)
	}
}
