//go:build go1.23

package orionhttp

import "net/http"

// pattern is the ServeMux pattern that matched the request (Go 1.23+).
func pattern(r *http.Request) string { return r.Pattern }
