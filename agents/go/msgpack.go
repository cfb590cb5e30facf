package orion

import (
	"math"
	"strings"
	"unicode/utf8"
)

// The few msgpack forms a trace needs, appended to a byte slice (spec section 4).

func mpNil(b []byte) []byte { return append(b, 0xc0) }

func mpBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// mpUint and mpInt are small enough to inline at their callers for the values that fit in
// one byte (most of a calls-only trace's numbers); wider ones take a call.
func mpUint(b []byte, v uint64) []byte {
	if v < 128 {
		return append(b, byte(v))
	}
	return mpUintWide(b, v)
}

func mpUintWide(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(b, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, 0xcf, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func mpInt(b []byte, v int64) []byte {
	if uint64(v) < 128 {
		return append(b, byte(v))
	}
	return mpIntWide(b, v)
}

func mpIntWide(b []byte, v int64) []byte {
	if v >= 0 {
		return mpUintWide(b, uint64(v))
	}
	switch {
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(b, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(b, 0xd2, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	u := uint64(v)
	return append(b, 0xd3, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

func mpFloat(b []byte, v float64) []byte {
	u := math.Float64bits(v)
	return append(b, 0xcb, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// mpStr writes a msgpack str, which must be UTF-8 (spec 4): a Go string may hold any bytes
// (a string(b) of binary data), whose invalid sequences become U+FFFD.
func mpStr(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

func mpArray(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
	return append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func mpMap(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// mpAny packs plain values (the header, the summary, event attributes): maps with string
// keys, slices, strings, numbers, booleans and nil.
func mpAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return mpNil(b)
	case bool:
		return mpBool(b, x)
	case int:
		return mpInt(b, int64(x))
	case int64:
		return mpInt(b, x)
	case uint32:
		return mpUint(b, uint64(x))
	case uint64:
		return mpUint(b, x)
	case float64:
		return mpFloat(b, x)
	case string:
		return mpStr(b, x)
	case []string:
		b = mpArray(b, len(x))
		for _, s := range x {
			b = mpStr(b, s)
		}
		return b
	case []any:
		b = mpArray(b, len(x))
		for _, e := range x {
			b = mpAny(b, e)
		}
		return b
	case rawMsgpack:
		return append(b, x...)
	case *ordered:
		b = mpMap(b, len(x.keys))
		for i, k := range x.keys {
			b = mpStr(b, k)
			b = mpAny(b, x.values[i])
		}
		return b
	}
	panic("orion: cannot pack a value of this kind")
}

// rawMsgpack is already packed.
type rawMsgpack []byte

// ordered is a map that keeps its keys in insertion order, so headers read the same way
// every time.
type ordered struct {
	keys   []string
	values []any
}

func (o *ordered) set(key string, value any) *ordered {
	for i, k := range o.keys {
		if k == key {
			o.values[i] = value
			return o
		}
	}
	o.keys = append(o.keys, key)
	o.values = append(o.values, value)
	return o
}
