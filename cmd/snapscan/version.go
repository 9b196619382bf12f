package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/snapscan/snapscan/signatures"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

func init() { extraCommands = append(extraCommands, newVersionCmd) }

// buildInfo is what `snapscan version` prints.
type buildInfo struct {
	Version       string `json:"version"`
	Commit        string `json:"commit,omitempty"`
	Modified      bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Go            string `json:"go"`
	Platform      string `json:"platform"`
	LibYARA       string `json:"libyara"`
	RulesDigest   string `json:"rules_sha256"`
	RulesFiles    int    `json:"rules_files"`
	ModuleVersion string `json:"module_version,omitempty"`
}

// currentBuild fills in what -ldflags did not set from the module build
// info that `go install` and `go build` record.
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, LibYARA: yarascan.LibVersion()}
	b.RulesDigest, b.RulesFiles = signatures.Digest()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.ModuleVersion = v
			if b.Version == "dev" {
				b.Version = v
			}
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go and libyara versions and the embedded rules' digest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := currentBuild()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), b)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "snapscan %s\n", b.Version)
			c := dash(b.Commit)
			if b.Modified {
				c += " (modified)"
			}
			fmt.Fprintf(w, "commit:   %s\n", c)
			fmt.Fprintf(w, "go:       %s %s\n", b.Go, b.Platform)
			fmt.Fprintf(w, "libyara:  %s\n", b.LibYARA)
			fmt.Fprintf(w, "rules:    sha256:%s (%d embedded files)\n", b.RulesDigest, b.RulesFiles)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
