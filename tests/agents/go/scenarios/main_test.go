package main

import "testing"

func TestPasses(t *testing.T) {
	if outer(1) != 8 {
		t.Fatal("outer(1) is not 8")
	}
}

func TestFails(t *testing.T) {
	if got := outer(1); got != 9 {
		t.Errorf("outer(1) = %d, want 9", got)
	}
}
