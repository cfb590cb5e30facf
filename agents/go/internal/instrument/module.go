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
	"strconv"
	"strings"
)

// Build is what `go build`/`go run`/`go test` need to compile a module instrumented:
// an overlay of rewritten files and a module file that requires the agent, both outside
// the module (the user's go.mod, go.sum and sources are never written).
type Build struct {
	Overlay string // -overlay
	ModFile string // -modfile
	Files   int    // files rewritten
}

// Flags are the GOFLAGS that make the go command build instrumented.
func (b Build) Flags() string {
	return fmt.Sprintf("-modfile=%s -overlay=%s", b.ModFile, b.Overlay)
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
	modulePath := modulePathOf(goMod)
	if modulePath == "" {
		return Build{}, fmt.Errorf("%s: no module line", filepath.Join(root, "go.mod"))
	}
	files := filepath.Join(out, "files")
	if err := os.RemoveAll(files); err != nil {
		return Build{}, err
	}
	if err := os.MkdirAll(files, 0o755); err != nil {
		return Build{}, err
	}
	replace := map[string]string{}
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
	if err != nil {
		return Build{}, err
	}
	if len(include) > 0 {
		if err := dependencies(root, include, func(p, module string) error {
			return rewriteInto(files, replace, p, module)
		}); err != nil {
			return Build{}, err
		}
	}
	b := Build{Overlay: filepath.Join(out, "overlay.json"), ModFile: filepath.Join(out, "go.mod"), Files: len(replace)}
	overlay, _ := json.MarshalIndent(map[string]any{"Replace": replace}, "", " ")
	if err := os.WriteFile(b.Overlay, overlay, 0o644); err != nil {
		return Build{}, err
	}
	if err := writeModFile(b.ModFile, goMod, root, agent); err != nil {
		return Build{}, err
	}
	return b, nil
}

// rewriteInto writes the instrumented copy of the file `p` (of package `module`) into
// `files` and maps it in `replace`.
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
	target := filepath.Join(files, hex.EncodeToString(sum[:8])+"_"+filepath.Base(p))
	replace[p] = target
	return os.WriteFile(target, rewritten, 0o644)
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
		return fmt.Errorf("go.mod says go %s; the agent needs go %s or later there", mine, needed)
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
