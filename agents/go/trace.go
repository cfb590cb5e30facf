package orion

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A trace is one file: the process's, or a test's (spec section 8). Its records are
// written as they happen (dev, safe), or kept in a ring and written only when something
// fails (error, spec 6.3).

const agentVersion = "0.1.0"

// fnInfo is a function the instrumenting tool registered: where it is, and the lines its
// body spans (to place a panic's frames on it).
type fnInfo struct {
	name, module, file string
	line, end          int
}

var registry struct {
	sync.RWMutex
	fns    []fnInfo
	byFile map[string][]int // the indexes of each file's functions: a panic looks up every frame
}

type eventKind uint8

const (
	evCall eventKind = iota
	evReturn
	evUnwind
	evRaised
	evCaught
	evEvent
)

// event is a record kept in an error-mode ring until the trace is written (in dev and safe
// modes it is encoded at once).
type event struct {
	tick  uint64
	lane  *lane
	fn    int32
	line  int32
	kind  eventKind
	extra *eventExtra // nil for a call or return without values: the hot path's events
}

type eventExtra struct {
	hasValue bool
	values   []any // arguments or locals (names and values), or the return value(s)
	text     [2]string
	attrs    *ordered
}

func (ev *event) hasValue() bool { return ev.extra != nil && ev.extra.hasValue }

type counts struct {
	calls, returns, unwinds, exceptions, crashes, stacks, events uint64
}

type trace struct {
	mu      sync.Mutex
	id      string
	startNs int64
	tick0   uint64
	name    string
	test    *ordered
	ring    []event
	ringAt  int
	ringN   int
	w       fileWriter
	opened  bool
	closed  atomic.Bool // written under mu; read without it (a new lane asks)
	strings map[string]uint64
	fnIDs   []int32 // registry index -> id in this file, -1: not yet defined
	nfns    int
	extIDs  map[string]uint64
	nlanes  int
	n       counts
	root    string
	maxT    int64
	exc     *ordered
	values  valueEncoder

	flushTimer *time.Timer
	flushArmed bool // the timer will flush what is pending
}

var (
	cfg       settings
	secrets   *redactor
	procStart = time.Now()
	// Values: whether arguments and return values are captured (dev mode); instrumented
	// code reads it to skip boxing them otherwise.
	Values bool
	// KeepLocals: whether a panic's frames get their locals (dev and error modes);
	// instrumented code defers its locals' Leave calls only then.
	KeepLocals bool
)

func newTrace(name string) *trace {
	var raw [16]byte
	rand.Read(raw[:])
	now := time.Now()
	t := &trace{id: hex.EncodeToString(raw[:]), startNs: now.UnixNano(), tick0: ticks(), name: name,
		strings: map[string]uint64{}, extIDs: map[string]uint64{}}
	t.values = valueEncoder{intern: t.intern, secrets: secrets}
	if cfg.mode == modeError {
		t.ring = newRing(name == "") // the process's ring at its size, a test's grows
	}
	return t
}

// now is the trace's time of a failure being written on `l`, never before the lane's
// last event.
func (t *trace) now(l *lane) int64 {
	return t.timeOn(l, ticks())
}

// timeOn converts a tick to the trace's time, keeping the lane's times in order.
func (t *trace) timeOn(l *lane, tick uint64) int64 {
	ns := ticksToNs(tick, t.tick0)
	if ns < l.lastT {
		ns = l.lastT
	}
	l.lastT = ns
	if ns > t.maxT {
		t.maxT = ns
	}
	return ns
}

// add records an event: encoded at once, or kept in the ring.
func (t *trace) add(ev event) {
	t.mu.Lock()
	t.addLocked(&ev)
	t.mu.Unlock()
}

// addLocked is add with the trace's lock held.
func (t *trace) addLocked(ev *event) {
	if t.closed.Load() {
		return
	}
	if ev.kind == evCall && t.root == "" {
		t.root = functionName(int(ev.fn))
	}
	if t.ring != nil {
		t.remember(ev)
	} else if t.ensureOpen() {
		t.encode(ev)
		t.recorded()
	}
}

