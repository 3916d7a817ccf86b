package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version, when set at build time (go build -ldflags "-X main.version=v1.2.3"),
// is the version paperctl reports instead of its module's.
var version string

// versionText is what `paperctl --version` prints, from the build information
// the go command records in the binary.
func versionText() string {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(bi, version, runtime.GOOS+"/"+runtime.GOARCH)
}

// describeBuild says which version and revision bi (nil when unknown) is, with
// override, if set, as the version.
func describeBuild(bi *debug.BuildInfo, override, platform string) string {
	v, module, goVersion := override, "github.com/papercatalog/papers", runtime.Version()
	settings := map[string]string{}
	if bi != nil {
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if v == "" {
			v = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "paperctl %s\n", v)
	fmt.Fprintf(&b, "module   %s\n", module)
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "revision %s", rev)
		var notes []string
		if t := settings["vcs.time"]; t != "" {
			notes = append(notes, "committed "+t)
		}
		if settings["vcs.modified"] == "true" {
			notes = append(notes, "with uncommitted changes")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteString("\n")
	} else {
		b.WriteString("revision unknown (built without VCS information, as by go run)\n")
	}
	fmt.Fprintf(&b, "go       %s %s\n", goVersion, platform)
	return b.String()
}
