package windows

import (
	"encoding/base64"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/report"
)

// command is one autostart command line, split the way CreateProcess would.
type command struct {
	Raw  string // as stored
	Line string // environment variables expanded
	Exe  string // the program, unquoted, expanded
	Args string
	Norm string // Exe as a place: lower-case, '/', system drive removed
	Base string // lower-case file name of the program, ".exe" added when it has no extension
}

// execExts end a program path when a command line is not quoted: Windows
// tries "C:\Program", then "C:\Program Files\Foo.exe", and so on.
var execExts = []string{".exe", ".com", ".bat", ".cmd", ".scr", ".pif", ".ps1", ".vbs", ".vbe", ".js", ".jse", ".wsf", ".hta", ".dll", ".sys", ".cpl", ".msc", ".lnk", ".jar"}

func hasExecExt(s string) bool {
	ls := strings.ToLower(s)
	for _, e := range execExts {
		if strings.HasSuffix(ls, e) {
			return true
		}
	}
	return false
}

var envRef = regexp.MustCompile(`%([^%\s]+)%`)

// expand replaces %VAR% from envvars.txt; {user} is the profile the entry
// belongs to ("*" when it is machine-wide, which still matches per-user
// globs). Unknown variables stay as written.
func (r *rules) expand(s, user string) string {
	if user == "" {
		user = "*"
	}
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := r.env[strings.ToLower(m[1:len(m)-1])]
		if !ok {
			return m
		}
		return strings.ReplaceAll(v, "{user}", user)
	})
}

func (r *rules) parseCommand(line, user string) command {
	c := command{Raw: line}
	c.Line = strings.TrimSpace(r.expand(line, user))
	s := c.Line
	if strings.HasPrefix(s, `"`) {
		if end := strings.IndexByte(s[1:], '"'); end >= 0 {
			c.Exe, c.Args = s[1:1+end], strings.TrimSpace(s[2+end:])
		} else {
			c.Exe = s[1:]
		}
	} else {
		toks := strings.Split(s, " ")
		c.Exe, c.Args = toks[0], strings.TrimSpace(strings.Join(toks[1:], " "))
		// Only a path can run on across spaces ("C:\Program Files\..."); a
		// bare program name ends at the first space, and a switch ends any path.
		if strings.ContainsAny(toks[0], `\/`) && !hasExecExt(toks[0]) {
			for i := 2; i <= len(toks) && i <= 16; i++ {
				if w := toks[i-1]; strings.HasPrefix(w, "-") || strings.HasPrefix(w, "/") {
					break
				}
				if cand := strings.Join(toks[:i], " "); hasExecExt(cand) {
					c.Exe, c.Args = cand, strings.TrimSpace(strings.Join(toks[i:], " "))
					break
				}
			}
		}
	}
	if c.Exe == "" {
		return c
	}
	c.Norm = normPath(c.Exe)
	c.Base = path.Base(c.Norm)
	if path.Ext(c.Base) == "" {
		c.Base += ".exe"
	}
	return c
}

var driveRe = regexp.MustCompile(`^[a-z]:`)

