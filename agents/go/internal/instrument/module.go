package instrument

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Build is what `go build`/`go run`/`go test` need to compile a module instrumented:
// an overlay of rewritten files and a module file that requires the agent, both outside
// the module (the user's go.mod, go.sum and sources are never written).
type Build struct {
	Overlay  string // -overlay
	ModFile  string // -modfile, for a module
	WorkFile string // GOWORK, for a workspace
	Files    int    // files rewritten
	Toolexec string // -toolexec: the instrumenting tool, which gives vet the user's files
	// IgnoreVendor: the module has a vendor directory, which the agent is not in; the go
	// command reads modules.txt past the overlay and refuses a go.mod it does not list, and
	// assembles a package only from a real directory, so the build takes the module's
	// dependencies from the module cache (-mod=mod) instead.
	IgnoreVendor bool
}

// Env is the environment (GOFLAGS, and GOWORK for a workspace) that makes the go
// command build instrumented, as NAME=value lines.
func (b Build) Env() string {
	flags := "-overlay=" + b.Overlay
	if b.ModFile != "" {
		flags = "-modfile=" + b.ModFile + " " + flags
	}
	if b.IgnoreVendor {
		flags += " -mod=mod"
	}
	if b.Toolexec != "" {
		flags += " -toolexec=" + b.Toolexec
	}
	if b.WorkFile != "" {
		return "GOFLAGS=" + flags + "\nGOWORK=" + b.WorkFile
	}
	return "GOFLAGS=" + flags
}

// vendored: the module at `root` would build from its vendor directory (the default since
// go 1.14 when vendor/modules.txt exists).
func vendored(root string, goMod []byte) bool {
	return exists(filepath.Join(root, "vendor", "modules.txt")) && !olderGo(goLine(goMod), "1.14")
}

// Module instruments the module whose go.mod is in `root` into `out`, and the packages of
// its dependencies that `include` names (import paths, each with the packages under it);
// `agent` is the directory of the agent's own module.
func Module(root, out, agent string, include []string) (Build, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return Build{}, err
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return Build{}, err
	}
	staging, files, err := newStaging(out)
	if err != nil {
		return Build{}, err
	}
	defer os.RemoveAll(staging)
	replace := map[string]string{} // source file -> its copy's name in files/
	if err := rewriteModule(root, include, files, replace); err != nil {
		return Build{}, err
	}
	if err := writeModFile(filepath.Join(staging, "go.mod"), goMod, root, agent); err != nil {
		return Build{}, err
	}
	build, err := publish(out, staging, replace)
	if err != nil {
		return Build{}, err
	}
	build.ModFile = filepath.Join(filepath.Dir(build.Overlay), "go.mod")
	build.IgnoreVendor = vendored(root, goMod)
	return build, nil
}

func newStaging(out string) (staging, files string, err error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", "", err
	}
	if staging, err = os.MkdirTemp(out, ".staging-"); err != nil {
		return "", "", err
	}
	files = filepath.Join(staging, "files")
	return staging, files, os.Mkdir(files, 0o755)
}

// rewriteModule rewrites the Go files of the module at `root` (not its vendor/, testdata/
// or nested modules) and those of the dependencies' packages `include` names.
func rewriteModule(root string, include []string, files string, replace map[string]string) error {
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	modulePath := modulePathOf(goMod)
	if modulePath == "" {
		return fmt.Errorf("%s: no module line", filepath.Join(root, "go.mod"))
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") ||
				strings.HasPrefix(name, "_") || exists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		return rewriteInto(files, replace, p, path.Join(modulePath, filepath.ToSlash(rel)))
	})
	if err != nil || len(include) == 0 {
		return err
	}
	return dependencies(root, include, func(p, module string) error {
		return rewriteInto(files, replace, p, module)
	})
}

// publish moves a finished build into place under a name made of its contents, so that
// builds running at the same time never see each other's half-written files (the go
// command's cache keys hold the contents, not the place), and keeps the newest few.
func publish(out, staging string, replace map[string]string) (Build, error) {
	digest := sha256.New()
	sources := make([]string, 0, len(replace))
	for source := range replace {
		sources = append(sources, source)
	}
	sort.Strings(sources)
	for _, source := range sources {
		content, err := os.ReadFile(filepath.Join(staging, "files", replace[source]))
		if err != nil {
			return Build{}, err
		}
		fmt.Fprintf(digest, "%s\x00%d\x00", source, len(content))
		digest.Write(content)
	}
	for _, name := range []string{"go.mod", "go.sum", "go.work", "go.work.sum"} {
		content, _ := os.ReadFile(filepath.Join(staging, name))
		fmt.Fprintf(digest, "%s\x00%d\x00", name, len(content))
		digest.Write(content)
	}
	final := filepath.Join(out, hex.EncodeToString(digest.Sum(nil)[:8]))
	overlay := map[string]string{}
	for source, name := range replace {
		overlay[source] = filepath.Join(final, "files", name)
	}
	text, _ := json.MarshalIndent(map[string]any{"Replace": overlay}, "", " ")
	if err := os.WriteFile(filepath.Join(staging, "overlay.json"), text, 0o644); err != nil {
		return Build{}, err
	}
	if err := os.Rename(staging, final); err != nil && !exists(filepath.Join(final, "overlay.json")) {
		return Build{}, err
	}
	now := time.Now()
	os.Chtimes(final, now, now)
	pruneBuilds(out, final)
	return Build{Overlay: filepath.Join(final, "overlay.json"), Files: len(replace)}, nil
}

