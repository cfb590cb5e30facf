//go:build go1.23

package orion

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
)

// A fatal runtime error (concurrent map writes, out of memory) ends the process without
// running any Go code; the runtime writes its report to the crash output as well as to
// stderr, and `orion run` turns it into the end of the trace.

func crashSidecar(t *trace) string {
	return filepath.Join(cfg.spool, "."+t.fileName()+".crash")
}

func watchCrashes(t *trace) {
	if cfg.report == "" || t != procTrace {
		return
	}
	os.MkdirAll(cfg.spool, 0o755)
	f, err := os.OpenFile(crashSidecar(t), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return
	}
	// The first line says whose report follows, for `orion run` to make a trace of it.
	about, _ := json.Marshal(map[string]any{"trace_id": t.id, "pid": process.pid,
		"argv": process.argv, "host": process.host, "mode": modeNames[cfg.mode]})
	f.Write(append(about, '\n'))
	if debug.SetCrashOutput(f, debug.CrashOptions{}) == nil {
		report(f.Name())
	}
	f.Close()
}

func unwatchCrashes(t *trace) {
	if cfg.report == "" || t != procTrace {
		return
	}
	debug.SetCrashOutput(nil, debug.CrashOptions{})
	os.Remove(crashSidecar(t))
}
