package orion

// Locals tells Leave0..Leave8 that they keep locals rather than end the frame.
const Locals = -1

// LocalsUntil is Locals for the locals of a block that ends at `line`: they are kept
// only when the panic leaves the frame at that line or before (inside the block, as its
// keeping call runs only once the block has declared them).
func LocalsUntil(line int) int { return Locals - line }

// Leave0 to Leave8 are what instrumented code defers: at the start of a function with
// pointers to its arguments then its results (`results` of them, named "" when the user
// did not name them), to end its frame; and after a local's declaration with pointers to
// the locals declared so far and results = Locals, to keep them when a panic is leaving.
// A plain deferred call with typed pointers, not a closure: the variables stay on the
// stack, and the function's own closures keep the names the compiler gives them
// (main.run.func1: funcN count the literals of the body). Values are boxed only when
// they are recorded. One function per count, as Go has no variadic type parameters.
func Leave0(f *Frame, results int) {
	if w := f.exit(results <= Locals); w != exitDone {
		f.left(w, results, nil, nil)
	}
}

func Leave1[A any](f *Frame, results int,
	n0 string, p0 *A) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 1 - results
		f.left(w, results, []string{n0},
			[]any{pick(w, 0, first, p0)})
	}
}

func Leave2[A, B any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 2 - results
		f.left(w, results, []string{n0, n1},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1)})
	}
}

func Leave3[A, B, C any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B, n2 string, p2 *C) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 3 - results
		f.left(w, results, []string{n0, n1, n2},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1), pick(w, 2, first, p2)})
	}
}

func Leave4[A, B, C, D any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B, n2 string, p2 *C, n3 string, p3 *D) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 4 - results
		f.left(w, results, []string{n0, n1, n2, n3},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1), pick(w, 2, first, p2),
				pick(w, 3, first, p3)})
	}
}

func Leave5[A, B, C, D, E any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B, n2 string, p2 *C, n3 string, p3 *D,
	n4 string, p4 *E) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 5 - results
		f.left(w, results, []string{n0, n1, n2, n3, n4},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1), pick(w, 2, first, p2),
				pick(w, 3, first, p3), pick(w, 4, first, p4)})
	}
}

func Leave6[A, B, C, D, E, F any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B, n2 string, p2 *C, n3 string, p3 *D,
	n4 string, p4 *E, n5 string, p5 *F) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 6 - results
		f.left(w, results, []string{n0, n1, n2, n3, n4, n5},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1), pick(w, 2, first, p2),
				pick(w, 3, first, p3), pick(w, 4, first, p4), pick(w, 5, first, p5)})
	}
}

func Leave7[A, B, C, D, E, F, G any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B, n2 string, p2 *C, n3 string, p3 *D,
	n4 string, p4 *E, n5 string, p5 *F, n6 string, p6 *G) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 7 - results
		f.left(w, results, []string{n0, n1, n2, n3, n4, n5, n6},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1), pick(w, 2, first, p2),
				pick(w, 3, first, p3), pick(w, 4, first, p4), pick(w, 5, first, p5),
				pick(w, 6, first, p6)})
	}
}

func Leave8[A, B, C, D, E, F, G, H any](f *Frame, results int,
	n0 string, p0 *A, n1 string, p1 *B, n2 string, p2 *C, n3 string, p3 *D,
	n4 string, p4 *E, n5 string, p5 *F, n6 string, p6 *G, n7 string, p7 *H) {
	if w := f.exit(results <= Locals); w != exitDone {
		first := 8 - results
		f.left(w, results, []string{n0, n1, n2, n3, n4, n5, n6, n7},
			[]any{pick(w, 0, first, p0), pick(w, 1, first, p1), pick(w, 2, first, p2),
				pick(w, 3, first, p3), pick(w, 4, first, p4), pick(w, 5, first, p5),
				pick(w, 6, first, p6), pick(w, 7, first, p7)})
	}
}

// pick boxes the variable at position i of a Leave call when it is recorded: results
// (from position first on) for a return, everything for an unwind.
func pick[T any](what, i, first int, p *T) any {
	if what == exitLocals || i >= first {
		return *p
	}
	return nil
}

// left records what exit asked for, from the Leave call's names and values.
func (f *Frame) left(what, results int, names []string, values []any) {
	if what == exitValues {
		f.Returned(values[len(values)-results:]...)
		return
	}
	pairs := make([]any, 0, 2*len(names))
	for i, name := range names {
		if name != "" { // a result the user did not name is no local of theirs
			pairs = append(pairs, name, values[i])
		}
	}
	if results <= Locals {
		f.keep(Locals-results, pairs...)
	} else {
		f.Unwound(pairs...)
	}
}
