package orion

import (
	"os"
	"runtime"
	"strings"
)

// The header record (spec 4.1): who wrote the trace, for which process, in which
// environment, and what every record type means.

var process struct {
	pid         int
	argv        []string
	cwd, exe    string
	host        string
	goVersion   string
	selectedEnv *ordered
	omitted     int
}

// envSelected are the variables the header records (the Python agent's common list, then
// Go's own); ORION_ENV_ALLOW adds names or prefixes (ending in `*`).
var envSelected = []string{
	"PATH", "PWD", "LANG", "LANGUAGE", "LC_*", "TZ",
	"CI", "CONTINUOUS_INTEGRATION", "GITHUB_*", "RUNNER_*", "GITLAB_CI", "CI_*",
	"BUILDKITE*", "CIRCLE*", "TRAVIS*", "JENKINS_URL", "BUILD_*", "TF_BUILD",
	"SOURCE_DATE_EPOCH", "ORION_*",
	"GO*", "CGO_ENABLED",
}

func envPatternMatches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern != "" && pattern == name
}

func isEnvSelected(name string) bool {
	for _, p := range envSelected {
		if envPatternMatches(p, name) {
			return true
		}
	}
	for _, p := range strings.Split(os.Getenv("ORION_ENV_ALLOW"), ",") {
		if envPatternMatches(strings.TrimSpace(p), name) {
			return true
		}
	}
	return false
}

var redactedValue = (&ordered{}).set("t", "str").set("redacted", true)

func readProcess() {
	process.pid = os.Getpid()
	process.argv = secrets.scrubArgv(os.Args)
	process.cwd, _ = os.Getwd()
	process.exe, _ = os.Executable()
	process.host, _ = os.Hostname()
	process.goVersion = runtime.Version()
	vars := &ordered{}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if !isEnvSelected(name) {
			process.omitted++
			continue
		}
		if secrets.looksSecret(name) {
			vars.set(name, redactedValue)
		} else {
			vars.set(name, secrets.scrub(value))
		}
	}
	process.selectedEnv = vars
}

var recordTypes = []struct {
	code    int
	name    string
	columns []string
	timed   bool
}{
	{0, "header", []string{"meta"}, false},
	{1, "string", []string{"id", "text"}, false},
	{2, "function", []string{"id", "name", "module", "file", "line", "addr?"}, false},
	{3, "lane", []string{"id", "name", "kind", "native_id", "parent"}, false},
	{4, "call", []string{"dt", "lane", "fn", "args?"}, true},
	{5, "return", []string{"dt", "lane", "value?"}, true},
	{6, "exception", []string{"dt", "lane", "kind", "exc_type", "message", "line"}, true},
	{7, "unwind", []string{"dt", "lane", "line", "locals?"}, true},
	{8, "crash", []string{"dt", "lane", "kind", "reason", "message", "detail"}, true},
	{9, "stack", []string{"dt", "lane", "reason", "frames"}, true},
	{10, "event", []string{"dt", "lane", "kind", "attrs"}, true},
	{11, "module", []string{"id", "path", "base", "build_id", "size?", "mtime?"}, false},
	{15, "end", []string{"summary"}, false},
}

func (t *trace) header() []byte {
	h := &ordered{}
	h.set("format", "otrace").set("version", []any{1, 0}).set("trace_id", t.id)
	h.set("agent", (&ordered{}).set("language", "go").set("name", "orion-go").set("version", agentVersion))
	h.set("mode", modeNames[cfg.mode]).set("start_ns", t.startNs)
	h.set("process", (&ordered{}).set("pid", process.pid).set("argv", process.argv).
		set("cwd", process.cwd).set("executable", process.exe).set("host", process.host))
	h.set("env", (&ordered{}).set("os", runtime.GOOS).set("machine", runtime.GOARCH).
		set("runtime", process.goVersion).set("vars", process.selectedEnv).
		set("vars_omitted", process.omitted))
	records := make([]any, len(recordTypes))
	for i, r := range recordTypes {
		records[i] = (&ordered{}).set("type", r.code).set("name", r.name).
			set("columns", r.columns).set("timed", r.timed)
	}
	h.set("records", records)
	if cfg.service != "" {
		h.set("service", cfg.service)
	}
	if t.name != "" {
		h.set("name", t.name)
	}
	if cfg.parent[0] != "" {
		h.set("parent", (&ordered{}).set("trace_id", cfg.parent[0]).set("span_id", cfg.parent[1]))
	}
	if cfg.mode == modeError {
		h.set("window", "ring")
	}
	b := mpArray(nil, 2)
	b = mpUint(b, 0)
	return mpAny(b, h)
}
