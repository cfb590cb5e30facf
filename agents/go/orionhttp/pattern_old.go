//go:build !go1.23

package orionhttp

import "net/http"

// pattern: before Go 1.23 a request does not say which pattern matched it.
func pattern(r *http.Request) string { return "" }
