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
			!strings.Contains(line, "Exit") && !strings.HasPrefix(line, "package") &&
			!strings.HasPrefix(after[i], line) { // a declaration's line gains its locals' capture
			t.Errorf("line %d moved or changed: %q became %q", i+1, line, after[i])
		}
	}
	for _, want := range []string{
		`Fn{Name: "(*T).Get", Line: 10, End: 12}`, `Fn{Name: "add", Line: 14, End: 14}`,
		`Fn{Name: "main.func1", Line: 17, End: 19}`, "__orion.FatalfVia(log.Fatalf)(",
		"__orion.ExitVia(os.Exit)(0)", "(__orion_r0 string, __orion_r1 error)",
		"defer __orion.MainDone()", `if __orion.KeepLocals { defer __orion.Leave1(&__orion_f, __orion.Locals, "f", &f) }`,
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

// Locals declared at a body's top level reach a panic's unwind, with the named results:
// those declared up to the first declaration, and all of them after the last; a function
// whose defers the compiler could no longer open-code keeps none.
func TestLocalsAreKeptForAPanicsUnwind(t *testing.T) {
	src := `package p

func f(a int) (n int, err error) {
	total := a * 2
	var x, y = 1, 2
	total, z := 3, 4
	if a > 0 {
		inner := 5
		_ = inner
	}
	return total + x + y + z, nil
}

func many(a int) int {
	b := a
	switch a {
	case 1:
		return 1
	case 2:
		return 2
	case 3:
		return 3
	case 4:
		return 4
	case 5:
		return 5
	case 6:
		return 6
	case 7:
		return 7
	}
	return b
}
`
	out, err := Rewrite("/src/p.go", []byte(src), "p")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		`defer __orion.Leave3(&__orion_f, 2, "a", &a, "n", &n, "err", &err)`,
		`total := a * 2; if __orion.KeepLocals { defer __orion.Leave1(&__orion_f, __orion.Locals, "total", &total) }`,
		"var x, y = 1, 2\n",
		`total, z := 3, 4; if __orion.KeepLocals { defer __orion.Leave4(&__orion_f, __orion.Locals, "total", &total, "x", &x, "y", &y, "z", &z) }`,
		// a block's locals, with those in scope around it, kept while the panic is inside it
		`inner := 5; if __orion.KeepLocals { defer __orion.Leave5(&__orion_f, __orion.LocalsUntil(10), "total", &total, "x", &x, "y", &y, "z", &z, "inner", &inner) }`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rewrite lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"b", &b`) {
		t.Errorf("a local of a function with eight returns was kept:\n%s", text)
	}
}

// Block-locals: a shadowing local replaces the outer one, a case is a block of its own, a
// loop's body gets no defer (it would pile up), nor does a function with a goto.
func TestBlockLocalsAreKeptWithTheirScope(t *testing.T) {
	src := `package p

func f(a int) {
	x := 1
	switch a {
	case 1:
		x := "shadow"
		y := 2
		_, _ = x, y
	}
	for i := 0; i < a; i++ {
		inLoop := i
		_ = inLoop
	}
}

func g(a int) {
	if a > 0 {
		b := a
		_ = b
		goto end
	}
end:
}
`
	out, err := Rewrite("/src/p.go", []byte(src), "p")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		`x := "shadow"; if __orion.KeepLocals { defer __orion.Leave1(&__orion_f, __orion.LocalsUntil(9), "x", &x) }`,
		`y := 2; if __orion.KeepLocals { defer __orion.Leave2(&__orion_f, __orion.LocalsUntil(9), "x", &x, "y", &y) }`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rewrite lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "&inLoop") || strings.Contains(text, "&b)") {
		t.Errorf("a loop's local, or one of a function with a goto, was kept:\n%s", text)
	}
}

// A function with more variables than Leave8 takes records its exit through a closure.
func TestManyArgumentsFallBackToAClosure(t *testing.T) {
	src := "package p\n\nfunc nine(a, b, c, d, e, f, g, h, i int) int {\n\treturn a\n}\n"
	out, err := Rewrite("/src/p.go", []byte(src), "p")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "defer func() { switch __orion_f.Exit() { case 1: __orion_f.Returned(__orion_r0); case 2: __orion_f.Unwound(") {
		t.Errorf("no closure for nine arguments and a result:\n%s", out)
	}
}