// normPath turns a Windows path into the form places.txt globs match:
// lower case, '/' separators, the system drive (C:) removed, NT prefixes
// (\??\, \\?\, \SystemRoot\) resolved, ".." cleaned. A bare program name is
// found on the search path, i.e. in System32; a relative path with folders
// is taken relative to the Windows folder, as the service control manager
// does for "system32\drivers\x.sys".
func normPath(p string) string {
	p = strings.TrimSpace(strings.Trim(strings.TrimSpace(p), `"'`))
	p = strings.ToLower(strings.ReplaceAll(p, `\`, "/"))
	for _, pre := range []string{"//?/unc/", "//?/", "/??/"} {
		if strings.HasPrefix(p, pre) {
			if pre == "//?/unc/" {
				p = "//" + p[len(pre):]
			} else {
				p = p[len(pre):]
			}
			break
		}
	}
	if strings.HasPrefix(p, "/systemroot/") {
		p = "/windows/" + p[len("/systemroot/"):]
	}
	switch {
	case strings.HasPrefix(p, "//"):
		return "//" + strings.TrimPrefix(path.Clean("/"+p[2:]), "/")
	case strings.HasPrefix(p, "c:"):
		p = p[2:]
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
	case driveRe.MatchString(p):
		return p[:2] + path.Clean("/"+p[2:])
	case strings.HasPrefix(p, "/"):
	case strings.Contains(p, "/"):
		p = "/windows/" + p
	default:
		p = "/windows/system32/" + p
	}
	return path.Clean(p)
}

// hit is one judgement about an entry. Technique is empty when the hit is
// about the persistence itself (odd place), and the place's technique fills it.
type hit struct {
	Rule      string
	Title     string
	Severity  report.Severity
	Technique string
	Family    string
	Match     string // what the rule matched: a path, a marker, decoded text
	Text      string // the command line or text it was found in
	Key       string // where inside the artifact, when not the entry's own key
}

// placeKind selects the severity column of places.txt.
type placeKind int

const (
	logonPlace placeKind = iota
	servicePlace
)

// judgePlace says whether a program or payload path lives in an odd place.
func (r *rules) judgePlace(norm string, kind placeKind, what string) (hit, bool) {
	if norm == "" {
		return hit{}, false
	}
	for _, b := range r.benign {
		if b.re.MatchString(norm) {
			return hit{}, false
		}
	}
	for _, p := range r.places {
		if !p.re.MatchString(norm) {
			continue
		}
		sev := p.logon
		if kind == servicePlace {
			sev = p.service
		}
		if sev.none {
			return hit{}, false
		}
		return hit{Rule: "odd-place", Title: what + " from an odd place: " + p.what, Severity: sev.Severity, Match: norm}, true
	}
	return hit{}, false
}

const maxJudgeDepth = 4

// judge returns every verdict on one command line: where its program lives,
// what the program is asked to do (LOLBins, encoded commands, nested
// cmd /c lines), and content markers anywhere in the line or in decoded text.
// Hits are deduplicated by rule, keeping the most severe.
func (r *rules) judge(line, user string, kind placeKind) []hit {
	var hits []hit
	texts := []string{}
	r.judgeExec(line, user, kind, 0, &hits, &texts)
	for _, t := range texts {
		hits = append(hits, r.judgeText(t)...)
	}
	return dedupe(hits)
}

// judgeExec judges the program and its arguments; texts collects every text
// (the line itself, decoded commands) for the marker pass.
func (r *rules) judgeExec(line, user string, kind placeKind, depth int, hits *[]hit, texts *[]string) {
	c := r.parseCommand(line, user)
	if depth == 0 {
		*texts = append(*texts, c.Line)
	}
	if c.Exe == "" || depth > maxJudgeDepth {
		return
	}
	if h, ok := r.judgePlace(c.Norm, kind, "runs a program"); ok {
		h.Match, h.Text = c.Exe, c.Line
		*hits = append(*hits, h)
	}
	if la, ok := r.lookalikes[c.Base]; ok && !la.sev.none {
		home := false
		for _, re := range la.homes {
			home = home || re.MatchString(c.Norm)
		}
		if !home {
			*hits = append(*hits, hit{Rule: "masquerade", Title: "a program named like the system's " + c.Base + " runs from " + path.Dir(c.Norm), Severity: la.sev.Severity, Technique: la.technique, Match: c.Exe, Text: c.Line})
		}
	}
	for _, lr := range r.lolbins[c.Base] {
		if lr.args != nil && !lr.args.MatchString(c.Args) {
			continue
		}
		if !lr.sev.none {
			m := c.Exe
			if lr.args != nil {
				if a := strings.TrimSpace(lr.args.FindString(c.Args)); a != "" {
					m = c.Exe + " " + a
				}
			}
			*hits = append(*hits, hit{Rule: lr.rule, Title: lr.title, Severity: lr.sev.Severity, Technique: lr.technique, Match: m, Text: c.Line})
		}
		switch lr.payload {
		case "cmd":
			for _, inner := range splitCmdLine(cmdPayload(c.Args)) {
				r.judgeExec(inner, user, kind, depth+1, hits, texts)
			}
		case "dll", "file", "ps":
			p := fileArg(c.Args, lr.payload)
			if p != "" {
				if h, ok := r.judgePlace(normPath(r.expand(p, user)), kind, "loads "+p); ok {
					h.Match, h.Text = p, c.Line
					*hits = append(*hits, h)
				}
			}
		}
		break
	}
	for _, er := range r.encoded[c.Base] {
		m := er.re.FindStringSubmatch(c.Args)
		if m == nil {
			continue
		}
		dec, ok := decodeEncoded(m[1], er.kind)
		if !ok {
			continue
		}
		if !er.sev.none {
			*hits = append(*hits, hit{Rule: er.rule, Title: er.title, Severity: er.sev.Severity, Technique: er.technique, Match: "decoded: " + clip(dec, 1024), Text: c.Line})
		}
		*texts = append(*texts, dec)
		// The decoded script may start programs of its own.
		r.judgeExec(dec, user, kind, depth+1, hits, texts)
		break
	}
}

// judgeText looks for content markers: miners, pools, download cradles.
func (r *rules) judgeText(text string) []hit {
	var hits []hit
	lower := strings.ToLower(text)
	for _, m := range r.markers {
		if m.sev.none {
			continue
		}
		var match string
		switch m.kind {
		case "word":
			if i := strings.Index(lower, m.word); i >= 0 {
				match = text[i : i+len(m.word)]
			}
		case "re":
			if loc := m.re.FindStringIndex(text); loc != nil {
				match = strings.TrimSpace(text[loc[0]:loc[1]])
			}
		case "pools":
			match = findPool(lower, m.pools)
		}
		if match != "" {
			hits = append(hits, hit{Rule: m.rule, Title: m.title, Severity: m.sev.Severity, Technique: m.technique, Family: m.family, Match: clip(match, 1024), Text: clip(text, 2048)})
		}
	}
	return hits
}

var hostToken = regexp.MustCompile(`[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+`)

// findPool returns the first host name in text that is a pool domain or a
// subdomain of one (or an IP address on the list).
func findPool(lower string, pools []string) string {
	for _, tok := range hostToken.FindAllString(lower, -1) {
		if p := poolOf(tok, pools); p != "" {
			return tok
		}
	}
	return ""
}

func poolOf(host string, pools []string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, p := range pools {
		if host == p || strings.HasSuffix(host, "."+p) {
			return p
		}
	}
	return ""
}

// cmdPayload is the command line cmd.exe runs: the text after /c or /k.
func cmdPayload(args string) string {
	low := strings.ToLower(args)
	for i := 0; i+1 < len(low); i++ {
		if low[i] == '/' && (low[i+1] == 'c' || low[i+1] == 'k') && (i+2 == len(low) || low[i+2] == ' ' || low[i+2] == '"') && (i == 0 || low[i-1] == ' ') {
			inner := strings.TrimSpace(args[i+2:])
			// cmd strips one pair of outer quotes around the whole line.
			if len(inner) > 1 && inner[0] == '"' && inner[len(inner)-1] == '"' && strings.Count(inner, `"`) > 2 {
				inner = inner[1 : len(inner)-1]
			}
			return inner
		}
	}
	return ""
}