// remember keeps an event in the error-mode ring.
func (t *trace) remember(ev *event) {
	if len(t.ring) < cfg.ring { // grows to its size: a test's trace seldom fills it
		if len(t.ring) == cap(t.ring) {
			grown := make([]event, len(t.ring), min(2*cap(t.ring), cfg.ring))
			copy(grown, t.ring)
			t.ring = grown
		}
		t.ring = append(t.ring, *ev)
	} else {
		t.ring[t.ringAt] = *ev
		t.ringAt = (t.ringAt + 1) % len(t.ring)
	}
	t.ringN = len(t.ring)
}

// addBare records a call of registered function fn, or a return when fn < 0, without
// values: most of what a calls-only trace holds, so it is written here in one go when
// the trace is being written and already defines the lane and the function; as add does
// otherwise (their first event, error mode's ring).
func (t *trace) addBare(l *lane, fn int32, tick uint64) {
	t.mu.Lock()
	if t.ring != nil && t.root != "" && !t.closed.Load() {
		kind := evCall
		if fn < 0 {
			kind = evReturn
		}
		t.remember(&event{kind: kind, fn: fn, tick: tick, lane: l})
		t.mu.Unlock()
		return
	}
	if t.ring == nil && t.w.file != nil && l.defined && t.root != "" && !t.closed.Load() &&
		(fn < 0 || int(fn) < len(t.fnIDs) && t.fnIDs[fn] >= 0) {
		if fn < 0 {
			t.n.returns++
			t.w.bare(5, t.timeOn(l, tick), l.id, -1)
		} else {
			t.n.calls++
			t.w.bare(4, t.timeOn(l, tick), l.id, int64(t.fnIDs[fn]))
		}
		if len(t.w.buf) >= frameTarget || !t.flushArmed { // recorded's work, seldom needed
			t.recorded()
		}
		t.mu.Unlock()
		return
	}
	ev := event{kind: evCall, fn: fn, tick: tick, lane: l}
	if fn < 0 {
		ev = event{kind: evReturn, tick: tick, lane: l}
	}
	t.addLocked(&ev)
	t.mu.Unlock()
}

// recorded ends a record's writing: the frame is handed over when full, and the timer
// armed for what waits.
func (t *trace) recorded() {
	t.w.flushIfFull()
	if !t.flushArmed {
		t.armFlush()
	}
}

// flushWithin bounds how long a record waits in memory, so that a kill -9 loses at most
// ~100 ms of events (docs/security.md). A timer armed by the first record after a flush,
// not a ticker: a program left with nothing to do still ends as Go ends it (the runtime
// reports a deadlock only when no timer is pending).
const flushWithin = 90 * time.Millisecond

func (t *trace) armFlush() {
	t.flushArmed = true
	if t.flushTimer == nil {
		t.flushTimer = time.AfterFunc(flushWithin, t.timedFlush)
	} else {
		t.flushTimer.Reset(flushWithin)
	}
}

func (t *trace) timedFlush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushArmed = false
	t.w.flush()
}

// newRing is an empty error-mode ring, with room for all its events or for a few.
func newRing(whole bool) []event {
	if whole {
		return make([]event, 0, cfg.ring)
	}
	return make([]event, 0, min(cfg.ring, 1024))
}

func functionName(fn int) string {
	registry.RLock()
	defer registry.RUnlock()
	return registry.fns[fn].name
}

func (t *trace) fileName() string {
	stamp := time.Unix(0, t.startNs).UTC()
	return fmt.Sprintf("%s%06dZ-%s.otrace", stamp.Format("20060102T150405"),
		stamp.Nanosecond()/1000, t.id)
}

// ensureOpen creates the file with its header (the first frame, written at once).
func (t *trace) ensureOpen() bool {
	if t.opened {
		return t.w.file != nil
	}
	return t.open()
}

