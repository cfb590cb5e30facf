//go:build !go1.23

package orion

// Before Go 1.23 a fatal runtime error leaves the trace as it was (incomplete).

func watchCrashes(t *trace)   {}
func unwatchCrashes(t *trace) {}
