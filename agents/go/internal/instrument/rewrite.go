// Package instrument rewrites the Go sources of a module so that their functions record
// through the agent, keeping every line where it was written: statements are added on the
// lines of the opening braces, the import on the package clause's line and the table of
// functions after the last line.
package instrument

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// AgentPath is the import path of the agent's runtime package.
const AgentPath = "github.com/orionis-trace/orion-go"

type edit struct {
	at, drop int
	text     string
}

type function struct {
	name      string
	line, end int
}

// fileRewriter holds what one file's rewrite needs.
type fileRewriter struct {
	fset    *token.FileSet
	file    *ast.File
	src     []byte
	table   string // the file's own function table variable
	isTest  bool
	edits   []edit
	funcs   []function
	imports map[string]string // import path -> local name
}

// Rewrite returns the instrumented source of the file at `path` (module: the package's
// import path as the runtime names it), or nil when there is nothing to instrument.
func Rewrite(path string, src []byte, module string) ([]byte, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(path))
	r := &fileRewriter{fset: fset, file: file, src: src, table: "__orion_fns_" + hex.EncodeToString(sum[:6]),
		isTest: strings.HasSuffix(path, "_test.go"), imports: map[string]string{}}
	for _, spec := range file.Imports {
		importPath, _ := strconv.Unquote(spec.Path.Value)
		if importPath == "C" {
			return nil, nil // cgo files cannot be given to the compiler through an overlay
		}
		name := filepath.Base(importPath)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		r.imports[importPath] = name
	}
	for _, decl := range file.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil && !hasDirective(fn.Doc) {
			r.instrument(fn.Type, fn.Body, r.declName(fn), fn.Recv, fn)
			r.closures(fn.Body, r.declName(fn))
		} else if !ok {
			r.closures(decl, "init")
		}
	}
	r.exits()
	if len(r.edits) == 0 {
		return nil, nil
	}
	r.edits = append(r.edits, edit{at: r.offset(file.Name.End()),
		text: fmt.Sprintf("; import __orion %q", AgentPath)})
	r.edits = append(r.edits, edit{at: len(src), text: r.tableText(path, module)})
	return r.apply(), nil
}

func hasDirective(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.HasPrefix(c.Text, "//go:") {
			return true
		}
	}
	return false
}

func (r *fileRewriter) offset(p token.Pos) int { return r.fset.Position(p).Offset }
func (r *fileRewriter) line(p token.Pos) int   { return r.fset.Position(p).Line }

// declName is the function's name as the runtime writes it: `f`, `T.M`, `(*T).M`.
func (r *fileRewriter) declName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	pointer := false
	if star, ok := t.(*ast.StarExpr); ok {
		pointer, t = true, star.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	name := fmt.Sprint(t)
	if ident, ok := t.(*ast.Ident); ok {
		name = ident.Name
	}
	if pointer {
		return "(*" + name + ")." + fn.Name.Name
	}
	return name + "." + fn.Name.Name
}

// closures instruments the function literals under `node`, named after their enclosing
// function as the compiler names them (outer.func1, outer.func2, ...).
func (r *fileRewriter) closures(node ast.Node, outer string) {
	n := 0
	ast.Inspect(node, func(x ast.Node) bool {
		lit, ok := x.(*ast.FuncLit)
		if !ok {
			return true
		}
		n++
		name := fmt.Sprintf("%s.func%d", outer, n)
		r.instrument(lit.Type, lit.Body, name, nil, nil)
		r.closures(lit.Body, name)
		return false
	})
}