// keptBuilds: older builds of the module go, beyond these (a build still running uses
// one of the newest).
const keptBuilds = 4

func pruneBuilds(out, current string) {
	entries, err := os.ReadDir(out)
	if err != nil {
		return
	}
	type build struct {
		path string
		at   time.Time
	}
	var builds []build
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			builds = append(builds, build{filepath.Join(out, e.Name()), info.ModTime()})
		}
	}
	sort.Slice(builds, func(i, j int) bool { return builds[i].at.After(builds[j].at) })
	for i, b := range builds {
		if i >= keptBuilds && b.path != current {
			os.RemoveAll(b.path)
		}
	}
}

// rewriteInto writes the instrumented copy of the file `p` (of package `module`) into
// `files` and records its name in `replace`.
func rewriteInto(files string, replace map[string]string, p, module string) error {
	src, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	rewritten, err := Rewrite(p, src, module)
	if err != nil || rewritten == nil {
		return nil // the compiler reports what does not parse, on the original file
	}
	sum := sha256.Sum256([]byte(p))
	name := hex.EncodeToString(sum[:8]) + "_" + filepath.Base(p)
	replace[p] = name
	return os.WriteFile(filepath.Join(files, name), rewritten, 0o644)
}

// dependencies calls `each` for every Go file of the non-standard packages the module's
// packages import that `include` names (`go list -deps`).
func dependencies(root string, include []string, each func(file, module string) error) error {
	cmd := exec.Command("go", "list", "-deps", "-f",
		"{{if not .Standard}}{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \"\\t\"}}{{end}}", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list: %s", strings.TrimSpace(stderr.String()))
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Split(line, "\t")
		if len(fields) < 3 || !includes(include, fields[0]) {
			continue
		}
		for _, name := range fields[2:] {
			if err := each(filepath.Join(fields[1], name), fields[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

// includes: the import path is one of the patterns or under one.
func includes(patterns []string, importPath string) bool {
	for _, p := range patterns {
		p = strings.TrimSuffix(p, "/...")
		if importPath == p || strings.HasPrefix(importPath, p+"/") {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func modulePathOf(goMod []byte) string {
	scanner := bufio.NewScanner(bytes.NewReader(goMod))
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(scanner.Text()), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// writeModFile writes the user's go.mod plus a requirement on the agent (replaced by its
// directory) and on what the agent needs, and their go.sum plus the agent's.
func writeModFile(target string, goMod []byte, root, agent string) error {
	agentMod, err := os.ReadFile(filepath.Join(agent, "go.mod"))
	if err != nil {
		return err
	}
	if mine, needed := goLine(goMod), goLine(agentMod); olderGo(mine, needed) {
		if olderGo(strings.TrimPrefix(runtime.Version(), "go"), "1.23") {
			return fmt.Errorf("go.mod says go %s; the agent needs go %s or later there (or a go 1.23 toolchain)", mine, needed)
		}
		goMod = raiseGoLine(goMod, mine, needed)
	}
	var b bytes.Buffer
	b.Write(goMod)
	fmt.Fprintf(&b, "\nrequire %s v0.0.0\n\nreplace %s => %s\n", AgentPath, AgentPath, agent)
	for _, req := range requirements(agentMod) {
		if !bytes.Contains(goMod, []byte(req[0]+" ")) {
			fmt.Fprintf(&b, "\nrequire %s %s // indirect\n", req[0], req[1])
		}
	}
	if err := os.WriteFile(target, b.Bytes(), 0o644); err != nil {
		return err
	}
	sums, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	agentSums, _ := os.ReadFile(filepath.Join(agent, "go.sum"))
	return os.WriteFile(strings.TrimSuffix(target, ".mod")+".sum", append(sums, agentSums...), 0o644)
}

// raiseGoLine makes the copy of a go.mod whose go line is older than the agent's say the
// agent's version (the go command wants the main module's no older than any module it
// requires), keeping the run-time defaults of the version it had through a godebug line
// (go 1.23+): panic(nil) and the other GODEBUG settings behave as without orion. The
// language version of the module's code rises with it; versions before 1.22 only added
// features, so code that compiled still compiles to the same behaviour.
func raiseGoLine(goMod []byte, mine, needed string) []byte {
	var kept []string
	for _, line := range strings.Split(string(goMod), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "go" {
			continue
		}
		kept = append(kept, line)
	}
	return []byte(strings.Join(kept, "\n") + fmt.Sprintf("\ngo %s\n\ngodebug default=go%s\n", needed, mine))
}

// goLine is the version of a go.mod's `go` line (1.16 without one, as the go command
// reads it).
func goLine(goMod []byte) string {
	for _, line := range strings.Split(string(goMod), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "go" {
			return fields[1]
		}
	}
	return "1.16"
}

// olderGo compares Go versions (1.21, 1.22.3) number by number.
func olderGo(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// requirements lists the `require` lines of a go.mod (module, version).
func requirements(goMod []byte) [][2]string {
	var out [][2]string
	inBlock := false
	for _, line := range strings.Split(string(goMod), "\n") {
		line = strings.TrimSpace(strings.SplitN(line, "//", 2)[0])
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		}
		if rest, ok := strings.CutPrefix(line, "require "); ok {
			line, inBlock = rest, false
		} else if !inBlock {
			continue
		}
		if fields := strings.Fields(line); len(fields) == 2 {
			out = append(out, [2]string{fields[0], fields[1]})
		}
	}
	return out
}
