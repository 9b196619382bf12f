package linux

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// HostsEntry is one address line of a hosts file.
type HostsEntry struct {
	Line  int
	Addr  string
	Names []string
}

// ParseHosts parses hosts(5): address, names, '#' comments anywhere. bad
// holds lines whose first field is not an IP address.
func ParseHosts(data []byte) (out []HostsEntry, bad []int) {
	for _, l := range lines(data) {
		t := l.Text
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		f := strings.Fields(t)
		if len(f) == 0 {
			continue
		}
		if net.ParseIP(f[0]) == nil || len(f) < 2 {
			bad = append(bad, l.N)
			continue
		}
		out = append(out, HostsEntry{l.N, f[0], f[1:]})
	}
	return out, bad
}

// sinkhole reports addresses that make a name unreachable.
func sinkhole(addr string) bool {
	ip := net.ParseIP(addr)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// Hosts judges /etc/hosts: mining pools pinned to an address (so DNS
// blocking does not stop the miner) and security or update domains
// sinkholed (so the defender goes blind).
type Hosts struct{}

func (Hosts) Name() string { return "hosts" }
func (Hosts) OS() string   { return "linux" }

func (c Hosts) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	for _, p := range s.loc("hosts", "file") {
		f := r.read(p)
		if f == nil {
			continue
		}
		ents, bad := ParseHosts(f.Data)
		for _, b := range bad {
			out.Error(f.Path, fmt.Errorf("%s: line %d is not an address line", t.Volume, b))
		}
		idx := newLineIndex(f.Data)
		for _, e := range ents {
			r.inventory("hosts", f.Path, e.Line, e.Addr+" "+strings.Join(e.Names, " "), map[string]string{"address": e.Addr, "names": strings.Join(e.Names, " ")})
			ev := at(f, e.Line, idx.text(e.Line))
			for _, n := range e.Names {
				if pool := s.poolFor(n); pool != "" {
					if sinkhole(e.Addr) {
						r.finding(report.Finding{
							Rule: "hosts.pool-blocked", Severity: report.Info, Technique: "T1496.001",
							Title:       fmt.Sprintf("hosts blocks mining pool %s", n),
							Description: fmt.Sprintf("%s (pool %s) is pointed at %s. A defender's block, or a miner shutting out competing miners' pools.", n, pool, e.Addr),
							Evidence:    ev,
							Remediation: "No action if the block is yours; otherwise a competing miner was here: look for its other persistence.",
						})
						continue
					}
					r.finding(report.Finding{
						Rule: "hosts.pool-pinned", Severity: report.High, Technique: "T1496.001",
						Title:       fmt.Sprintf("hosts pins mining pool %s to %s", n, e.Addr),
						Description: fmt.Sprintf("%s (pool %s) resolves to %s from /etc/hosts, so blocking the pool in DNS does not stop the miner.", n, pool, e.Addr),
						Evidence:    ev,
						Remediation: fmt.Sprintf("Block %s at the firewall, then delete line %d of %s (chattr -ia it first if immutable).", e.Addr, e.Line, f.Evidence.Path),
					})
					continue
				}
				if d := s.securityDomain(n); d != "" && sinkhole(e.Addr) {
					r.finding(report.Finding{
						Rule: "hosts.security-sinkholed", Severity: report.Medium, Technique: "T1562.001",
						Title:       fmt.Sprintf("hosts sinkholes %s", n),
						Description: fmt.Sprintf("%s (%s) is pointed at %s: security agents or updates on this host cannot reach their servers.", n, d, e.Addr),
						Evidence:    ev,
						Remediation: fmt.Sprintf("Delete line %d of %s (chattr -ia first if immutable) and check the security agent and updates work again.", e.Line, f.Evidence.Path),
					})
				}
			}
		}
	}
	return ctx.Err()
}
