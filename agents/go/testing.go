package orion

import (
	"os"
	"reflect"
	"strings"
	"sync"
)

// `go test`: every test function gets a trace of its own (the instrumenting tool adds
// `defer orion.TestStart(t).End()` to it). Error mode writes the trace only when the test
// fails; dev and safe modes write every test's.

// TB is what the agent needs of a *testing.T.
type TB interface {
	Name() string
	Failed() bool
}

// Test is a running test's trace.
type Test struct {
	tb TB
	tr *trace
	l  *lane
}

// TestStart begins the trace of the test `tb`, on the running goroutine.
func TestStart(tb TB) *Test {
	if off {
		return nil
	}
	settingsSeenByTestCache.Do(readSettingsAgain)
	teeChattyOutput(tb)
	t := newTrace(tb.Name())
	return &Test{tb: tb, tr: t, l: rebind(t)}
}

var settingsSeenByTestCache sync.Once

// readSettingsAgain reads the settings that decide what a passing test writes while the
// test runs: go test keys its cached results on the variables a test reads (it cannot see
// the agent's reads at start-up), so `orion test --mode dev` after a run in error mode, or
// into another spool, runs the tests again instead of answering "(cached)" with no trace.
func readSettingsAgain() {
	for _, name := range []string{"ORION_MODE", "ORION_SPOOL", "ORION_RING"} {
		os.Getenv(name)
	}
}

// End finishes the test's trace (deferred): failed when the test failed or panicked.
func (x *Test) End() {
	if x == nil {
		return
	}
	isPanicking, _ := panicking()
	failed := isPanicking || x.tb.Failed()
	x.tr.test = (&ordered{}).set("id", x.tb.Name()).set("outcome", map[bool]string{true: "failed", false: "passed"}[failed])
	if !failed {
		x.tr.finish(nil, nil)
		return
	}
	f := &failure{status: "failed", kind: "test", typ: "test failed", lane: x.l}
	if p := x.l.panic; p != nil && isPanicking {
		f = p.failure(x.l, "failed", "panic", nil)
		unwatchCrashes(procTrace) // the test binary dies of it: this trace tells it already
	} else {
		f.frames = callerFrames(3)
	}
	logged := chattyLogs.take(x.tb.Name())
	f.message = firstRunes(secrets.scrub(failureOutput(x.tb, f.message, logged)), 4000)
	x.tr.finish(f, nil)
}

// failureOutput is what the test logged (t.Error, t.Fatal ...) before it ended, read from
// the testing package's buffer where it has one, else what `go test -v` printed for it
// (`printed`); else `fallback`.
func failureOutput(tb TB, fallback, printed string) string {
	logged := strings.TrimSpace(bufferedOutput(tb))
	if logged == "" {
		logged = strings.TrimSpace(printed)
	}
	if logged == "" {
		return fallback
	}
	if fallback != "" {
		return fallback + "\n" + logged
	}
	return logged
}

// bufferedOutput is the testing package's buffer of what the test logged, if it has one.
func bufferedOutput(tb TB) (text string) {
	defer func() {
		if recover() != nil {
			text = ""
		}
	}()
	v := reflect.ValueOf(tb)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	output := v.FieldByName("output")
	if !output.IsValid() || output.Kind() != reflect.Slice {
		return ""
	}
	return string(output.Bytes())
}
