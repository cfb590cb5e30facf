package orion

import (
	"bytes"
	"strings"
	"testing"
)

// captured encodes one value with a fresh string table; ids are the table's order.
func captured(v any) ([]byte, []string) {
	var table []string
	ids := map[string]uint64{}
	e := valueEncoder{secrets: &redactor{words: defaultSecretWords}, intern: func(s string) uint64 {
		if id, ok := ids[s]; ok {
			return id
		}
		ids[s] = uint64(len(table))
		table = append(table, s)
		return ids[s]
	}}
	return e.value(nil, v), table
}

func TestValuesAreBounded(t *testing.T) {
	long := strings.Repeat("é", 250)
	got, table := captured(long)
	want := mpUint(mpStr(mpUint(mpUint(mpArray(nil, 4), nodeText), 0), firstRunes(long, maxText)), 250)
	if !bytes.Equal(got, want) || table[0] != "string" {
		t.Errorf("a long string is a cut text node: % x", got)
	}
	nested := [][][]int{{{1}}}
	got, _ = captured(nested)
	// seq > seq > elided: a container at depth 2 is elided with its length.
	want = mpArray(nil, 3)
	want = mpUint(mpUint(want, nodeSeq), 0)
	want = mpArray(want, 1)
	want = mpUint(mpUint(mpArray(want, 3), nodeSeq), 1)
	want = mpArray(want, 1)
	want = mpUint(mpUint(mpUint(mpArray(want, 3), nodeElided), 2), 1)
	if !bytes.Equal(got, want) {
		t.Errorf("depth: got % x, want % x", got, want)
	}
}

func TestSecretFieldsAreRedacted(t *testing.T) {
	type login struct {
		User     string
		Password string
	}
	got, _ := captured(login{"ada", "hunter2-secret"})
	if bytes.Contains(got, []byte("hunter2")) || !bytes.Contains(got, []byte("ada")) {
		t.Errorf("the Password field leaked: %q", got)
	}
}

func TestMsgpackIntegers(t *testing.T) {
	for _, c := range []struct {
		v    int64
		want []byte
	}{{5, []byte{5}}, {-1, []byte{0xff}}, {-33, []byte{0xd0, 0xdf}}, {300, []byte{0xcd, 1, 44}},
		{-40000, []byte{0xd2, 0xff, 0xff, 0x63, 0xc0}}} {
		if got := mpInt(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("mpInt(%d) = % x, want % x", c.v, got, c.want)
		}
	}
}

// A struct's unexported bytes (a *testing.T's output buffer) are read, not refused.
func TestUnexportedBytesAreCaptured(t *testing.T) {
	type withOutput struct{ output []byte }
	got, _ := captured(withOutput{output: []byte{0xab, 0x01}})
	if !bytes.Contains(got, mpStr(nil, "ab01")) {
		t.Errorf("unexported bytes not captured as hex: % x", got)
	}
}

// A string of binary bytes is written as valid UTF-8 (spec 4: str is UTF-8).
func TestAStringOfBinaryBytesIsValidUTF8(t *testing.T) {
	got, _ := captured(string([]byte{0xf4, 'z', 0xc1, 'X'}))
	if !bytes.Contains(got, mpStr(nil, "\uFFFDz\uFFFDX")) || bytes.Contains(got, []byte{0xf4}) {
		t.Errorf("binary string not made valid UTF-8: % x", got)
	}
}
