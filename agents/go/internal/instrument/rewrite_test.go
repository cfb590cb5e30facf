package instrument

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

const source = `package main

import (
	"log"
	"os"
)

type T struct{}

func (t *T) Get(key string) (string, error) {
	return key, nil
}

func add(a, b int) int { return a + b }

func main() {
	f := func(x int) int {
		return x * 2
	}
	if f(add(1, 2)) != 6 {
		log.Fatalf("bad %d", 1)
	}
	os.Exit(0)
}
`

func TestRewriteKeepsEveryLineWhereItWas(t *testing.T) {
	out, err := Rewrite("/src/main.go", []byte(source), "example.com/m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "main.go", out, 0); err != nil {
		t.Fatalf("the rewritten file does not parse: %v\n%s", err, out)
	}
	before, after := strings.Split(source, "\n"), strings.Split(string(out), "\n")
	for i, line := range before[:len(before)-1] {
		if !strings.Contains(line, "{") && !strings.Contains(line, "Fatalf") &&
			!strings.Contains(line, "Exit") && !strings.HasPrefix(line, "package") && after[i] != line {
			t.Errorf("line %d moved or changed: %q became %q", i+1, line, after[i])
		}
	}
	for _, want := range []string{
		`Fn{Name: "(*T).Get", Line: 10, End: 12}`, `Fn{Name: "add", Line: 14, End: 14}`,
		`Fn{Name: "main.func1", Line: 17, End: 19}`, "__orion.FatalfVia(log.Fatalf)(",
		"__orion.ExitVia(os.Exit)(0)", "(__orion_r0 string, __orion_r1 error)",
		"defer __orion.MainDone()",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the rewrite lacks %s:\n%s", want, out)
		}
	}
}

func TestCgoFilesAreLeftAlone(t *testing.T) {
	out, err := Rewrite("/src/c.go", []byte("package p\n\nimport \"C\"\n\nfunc f() {}\n"), "p")
	if err != nil || out != nil {
		t.Errorf("a cgo file was rewritten: %v %s", err, out)
	}
}

func TestOlderGoLines(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		older bool
	}{{"1.20", "1.21", true}, {"1.21", "1.21", false}, {"1.21.3", "1.21", false}, {"1.9", "1.21", true}, {"1.22", "1.21", false}} {
		if olderGo(c.a, c.b) != c.older {
			t.Errorf("olderGo(%s, %s) != %v", c.a, c.b, c.older)
		}
	}
}
