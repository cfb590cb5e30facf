package main

import "testing"

func TestAveragePasses(t *testing.T) {
	if average([]int{2, 4}) != 3 {
		t.Fatal("wrong average")
	}
}

func TestAverageFails(t *testing.T) {
	got := average([]int{1, 2})
	if got != 2 {
		t.Errorf("average = %d, want 2", got)
	}
}

func TestDividePanics(t *testing.T) {
	divide(1, 0)
}
