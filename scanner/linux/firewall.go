package linux

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// FirewallRule is one rule line of an iptables-save or nftables file.
type FirewallRule struct {
	Line   int
	Text   string
	Ports  []string
	Action string // accept, drop, reject, ... lower case; "" if none
}

var (
	portRe   = regexp.MustCompile(`(?:--dports?|--sports?|\bdport|\bsport)\s+\{?\s*([0-9]+(?:[:-][0-9]+)?(?:\s*,\s*[0-9]+(?:[:-][0-9]+)?)*)`)
	actionRe = regexp.MustCompile(`(?i)(?:-j|--jump|-g|--goto)\s+(\S+)|\b(accept|drop|reject)\b`)
)

// ParseFirewall picks the rule lines out of an iptables-save or nft file.
func ParseFirewall(data []byte, nft bool) []FirewallRule {
	var out []FirewallRule
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' || t[0] == '*' || t[0] == ':' || t == "COMMIT" {
			continue
		}
		if !nft && !strings.HasPrefix(t, "-A") && !strings.HasPrefix(t, "-I") {
			continue
		}
		r := FirewallRule{Line: l.N, Text: t}
		for _, m := range portRe.FindAllStringSubmatch(t, -1) {
			for _, p := range strings.FieldsFunc(m[1], func(c rune) bool { return c == ',' || c == ' ' }) {
				r.Ports = append(r.Ports, p)
			}
		}
		if m := actionRe.FindStringSubmatch(t); m != nil {
			r.Action = strings.ToLower(m[1] + m[2])
		}
		out = append(out, r)
	}
	return out
}

// stratumPorts returns the entries that are exactly a stratum port; a port
// range is a policy, not a pool, and is not judged.
func (s *sigdata) stratumPorts(ports []string) []string {
	var hit []string
	for _, p := range ports {
		if s.ports[p] {
			hit = append(hit, p)
		}
	}
	return hit
}

// Firewall judges saved firewall rules that name mining pools or stratum
// ports.
type Firewall struct{}

func (Firewall) Name() string { return "firewall" }
func (Firewall) OS() string   { return "linux" }

func (c Firewall) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	for _, kind := range []string{"iptables", "nft"} {
		for _, p := range s.loc("firewall", kind) {
			f := r.read(p)
			if f == nil {
				continue
			}
			for _, rule := range ParseFirewall(f.Data, kind == "nft") {
				pools := s.poolsIn(rule.Text)
				ports := s.stratumPorts(rule.Ports)
				if len(pools) == 0 && len(ports) == 0 {
					continue
				}
				r.inventory("firewall", f.Path, rule.Line, rule.Text, map[string]string{"action": rule.Action, "ports": strings.Join(rule.Ports, ",")})
				what := "mining pool " + strings.Join(pools, ", ")
				if len(pools) == 0 {
					what = "stratum port " + strings.Join(ports, ", ")
				}
				ev := at(f, rule.Line, rule.Text)
				if rule.Action == "drop" || rule.Action == "reject" {
					r.finding(report.Finding{
						Rule: "firewall.pool-blocked", Severity: report.Info, Technique: "T1496.001",
						Title:       "Firewall blocks " + what,
						Description: "A defender's block, or a miner shutting out competing miners.",
						Evidence:    ev, Remediation: "No action if the rule is yours.",
					})
					continue
				}
				sev, rl := report.High, "firewall.pool-allowed"
				if len(pools) == 0 {
					sev, rl = report.Medium, "firewall.stratum-port-allowed"
				}
				r.finding(report.Finding{
					Rule: rl, Severity: sev, Technique: "T1562.004",
					Title:       fmt.Sprintf("Firewall rule allows %s", what),
					Description: fmt.Sprintf("Saved rule (action %s) names %s: it lets a miner reach its pool.", orDash(rule.Action), what),
					Evidence:    ev,
					Remediation: fmt.Sprintf("Delete line %d of %s, then block the pool/port outbound (iptables -A OUTPUT -d POOL -j DROP) and reload the rules.", rule.Line, f.Evidence.Path),
				})
			}
		}
	}
	return ctx.Err()
}
