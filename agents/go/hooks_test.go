package orion

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// freshTrace makes the process trace a new error-mode one (a ring to look into).
func freshTrace() {
	cfg.mode, cfg.ring = modeError, 100
	procTrace = newTrace("")
	lanesMu.Lock()
	lanes = map[uint64]*lane{}
	lanesMu.Unlock()
	for i := range laneCache {
		laneCache[i].Store(nil)
	}
}

func ringKinds() []eventKind {
	var kinds []eventKind
	for _, ev := range procTrace.ring[:procTrace.ringN] {
		kinds = append(kinds, ev.kind)
	}
	return kinds
}

// instrumented is what the rewrite makes of a function that may panic.
func instrumented(fn int, fail bool) {
	f := Enter(fn)
	defer func() {
		if f.Exit() == exitLocals {
			f.Unwound("fail", fail)
		}
	}()
	if fail {
		panic("boom")
	}
}

func TestAPanicRecoveredBelowTheInstrumentedCallsIsForgotten(t *testing.T) {
	freshTrace()
	fn := Register("m", "f.go", Fn{Name: "f", Line: 1, End: 2})
	done := make(chan struct{})
	go func() { // as net/http serves requests: it recovers a handler's panic, then goes on
		defer close(done)
		func() {
			defer func() { recover() }()
			instrumented(fn, true)
		}()
		instrumented(fn, false)
	}()
	<-done
	want := []eventKind{evCall, evRaised, evUnwind, evCall, evReturn}
	if got := ringKinds(); len(got) != len(want) || got[3] != evCall || got[4] != evReturn {
		t.Errorf("events %v, want %v (no caught)", got, want)
	}
}

func TestSpanAndEventAreRecorded(t *testing.T) {
	freshTrace()
	end := Span("load config")
	Event("cache.miss", map[string]any{"key": "k1", "size": 3})
	end()
	kinds := ringKinds()
	if len(kinds) != 3 || kinds[0] != evCall || kinds[1] != evEvent || kinds[2] != evReturn {
		t.Fatalf("events %v", kinds)
	}
	if name := functionName(int(procTrace.ring[0].fn)); name != "load config" {
		t.Errorf("the span's function is %q", name)
	}
	if procTrace.ring[1].extra.attrs.get("key") != "k1" {
		t.Errorf("the event's attributes: %+v", procTrace.ring[1].extra.attrs)
	}
}

func TestLanesOfEndedGoroutinesAreForgotten(t *testing.T) {
	freshTrace()
	fn := Register("m", "f.go", Fn{Name: "f", Line: 1, End: 2})
	for i := 0; i < maxLanes+100; i++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			instrumented(fn, false)
		}()
		<-done
	}
	lanesMu.Lock()
	defer lanesMu.Unlock()
	if len(lanes) > maxLanes {
		t.Errorf("%d lanes remembered", len(lanes))
	}
}

func TestTheRingKeepsTheLatestEvents(t *testing.T) {
	freshTrace()
	cfg.ring = 16
	defer func() { cfg.ring = 100 }()
	fn := Register("m", "f.go", Fn{Name: "f", Line: 1, End: 2})
	for i := 0; i < 15; i++ { // 30 events into 16 places
		instrumented(fn, false)
	}
	if len(procTrace.ring) != 16 || procTrace.ringN != 16 {
		t.Fatalf("the ring holds %d events", len(procTrace.ring))
	}
	oldest := procTrace.ring[procTrace.ringAt].tick
	for _, ev := range procTrace.ring {
		if ev.tick < oldest {
			t.Errorf("the ring's oldest event is not where replay starts")
		}
	}
}

// described is a program's type with a String method, instrumented as the rewrite does.
type described struct{ fn int }

func (d described) String() string {
	f := Enter(d.fn)
	defer f.Exit()
	return "described"
}

func TestCapturingAValueNeverCallsTheProgramsMethods(t *testing.T) {
	freshTrace()
	cfg.mode, cfg.spool, Values = modeDev, t.TempDir(), true
	procTrace = newTrace("")
	defer func() { cfg.mode, Values = modeError, false }()
	fn := Register("m", "f.go", Fn{Name: "f", Line: 1, End: 2}, Fn{Name: "String", Line: 3, End: 4})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f := EnterArgs(fn, "value", described{fn + 1})
		if f.Exit() == exitValues {
			f.Returned(described{fn + 1})
		}
		procTrace.finish(nil, nil)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("recording a value whose String method is instrumented deadlocked")
	}
	if procTrace.nfns != 1 {
		t.Errorf("%d functions in the trace: String was called", procTrace.nfns)
	}
}

// A panic's stack is read (symbolized) only as far as the unwinding asks: go-cmp's tests,
// which recover panics a frame or two up deep stacks by the thousand, ran 30 times slower
// than plain when every panic read 256 frames.
func TestAPanicsStackIsReadOnlyAsFarAsAsked(t *testing.T) {
	var p *panicState
	var deep func(n int)
	deep = func(n int) {
		if n > 0 { // each level through the standard library, whose frames a stack keeps
			strings.Map(func(r rune) rune { deep(n - 1); return r }, "x")
			return
		}
		defer func() { recover() }()
		defer func() { p = &panicState{unread: panickingStack()} }() // as raised does
		panic("boom")
	}
	deep(200)
	if p.frame(1) == nil || len(p.frames) != 2 {
		t.Fatalf("reading two frames read %d", len(p.frames))
	}
	for i := 0; p.frame(i) != nil; i++ {
	}
	if len(p.frames) < 50 || p.frames[0].external.Function != "strings.Map" { // 256 frames, a third the library's
		t.Errorf("the whole stack is %d frames, from %s", len(p.frames), p.frames[0].external.Function)
	}
}

func divideInlined(a, b int) int { return a / b }

// Reading a stack address by address (cached) gives what reading it whole does, inlined
// calls and a runtime error's faulting frame (after sigpanic) included.
func TestAStackReadByAddressReadsAsAWhole(t *testing.T) {
	var pcs []uintptr
	func() {
		defer func() { recover() }()
		defer func() { pcs = panickingStack() }()
		zero := 0
		_ = divideInlined(1, zero)
	}()
	var whole, byAddress []runtime.Frame
	for frames, more := runtime.CallersFrames(pcs), true; more; {
		var fr runtime.Frame
		fr, more = frames.Next()
		whole = append(whole, fr)
	}
	for _, pc := range pcs {
		byAddress = append(byAddress, framesAt(pc)...)
	}
	if len(whole) != len(byAddress) {
		t.Fatalf("%d frames whole, %d by address", len(whole), len(byAddress))
	}
	for i := range whole {
		if whole[i].Function != byAddress[i].Function || whole[i].Line != byAddress[i].Line {
			t.Errorf("frame %d: %s:%d whole, %s:%d by address", i, whole[i].Function,
				whole[i].Line, byAddress[i].Function, byAddress[i].Line)
		}
	}
}
