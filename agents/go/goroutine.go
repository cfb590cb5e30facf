package orion

import (
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

// Goroutines are lanes (spec 4.4). Telling which goroutine runs must be cheap, so the
// offsets of the runtime's g.goid and g._panic are found once, at start-up, by looking
// at goroutines whose ids and panics we know; where that fails we fall back to parsing
// runtime.Stack, which is slow but always right.

var layout struct {
	goidOffset  uintptr // 0: unknown
	panicOffset uintptr // 0: unknown
	panicArg    uintptr // offset of the panic value in runtime._panic
	panicKnown  bool
}

const gScanWords = 64

// stackGoid reads the id of the running goroutine and of its creator from runtime.Stack
// ("goroutine 7 [running]:" ... "created by main.f in goroutine 1").
func stackGoid() (goid, parent uint64) {
	buf := make([]byte, 64<<10)
	text := string(buf[:runtime.Stack(buf, false)])
	if rest, ok := strings.CutPrefix(text, "goroutine "); ok {
		end := strings.IndexByte(rest, ' ')
		if end > 0 {
			goid, _ = strconv.ParseUint(rest[:end], 10, 64)
		}
	}
	if i := strings.LastIndex(text, " in goroutine "); i >= 0 {
		rest := text[i+len(" in goroutine "):]
		end := strings.IndexAny(rest, "\n ")
		if end < 0 {
			end = len(rest)
		}
		parent, _ = strconv.ParseUint(rest[:end], 10, 64)
	}
	return goid, parent
}

func gWord(g uintptr, offset uintptr) uintptr {
	return *(*uintptr)(unsafe.Pointer(g + offset))
}

// goidOf is the id of the goroutine whose runtime g is `g`.
func goidOf(g uintptr) uint64 {
	if layout.goidOffset == 0 {
		return stackGoidOnly()
	}
	return *(*uint64)(unsafe.Pointer(g + layout.goidOffset))
}

func stackGoidOnly() uint64 {
	goid, _ := stackGoid()
	return goid
}

// calibrate finds g.goid as the offset that holds the goroutine's id in several live
// goroutines, and g._panic and the panic value's place in runtime._panic by panicking
// with a known value.
func calibrate() {
	if getg() == 0 {
		return
	}
	candidates := goidOffsets()
	for i := 0; i < 3; i++ {
		done := make(chan map[uintptr]bool)
		go func() { done <- goidOffsets() }()
		mine := <-done
		for off := range candidates {
			if !mine[off] {
				delete(candidates, off)
			}
		}
	}
	if len(candidates) == 1 {
		for off := range candidates {
			layout.goidOffset = off
		}
	}
	calibratePanic()
}

// goidOffsets: where the running goroutine's g holds its id.
func goidOffsets() map[uintptr]bool {
	goid, _ := stackGoid()
	g := getg()
	found := map[uintptr]bool{}
	for off := uintptr(8); off < gScanWords*8; off += 8 {
		if *(*uint64)(unsafe.Pointer(g + off)) == goid {
			found[off] = true
		}
	}
	return found
}

var panicSentinel int

func calibratePanic() {
	quiet := make(map[uintptr]bool)
	g := getg()
	for off := uintptr(0); off < 16*8; off += 8 {
		if gWord(g, off) == 0 {
			quiet[off] = true
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { recover() }()
		defer func() {
			g := getg()
			for off := uintptr(0); off < 16*8; off += 8 {
				p := gWord(g, off)
				if !quiet[off] || p == 0 {
					continue
				}
				for arg := uintptr(0); arg < 8*8; arg += 8 {
					if *(*uintptr)(unsafe.Pointer(p + arg + 8)) == uintptr(unsafe.Pointer(&panicSentinel)) {
						layout.panicOffset, layout.panicArg, layout.panicKnown = off, arg, true
						return
					}
				}
			}
		}()
		panic(&panicSentinel)
	}()
	<-done
}

// currentPanic identifies the panic the running goroutine is in (0: none, or unknown).
func currentPanic() uintptr { return panicOf(getg()) }

// panicOf: currentPanic of the goroutine whose runtime g is `g`.
func panicOf(g uintptr) uintptr {
	if !layout.panicKnown {
		return 0
	}
	return gWord(g, layout.panicOffset)
}

// mayBePanicking: a cheap first look, from an instrumented function's exit, before
// panicking's closer one (g is that goroutine's runtime g).
func mayBePanicking(g uintptr) bool {
	return !layout.panicKnown || gWord(g, layout.panicOffset) != 0
}

// panicking reports whether the running goroutine is panicking, with the panic value.
// Called from a deferred function: a panic is what runs it when the g says so.
func panicking() (bool, any) {
	if !layout.panicKnown {
		return stackPanicking()
	}
	p := gWord(getg(), layout.panicOffset)
	if p == 0 {
		return false, nil
	}
	value := *(*any)(unsafe.Pointer(p + layout.panicArg))
	// runtime.Goexit (t.Fatal, t.Skip) runs the deferred calls through a panic record
	// without a value; panic(nil) has one since go 1.21 (*runtime.PanicNilError).
	return value != nil, value
}

// stackPanicking: panicking, where the g's layout is unknown (slow: it walks the stack).
func stackPanicking() (bool, any) {
	pcs := make([]uintptr, 8)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(4, pcs)])
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			return true, nil
		}
		if !more {
			return false, nil
		}
	}
}
