package linux

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// MinerConfig is what a miner's configuration file says: where it mines and
// for whom.
type MinerConfig struct {
	Pools        []string // pool URLs
	Users        []string // wallets / logins
	DonateLevel  string   // "" when absent
	Key          string   // where the first pool sits, e.g. "pools[0].url"
	IsMinerShape bool     // has pools/url/user or donate-level the way xmrig-style miners write them
}

// maxConfigSize bounds the JSON a miner-config parse reads; real configs are
// a few KiB.
const maxConfigSize = 1 << 20

// ParseMinerConfig reads an xmrig-style JSON config (pools[].url/user,
// donate-level) or an xmr-stak one (pool_list[].pool_address/wallet_address).
func ParseMinerConfig(data []byte) (MinerConfig, error) {
	var c MinerConfig
	if len(data) > maxConfigSize {
		return c, fmt.Errorf("config larger than %d bytes", maxConfigSize)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return c, err
	}
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "donate-level", "donate_level", "donate-over-proxy":
			c.DonateLevel = fmt.Sprint(v)
			c.IsMinerShape = true
		case "url", "pool_address":
			if s, ok := v.(string); ok && s != "" {
				c.Pools = append(c.Pools, s)
				c.Key = k
			}
		case "user", "wallet_address":
			if s, ok := v.(string); ok && s != "" {
				c.Users = append(c.Users, s)
			}
		case "pools", "pool_list":
			arr, _ := v.([]any)
			for i, p := range arr {
				obj, _ := p.(map[string]any)
				for _, uk := range []string{"url", "pool_address"} {
					if s, ok := obj[uk].(string); ok && s != "" {
						c.Pools = append(c.Pools, s)
						if c.Key == "" {
							c.Key = fmt.Sprintf("%s[%d].%s", k, i, uk)
						}
					}
				}
				for _, uk := range []string{"user", "wallet_address"} {
					if s, ok := obj[uk].(string); ok && s != "" {
						c.Users = append(c.Users, s)
					}
				}
			}
		}
	}
	if len(c.Pools) > 0 && len(c.Users) > 0 {
		c.IsMinerShape = true
	}
	return c, nil
}

var minerTextRe = regexp.MustCompile(`(?i)"donate-level"|stratum\+(tcp|ssl|tls)://`)

// MinerFiles looks for miner configs and binaries by name in the places
// miners unpack to (a short, bounded listing; the content sweep covers the
// rest of the disk).
type MinerFiles struct{}

func (MinerFiles) Name() string { return "minerfiles" }
func (MinerFiles) OS() string   { return "linux" }

func (c MinerFiles) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	cfgNames, binNames := map[string]bool{}, map[string]bool{}
	for _, n := range s.loc("miner", "config-name") {
		cfgNames[n] = true
	}
	for _, n := range s.loc("miner", "binary-name") {
		binNames[n] = true
	}
	hs := homes(t)
	seen := map[string]bool{}
	var dirs []string
	for _, d := range s.loc("miner", "dir") {
		if d == "~/" {
			dirs = append(dirs, hs...)
			continue
		}
		dirs = append(dirs, expandHome(d, hs)...)
	}
	visit := func(dir string, e fs.DirEntry) {
		p := path.Join(dir, e.Name())
		if seen[p] || !e.Type().IsRegular() {
			return
		}
		seen[p] = true
		switch {
		case cfgNames[e.Name()]:
			r.minerConfig(p)
		case binNames[e.Name()]:
			r.minerBinary(p)
		}
	}
	for _, d := range dirs {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		for _, e := range capEntries(r, d, r.readDir(d)) {
			visit(d, e)
			// One level down: /root/xmrig-6.21.1/config.json, /tmp/.x/xmrig.
			if e.IsDir() {
				sub := path.Join(d, e.Name())
				if seen[sub] {
					continue
				}
				seen[sub] = true
				for _, e2 := range capEntries(r, sub, r.readDir(sub)) {
					visit(sub, e2)
				}
			}
		}
	}
	return ctx.Err()
}

func (r *run) minerConfig(p string) {
	f := r.read(p)
	if f == nil || !isText(f.Data) {
		return
	}
	s := sigs()
	cfg, err := ParseMinerConfig(f.Data)
	remedy := fmt.Sprintf("Preserve %s (it names the attacker's wallet and pool), block the pool at the firewall, kill the miner that reads it and delete the miner directory.", p)
	if err == nil && cfg.IsMinerShape {
		var pools []string
		for _, u := range cfg.Pools {
			pools = append(pools, u)
		}
		fields := map[string]string{"pools": strings.Join(pools, " "), "users": strings.Join(cfg.Users, " "), "donate_level": cfg.DonateLevel}
		r.inventory("miner-config", p, 0, "pools "+strings.Join(pools, " "), fields)
		ev := f.Evidence
		ev.Key = cfg.Key
		ev.Match = oneLine(strings.TrimSpace("pool=" + strings.Join(pools, ",") + " user=" + strings.Join(cfg.Users, ",")))
		r.finding(report.Finding{
			Rule: "miner.config", Severity: report.High, Technique: "T1496.001",
			Title:       "Cryptominer configuration " + p,
			Description: fmt.Sprintf("Miner config: pools %s; wallet/user %s; donate-level %s.", orDash(strings.Join(pools, ", ")), orDash(strings.Join(cfg.Users, ", ")), orDash(cfg.DonateLevel)),
			Evidence:    ev, Remediation: remedy,
		})
		return
	}
	if err != nil && minerTextRe.Match(f.Data) {
		for _, l := range lines(f.Data) {
			if minerTextRe.MatchString(l.Text) {
				r.inventory("miner-config", p, l.N, l.Text, nil)
				r.finding(report.Finding{
					Rule: "miner.config", Severity: report.High, Technique: "T1496.001",
					Title:       "Cryptominer configuration " + p,
					Description: "Not valid JSON, but it carries miner settings (donate-level or a stratum URL).",
					Evidence:    at(f, l.N, l.Text), Remediation: remedy,
				})
				return
			}
		}
	}
	for _, l := range lines(f.Data) {
		if pools := s.poolsIn(l.Text); len(pools) > 0 {
			r.finding(report.Finding{
				Rule: "miner.pool-mention", Severity: report.Info, Technique: "T1496.001",
				Title:       "File mentions mining pool " + pools[0],
				Description: p + " names a mining pool but is not shaped like a miner config; it may be documentation or a block list.",
				Evidence:    at(f, l.N, l.Text),
				Remediation: "Look at the file; no action if it is benign.",
			})
			return
		}
	}
}

func (r *run) minerBinary(p string) {
	f := r.read(p)
	if f == nil {
		return
	}
	r.inventory("miner-binary", p, 0, p, map[string]string{"sha256": f.Evidence.SHA256})
	r.finding(report.Finding{
		Rule: "miner.binary-name", Severity: report.High, Technique: "T1496.001",
		Title:       "File named like a cryptominer: " + p,
		Description: "A file with a known miner name sits where miners unpack; look its MD5/SHA-256 up in threat intelligence.",
		Evidence:    f.Evidence,
		Remediation: fmt.Sprintf("Preserve %s, kill any process running it, remove what starts it, then delete it.", p),
	})
}
