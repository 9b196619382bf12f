package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/snapscan/snapscan/report"
)

// defaultConfigFile is read from the current directory when present, as
// Trivy reads trivy.yaml; --config (or SNAPSCAN_CONFIG) names another one,
// which must then exist.
const defaultConfigFile = "snapscan.yaml"

// envPrefix: every flag --some-flag is also SNAPSCAN_SOME_FLAG.
const envPrefix = "SNAPSCAN_"

// envName is the environment variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyConfig fills every flag the command line left unset, from the
// environment first, then from the config file: flag > env > file. The
// file's keys are flag names, at the top level (for every command) or
// under a command's name (scan:, merge:), which wins for that command:
//
//	format: json
//	fail-on: high
//	scan:
//	  exit-code: 1
//	  rules: [extra.yar, more/]
func applyConfig(cmd *cobra.Command) error {
	fl := cmd.Flags()
	file, err := loadConfig(cmd)
	if err != nil {
		return &exitError{report.ExitUsage, err}
	}
	var errs []error
	fl.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "config" || f.Name == "version" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := setFlag(f, fl, splitList(f, v)); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
			return
		}
		if v, ok := file.lookup(cmd.Name(), f.Name); ok {
			if err := setFlag(f, fl, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", file.path, f.Name, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return &exitError{report.ExitUsage, err}
	}
	return nil
}

// setFlag sets f from one or more values; list flags take each in turn.
func setFlag(f *pflag.Flag, fl *pflag.FlagSet, vals []string) error {
	for _, v := range vals {
		if err := fl.Set(f.Name, v); err != nil {
			return err
		}
	}
	return nil
}

// splitList: a list flag's environment value is comma-separated.
func splitList(f *pflag.Flag, v string) []string {
	if isList(f) {
		return strings.Split(v, ",")
	}
	return []string{v}
}

func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice")
}

// configFile is a parsed snapscan.yaml.
type configFile struct {
	path   string
	global map[string][]string
	per    map[string]map[string][]string // command name -> flag -> values
}

func (c *configFile) lookup(command, flag string) ([]string, bool) {
	if c == nil {
		return nil, false
	}
	if v, ok := c.per[command][flag]; ok {
		return v, true
	}
	v, ok := c.global[flag]
	return v, ok
}

// loadConfig reads --config, SNAPSCAN_CONFIG or ./snapscan.yaml; a missing
// default file is no config. Keys that are no flag of any command are an
// error: a misspelt gate setting must not be ignored silently.
func loadConfig(cmd *cobra.Command) (*configFile, error) {
	path, explicit := "", false
	if f := cmd.Flags().Lookup("config"); f != nil && f.Changed {
		path, explicit = f.Value.String(), true
	} else if v, ok := os.LookupEnv(envName("config")); ok && v != "" {
		path, explicit = v, true
	} else {
		path = defaultConfigFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	known, commands := knownFlags(cmd.Root())
	c := &configFile{path: path, global: map[string][]string{}, per: map[string]map[string][]string{}}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := raw[k]
		if commands[k] && n.Kind == yaml.MappingNode {
			sub := map[string][]string{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				name := n.Content[i].Value
				if !known[name] {
					return nil, fmt.Errorf("config %s:%d: %s.%s is not a flag of snapscan", path, n.Content[i].Line, k, name)
				}
				v, err := nodeValues(n.Content[i+1])
				if err != nil {
					return nil, fmt.Errorf("config %s:%d: %s.%s: %w", path, n.Content[i].Line, k, name, err)
				}
				sub[name] = v
			}
			c.per[k] = sub
			continue
		}
		if !known[k] {
			return nil, fmt.Errorf("config %s:%d: %s is not a flag of snapscan", path, n.Line, k)
		}
		v, err := nodeValues(&n)
		if err != nil {
			return nil, fmt.Errorf("config %s:%d: %s: %w", path, n.Line, k, err)
		}
		c.global[k] = v
	}
	return c, nil
}

// nodeValues is a scalar as one value or a sequence of scalars.
func nodeValues(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, errors.New("want a value or a list of values")
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, errors.New("want a value or a list of values")
}

// knownFlags is every flag name of every command, and the command names.
func knownFlags(root *cobra.Command) (flags, commands map[string]bool) {
	flags, commands = map[string]bool{}, map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		commands[c.Name()] = true
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return flags, commands
}
