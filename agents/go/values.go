package orion

import (
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"unicode/utf8"
)

// Captured values (spec section 7): scalars as msgpack, anything else as a small tagged
// tree, bounded as every agent bounds them.
const (
	maxText  = 200
	maxItems = 50
	maxDepth = 2
)

const (
	nodeText = iota
	nodeSeq
	nodeMap
	nodeObject
	nodeRedacted
	nodeElided
	nodeError
)

// valueEncoder appends captured values to a record; intern gives a string's id in the
// trace being written.
type valueEncoder struct {
	intern  func(string) uint64
	secrets *redactor
}

// pairs appends flat pairs [name sid, value, ...] from alternating names and values.
func (e *valueEncoder) pairs(b []byte, namesAndValues []any) []byte {
	n := len(namesAndValues) / 2
	b = mpArray(b, 2*n)
	for i := 0; i < n; i++ {
		name, _ := namesAndValues[2*i].(string)
		b = mpUint(b, e.intern(name))
		b = e.named(b, name, namesAndValues[2*i+1])
	}
	return b
}

// named captures a value that has a name: redacted when the name looks secret.
func (e *valueEncoder) named(b []byte, name string, v any) []byte {
	if e.secrets.looksSecret(name) {
		return e.redacted(b, reflect.TypeOf(v))
	}
	return e.value(b, v)
}

func (e *valueEncoder) value(b []byte, v any) []byte {
	if v == nil {
		return mpNil(b)
	}
	return e.reflected(b, reflect.ValueOf(v), 0)
}

func (e *valueEncoder) typeID(t reflect.Type) uint64 {
	if t == nil {
		return 0
	}
	return e.intern(t.String())
}

func (e *valueEncoder) node(b []byte, kind int, t reflect.Type, cols int) []byte {
	b = mpArray(b, 2+cols)
	b = mpUint(b, uint64(kind))
	if t == nil {
		return mpNil(b)
	}
	return mpUint(b, e.typeID(t))
}

func (e *valueEncoder) redacted(b []byte, t reflect.Type) []byte {
	return e.node(b, nodeRedacted, t, 0)
}

func (e *valueEncoder) text(b []byte, t reflect.Type, s string) []byte {
	cut := utf8.RuneCountInString(s)
	if cut <= maxText {
		b = e.node(b, nodeText, t, 1)
		return mpStr(b, s)
	}
	b = e.node(b, nodeText, t, 2)
	b = mpStr(b, firstRunes(s, maxText))
	return mpUint(b, uint64(cut))
}

func firstRunes(s string, n int) string {
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}

var (
	errorType    = reflect.TypeOf((*error)(nil)).Elem()
	stringerType = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()
)

// standard: a type of the standard library (time.Time, net.IP, *errors.errorString), whose
// String and Error methods the agent may call. The program's own and its dependencies'
// are never called: one could take a lock its caller holds, or change state; their fields
// are captured instead.
func standard(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	if pkg == "" || pkg == "main" {
		return false
	}
	for _, module := range programModules() {
		if pkg == module || strings.HasPrefix(pkg, module+"/") {
			return false
		}
	}
	return true
}

// programModules are the main module and its dependencies, from the build information.
var programModules = sync.OnceValue(func() []string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	modules := []string{info.Main.Path}
	for _, dep := range info.Deps {
		modules = append(modules, dep.Path)
	}
	return modules
})

// described is a value's own Error() or String(), bounded; a method that panics gives an
// error node, as a repr that raised does.
func (e *valueEncoder) described(b []byte, v reflect.Value) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			out = e.node(b, nodeError, v.Type(), 1)
			out = mpStr(out, firstRunes(fmt.Sprint(r), maxText))
		}
	}()
	var s string
	if v.Type().Implements(errorType) {
		s = v.Interface().(error).Error()
	} else {
		s = v.Interface().(fmt.Stringer).String()
	}
	return e.text(b, v.Type(), e.secrets.scrub(s))
}

