// Command orion-go-instrument prepares an instrumented build of a Go module: it writes an
// overlay of rewritten sources and a module file into a cache directory and prints the
// GOFLAGS that make `go build`, `go run` and `go test` use them. `orion run` and `orion
// test` call it; the user's files are never modified. The GOFLAGS name it as -toolexec
// too: it runs each tool of the build as it is, and vet on the user's own files.
//
//	orion-go-instrument -root DIR|-work FILE -out DIR -agent DIR [-include IMPORTPATH,...]
//	orion-go-instrument /path/to/tool ARGS...   (as the go command's -toolexec)
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/orionis-trace/orion-go/internal/instrument"
)

func main() {
	if len(os.Args) > 1 && filepath.IsAbs(os.Args[1]) {
		os.Exit(runTool(os.Args[1], os.Args[2:]))
	}
	root := flag.String("root", ".", "the directory of the module's go.mod")
	work := flag.String("work", "", "a go.work file: instrument the workspace's modules")
	out := flag.String("out", "", "the cache directory to write the overlay into")
	agent := flag.String("agent", "", "the directory of the agent module (agents/go)")
	include := flag.String("include", "", "import paths of dependencies to instrument too, comma-separated")
	flag.Parse()
	if *out == "" || *agent == "" {
		fmt.Fprintln(os.Stderr, "orion-go-instrument: -out and -agent are required")
		os.Exit(2)
	}
	var patterns []string
	if *include != "" {
		patterns = strings.Split(*include, ",")
	}
	var build instrument.Build
	var err error
	if *work != "" {
		build, err = instrument.Workspace(*work, *out, *agent, patterns)
	} else {
		build, err = instrument.Module(*root, *out, *agent, patterns)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "orion-go-instrument: %v\n", err)
		os.Exit(1)
	}
	if build.Toolexec, err = os.Executable(); err != nil {
		fmt.Fprintf(os.Stderr, "orion-go-instrument: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(build.Env())
}

// runTool runs a tool of the build for the go command, with its exit status; vet gets the
// user's files in place of the overlay's copies, and says so in its version; the
// compiler's messages name the user's files.
func runTool(tool string, args []string) int {
	isVet := strings.TrimSuffix(filepath.Base(tool), ".exe") == "vet"
	n := len(args)
	isVetCheck := n > 0 && filepath.Base(args[n-1]) == instrument.VetConfigName
	isCompile := strings.TrimSuffix(filepath.Base(tool), ".exe") == "compile" && !(n == 1 && args[0] == "-V=full")
	overlay := instrument.OverlayOf(os.Getenv("GOFLAGS"))
	if !isVet && !isVetCheck && (!isCompile || overlay == "") {
		become(tool, args) // returns only where it cannot
	}
	cmd := exec.Command(tool, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	var output bytes.Buffer // the compiler's: its errors name the files it was given
	if isCompile && overlay != "" {
		cmd.Stdout, cmd.Stderr = &output, &output
	}
	var version bytes.Buffer
	if isVet && len(args) == 1 && args[0] == "-V=full" {
		cmd.Stdout = &version
	}
	if isVetCheck && overlay != "" {
		if config, err := instrument.VetConfig(args[n-1], overlay); err == nil {
			cmd.Args[n] = config
		}
	}
	err := cmd.Run()
	if output.Len() > 0 {
		os.Stdout.Write(instrument.RestorePaths(output.Bytes(), overlay))
	}
	if version.Len() > 0 {
		line := strings.TrimSpace(version.String())
		if fields := strings.Fields(line); !strings.HasPrefix(fields[len(fields)-1], "buildID=") {
			line += " " + instrument.VetVersionMark // a release's line is its cache key
		}
		fmt.Println(line)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "orion-go-instrument: %v\n", err)
		return 1
	}
	return 0
}
