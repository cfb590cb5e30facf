package instrument

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestBuildsRunningTogetherShareOneFinishedOverlay(t *testing.T) {
	root, agent, out := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/m\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(root, "main.go"), []byte(source), 0o644)
	os.WriteFile(filepath.Join(agent, "go.mod"), []byte("module "+AgentPath+"\n\ngo 1.21\n"), 0o644)
	builds := make([]Build, 8)
	var wg sync.WaitGroup
	for i := range builds {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, err := Module(root, out, agent, nil)
			if err != nil {
				t.Error(err)
			}
			builds[i] = b
		}(i)
	}
	wg.Wait()
	for _, b := range builds {
		if b != builds[0] || b.Files != 1 {
			t.Fatalf("builds differ: %+v, %+v", b, builds[0])
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("%d entries in the cache, want the one build", len(entries))
	}
	if _, err := os.Stat(builds[0].Overlay); err != nil {
		t.Error(err)
	}
}