func (e *valueEncoder) reflected(b []byte, v reflect.Value, depth int) []byte {
	t := v.Type()
	if v.CanInterface() && t.Kind() != reflect.Interface && standard(t) &&
		(t.Implements(errorType) || t.Implements(stringerType)) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			return mpNil(b)
		}
		return e.described(b, v)
	}
	switch t.Kind() {
	case reflect.Bool:
		return mpBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return mpInt(b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return mpUint(b, v.Uint())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b = e.node(b, nodeText, t, 1)
			return mpStr(b, fmt.Sprint(f))
		}
		return mpFloat(b, f)
	case reflect.Complex64, reflect.Complex128:
		return e.text(b, t, fmt.Sprint(v.Complex()))
	case reflect.String:
		s := e.secrets.scrub(v.String())
		if utf8.RuneCountInString(s) <= maxText && utf8.ValidString(s) {
			return mpStr(b, s)
		}
		return e.text(b, t, s)
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return mpNil(b)
		}
		if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Struct {
			return e.text(b, t, fmt.Sprintf("%#x", v.Pointer()))
		}
		return e.reflected(b, v.Elem(), depth)
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			return mpNil(b)
		}
		if t.Elem().Kind() == reflect.Uint8 { // bytes: hex text, as bin would decode
			raw := make([]byte, min(v.Len(), maxText/2))
			for i := range raw { // not reflect.Copy: it refuses an unexported field's bytes
				raw[i] = byte(v.Index(i).Uint())
			}
			b = e.node(b, nodeText, t, 1+boolInt(v.Len() > len(raw)))
			b = mpStr(b, hex.EncodeToString(raw))
			if v.Len() > len(raw) {
				b = mpUint(b, uint64(v.Len()))
			}
			return b
		}
		if depth >= maxDepth {
			return e.elided(b, t, v.Len())
		}
		n := min(v.Len(), maxItems)
		b = e.node(b, nodeSeq, t, 1+boolInt(n < v.Len()))
		b = mpArray(b, n)
		for i := 0; i < n; i++ {
			b = e.reflected(b, v.Index(i), depth+1)
		}
		if n < v.Len() {
			b = mpUint(b, uint64(v.Len()))
		}
		return b
	case reflect.Map:
		if v.IsNil() {
			return mpNil(b)
		}
		if depth >= maxDepth {
			return e.elided(b, t, v.Len())
		}
		n := min(v.Len(), maxItems)
		b = e.node(b, nodeMap, t, 1+boolInt(n < v.Len()))
		b = mpArray(b, 2*n)
		it := v.MapRange()
		for i := 0; i < n && it.Next(); i++ {
			k := it.Key()
			b = e.reflected(b, k, depth+1)
			if k.Kind() == reflect.String && e.secrets.looksSecret(k.String()) {
				b = e.redacted(b, it.Value().Type())
			} else {
				b = e.reflected(b, it.Value(), depth+1)
			}
		}
		if n < v.Len() {
			b = mpUint(b, uint64(v.Len()))
		}
		return b
	case reflect.Struct:
		if depth >= maxDepth {
			return e.elided(b, t, t.NumField())
		}
		n := min(t.NumField(), maxItems)
		b = e.node(b, nodeObject, t, 1+boolInt(n < t.NumField()))
		b = mpArray(b, 2*n)
		for i := 0; i < n; i++ {
			name := t.Field(i).Name
			b = mpUint(b, e.intern(name))
			if e.secrets.looksSecret(name) {
				b = e.redacted(b, t.Field(i).Type)
			} else {
				b = e.reflected(b, v.Field(i), depth+1)
			}
		}
		if n < t.NumField() {
			b = mpUint(b, uint64(t.NumField()))
		}
		return b
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if v.IsNil() {
			return mpNil(b)
		}
		return e.text(b, t, fmt.Sprintf("%#x", v.Pointer()))
	}
	return e.text(b, t, t.String())
}

func (e *valueEncoder) elided(b []byte, t reflect.Type, n int) []byte {
	b = e.node(b, nodeElided, t, 1)
	return mpUint(b, uint64(n))
}

func boolInt(x bool) int {
	if x {
		return 1
	}
	return 0
}