// splitCmdLine splits a cmd.exe line at its unquoted command separators
// (&, &&, ||, |), so each command in a chain is judged.
func splitCmdLine(s string) []string {
	var out []string
	inQ := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQ = !inQ
		case (c == '&' || c == '|') && !inQ:
			if part := strings.TrimSpace(s[start:i]); part != "" {
				out = append(out, part)
			}
			start = i + 1
		}
	}
	if part := strings.TrimSpace(s[start:]); part != "" {
		out = append(out, part)
	}
	return out
}

// fileArg picks the file a LOLBin runs from its arguments: the first word
// that is not a switch (for "dll", up to the export after ','); for "ps", the
// value of -File.
func fileArg(args, kind string) string {
	words := splitArgs(args)
	if kind == "ps" {
		for i, w := range words {
			lw := strings.ToLower(w)
			if (lw == "-file" || lw == "/file" || lw == "-f") && i+1 < len(words) {
				return words[i+1]
			}
		}
		return ""
	}
	for _, w := range words {
		if strings.HasPrefix(w, "/") || strings.HasPrefix(w, "-") {
			continue
		}
		if kind == "dll" {
			if i := strings.IndexByte(w, ','); i >= 0 {
				w = w[:i]
			}
		}
		return w
	}
	return ""
}

// splitArgs splits on spaces, keeping double-quoted runs together.
func splitArgs(s string) []string {
	var out []string
	var b strings.Builder
	inQ := false
	for _, c := range s {
		switch {
		case c == '"':
			inQ = !inQ
		case c == ' ' && !inQ:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(c)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// decodeEncoded decodes a PowerShell -EncodedCommand argument (base64 of
// UTF-16LE). Text that is not valid base64 is not an encoded command.
func decodeEncoded(s, kind string) (string, bool) {
	if kind != "utf16-base64" {
		return "", false
	}
	s = strings.Trim(s, `"'`)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return "", false
		}
	}
	if len(raw) < 2 {
		return "", false
	}
	return cutNUL(utf16le(raw)), true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// dedupe keeps one hit per rule, the most severe (the first among equals),
// ordered by severity then rule.
func dedupe(hits []hit) []hit {
	best := map[string]int{}
	var out []hit
	for _, h := range hits {
		if i, ok := best[h.Rule]; ok {
			if h.Severity > out[i].Severity {
				out[i] = h
			}
			continue
		}
		best[h.Rule] = len(out)
		out = append(out, h)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// maxSeverity is the verdict of an entry for its inventory line.
func maxSeverity(hits []hit) string {
	if len(hits) == 0 {
		return "ok"
	}
	return hits[0].Severity.String()
}