func (t *trace) open() bool {
	t.opened = true
	if err := t.w.open(cfg.spool, t.fileName(), t.header()); err != nil {
		fmt.Fprintf(os.Stderr, "orion: cannot write a trace into %s: %v\n", cfg.spool, err)
		return false
	}
	watchCrashes(t)
	return true
}

func (t *trace) intern(s string) uint64 {
	if id, ok := t.strings[s]; ok {
		return id
	}
	id := uint64(len(t.strings))
	t.strings[s] = id
	t.w.untimed(1, 3)
	t.w.buf = mpUint(t.w.buf, id)
	t.w.buf = mpStr(t.w.buf, s)
	return id
}

func (t *trace) sidOrNil(s string) {
	if s == "" {
		t.w.buf = mpNil(t.w.buf)
		return
	}
	t.w.buf = mpUint(t.w.buf, t.intern(s))
}

// function gives a registered function its id in this file, defining it on first use.
func (t *trace) function(fn int) uint64 {
	if fn < len(t.fnIDs) && t.fnIDs[fn] >= 0 {
		return uint64(t.fnIDs[fn])
	}
	return t.defineRegistered(fn)
}

func (t *trace) defineRegistered(fn int) uint64 {
	registry.RLock()
	info := registry.fns[fn]
	registry.RUnlock()
	id := t.defineFunction(info.name, info.module, info.file, info.line)
	for len(t.fnIDs) <= fn {
		t.fnIDs = append(t.fnIDs, -1)
	}
	t.fnIDs[fn] = int32(id)
	return id
}

// externalFunction: a frame of code the tool did not instrument (the standard library, a
// dependency), which only appears in stacks.
func (t *trace) externalFunction(f runtime.Frame) uint64 {
	key := f.Function + "\x00" + f.File
	if id, ok := t.extIDs[key]; ok {
		return id
	}
	module, name := splitFuncName(f.Function)
	id := t.defineFunction(name, module, f.File, 0)
	t.extIDs[key] = id
	return id
}

// splitFuncName splits a runtime function name (`example.com/m/pkg.(*T).M`) into its
// package path and the rest.
func splitFuncName(full string) (module, name string) {
	slash := strings.LastIndexByte(full, '/')
	dot := strings.IndexByte(full[slash+1:], '.')
	if dot < 0 {
		return "", full
	}
	return full[:slash+1+dot], full[slash+2+dot:]
}

func (t *trace) defineFunction(name, module, file string, line int) uint64 {
	nameID, moduleID, fileID := t.intern(name), t.intern(module), t.intern(file)
	id := uint64(t.nfns)
	t.nfns++
	t.w.untimed(2, 6)
	t.w.buf = mpUint(t.w.buf, id)
	t.w.buf = mpUint(t.w.buf, nameID)
	t.w.buf = mpUint(t.w.buf, moduleID)
	t.w.buf = mpUint(t.w.buf, fileID)
	if line > 0 {
		t.w.buf = mpUint(t.w.buf, uint64(line))
	} else {
		t.w.buf = mpNil(t.w.buf)
	}
	return id
}

// laneID defines a lane (its parent first) on first use.
func (t *trace) laneID(l *lane) uint64 {
	if l.defined {
		return l.id
	}
	return t.defineLane(l)
}

func (t *trace) defineLane(l *lane) uint64 {
	parent := -1
	if l.parent != nil && l.parent.tr == t {
		parent = int(t.laneID(l.parent))
	}
	name, kind := t.intern(fmt.Sprintf("goroutine %d", l.goid)), t.intern("goroutine")
	id := uint64(t.nlanes)
	t.nlanes++
	l.id, l.defined = id, true
	t.w.untimed(3, 6)
	t.w.buf = mpUint(t.w.buf, id)
	t.w.buf = mpUint(t.w.buf, name)
	t.w.buf = mpUint(t.w.buf, kind)
	t.w.buf = mpNil(t.w.buf)
	if parent >= 0 {
		t.w.buf = mpUint(t.w.buf, uint64(parent))
	} else {
		t.w.buf = mpNil(t.w.buf)
	}
	return id
}

