package instrument

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// The go command hands vet (`go vet`, and the checks `go test` runs first) the files it
// compiled, the overlay's rewritten copies in the cache, in a config file. Vetting those
// would name the cache's paths in its messages and check the agent's additions too, so the
// instrumenting tool, as the build's -toolexec, gives vet the user's own files back; and
// it gives the compiler's errors the user's paths.

// VetConfigName is the name of the config file the go command gives vet.
const VetConfigName = "vet.cfg"

// VetVersionMark is added to vet's -V=full answer: the go command keys cached vet results
// on it, and results computed from the overlay's copies must not be replayed.
const VetVersionMark = "orion-original-sources"

// originals maps each rewritten copy the overlay (`overlay`, its JSON file) names to the
// source it replaces.
func originals(overlay string) (map[string]string, error) {
	text, err := os.ReadFile(overlay)
	if err != nil {
		return nil, err
	}
	var parsed struct{ Replace map[string]string }
	if err := json.Unmarshal(text, &parsed); err != nil {
		return nil, err
	}
	original := make(map[string]string, len(parsed.Replace))
	for source, copy := range parsed.Replace {
		original[copy] = source
	}
	return original, nil
}

// RestorePaths replaces, in a tool's output (the compiler's errors), the paths of the
// overlay's copies with those of the user's files.
func RestorePaths(output []byte, overlay string) []byte {
	original, err := originals(overlay)
	if err != nil {
		return output
	}
	pairs := make([]string, 0, 2*len(original))
	for copy, source := range original {
		pairs = append(pairs, copy, source)
	}
	return []byte(strings.NewReplacer(pairs...).Replace(string(output)))
}

// VetConfig writes beside the vet config at `path` one whose source files are those the
// overlay (`overlay`, its JSON file) replaced, and returns its path.
func VetConfig(path, overlay string) (string, error) {
	original, err := originals(overlay)
	if err != nil {
		return "", err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var config map[string]any
	if err := json.Unmarshal(text, &config); err != nil {
		return "", err
	}
	for _, key := range []string{"GoFiles", "NonGoFiles", "IgnoredFiles"} {
		files, _ := config[key].([]any)
		for i, file := range files {
			if name, ok := file.(string); ok && original[name] != "" {
				files[i] = original[name]
			}
		}
	}
	if text, err = json.Marshal(config); err != nil {
		return "", err
	}
	rewritten := filepath.Join(filepath.Dir(path), "vet-sources.cfg")
	return rewritten, os.WriteFile(rewritten, text, 0o644)
}

// OverlayOf: the overlay file that GOFLAGS names, "" when none.
func OverlayOf(goflags string) string {
	for _, flag := range strings.Fields(goflags) {
		for _, prefix := range []string{"-overlay=", "--overlay="} {
			if strings.HasPrefix(flag, prefix) {
				return strings.TrimPrefix(flag, prefix)
			}
		}
	}
	return ""
}
