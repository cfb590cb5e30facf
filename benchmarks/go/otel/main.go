// The benchmark workloads of ../workload with one OpenTelemetry span per call of the same
// functions (the SDK with a no-op exporter): what users would otherwise reach for.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
)

var tracer oteltrace.Tracer

type discard struct{}

func (discard) ExportSpans(context.Context, []trace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                          { return nil }

func fib(ctx context.Context, n int) int {
	ctx, span := tracer.Start(ctx, "fib")
	defer span.End()
	if n < 2 {
		return n
	}
	return fib(ctx, n-1) + fib(ctx, n-2)
}

type Record struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Email string            `json:"email"`
	Score float64           `json:"score"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func makeRecord(ctx context.Context, i int) Record {
	_, span := tracer.Start(ctx, "makeRecord")
	defer span.End()
	return Record{ID: i, Name: fmt.Sprintf("user-%d", i), Email: fmt.Sprintf("u%d@example.com", i),
		Score: float64(i) * 1.5, Tags: []string{"a", "b", "c"}, Attrs: map[string]string{"k": "v"}}
}

func encode(ctx context.Context, records []Record) []byte {
	_, span := tracer.Start(ctx, "encode")
	defer span.End()
	out, err := json.Marshal(records)
	if err != nil {
		panic(err)
	}
	return out
}

func decode(ctx context.Context, data []byte) []Record {
	_, span := tracer.Start(ctx, "decode")
	defer span.End()
	var records []Record
	if err := json.Unmarshal(data, &records); err != nil {
		panic(err)
	}
	return records
}

func checksum(ctx context.Context, records []Record) int {
	_, span := tracer.Start(ctx, "checksum")
	defer span.End()
	total := 0
	for _, r := range records {
		total += r.ID + len(r.Name)
	}
	return total
}

func roundTrip(ctx context.Context, count int) int {
	ctx, span := tracer.Start(ctx, "roundTrip")
	defer span.End()
	records := make([]Record, count)
	for i := range records {
		records[i] = makeRecord(ctx, i)
	}
	return checksum(ctx, decode(ctx, encode(ctx, records)))
}

func main() {
	workload := flag.String("w", "fib", "fib or json")
	n := flag.Int("n", 27, "fib's argument, or JSON rounds of 5000 records")
	flag.Parse()
	provider := trace.NewTracerProvider(trace.WithSyncer(discard{}))
	tracer = provider.Tracer("bench")
	ctx := context.Background()
	switch *workload {
	case "fib":
		fmt.Println(fib(ctx, *n))
	case "json":
		total := 0
		for i := 0; i < *n; i++ {
			total += roundTrip(ctx, 5000)
		}
		fmt.Println(total)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload")
		os.Exit(2)
	}
}
