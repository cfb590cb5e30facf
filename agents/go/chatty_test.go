package orion

import (
	"bytes"
	"testing"
)

// Parallel tests' lines interleave; the printer names the test before each switch.
func TestChattyTeeTellsInterleavedTestsApart(t *testing.T) {
	var printed bytes.Buffer
	tee := &chattyTee{out: &printed, current: "TestA", logs: map[string][]byte{}}
	stream := "    a_test.go:3: first of A\n=== RUN   TestB\n=== PAUSE TestB\n=== CONT  TestB\n" +
		"    b_test.go:5: B's\n=== NAME  TestA\n    a_test.go:4: second of A\n\x16=== NAME  TestB\n" +
		"    b_test.go:6: B's again\n--- FAIL: TestB (0.00s)\n"
	for _, piece := range []string{stream[:10], stream[10:57], stream[57:]} { // writes cut lines
		tee.Write([]byte(piece))
	}
	if printed.String() != stream {
		t.Errorf("the tee changed what is printed: %q", printed.String())
	}
	if got := tee.take("TestA"); got != "    a_test.go:3: first of A\n    a_test.go:4: second of A\n" {
		t.Errorf("TestA logged %q", got)
	}
	if got := tee.take("TestB"); got != "    b_test.go:5: B's\n    b_test.go:6: B's again\n" {
		t.Errorf("TestB logged %q", got)
	}
	if tee.take("TestB") != "" {
		t.Error("a test's lines are kept after they are taken")
	}
}