// instrument adds the prologue to one function and names its results.
func (r *fileRewriter) instrument(typ *ast.FuncType, body *ast.BlockStmt, name string,
	recv *ast.FieldList, decl *ast.FuncDecl) {
	if name == "_" || strings.HasSuffix(name, "._") {
		return
	}
	index := len(r.funcs)
	r.funcs = append(r.funcs, function{name, r.line(typ.Func), r.line(body.Rbrace)})
	if typ.Func == token.NoPos { // a literal's type has its position at "func" too
		r.funcs[index].line = r.line(body.Lbrace)
	}
	var args []string
	for _, list := range []*ast.FieldList{recv, typ.Params} {
		if list == nil {
			continue
		}
		for _, field := range list.List {
			for _, ident := range field.Names {
				if ident.Name != "_" {
					args = append(args, strconv.Quote(ident.Name), ident.Name)
				}
			}
		}
	}
	results := r.nameResults(typ.Results)
	id := fmt.Sprintf("%s+%d", r.table, index)
	var pro strings.Builder
	if decl != nil && decl.Recv == nil && r.file.Name.Name == "main" && decl.Name.Name == "main" && !r.isTest {
		pro.WriteString("defer __orion.MainDone(); ")
	}
	if t := r.testingParam(decl); t != "" {
		fmt.Fprintf(&pro, "defer __orion.TestStart(%s).End(); ", t)
	}
	fmt.Fprintf(&pro, "var __orion_f __orion.Frame; if __orion.Values { __orion_f = __orion.EnterArgs(%s", id)
	for _, a := range args {
		pro.WriteString(", " + a)
	}
	fmt.Fprintf(&pro, ") } else { __orion_f = __orion.Enter(%s) }; ", id)
	if len(args)/2+len(results) <= maxLeave {
		fmt.Fprintf(&pro, "defer __orion.Leave%d(&__orion_f, %d%s); ", len(args)/2+len(results),
			len(results), leaveArgs(args, results))
	} else { // a closure: it renames the function's own closures (funcN count literals)
		fmt.Fprintf(&pro, "defer func() { switch __orion_f.Exit() { case 1: __orion_f.Returned(%s); case 2: __orion_f.Unwound(%s) } }(); ",
			strings.Join(results, ", "), strings.Join(append(args, userNamed(results)...), ", "))
	}
	r.edits = append(r.edits, edit{at: r.offset(body.Lbrace) + 1, text: pro.String()})
	r.keepLocals(body, strings.Count(pro.String(), "defer "), append(args, userNamed(results)...))
}

// maxLeave: the most variables the agent's Leave0..Leave8 take.
const maxLeave = 8

// leaveArgs: a Leave call's names and pointers, the arguments' then the results' (those the
// user did not name are named "", as no local of theirs).
func leaveArgs(args, results []string) string {
	var b strings.Builder
	for i := 0; i < len(args); i += 2 {
		fmt.Fprintf(&b, ", %s, &%s", args[i], args[i+1])
	}
	for _, name := range results {
		if strings.HasPrefix(name, "__orion_r") {
			fmt.Fprintf(&b, `, "", &%s`, name)
		} else {
			fmt.Fprintf(&b, ", %q, &%s", name, name)
		}
	}
	return b.String()
}

// userNamed: the results the user named, as names and values (the unnamed ones got
// __orion_r names, which are not the user's locals).
func userNamed(results []string) []string {
	var pairs []string
	for _, name := range results {
		if !strings.HasPrefix(name, "__orion_r") {
			pairs = append(pairs, strconv.Quote(name), name)
		}
	}
	return pairs
}

// keepLocals makes the locals of the body reach the unwind record of a panic: after a
// declaration, on its line, a deferred call of the agent's (not a closure, which would
// rename the function's own closures: funcN count the literals of the body) boxes the
// locals in scope there, only when a panic is leaving the function; where locals are not
// kept (safe mode) it is not even deferred. A defer costs every call that reaches it some
// nanoseconds, so a statement list gets two at most: after its first declaration and
// after its last (a panic after the last sees them all, one before it the first's).
// Nested blocks (if, else, switch and select cases, plain blocks; not loops, where a
// defer would pile up) get theirs too, their locals with the enclosing ones in scope, and
// the block's last line: the agent keeps them only when the panic left the frame inside
// the block. None is added that would stop the compiler from open-coding the function's
// defers (at most 8, returns times defers at most 15), past which every defer of the
// function costs a runtime call. `known` holds the arguments' and results' names and values.
func (r *fileRewriter) keepLocals(body *ast.BlockStmt, ours int, known []string) {
	returns, defers, loopDefer, jumps := countExits(body)
	if loopDefer {
		return
	}
	k := &localKeeper{r: r, returns: returns, defers: defers + ours, nested: !jumps}
	seen := map[string]bool{}
	for i := 0; i < len(known); i += 2 {
		seen[known[i+1]] = true
	}
	k.list(body.List, nil, seen, 0)
}

// localKeeper places one function's keeping defers, outer statement lists first.
type localKeeper struct {
	r               *fileRewriter
	returns, defers int
	nested          bool // blocks too: no goto could bring a panic back inside a block's lines
}

// scoped is a local in scope: its name and the pointer expression that reads it.
type scoped struct{ name, pointer string }

