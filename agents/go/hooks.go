package orion

import (
	"fmt"
	"os"
	"path"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// The hooks instrumented code calls: a function's prologue calls Enter (or EnterArgs when
// Values is true) and defers a call to its Frame's Exit, which tells it whether to hand
// over its return values (Returned) or, when a panic unwinds it, its arguments (Unwound).

// lane is a goroutine as recorded in one trace.
type lane struct {
	goid    uint64
	parent  *lane
	tr      *trace
	fns     []int  // the registered functions open on this goroutine, innermost last
	lastT   int64  // the time of its last event in its trace
	id      uint64 // its id in its trace, once defined there
	defined bool
	panic   *panicState
	kept    []any // locals (names and values) a panic's unwinding frame kept for its unwind
	keptAt  int   // the depth (len(fns)) of that frame
}

// panicState follows a panic from the frame that raised it outwards.
type panicState struct {
	typ     string
	message string
	frames  []stackFrame    // innermost first, from where it was raised, as far as read
	unread  []uintptr       // the rest of the stack, read as the unwinding reaches it
	pending []runtime.Frame // the frames of the last address read not taken yet (inlining)
	inPanic bool            // the runtime's frames of the panic itself are read
	next    int             // the next frame an unwinding instrumented function matches
}

const laneSlots = 4096

var (
	off       bool
	procTrace *trace
	laneCache [laneSlots]atomic.Pointer[lane]
	lanesMu   sync.Mutex
	lanes     = map[uint64]*lane{}
)

func init() {
	cfg = readSettings()
	if cfg.disabled {
		off = true
		return
	}
	secrets = newRedactor()
	readProcess()
	calibrate()
	startClock()
	Values = cfg.mode == modeDev
	KeepLocals = cfg.mode != modeSafe
	procTrace = newTrace("")
	if testBinary := strings.HasSuffix(os.Args[0], ".test"); testBinary && procTrace.ring == nil { // a test binary's own trace: only on a failure
		procTrace.ring = newRing(false)
	}
	if cfg.report != "" {
		watchCrashes(procTrace)
	}
}

// currentLane is the running goroutine's lane, created on its first event (its parent the
// lane of the goroutine that started it, in that goroutine's trace).
func currentLane() *lane { return laneOf(getg()) }

// laneOf is the lane of the goroutine whose runtime g is `g` (0: unknown).
func laneOf(g uintptr) *lane {
	goid := goidOf(g)
	if l := laneCache[goid%laneSlots].Load(); l != nil && l.goid == goid {
		return l
	}
	return findLane(goid)
}

// findLane looks the goroutine's lane up, or makes it, and caches it.
func findLane(goid uint64) *lane {
	slot := &laneCache[goid%laneSlots]
	lanesMu.Lock()
	defer lanesMu.Unlock()
	l := lanes[goid]
	if l == nil {
		if len(lanes) >= maxLanes {
			forgetIdleLanes()
		}
		_, parentGoid := stackGoid()
		parent := lanes[parentGoid]
		l = &lane{goid: goid, parent: parent, tr: procTrace}
		if parent != nil && !parent.tr.isClosed() {
			l.tr = parent.tr
		}
		lanes[goid] = l
	}
	slot.Store(l)
	return l
}

// maxLanes bounds the goroutines remembered: a server starts one per request.
const maxLanes = 10000

// forgetIdleLanes drops the lanes with no instrumented call open (most belong to
// goroutines that ended); one that calls again gets a new lane. Lock held.
func forgetIdleLanes() {
	for goid, l := range lanes {
		if len(l.fns) == 0 {
			delete(lanes, goid)
		}
	}
}

// rebind gives the running goroutine a fresh lane in trace `t` (a test starting).
func rebind(t *trace) *lane {
	l := currentLane()
	fresh := &lane{goid: l.goid, tr: t}
	lanesMu.Lock()
	lanes[l.goid] = fresh
	laneCache[l.goid%laneSlots].Store(fresh)
	lanesMu.Unlock()
	return fresh
}

func (t *trace) isClosed() bool { return t.closed.Load() }

// Fn describes an instrumented function to Register.
type Fn struct {
	Name      string
	Line, End int
}

// Register is called once per instrumented file (a package-level variable at its end):
// it makes the file's functions known and returns the index of the first.
func Register(module, file string, fns ...Fn) int {
	registry.Lock()
	defer registry.Unlock()
	base := len(registry.fns)
	if registry.byFile == nil {
		registry.byFile = map[string][]int{}
	}
	for _, f := range fns {
		registry.byFile[file] = append(registry.byFile[file], len(registry.fns))
		registry.fns = append(registry.fns, fnInfo{f.Name, module, file, f.Line, f.End})
	}
	return base
}

// Frame is an instrumented function's activation.
type Frame struct {
	l        *lane
	fn       int
	inFlight uintptr // the panic already running when the function was called (a deferred call)
	g        uintptr // the goroutine's runtime g: its exit looks for a panic there without reading it again
}

// Enter records a call without its arguments.
func Enter(fn int) Frame {
	if off {
		return Frame{}
	}
	g := getg()
	l, inFlight := begin(g, fn)
	l.tr.addBare(l, int32(fn), ticks())
	return Frame{l: l, fn: fn, inFlight: inFlight, g: g}
}

// begin opens fn on the lane of the running goroutine (whose runtime g is `g`), and tells
// the panic already running (Enter's and EnterArgs' common part).
func begin(g uintptr, fn int) (*lane, uintptr) {
	l := laneOf(g)
	if l.panic != nil && len(l.fns) == 0 {
		l.panic = nil // recovered below the goroutine's instrumented calls (net/http does)
	}
	l.fns = append(l.fns, fn)
	return l, panicOf(g)
}

// EnterArgs records a call with its arguments, as alternating names and values.
func EnterArgs(fn int, namesAndValues ...any) Frame {
	if off {
		return Frame{}
	}
	g := getg()
	l, inFlight := begin(g, fn)
	if namesAndValues == nil {
		namesAndValues = []any{}
	}
	l.tr.add(event{kind: evCall, fn: int32(fn), tick: ticks(), lane: l, extra: &eventExtra{values: namesAndValues, hasValue: true}})
	return Frame{l: l, fn: fn, inFlight: inFlight, g: g}
}

// What Exit asks of the instrumented function's deferred code.
const (
	exitDone   = 0 // nothing
	exitValues = 1 // call Returned with the return values
	exitLocals = 2 // call Unwound with the arguments
)

// Exit ends the frame: a return, or an unwind when a panic runs the deferred call.
func (f Frame) Exit() int { return f.exit(false) }

// exit is Exit, or (keepOnly, for a Leave call after a local's declaration) whether the
// frame's locals are to be kept for the unwind of a panic leaving it.
func (f *Frame) exit(keepOnly bool) int {
	if keepOnly {
		if f.Unwinding() {
			return exitLocals
		}
		return exitDone
	}
	if f.l == nil {
		return exitDone
	}
	if mayBePanicking(f.g) {
		if isPanicking, value := panicking(); isPanicking && (f.inFlight == 0 || f.inFlight != currentPanic()) {
			f.raised(value)
			if cfg.mode == modeSafe {
				f.unwound(nil, false)
				return exitDone
			}
			return exitLocals
		}
	}
	if p := f.l.panic; p != nil { // recovered here, or below by code we do not see
		f.l.panic = nil
		f.l.tr.add(event{kind: evCaught, tick: ticks(), lane: f.l, extra: &eventExtra{text: [2]string{p.typ, p.message}}})
	}
	if Values {
		return exitValues
	}
	f.returned(nil, false)
	return exitDone
}

// Returned records the return with its values.
func (f Frame) Returned(values ...any) { f.returned(values, true) }

// Unwound records that a panic left the frame, with its arguments and named results as
// they are now, and the locals the frame kept.
func (f Frame) Unwound(namesAndValues ...any) {
	if f.l.kept != nil && f.l.keptAt == len(f.l.fns) {
		namesAndValues = append(namesAndValues, f.l.kept...)
	}
	f.unwound(namesAndValues, true)
}

// Unwinding tells whether a panic is leaving the function and values are captured: only
// then are its locals boxed.
func (f *Frame) Unwinding() bool {
	if f.l == nil || !KeepLocals {
		return false
	}
	p := currentPanic()
	return p != 0 && p != f.inFlight
}

// keep holds locals (names and values) for the frame's unwind record. Deferred calls run
// last registered first, and the last holds every local the first does: the first kept
// stays. A block's locals (until > 0, its last line) are kept only when the panic left
// the frame inside the block.
func (f *Frame) keep(until int, namesAndValues ...any) {
	l := f.l
	if until > 0 {
		if isPanicking, value := panicking(); isPanicking {
			f.raised(value) // the panic's frames, where this one's line is (once per panic)
		}
		if l.panic == nil || l.panic.lineOf(f.fn) > until {
			return
		}
	}
	if l.kept == nil || l.keptAt != len(l.fns) {
		l.kept, l.keptAt = namesAndValues, len(l.fns)
	}
}

func (f Frame) pop() {
	n := len(f.l.fns)
	if f.l.kept != nil && f.l.keptAt >= n {
		f.l.kept = nil
	}
	if n > 0 {
		f.l.fns = f.l.fns[:n-1]
	}
}

func (f Frame) returned(values []any, hasValue bool) {
	f.pop()
	if hasValue && len(values) == 0 {
		hasValue = false // a function without results returns no value
	}
	if !hasValue {
		f.l.tr.addBare(f.l, -1, ticks())
		return
	}
	f.l.tr.add(event{kind: evReturn, tick: ticks(), lane: f.l, extra: &eventExtra{values: values, hasValue: true}})
}

// raised starts following a panic at the innermost instrumented frame it reaches.
func (f Frame) raised(value any) {
	if f.l.panic != nil {
		return
	}
	p := &panicState{typ: "panic", message: "(unknown)"}
	if value != nil {
		p.typ = reflect.TypeOf(value).String()
		p.message = secrets.scrub(panicText(value))
	}
	p.unread = panickingStack()
	f.l.panic = p
	line := 0
	if fr := p.frame(0); fr != nil {
		line = fr.line
	}
	f.l.tr.add(event{kind: evRaised, tick: ticks(), lane: f.l, line: int32(line), extra: &eventExtra{text: [2]string{p.typ, p.message}}})
}

// panicText is the panic value as the runtime prints it after "panic: ".
func panicText(value any) (text string) {
	defer func() {
		if recover() != nil {
			text = fmt.Sprintf("(%T)", value)
		}
	}()
	switch v := value.(type) {
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(value)
}

// panickingStack: the running goroutine's stack, unread, from a deferred call that a panic
// runs (its innermost 256 frames).
func panickingStack() []uintptr {
	pcs := make([]uintptr, 256)
	return pcs[:runtime.Callers(2, pcs)]
}

// framesByPC caches what each code address of a panic's stack reads as: a deep stack
// repeats few of them, and reading one costs a microsecond.
var framesByPC sync.Map // uintptr -> []runtime.Frame

// framesAt: the frames (more than one where calls were inlined) at a return address.
func framesAt(pc uintptr) []runtime.Frame {
	if cached, ok := framesByPC.Load(pc); ok {
		return cached.([]runtime.Frame)
	}
	var out []runtime.Frame
	for frames, more := runtime.CallersFrames([]uintptr{pc}), true; more; {
		var fr runtime.Frame
		fr, more = frames.Next()
		out = append(out, fr)
	}
	framesByPC.Store(pc, out)
	return out
}

// frame is the panicking goroutine's i-th frame from where the panic was raised, outwards
// (the runtime's own frames of the panic left out), nil past the stack's end. Frames are
// read (symbolized) only as far as asked: a panic recovered a few frames up, as some
// programs do by the thousand in deep stacks, reads only those. The pointer is good until
// the next call.
func (p *panicState) frame(i int) *stackFrame {
	for len(p.frames) <= i && len(p.pending)+len(p.unread) > 0 {
		if len(p.pending) == 0 {
			p.pending, p.unread = framesAt(p.unread[0]), p.unread[1:]
		}
		fr := p.pending[0]
		p.pending = p.pending[1:]
		switch {
		case !p.inPanic:
			p.inPanic = fr.Function == "runtime.gopanic"
		case strings.HasPrefix(fr.Function, "runtime.") && len(p.frames) == 0:
		case bookkeeping(fr):
		default:
			p.frames = append(p.frames, stackFrame{fn: registeredAt(fr.File, fr.Line), external: fr, line: fr.Line})
		}
	}
	if i < len(p.frames) {
		return &p.frames[i]
	}
	return nil
}

// unwinding is the next frame of fn the panic leaves, and its index; nil if none.
func (p *panicState) unwinding(fn int) (*stackFrame, int) {
	for i := p.next; ; i++ {
		fr := p.frame(i)
		if fr == nil || fr.fn == fn {
			return fr, i
		}
	}
}

// registeredAt is the innermost registered function whose body holds file:line, or -1.
func registeredAt(file string, line int) int {
	registry.RLock()
	defer registry.RUnlock()
	best, span := -1, 0
	for _, i := range registry.byFile[file] {
		if f := registry.fns[i]; f.line <= line && line <= f.end && (best < 0 || f.end-f.line < span) {
			best, span = i, f.end-f.line
		}
	}
	return best
}

// lineOf: the line at which the panic leaves the frame of fn it unwinds next.
func (p *panicState) lineOf(fn int) int {
	if fr, _ := p.unwinding(fn); fr != nil {
		return fr.line
	}
	return 0
}

func (f Frame) unwound(locals []any, hasValue bool) {
	l, p := f.l, f.l.panic
	line := 0
	if p != nil {
		if fr, i := p.unwinding(f.fn); fr != nil {
			line = fr.line
			if hasValue {
				fr.locals = locals
			}
			p.next = i + 1
		}
	}
	f.pop()
	l.tr.add(event{kind: evUnwind, tick: ticks(), lane: l, line: int32(line), extra: &eventExtra{values: locals, hasValue: hasValue}})
	// Nothing but the runtime's goroutine start below the outermost instrumented frame: no
	// code can recover the panic, it is fatal.
	if len(l.fns) == 0 && p != nil && p.next > 0 && p.frame(p.next) == nil {
		code := 2
		l.tr.finish(p.failure(l, "crashed", "panic", &code), nil)
	}
}

func (p *panicState) failure(l *lane, status, kind string, exitCode *int) *failure {
	for i := 0; p.frame(i) != nil; i++ { // the whole stack
	}
	frames := make([]stackFrame, len(p.frames))
	for i, fr := range p.frames { // outermost first
		frames[len(frames)-1-i] = fr
	}
	goid := fmt.Sprint(l.goid)
	return &failure{status: status, kind: kind, typ: p.typ, message: p.message, exitCode: exitCode,
		lane: l, frames: frames, crash: kind == "panic",
		detail: (&ordered{}).set("recovered", false).set("goroutine", goid)}
}

// MainDone is deferred first in main.main: the process trace ends when main returns
// (a panic leaving main ends it through the unwind instead).
func MainDone() {
	if off {
		return
	}
	if isPanicking, _ := panicking(); isPanicking {
		return
	}
	code := 0
	procTrace.finish(nil, &code)
}

// ExitVia wraps os.Exit (the instrumenting tool rewrites `os.Exit(code)` into
// `orion.ExitVia(os.Exit)(code)`): the trace ends before the process does.
func ExitVia(exit func(int)) func(int) {
	return func(code int) {
		endProcess(code, fmt.Sprintf("exit status %d", code))
		exit(code)
	}
}

// FatalVia wraps log.Fatal and log.Fatalln: they print, then exit with status 1.
func FatalVia(fatal func(...any)) func(...any) {
	return func(v ...any) {
		endProcess(1, strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
		fatal(v...)
	}
}

// FatalfVia wraps log.Fatalf.
func FatalfVia(fatal func(string, ...any)) func(string, ...any) {
	return func(format string, v ...any) {
		endProcess(1, fmt.Sprintf(format, v...))
		fatal(format, v...)
	}
}

func endProcess(code int, message string) {
	if off {
		return
	}
	if code == 0 {
		procTrace.finish(nil, &code)
		return
	}
	l := currentLane()
	frames := callerFrames(3)
	l.tr.finish(&failure{status: "failed", kind: "exit", typ: "exit", message: secrets.scrub(message),
		exitCode: &code, lane: l, frames: frames}, nil)
	if l.tr != procTrace {
		procTrace.finish(nil, &code)
	}
}

// bookkeeping: frames a stack leaves out, the goroutine's start and the agent's own.
func bookkeeping(fr runtime.Frame) bool {
	return fr.Function == "runtime.goexit" || fr.Function == "runtime.main" ||
		path.Dir(fr.File) == agentSources
}

// agentSources is the directory of the agent's files (its functions can be inlined into the
// program's, so their names do not tell).
var agentSources = func() string {
	_, file, _, _ := runtime.Caller(0)
	return path.Dir(file)
}()

// callerFrames: the running goroutine's stack above `skip` frames, outermost first.
func callerFrames(skip int) []stackFrame {
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(skip, pcs)])
	var out []stackFrame
	for {
		fr, more := frames.Next()
		if !bookkeeping(fr) {
			out = append([]stackFrame{{fn: registeredAt(fr.File, fr.Line), external: fr, line: fr.Line}}, out...)
		}
		if !more {
			return out
		}
	}
}