// encode writes one event; returns its time.
func (t *trace) encode(ev *event) {
	lane := t.laneID(ev.lane)
	now := t.timeOn(ev.lane, ev.tick)
	switch ev.kind {
	case evCall:
		fn := t.function(int(ev.fn))
		t.n.calls++
		if ev.hasValue() {
			var args []byte
			args = t.values.pairs(args, ev.extra.values)
			t.w.timed(4, 5, now, lane)
			t.w.buf = mpUint(t.w.buf, fn)
			t.w.buf = append(t.w.buf, args...)
		} else {
			t.w.bare(4, now, lane, int64(fn))
		}
	case evReturn:
		t.n.returns++
		if !ev.hasValue() {
			t.w.bare(5, now, lane, -1)
			return
		}
		var value []byte
		if len(ev.extra.values) == 1 {
			value = t.values.value(value, ev.extra.values[0])
		} else {
			value = t.results(value, ev.extra.values)
		}
		t.w.timed(5, 4, now, lane)
		t.w.buf = append(t.w.buf, value...)
	case evUnwind:
		t.n.unwinds++
		if !ev.hasValue() {
			t.w.timed(7, 4, now, lane)
			t.lineOrNil(int(ev.line))
			return
		}
		locals := t.values.pairs(nil, ev.extra.values)
		t.w.timed(7, 5, now, lane)
		t.lineOrNil(int(ev.line))
		t.w.buf = append(t.w.buf, locals...)
	case evRaised, evCaught:
		t.n.exceptions++
		typ := t.intern(ev.extra.text[0])
		t.w.timed(6, 7, now, lane)
		t.w.buf = mpUint(t.w.buf, uint64(ev.kind-evRaised))
		t.w.buf = mpUint(t.w.buf, typ)
		t.w.buf = mpStr(t.w.buf, ev.extra.text[1])
		t.lineOrNil(int(ev.line))
	case evEvent:
		t.n.events++
		kind := t.intern(ev.extra.text[0])
		t.w.timed(10, 5, now, lane)
		t.w.buf = mpUint(t.w.buf, kind)
		t.w.buf = mpAny(t.w.buf, ev.extra.attrs)
	}
}

// results: several return values, captured as one sequence.
func (t *trace) results(b []byte, values []any) []byte {
	b = mpArray(b, 4)
	b = mpUint(b, uint64(nodeSeq))
	b = mpUint(b, t.intern("results"))
	b = mpArray(b, len(values))
	for _, v := range values {
		b = t.values.value(b, v)
	}
	return mpNil(b)
}

func (t *trace) lineOrNil(line int) {
	if line > 0 {
		t.w.buf = mpUint(t.w.buf, uint64(line))
	} else {
		t.w.buf = mpNil(t.w.buf)
	}
}

// failure is what a trace ends with when something went wrong.
type failure struct {
	status   string // failed or crashed
	kind     string // crash kind: panic, exit, test
	typ      string
	message  string
	exitCode *int
	lane     *lane
	frames   []stackFrame // outermost first
	crash    bool         // write a crash record
	detail   *ordered
}

type stackFrame struct {
	fn       int // registered function, or -1
	external runtime.Frame
	line     int
	locals   []any
}

// finish ends the trace: nothing more is recorded in it. An error-mode trace that did not
// fail is dropped; otherwise the file gets the failure's records, the end record and the
// trailer, and is reported.
func (t *trace) finish(f *failure, exitCode *int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return
	}
	t.closed.Store(true)
	if t.ring != nil {
		if f == nil {
			return
		}
		if !t.ensureOpen() {
			return
		}
		t.replayRing()
	} else if !t.ensureOpen() {
		return
	}
	status := "ok"
	if f != nil {
		status = f.status
		if f.exitCode != nil {
			exitCode = f.exitCode
		}
		t.exc = (&ordered{}).set("type", f.typ).set("message", f.message)
		if f.kind != "" {
			t.exc.set("kind", f.kind)
		}
		if f.lane != nil {
			t.writeFailure(t.now(f.lane), f)
		}
	}
	t.w.finish(func(checksum uint32, records uint64) []byte {
		return mpAny(nil, t.summary(status, exitCode, checksum, records))
	})
	unwatchCrashes(t)
	report(t.w.path)
}

