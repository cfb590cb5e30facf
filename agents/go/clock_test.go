package orion

import (
	"testing"
	"time"
)

// Events' times come from ticks converted with a fixed-point ratio: over a sleep they must
// read as the monotonic clock does.
func TestTicksConvertToTheMonotonicClock(t *testing.T) {
	startClock()
	origin, began := ticks(), time.Now()
	time.Sleep(30 * time.Millisecond)
	got, want := ticksToNs(ticks(), origin), time.Since(began).Nanoseconds()
	if got < want*9/10 || got > want*11/10 {
		t.Fatalf("30 ms of ticks read as %d ns, the monotonic clock says %d ns", got, want)
	}
	if ticksToNs(origin-1, origin) != 0 {
		t.Fatal("a tick before the trace's origin must read as 0")
	}
}
