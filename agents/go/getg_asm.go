//go:build amd64 || arm64

package orion

// getg returns the address of the running goroutine's runtime g.
func getg() uintptr
