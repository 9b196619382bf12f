package windows

import (
	"strings"
	"testing"
)

// TestDefenderExclusionsTable: each kind of exclusion gets the severity
// exclusions.txt gives it, whichever key (machine or policy) holds it.
func TestDefenderExclusionsTable(t *testing.T) {
	const sw = `HKEY_LOCAL_MACHINE\SOFTWARE`
	cases := []struct {
		key, item, want string
	}{
		{`Microsoft\Windows Defender\Exclusions\Paths`, `C:\`, "high"},
		{`Microsoft\Windows Defender\Exclusions\Paths`, `D:\`, "high"},
		{`Microsoft\Windows Defender\Exclusions\Paths`, `%TEMP%`, "high"},
		{`Policies\Microsoft\Windows Defender\Exclusions\Paths`, `C:\Users\bob\AppData\Roaming\x`, "high"},
		{`Microsoft\Windows Defender\Exclusions\Paths`, `C:\Program Files\Vendor\cache`, "low"},
		{`Microsoft\Windows Defender\Exclusions\Paths`, `C:\Windows\Temp\xmrig`, "critical"}, // the path names a miner
		{`Microsoft\Windows Defender\Exclusions\Extensions`, `ps1`, "high"},
		{`Microsoft\Windows Defender\Exclusions\Extensions`, `.log`, "low"},
		{`Microsoft\Windows Defender\Exclusions\Processes`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "high"},
		{`Policies\Microsoft\Windows Defender\Exclusions\Processes`, `C:\ProgramData\x\svc.exe`, "high"},
		{`Microsoft\Windows Defender\Exclusions\Processes`, `C:\Program Files\App\app.exe`, "low"},
		{`Microsoft\Windows Defender\Exclusions\IpAddresses`, `10.0.0.5`, "low"},
	}
	// hivexregedit wants each key once, with all of its values.
	byKey := map[string][]string{}
	var order []string
	for _, c := range cases {
		if _, ok := byKey[c.key]; !ok {
			order = append(order, c.key)
		}
		byKey[c.key] = append(byKey[c.key], `"`+strings.ReplaceAll(c.item, `\`, `\\`)+`"=dword:00000000`)
	}
	var reg strings.Builder
	for _, k := range order {
		reg.WriteString(regKeys(sw, k, byKey[k]...))
	}
	dir := tree(t, map[string][]byte{softwareHive: buildHive(t, sw, reg.String())})
	s := run(t, Defender{}, dir)
	if len(s.errors) != 0 {
		t.Errorf("errors: %v", s.errors)
	}
	for _, c := range cases {
		got := ""
		for _, i := range s.inventory {
			if i.Kind == "defender-exclusion" && i.Fields["key"] == `HKLM\Software\`+c.key+`\`+c.item {
				got = i.Fields["verdict"]
			}
		}
		if got != c.want {
			t.Errorf("%s %q: verdict %q, want %q", c.key, c.item, got, c.want)
		}
	}
}
