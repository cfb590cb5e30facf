package orion

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"sync"
	"unsafe"
)

// `go test -v` prints what a test logs as it happens instead of keeping it in the test's
// output buffer, where failureOutput reads it. The agent puts a tee in front of the
// testing package's printer (shared by every test), which passes everything through
// unchanged and keeps each running test's log lines, told apart by the "=== RUN/CONT/
// NAME" lines the printer writes whenever the test it prints for changes.

type chattyTee struct {
	out     io.Writer
	mu      sync.Mutex
	current string            // the test the printer last named
	logs    map[string][]byte // each running test's log lines
	partial []byte            // an unfinished line
}

var teeOnce sync.Once

// teeChattyOutput installs the tee the first time a test starts, if `go test -v` runs.
func teeChattyOutput(tb TB) {
	teeOnce.Do(func() {
		defer func() { recover() }() // a testing package laid out otherwise: no tee
		test := reflect.ValueOf(tb)
		if test.Kind() != reflect.Pointer || test.Elem().Kind() != reflect.Struct {
			return
		}
		chatty := test.Elem().FieldByName("chatty")
		if !chatty.IsValid() || chatty.Kind() != reflect.Pointer || chatty.IsNil() {
			return
		}
		w := chatty.Elem().FieldByName("w")
		if !w.IsValid() || w.Type() != reflect.TypeOf((*io.Writer)(nil)).Elem() {
			return
		}
		writer := (*io.Writer)(unsafe.Pointer(w.UnsafeAddr()))
		*writer = &chattyTee{out: *writer, current: tb.Name(), logs: map[string][]byte{}}
		chattyLogs = (*writer).(*chattyTee)
	})
}

var chattyLogs *chattyTee // nil unless go test -v runs

func (c *chattyTee) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.partial = append(c.partial, p...)
	for {
		end := bytes.IndexByte(c.partial, '\n')
		if end < 0 {
			break
		}
		c.keep(string(c.partial[:end+1]))
		c.partial = c.partial[end+1:]
	}
	c.mu.Unlock()
	return c.out.Write(p)
}

// keep attributes one printed line: a marker names the test that follows, an indented
// line is a log line of the current test.
func (c *chattyTee) keep(line string) {
	marker := strings.TrimPrefix(line, "\x16") // -json's framing byte
	for _, prefix := range []string{"=== RUN   ", "=== CONT  ", "=== NAME  "} {
		if name, ok := strings.CutPrefix(marker, prefix); ok {
			c.current = strings.TrimSpace(name)
			return
		}
	}
	if strings.HasPrefix(line, "    ") && len(c.logs[c.current]) < 64<<10 {
		c.logs[c.current] = append(c.logs[c.current], line...)
	}
}

// take hands over and forgets what the test `name` logged.
func (c *chattyTee) take(name string) string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	logged := string(c.logs[name])
	delete(c.logs, name)
	return logged
}
