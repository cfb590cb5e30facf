package orion

// ticks reads the time-stamp counter; the clock converts it to nanoseconds.
func ticks() uint64

const ticksAreNanoseconds = false
