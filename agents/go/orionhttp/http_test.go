package orionhttp

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestTraceparentTravelsFromClientToServer(t *testing.T) {
	var received string
	mux := http.NewServeMux()
	mux.HandleFunc("/items/", func(w http.ResponseWriter, r *http.Request) {
		received = r.Header.Get("traceparent")
		w.WriteHeader(http.StatusTeapot)
	})
	server := httptest.NewServer(Middleware(mux))
	defer server.Close()
	client := &http.Client{Transport: RoundTripper{}}
	resp, err := client.Get(server.URL + "/items/7")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("status %d", resp.StatusCode)
	}
	if !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`).MatchString(received) {
		t.Errorf("the server received traceparent %q", received)
	}
}
