//go:build !amd64

package orion

import "time"

// ticks is the monotonic clock in nanoseconds where there is no cheaper counter.
func ticks() uint64 { return uint64(time.Since(procStart)) }

const ticksAreNanoseconds = true
