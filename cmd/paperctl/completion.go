package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/papercatalog/papers/ingest"
)

// flagValues are the values a shell offers after a flag; "files" means file names.
var flagValues = map[string][]string{
	"format":   formatNames(),
	"progress": {"auto", "bar", "lines", "none"},
	"tls-ca":   {"files"},
}

func formatNames() []string {
	var out []string
	for _, f := range ingest.Formats {
		out = append(out, string(f))
	}
	return out
}

// flagInfo is what a completion script needs of a flag.
type flagInfo struct {
	name, about string
	takesValue  bool
}

func (c *command) flagInfos() []flagInfo {
	fs, _ := c.flagSet()
	var out []flagInfo
	fs.VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		b, isBool := f.Value.(interface{ IsBoolFlag() bool })
		out = append(out, flagInfo{name: f.Name, about: shortAbout(usage), takesValue: !isBool || !b.IsBoolFlag()})
	})
	return out
}

// shortAbout is a flag's usage up to its first parenthesis or comma, with only
// characters that need no quoting in any of the scripts.
func shortAbout(usage string) string {
	if i := strings.IndexAny(usage, "(,:"); i > 0 {
		usage = usage[:i]
	}
	usage = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`'"[]:\$`+"`", r) {
			return -1
		}
		return r
	}, usage)
	return strings.TrimSpace(usage)
}

func completionCmd(_ context.Context, std streams, _ *options, pos []string) error {
	if len(pos) != 1 {
		return fmt.Errorf("%w: completion takes the shell: bash, zsh or fish", errUsage)
	}
	switch pos[0] {
	case "bash":
		bashCompletion(std.stdout)
	case "zsh":
		zshCompletion(std.stdout)
	case "fish":
		fishCompletion(std.stdout)
	default:
		return fmt.Errorf("%w: no completion for %q: bash, zsh or fish", errUsage, pos[0])
	}
	return nil
}

func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, " ")
}

// valueFlags lists every flag of any command that takes a value, sorted.
func valueFlags() []string {
	var out []string
	for _, c := range commands {
		for _, f := range c.flagInfos() {
			if f.takesValue && !slices.Contains(out, f.name) {
				out = append(out, f.name)
			}
		}
	}
	slices.Sort(out)
	return out
}

func bashCompletion(w io.Writer) {
	var b strings.Builder
	b.WriteString(`# bash completion for paperctl: source <(paperctl completion bash)
_paperctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="` + commandNames() + `"
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return
    fi
    case "$prev" in
`)
	var free []string
	for _, name := range valueFlags() {
		switch values := flagValues[name]; {
		case slices.Equal(values, []string{"files"}):
			fmt.Fprintf(&b, "        --%s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", name)
		case len(values) > 0:
			fmt.Fprintf(&b, "        --%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", name, strings.Join(values, " "))
		default:
			free = append(free, "--"+name)
		}
	}
	fmt.Fprintf(&b, "        %s) return ;;\n    esac\n    local flags='' args=''\n    case \"${COMP_WORDS[1]}\" in\n", strings.Join(free, "|"))
	for _, c := range commands {
		var flags []string
		for _, f := range c.flagInfos() {
			flags = append(flags, "--"+f.name)
		}
		args := strings.Join(c.complete, " ")
		if c.name == "help" {
			args = "$commands"
		}
		fmt.Fprintf(&b, "        %s) flags=%q args=\"%s\" ;;\n", c.name, strings.Join(append(flags, "--help"), " "), args)
	}
	b.WriteString(`    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ $args == files ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ -n $args ]]; then
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}
complete -F _paperctl paperctl
`)
	_, _ = io.WriteString(w, b.String())
}

func zshCompletion(w io.Writer) {
	var b strings.Builder
	b.WriteString(`#compdef paperctl
# zsh completion for paperctl: source <(paperctl completion zsh) after compinit,
# or save it as _paperctl in a directory of $fpath.
compdef _paperctl paperctl

_paperctl() {
  local -a commands
  commands=(
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "    '%s:%s'\n", c.name, shortAbout(c.summary))
	}
	b.WriteString(`  )
  local state line
  _arguments -C '(- *)--help[show help]' '(- *)--version[print the version]' '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe -t commands 'paperctl command' commands ;;
    argument)
      case $line[1] in
`)
	for _, c := range commands {
		var specs []string
		for _, f := range c.flagInfos() {
			spec := fmt.Sprintf("'--%s[%s]", f.name, f.about)
			if f.takesValue {
				switch values := flagValues[f.name]; {
				case slices.Equal(values, []string{"files"}):
					spec += ":file:_files"
				case len(values) > 0:
					spec += fmt.Sprintf(":%s:(%s)", f.name, strings.Join(values, " "))
				default:
					spec += ":" + f.name + ": "
				}
			}
			specs = append(specs, spec+"'")
		}
		specs = append(specs, "'--help[show help]'")
		switch {
		case c.name == "help":
			specs = append(specs, "'1:command:("+commandNames()+")'")
		case slices.Equal(c.complete, []string{"files"}):
			specs = append(specs, "'*:file:_files'")
		case len(c.complete) > 0:
			specs = append(specs, "'1:"+c.name+":("+strings.Join(c.complete, " ")+")'")
		}
		fmt.Fprintf(&b, "        %s) _arguments \\\n          %s ;;\n", c.name, strings.Join(specs, " \\\n          "))
	}
	b.WriteString(`      esac ;;
  esac
}

if [ "$funcstack[1]" = "_paperctl" ]; then
  _paperctl "$@"
fi
`)
	_, _ = io.WriteString(w, b.String())
}

func fishCompletion(w io.Writer) {
	var b strings.Builder
	b.WriteString("# fish completion for paperctl: paperctl completion fish > ~/.config/fish/completions/paperctl.fish\n")
	b.WriteString("complete -c paperctl -f\n")
	b.WriteString("complete -c paperctl -n __fish_use_subcommand -l help -d 'show help'\n")
	b.WriteString("complete -c paperctl -n __fish_use_subcommand -l version -d 'print the version'\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "complete -c paperctl -n __fish_use_subcommand -a %s -d '%s'\n", c.name, shortAbout(c.summary))
	}
	for _, c := range commands {
		when := fmt.Sprintf("-n '__fish_seen_subcommand_from %s'", c.name)
		for _, f := range c.flagInfos() {
			line := fmt.Sprintf("complete -c paperctl %s -l %s", when, f.name)
			if f.takesValue {
				switch values := flagValues[f.name]; {
				case slices.Equal(values, []string{"files"}):
					line += " -r -F"
				case len(values) > 0:
					line += fmt.Sprintf(" -x -a '%s'", strings.Join(values, " "))
				default:
					line += " -x"
				}
			}
			fmt.Fprintf(&b, "%s -d '%s'\n", line, f.about)
		}
		fmt.Fprintf(&b, "complete -c paperctl %s -l help -d 'show help'\n", when)
		switch {
		case c.name == "help":
			fmt.Fprintf(&b, "complete -c paperctl %s -a '%s'\n", when, commandNames())
		case slices.Equal(c.complete, []string{"files"}):
			fmt.Fprintf(&b, "complete -c paperctl %s -F\n", when)
		case len(c.complete) > 0:
			fmt.Fprintf(&b, "complete -c paperctl %s -a '%s'\n", when, strings.Join(c.complete, " "))
		}
	}
	_, _ = io.WriteString(w, b.String())
}
