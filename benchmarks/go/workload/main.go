// The Go agent's benchmark workloads: a call-dense one (recursive fib) and a realistic one
// (JSON encoding and decoding of a few thousand records). Run by benchmarks/go/bench.py.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

type Record struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Email string            `json:"email"`
	Score float64           `json:"score"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func makeRecord(i int) Record {
	return Record{ID: i, Name: fmt.Sprintf("user-%d", i), Email: fmt.Sprintf("u%d@example.com", i),
		Score: float64(i) * 1.5, Tags: []string{"a", "b", "c"}, Attrs: map[string]string{"k": "v"}}
}

func encode(records []Record) []byte {
	out, err := json.Marshal(records)
	if err != nil {
		panic(err)
	}
	return out
}

func decode(data []byte) []Record {
	var records []Record
	if err := json.Unmarshal(data, &records); err != nil {
		panic(err)
	}
	return records
}

func checksum(records []Record) int {
	total := 0
	for _, r := range records {
		total += r.ID + len(r.Name)
	}
	return total
}

func roundTrip(count int) int {
	records := make([]Record, count)
	for i := range records {
		records[i] = makeRecord(i)
	}
	return checksum(decode(encode(records)))
}

func main() {
	workload := flag.String("w", "fib", "fib or json")
	n := flag.Int("n", 27, "fib's argument, or JSON rounds of 5000 records")
	flag.Parse()
	switch *workload {
	case "fib":
		fmt.Println(fib(*n))
	case "json":
		total := 0
		for i := 0; i < *n; i++ {
			total += roundTrip(5000)
		}
		fmt.Println(total)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload")
		os.Exit(2)
	}
}
