package instrument

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Vet is given the user's files in place of the overlay's copies; the rest of its config
// (fields this package does not know included) passes through.
func TestVetConfigNamesTheUsersFiles(t *testing.T) {
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.json")
	os.WriteFile(overlay, []byte(`{"Replace": {"/src/main.go": "/cache/x_main.go"}}`), 0o644)
	config := filepath.Join(dir, VetConfigName)
	os.WriteFile(config, []byte(`{"GoFiles": ["/cache/x_main.go", "/src/plain.go"], "ImportPath": "m", "Future": 1}`), 0o644)
	rewritten, err := VetConfig(config, overlay)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(rewritten)
	var got map[string]any
	json.Unmarshal(text, &got)
	want := map[string]any{"GoFiles": []any{"/src/main.go", "/src/plain.go"}, "ImportPath": "m", "Future": 1.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if OverlayOf("-modfile=/a/go.mod -overlay=/a/overlay.json -toolexec=/t") != "/a/overlay.json" {
		t.Error("the overlay is not found in GOFLAGS")
	}
	message := string(RestorePaths([]byte("/cache/x_main.go:3:1: undefined: y\n"), overlay))
	if message != "/src/main.go:3:1: undefined: y\n" {
		t.Errorf("the compiler's message reads %q", message)
	}
}