// list keeps the locals of one statement list: `outer` those of the enclosing lists in
// scope, `skip` names that are not the user's locals here (the arguments, at the top
// level), `until` the list's last line (0 at the top level, where they stay in scope).
func (k *localKeeper) list(stmts []ast.Stmt, outer []scoped, skip map[string]bool, until int) {
	inScope := append([]scoped{}, outer...)
	var after []ast.Stmt // the declarations, each with the locals in scope after it
	var upTo [][]scoped
	var nested []func()
	own := map[string]bool{} // declared in this list: `a, b := ...` again reuses `a`
	for _, stmt := range stmts {
		added := false
		for _, ident := range declared(stmt) {
			if ident.Name == "_" || skip[ident.Name] || own[ident.Name] {
				continue
			}
			own[ident.Name] = true
			inScope, added = shadow(inScope, scoped{strconv.Quote(ident.Name), "&" + ident.Name}), true
		}
		if added {
			after, upTo = append(after, stmt), append(upTo, inScope)
		}
		if k.nested {
			here := inScope
			for _, block := range blocks(stmt) {
				nested = append(nested, func() { k.list(block.stmts, here, nil, k.r.line(block.end)) })
			}
		}
	}
	places := []int{0, len(after) - 1}
	if len(after) < 2 {
		places = places[:len(after)]
	}
	for _, i := range places {
		if !k.take() {
			return
		}
		scope := "__orion.Locals"
		if until > 0 {
			scope = fmt.Sprintf("__orion.LocalsUntil(%d)", until)
		}
		locals := upTo[i]
		if len(locals) > maxKept { // the innermost, declared last, are the panic's likeliest
			locals = locals[len(locals)-maxKept:]
		}
		var args []string
		for _, l := range locals {
			args = append(args, l.name, l.pointer)
		}
		k.r.edits = append(k.r.edits, edit{at: k.r.offset(after[i].End()), text: fmt.Sprintf(
			"; if __orion.KeepLocals { defer __orion.Leave%d(&__orion_f, %s, %s) }", len(locals), scope, strings.Join(args, ", "))})
	}
	for _, keep := range nested {
		keep()
	}
}

// take counts one more defer, if the compiler still open-codes the function's defers.
func (k *localKeeper) take() bool {
	all := k.defers + 1
	if all > 8 || k.returns*all > 15 {
		return false
	}
	k.defers = all
	return true
}

// shadow adds a local to those in scope, in place of an outer one of the same name.
func shadow(inScope []scoped, local scoped) []scoped {
	out := make([]scoped, 0, len(inScope)+1)
	for _, s := range inScope {
		if s.name != local.name {
			out = append(out, s)
		}
	}
	return append(out, local)
}

// block is a statement list nested in a statement, and where its scope ends.
type block struct {
	stmts []ast.Stmt
	end   token.Pos
}

// blocks: the statement lists directly inside a statement that run at most once per
// run of it (not a loop's body, nor a closure's).
func blocks(stmt ast.Stmt) []block {
	switch s := stmt.(type) {
	case *ast.BlockStmt:
		return []block{{s.List, s.Rbrace}}
	case *ast.LabeledStmt:
		return blocks(s.Stmt)
	case *ast.IfStmt:
		out := []block{{s.Body.List, s.Body.Rbrace}}
		if s.Else != nil {
			out = append(out, blocks(s.Else)...)
		}
		return out
	case *ast.SwitchStmt:
		return clauses(s.Body)
	case *ast.TypeSwitchStmt:
		return clauses(s.Body)
	case *ast.SelectStmt:
		return clauses(s.Body)
	}
	return nil
}

// clauses: the bodies of a switch's or select's cases; each case's scope ends with it.
func clauses(body *ast.BlockStmt) []block {
	var out []block
	for _, c := range body.List {
		switch clause := c.(type) {
		case *ast.CaseClause:
			out = append(out, block{clause.Body, clause.End()})
		case *ast.CommClause:
			out = append(out, block{clause.Body, clause.End()})
		}
	}
	return out
}

// maxKept: the locals a function keeps, the first declared.
const maxKept = maxLeave

// declared: the variables a top-level statement of a body declares.
func declared(stmt ast.Stmt) []*ast.Ident {
	var idents []*ast.Ident
	switch s := stmt.(type) {
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			for _, e := range s.Lhs {
				if ident, ok := e.(*ast.Ident); ok {
					idents = append(idents, ident)
				}
			}
		}
	case *ast.DeclStmt:
		if g, ok := s.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
			for _, spec := range g.Specs {
				idents = append(idents, spec.(*ast.ValueSpec).Names...)
			}
		}
	}
	return idents
}

