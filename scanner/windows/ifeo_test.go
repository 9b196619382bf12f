package windows

import (
	"strings"
	"testing"
)

// TestIFEOTable: what an Image File Execution Options key holds decides its
// verdict; mitigation settings alone are inventory only.
func TestIFEOTable(t *testing.T) {
	const sw = `HKEY_LOCAL_MACHINE\SOFTWARE`
	cases := []struct {
		name, reg, key, want string
	}{
		{"debugger on notepad", regKeys(sw, ifeoKey+`\notepad.exe`, `"Debugger"="C:\\Tools\\dbg.exe"`), `notepad.exe\Debugger`, "ifeo.debugger=high ifeo.odd-place=medium"},
		{"debugger on osk, 32-bit view", regKeys(sw, `Wow6432Node\`+ifeoKey+`\osk.exe`, `"Debugger"="cmd.exe"`), `osk.exe\Debugger`, "ifeo.debugger-accessibility=critical"},
		{"mitigations only", regKeys(sw, ifeoKey+`\winword.exe`, `"MitigationOptions"=hex(b):00,01,00,00,00,00,00,00`, `"PerfOptions"=hex(0):`), `winword.exe`, ""},
		{"silent exit flag as a string, no monitor", regKeys(sw, ifeoKey+`\calc.exe`, `"GlobalFlag"="0x200"`), `SilentProcessExit\calc.exe\MonitorProcess`, ""},
		{"silent exit flag without 0x200", regKeys(sw, ifeoKey+`\calc.exe`, `"GlobalFlag"=dword:00000100`) + regKeys(sw, silentExitKey+`\calc.exe`, `"MonitorProcess"="C:\\Users\\Public\\m.exe"`), `calc.exe`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tree(t, map[string][]byte{softwareHive: buildHive(t, sw, c.reg)})
			s := run(t, IFEO{}, dir)
			if len(s.errors) != 0 {
				t.Errorf("errors: %v", s.errors)
			}
			if got := strings.Join(rulesOn(s, c.key), " "); got != c.want {
				t.Errorf("findings on %s: %q, want %q", c.key, got, c.want)
			}
			listed := false
			for _, i := range s.inventory {
				listed = listed || strings.HasSuffix(i.Fields["key"], c.key)
			}
			if !listed {
				t.Errorf("%s not in the inventory", c.key)
			}
		})
	}
}
