package orion

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The hot path's clock: reading the monotonic clock costs tens of nanoseconds on some
// machines (more than the rest of a call's recording), so events carry ticks, which the
// encoder turns into nanoseconds with a ratio it keeps measuring against the monotonic
// clock. Per lane, times never go back (the encoder clamps; spec 6.1).

var clock struct {
	tick0    uint64
	mono0    time.Duration
	perTick  atomic.Uint64 // nanoseconds per tick, fixed point with 32 fractional bits
	checked  atomic.Uint64 // the tick of the last measurement
	interval uint64        // ticks between measurements
}

// startClock measures the ratio over a millisecond, so that the first events already
// have good times.
func startClock() {
	clock.tick0, clock.mono0 = ticks(), time.Since(procStart)
	clock.perTick.Store(1 << 32)
	if ticksAreNanoseconds {
		clock.interval = math.MaxUint64
		return
	}
	for time.Since(procStart)-clock.mono0 < time.Millisecond {
	}
	measureClock()
	clock.interval = uint64(10 * float64(time.Millisecond) / nsPerTick())
}

func measureClock() {
	tick, mono := ticks(), time.Since(procStart)
	if tick > clock.tick0 && mono > clock.mono0 {
		clock.perTick.Store(uint64(float64(mono-clock.mono0) / float64(tick-clock.tick0) * (1 << 32)))
	}
	clock.checked.Store(tick)
}

func nsPerTick() float64 { return float64(clock.perTick.Load()) / (1 << 32) }

// remeasureClock measures the ratio again when 10 ms or so have passed since it last did;
// the writer calls it with every frame, not with every event.
func remeasureClock() {
	if tick := ticks(); tick-clock.checked.Load() > clock.interval && tick > clock.checked.Load() {
		measureClock()
	}
}

// ticksToNs converts a tick count since `origin` to nanoseconds. Integer arithmetic:
// converting to and from float64 cost more than the rest of an event's encoding.
func ticksToNs(tick, origin uint64) int64 {
	if tick < origin {
		return 0
	}
	hi, lo := bits.Mul64(tick-origin, clock.perTick.Load())
	return int64(hi<<32 | lo>>32)
}
