package instrument

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A go.work workspace: the go command refuses -modfile there, so the build gets a
// workspace file of its own (GOWORK) that uses the same modules plus the agent's, with
// the workspace's replacements; every module it uses is the user's and is instrumented.

// workFile is what `go work edit -json` reports of a go.work.
type workFile struct {
	Go      string
	Use     []struct{ DiskPath string }
	Replace []struct {
		Old, New struct{ Path, Version string }
	}
}

// Workspace instruments every module the workspace `work` (a go.work file) uses into `out`.
func Workspace(work, out, agent string, include []string) (Build, error) {
	work, err := filepath.Abs(work)
	if err != nil {
		return Build{}, err
	}
	parsed, err := readWorkFile(work)
	if err != nil {
		return Build{}, err
	}
	staging, files, err := newStaging(out)
	if err != nil {
		return Build{}, err
	}
	defer os.RemoveAll(staging)
	agentMod, err := os.ReadFile(filepath.Join(agent, "go.mod"))
	if err != nil {
		return Build{}, err
	}
	goVersion := parsed.Go
	if needed := goLine(agentMod); goVersion == "" || olderGo(goVersion, needed) {
		goVersion = needed // go.work must name a version no older than any module it uses
	}
	var text bytes.Buffer
	fmt.Fprintf(&text, "go %s\n\nuse (\n", goVersion)
	replace := map[string]string{}
	for _, use := range parsed.Use {
		dir := besideWork(work, use.DiskPath)
		if err := rewriteModule(dir, include, files, replace); err != nil {
			return Build{}, err
		}
		fmt.Fprintf(&text, "\t%s\n", dir)
	}
	fmt.Fprintf(&text, "\t%s\n)\n", agent)
	for _, r := range parsed.Replace {
		old, target := strings.TrimSpace(r.Old.Path+" "+r.Old.Version), r.New.Path+" "+r.New.Version
		if r.New.Version == "" {
			target = besideWork(work, r.New.Path)
		}
		fmt.Fprintf(&text, "\nreplace %s => %s\n", old, strings.TrimSpace(target))
	}
	if err := os.WriteFile(filepath.Join(staging, "go.work"), text.Bytes(), 0o644); err != nil {
		return Build{}, err
	}
	if sums, err := os.ReadFile(work + ".sum"); err == nil {
		if err := os.WriteFile(filepath.Join(staging, "go.work.sum"), sums, 0o644); err != nil {
			return Build{}, err
		}
	}
	build, err := publish(out, staging, replace)
	if err != nil {
		return Build{}, err
	}
	build.WorkFile = filepath.Join(filepath.Dir(build.Overlay), "go.work")
	return build, nil
}

func readWorkFile(work string) (workFile, error) {
	cmd := exec.Command("go", "work", "edit", "-json", work)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return workFile{}, fmt.Errorf("%s: %s", work, strings.TrimSpace(stderr.String()))
	}
	var parsed workFile
	return parsed, json.Unmarshal(out, &parsed)
}

// besideWork: a local path of the go.work, made absolute (the copy lives elsewhere).
func besideWork(work, p string) string {
	if filepath.IsAbs(p) || !(strings.HasPrefix(p, ".") || strings.Contains(p, string(filepath.Separator))) {
		return p
	}
	return filepath.Join(filepath.Dir(work), p)
}
