package orion

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// The manual API: for code that wants a region of its own in the trace, an event, or the
// W3C traceparent of the running trace; and for builds orion did not instrument (the agent
// starts as soon as the package is imported).

var spans struct {
	sync.Mutex
	ids map[string]int
}

// Span records a region as a call of a function named `name`, until the returned function
// is called: `defer orion.Span("load config")()`.
func Span(name string) func() {
	if off {
		return func() {}
	}
	spans.Lock()
	if spans.ids == nil {
		spans.ids = map[string]int{}
	}
	fn, ok := spans.ids[name]
	if !ok {
		fn = Register("span", "", Fn{Name: name})
		spans.ids[name] = fn
	}
	spans.Unlock()
	f := Enter(fn)
	return func() { f.returned(nil, false) }
}

// Event records something that happened (an HTTP request, a log line, a marker) with
// plain attributes: strings, numbers, booleans.
func Event(kind string, attrs map[string]any) {
	if off {
		return
	}
	l := currentLane()
	o := &ordered{}
	for k, v := range attrs {
		switch v.(type) {
		case string, int, int64, uint64, float64, bool, nil:
			o.set(k, v)
		default:
			o.set(k, "?")
		}
	}
	l.tr.add(event{kind: evEvent, tick: ticks(), lane: l, extra: &eventExtra{text: [2]string{kind}, attrs: o}})
}

// TraceID is the id of the trace the running goroutine records into ("" when off).
func TraceID() string {
	if off {
		return ""
	}
	return currentLane().tr.id
}

// TraceParent is a W3C traceparent header value naming the running trace and a new span.
func TraceParent() string {
	id := TraceID()
	if id == "" {
		return ""
	}
	var span [8]byte
	rand.Read(span[:])
	return "00-" + id + "-" + hex.EncodeToString(span[:]) + "-01"
}

// Stop ends the process's trace now (for programs that end in ways the agent cannot see).
func Stop() {
	if off {
		return
	}
	code := 0
	procTrace.finish(nil, &code)
}
