// Package orionhttp records HTTP requests as trace events: a server middleware and a
// client RoundTripper, each carrying the W3C traceparent header (in on the server, out on
// the client) so that traces of several services can be stitched together later.
package orionhttp

import (
	"net/http"
	"time"

	orion "github.com/orionis-trace/orion-go"
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Middleware records each request `next` serves as an "http.server" event: method, route
// (the ServeMux pattern when there is one, else the path), status, duration, and the
// traceparent the caller sent.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			route := pattern(r)
			if route == "" {
				route = r.URL.Path
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			orion.Event("http.server", map[string]any{
				"method": r.Method, "route": route, "status": status,
				"duration_ns": int64(time.Since(start)), "traceparent": r.Header.Get("traceparent"),
			})
		}()
		next.ServeHTTP(rec, r)
	})
}

// RoundTripper records each request as an "http.client" event and sends the running
// trace's traceparent with it (unless the request has one already).
type RoundTripper struct {
	Next http.RoundTripper // http.DefaultTransport when nil
}

func (t RoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	parent := r.Header.Get("traceparent")
	if parent == "" {
		if parent = orion.TraceParent(); parent != "" {
			r = r.Clone(r.Context())
			r.Header.Set("traceparent", parent)
		}
	}
	start := time.Now()
	resp, err := next.RoundTrip(r)
	attrs := map[string]any{"method": r.Method, "url": r.URL.Redacted(),
		"duration_ns": int64(time.Since(start)), "traceparent": parent}
	if resp != nil {
		attrs["status"] = resp.StatusCode
	}
	if err != nil {
		attrs["error"] = err.Error()
	}
	orion.Event("http.client", attrs)
	return resp, err
}
