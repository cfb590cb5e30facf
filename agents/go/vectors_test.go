package orion

// spec section 13: the Go writer writes the records of every vector in spec/vectors/ (the
// same ids, times and header keys); tests/agents/go/test_vectors.py reads the files back
// with the reference reader and compares them with each vector's records. Set
// ORION_VECTOR_OUT to keep the files.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var vectorNames = []string{"normal", "exception", "truncated", "multithread", "values", "ring", "native"}

func TestWriteTheVectors(t *testing.T) {
	out := os.Getenv("ORION_VECTOR_OUT")
	if out == "" {
		out = t.TempDir()
	}
	for _, name := range vectorNames {
		raw, err := os.ReadFile(filepath.Join("..", "..", "spec", "vectors", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var vector struct {
			Truncated bool              `json:"truncated"`
			Records   []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(raw, &vector); err != nil {
			t.Fatal(err)
		}
		if err := writeVector(filepath.Join(out, name+".otrace"), vector.Records, vector.Truncated); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// ordered JSON: objects keep their key order, numbers stay integers where they are.
func decodeOrdered(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return nextValue(d)
}

func nextValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case json.Delim:
		if x == '[' {
			items := []any{}
			for d.More() {
				v, err := nextValue(d)
				if err != nil {
					return nil, err
				}
				items = append(items, v)
			}
			_, err := d.Token()
			return items, err
		}
		o := &ordered{}
		for d.More() {
			key, _ := d.Token()
			v, err := nextValue(d)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, key.(string))
			o.values = append(o.values, v)
		}
		_, err := d.Token()
		return o, err
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, _ := x.Float64()
		return f, nil
	}
	return tok, nil
}

func (o *ordered) get(key string) any {
	for i, k := range o.keys {
		if k == key {
			return o.values[i]
		}
	}
	return nil
}

func (o *ordered) has(key string) bool {
	for _, k := range o.keys {
		if k == key {
			return true
		}
	}
	return false
}

// plain turns decoded JSON into values mpAny packs.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number, float64, int64, string, bool, nil:
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case *ordered:
		o := &ordered{}
		for i, k := range x.keys {
			o.set(k, plain(x.values[i]))
		}
		return o
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

type vectorWriter struct {
	w    fileWriter
	sids map[string]uint64
}

func (vw *vectorWriter) sid(v any) {
	if v == nil {
		vw.w.buf = mpNil(vw.w.buf)
		return
	}
	vw.w.buf = mpUint(vw.w.buf, vw.sids[v.(string)])
}

func (vw *vectorWriter) num(v any) {
	vw.w.buf = mpAny(vw.w.buf, v)
}

// value writes a captured value from its decoded form (spec section 7).
func (vw *vectorWriter) value(v any) {
	o, ok := v.(*ordered)
	if !ok {
		vw.w.buf = mpAny(vw.w.buf, v)
		return
	}
	node := func(kind int, cols int) {
		vw.w.buf = mpArray(vw.w.buf, 2+cols)
		vw.w.buf = mpUint(vw.w.buf, uint64(kind))
		vw.sid(o.get("t"))
	}
	withCut := func(kind int, body func()) {
		cols := 1
		if o.has("cut") {
			cols = 2
		}
		node(kind, cols)
		body()
		if o.has("cut") {
			vw.num(o.get("cut"))
		}
	}
	switch {
	case o.has("text") && o.get("t") == "bytes" && !o.has("cut"): // a msgpack bin
		bin, _ := hex.DecodeString(o.get("text").(string))
		vw.w.buf = append(append(vw.w.buf, 0xc4, byte(len(bin))), bin...)
	case o.has("text"):
		withCut(nodeText, func() { vw.w.buf = mpStr(vw.w.buf, o.get("text").(string)) })
	case o.has("items"):
		withCut(nodeSeq, func() {
			items := o.get("items").([]any)
			vw.w.buf = mpArray(vw.w.buf, len(items))
			for _, item := range items {
				vw.value(item)
			}
		})
	case o.has("entries"):
		withCut(nodeMap, func() {
			entries := o.get("entries").([]any)
			vw.w.buf = mpArray(vw.w.buf, 2*len(entries))
			for _, e := range entries {
				vw.value(e.([]any)[0])
				vw.value(e.([]any)[1])
			}
		})
	case o.has("fields"):
		withCut(nodeObject, func() { vw.pairs(o.get("fields")) })
	case o.has("redacted"):
		node(nodeRedacted, 0)
	case o.has("elided"):
		if o.has("len") {
			node(nodeElided, 1)
			vw.num(o.get("len"))
		} else {
			node(nodeElided, 0)
		}
	case o.has("error"):
		node(nodeError, 1)
		vw.w.buf = mpStr(vw.w.buf, o.get("error").(string))
	default:
		panic("unknown value node")
	}
}

func (vw *vectorWriter) pairs(v any) {
	if v == nil {
		vw.w.buf = mpNil(vw.w.buf)
		return
	}
	o := v.(*ordered)
	vw.w.buf = mpArray(vw.w.buf, 2*len(o.keys))
	for i, k := range o.keys {
		vw.w.buf = mpUint(vw.w.buf, vw.sids[k])
		vw.value(o.values[i])
	}
}

func writeVector(path string, raws []json.RawMessage, truncated bool) error {
	vw := &vectorWriter{sids: map[string]uint64{}}
	for i, raw := range raws {
		decoded, err := decodeOrdered(raw)
		if err != nil {
			return err
		}
		r := decoded.(*ordered)
		kind := r.get("type").(string)
		rest := &ordered{keys: r.keys[1:], values: r.values[1:]}
		timed := func(code, cols int) {
			vw.w.timed(code, cols, r.get("t").(int64), uint64(r.get("lane").(int64)))
		}
		optional := func(key string) int { return boolInt(r.has(key)) }
		switch kind {
		case "header":
			if err := vw.w.open(filepath.Dir(path), filepath.Base(path), mpAny(mpUint(mpArray(nil, 2), 0), plain(rest))); err != nil {
				return err
			}
			continue
		case "string":
			vw.w.untimed(1, 3)
			vw.num(r.get("id"))
			vw.w.buf = mpStr(vw.w.buf, r.get("text").(string))
			vw.sids[r.get("text").(string)] = uint64(r.get("id").(int64))
		case "function":
			vw.w.untimed(2, 6+optional("addr"))
			vw.num(r.get("id"))
			vw.sid(r.get("name"))
			vw.sid(r.get("module"))
			vw.sid(r.get("file"))
			vw.num(r.get("line"))
			if r.has("addr") {
				vw.num(r.get("addr"))
			}
		case "lane":
			vw.w.untimed(3, 6)
			vw.num(r.get("id"))
			vw.sid(r.get("name"))
			vw.sid(r.get("kind"))
			vw.num(r.get("native_id"))
			vw.num(r.get("parent"))
		case "module":
			vw.w.untimed(11, 5+2*optional("size"))
			vw.num(r.get("id"))
			vw.sid(r.get("path"))
			vw.num(r.get("base"))
			if id, ok := r.get("build_id").(string); ok {
				bin, _ := hex.DecodeString(id)
				vw.w.buf = append(append(vw.w.buf, 0xc4, byte(len(bin))), bin...)
			} else {
				vw.w.buf = mpNil(vw.w.buf)
			}
			if r.has("size") {
				vw.num(r.get("size"))
				vw.num(r.get("mtime"))
			}
		case "call":
			timed(4, 4+optional("args")+optional("site"))
			vw.num(r.get("fn"))
			if r.has("args") {
				vw.pairs(r.get("args"))
			}
			if r.has("site") { // the native agents' call site column
				vw.num(r.get("site"))
			}
		case "return":
			timed(5, 3+optional("value"))
			if r.has("value") {
				vw.value(r.get("value"))
			}
		case "exception":
			timed(6, 7)
			vw.num(map[string]int64{"raised": 0, "caught": 1}[r.get("kind").(string)])
			vw.sid(r.get("exc_type"))
			vw.w.buf = mpStr(vw.w.buf, r.get("message").(string))
			vw.num(r.get("line"))
		case "unwind":
			timed(7, 4+optional("locals"))
			vw.num(r.get("line"))
			if r.has("locals") {
				vw.pairs(r.get("locals"))
			}
		case "crash":
			timed(8, 7)
			for _, key := range []string{"kind", "reason", "message"} {
				vw.w.buf = mpStr(vw.w.buf, r.get(key).(string))
			}
			vw.num(plain(r.get("detail")))
		case "stack":
			timed(9, 5)
			vw.w.buf = mpStr(vw.w.buf, r.get("reason").(string))
			frames := r.get("frames").([]any)
			vw.w.buf = mpArray(vw.w.buf, len(frames))
			for _, f := range frames {
				frame := f.(*ordered)
				vw.w.buf = mpArray(vw.w.buf, 3)
				vw.num(frame.get("fn"))
				vw.num(frame.get("line"))
				vw.pairs(frame.get("locals"))
			}
		case "event":
			timed(10, 5)
			vw.sid(r.get("kind"))
			vw.num(plain(r.get("attrs")))
		case "end":
			vw.w.finish(func(checksum uint32, records uint64) []byte {
				summary := plain(rest).(*ordered)
				summary.set("checksum", uint64(checksum))
				return mpAny(nil, summary)
			})
			return nil
		default:
			return fmt.Errorf("record %d: unknown type %s", i, kind)
		}
		if truncated && i%4 == 3 {
			vw.w.flush() // small frames, as the vector has
		}
	}
	if truncated { // a frame cut in the middle: the trace ends as a killed process's does
		vw.w.flush()
		vw.w.written()
		var lost []byte
		for i := 0; i < 200; i++ {
			lost = mpStr(lost, fmt.Sprintf("lost %x", uint32(i)*2654435761))
		}
		frame := encoder.EncodeAll(lost, nil)
		vw.w.file.Write(frame[:len(frame)/2])
		vw.w.file.Close()
	}
	return nil
}
