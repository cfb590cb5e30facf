// Command orion-go-instrument prepares an instrumented build of a Go module: it writes an
// overlay of rewritten sources and a module file into a cache directory and prints the
// GOFLAGS that make `go build`, `go run` and `go test` use them. `orion run` and `orion
// test` call it; the user's files are never modified.
//
//	orion-go-instrument -root DIR|-work FILE -out DIR -agent DIR [-include IMPORTPATH,...]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/orionis-trace/orion-go/internal/instrument"
)

func main() {
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
	fmt.Println(build.Env())
}
