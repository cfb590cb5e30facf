package orion

import (
	"os"
	"path/filepath"
	"strconv"
)

// Settings come from the environment `orion run` / `orion test` give a process, the same
// variables every agent reads (DESIGN.md, capture policy).

type mode int

const (
	modeError mode = iota // the default, as for every agent: cheapest, writes on failure
	modeDev
	modeSafe
)

var modeNames = [...]string{"error", "dev", "safe"}

type settings struct {
	mode     mode
	spool    string
	report   string
	service  string
	parent   [2]string // trace id, span id from ORION_PARENT
	ring     int
	disabled bool
}

func readSettings() settings {
	s := settings{spool: resolveSpool(), report: os.Getenv("ORION_REPORT"),
		service: os.Getenv("ORION_SERVICE"), ring: 20000}
	switch os.Getenv("ORION_MODE") {
	case "dev":
		s.mode = modeDev
	case "safe":
		s.mode = modeSafe
	case "off":
		s.disabled = true
	}
	if n, err := strconv.Atoi(os.Getenv("ORION_RING")); err == nil && n >= 16 {
		s.ring = n
	}
	if v := os.Getenv("ORION_PARENT"); len(v) == 49 && v[32] == '-' {
		s.parent = [2]string{v[:32], v[33:]}
	}
	return s
}

// resolveSpool: $ORION_SPOOL, else the nearest .orion/ upwards from the working directory,
// else the user's data directory (DESIGN.md, CLI conventions).
func resolveSpool() string {
	if env := os.Getenv("ORION_SPOOL"); env != "" {
		if env[0] == '~' {
			return os.Getenv("HOME") + env[1:]
		}
		return env
	}
	if dir, err := os.Getwd(); err == nil {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		for {
			candidate := filepath.Join(dir, ".orion")
			if info, err := os.Stat(candidate); err == nil && info.IsDir() {
				return filepath.Join(candidate, "spool")
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if xdg := os.Getenv("XDG_DATA_HOME"); xdg != "" {
		return filepath.Join(xdg, "orionis", "spool")
	}
	return filepath.Join(os.Getenv("HOME"), ".local", "share", "orionis", "spool")
}