func (t *trace) replayRing() {
	start := t.ringAt - t.ringN
	if start < 0 {
		start += len(t.ring)
	}
	for i := 0; i < t.ringN; i++ {
		ev := &t.ring[(start+i)%len(t.ring)]
		t.encode(ev)
		t.w.flushIfFull()
	}
	t.ring = nil
}

func (t *trace) writeFailure(now int64, f *failure) {
	lane := t.laneID(f.lane)
	if len(f.frames) > 0 {
		frames := make([][]byte, len(f.frames))
		for i, sf := range f.frames {
			var b []byte
			b = mpArray(b, 3)
			if sf.fn >= 0 {
				b = mpUint(b, t.function(sf.fn))
			} else {
				b = mpUint(b, t.externalFunction(sf.external))
			}
			if sf.line > 0 {
				b = mpUint(b, uint64(sf.line))
			} else {
				b = mpNil(b)
			}
			if sf.locals != nil {
				b = t.values.pairs(b, sf.locals)
			} else {
				b = mpNil(b)
			}
			frames[i] = b
		}
		t.n.stacks++
		t.w.timed(9, 5, now, lane)
		t.w.buf = mpStr(t.w.buf, f.kind)
		t.w.buf = mpArray(t.w.buf, len(frames))
		for _, b := range frames {
			t.w.buf = append(t.w.buf, b...)
		}
	}
	if f.crash {
		t.n.crashes++
		t.w.timed(8, 7, now, lane)
		t.w.buf = mpStr(t.w.buf, f.kind)
		t.w.buf = mpStr(t.w.buf, f.typ)
		t.w.buf = mpStr(t.w.buf, f.message)
		detail := f.detail
		if detail == nil {
			detail = &ordered{}
		}
		t.w.buf = mpAny(t.w.buf, detail)
	}
}

func (t *trace) summary(status string, exitCode *int, checksum uint32, records uint64) *ordered {
	s := &ordered{}
	s.set("trace_id", t.id).set("status", status).set("language", "go")
	s.set("mode", modeNames[cfg.mode]).set("start_ns", t.startNs).set("duration_ns", t.maxT)
	s.set("command", process.argv).set("host", process.host).set("pid", process.pid)
	if t.root != "" {
		s.set("root", t.root)
	} else {
		s.set("root", nil)
	}
	if t.exc != nil && status != "ok" {
		s.set("exception", t.exc)
	} else {
		s.set("exception", nil)
	}
	if exitCode != nil {
		s.set("exit_code", *exitCode)
	} else {
		s.set("exit_code", nil)
	}
	n := (&ordered{}).set("records", records).set("calls", t.n.calls).set("returns", t.n.returns)
	n.set("unwinds", t.n.unwinds).set("exceptions", t.n.exceptions).set("crashes", t.n.crashes)
	n.set("stacks", t.n.stacks).set("events", t.n.events)
	n.set("functions", uint64(t.nfns)).set("lanes", uint64(t.nlanes))
	s.set("counts", n).set("checksum", uint64(checksum)).set("agent", "orion-go "+agentVersion)
	if cfg.service != "" {
		s.set("service", cfg.service)
	}
	if t.name != "" {
		s.set("name", t.name)
	}
	if t.test != nil {
		s.set("test", t.test)
	}
	if cfg.parent[0] != "" {
		s.set("parent", (&ordered{}).set("trace_id", cfg.parent[0]).set("span_id", cfg.parent[1]))
	}
	return s
}

// report appends a written trace's path to $ORION_REPORT, as every agent does.
func report(path string) {
	if cfg.report == "" || path == "" {
		return
	}
	f, err := os.OpenFile(cfg.report, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	f.WriteString(path + "\n")
	f.Close()
}