// countExits counts a body's return and defer statements (not its closures'), and tells
// whether a defer sits in a loop (the compiler then open-codes none of them) and whether
// the body has a goto.
func countExits(body *ast.BlockStmt) (returns, defers int, loopDefer, jumps bool) {
	var walk func(node ast.Node, inLoop bool)
	walk = func(node ast.Node, inLoop bool) {
		ast.Inspect(node, func(x ast.Node) bool {
			switch s := x.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt:
				returns++
			case *ast.DeferStmt:
				defers++
				loopDefer = loopDefer || inLoop
			case *ast.BranchStmt:
				jumps = jumps || s.Tok == token.GOTO
			case *ast.ForStmt:
				if x != node {
					walk(s, true)
					return false
				}
			case *ast.RangeStmt:
				if x != node {
					walk(s, true)
					return false
				}
			}
			return true
		})
	}
	walk(body, false)
	return returns, defers, loopDefer, jumps
}

// nameResults gives unnamed (and blank) results names, so that the deferred code can read
// them, and returns the names.
func (r *fileRewriter) nameResults(results *ast.FieldList) []string {
	if results == nil || len(results.List) == 0 {
		return nil
	}
	var names []string
	k := 0
	next := func() string {
		k++
		return fmt.Sprintf("__orion_r%d", k-1)
	}
	if results.Opening == token.NoPos { // `func f() int`
		name := next()
		r.edits = append(r.edits, edit{at: r.offset(results.List[0].Type.Pos()), text: "(" + name + " "},
			edit{at: r.offset(results.List[0].Type.End()), text: ")"})
		return []string{name}
	}
	for _, field := range results.List {
		if len(field.Names) == 0 {
			name := next()
			r.edits = append(r.edits, edit{at: r.offset(field.Type.Pos()), text: name + " "})
			names = append(names, name)
			continue
		}
		for _, ident := range field.Names {
			name := ident.Name
			if name == "_" {
				name = next()
				r.edits = append(r.edits, edit{at: r.offset(ident.Pos()), drop: 1, text: name})
			}
			names = append(names, name)
		}
	}
	return names
}

// testingParam is the name of a test function's *testing.T parameter, "" for others.
func (r *fileRewriter) testingParam(decl *ast.FuncDecl) string {
	testing, ok := r.imports["testing"]
	if !r.isTest || !ok || decl == nil || decl.Recv != nil || !strings.HasPrefix(decl.Name.Name, "Test") ||
		len(decl.Type.Params.List) != 1 || len(decl.Type.Params.List[0].Names) != 1 {
		return ""
	}
	star, ok := decl.Type.Params.List[0].Type.(*ast.StarExpr)
	if !ok {
		return ""
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "T" {
		return ""
	}
	if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != testing {
		return ""
	}
	name := decl.Type.Params.List[0].Names[0].Name
	if name == "_" {
		return ""
	}
	return name
}

// exits wraps os.Exit and log.Fatal* so that the trace ends before the process.
func (r *fileRewriter) exits() {
	wrappers := map[[2]string]string{
		{"os", "Exit"}: "ExitVia", {"log", "Fatal"}: "FatalVia", {"log", "Fatalln"}: "FatalVia",
		{"log", "Fatalf"}: "FatalfVia",
	}
	ast.Inspect(r.file, func(x ast.Node) bool {
		call, ok := x.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		for key, wrapper := range wrappers {
			if name, imported := r.imports[key[0]]; imported && pkg.Name == name && sel.Sel.Name == key[1] {
				r.edits = append(r.edits, edit{at: r.offset(sel.Pos()), text: "__orion." + wrapper + "("},
					edit{at: r.offset(sel.End()), text: ")"})
			}
		}
		return true
	})
}

func (r *fileRewriter) tableText(path, module string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nvar %s = __orion.Register(%q, %q", r.table, module, path)
	for _, f := range r.funcs {
		fmt.Fprintf(&b, ", __orion.Fn{Name: %q, Line: %d, End: %d}", f.name, f.line, f.end)
	}
	b.WriteString(")\n")
	return b.String()
}

// apply makes the edits, last first so that offsets stay right.
func (r *fileRewriter) apply() []byte {
	sort.SliceStable(r.edits, func(i, j int) bool { return r.edits[i].at > r.edits[j].at })
	out := append([]byte{}, r.src...)
	for _, e := range r.edits {
		out = append(out[:e.at], append([]byte(e.text), bytes.Clone(out[e.at+e.drop:])...)...)
	}
	return out
}
