// A sample program for the Go agent's tests: goroutines, a panic several calls deep,
// secrets, and the ways a Go program ends (chosen by the first argument).
package main

import (
	"fmt"
	"log"
	"os"
	"sync"
)

type Account struct {
	Owner    string
	Balance  int
	Password string
}

func divide(a, b int) (quotient int) {
	return a / b
}

func average(values []int) int {
	total := 0
	for _, v := range values {
		total += v
	}
	return divide(total, len(values))
}

func worker(id int, wg *sync.WaitGroup, results chan<- int) {
	defer wg.Done()
	results <- average([]int{id, id * 2})
}

func login(user string, password string) (bool, error) {
	token := os.Getenv("SAMPLE_API_TOKEN")
	return user == "ada" && password != "" && token != "", nil
}

func report(account Account) string {
	return fmt.Sprintf("%s has %d", account.Owner, account.Balance)
}

// tally panics inside a case of its switch, or after its if block has ended: a panic's
// frame holds the locals in scope where it left the frame, a block's among them.
func tally(words []string, how string) int {
	count := len(words)
	if count > 0 {
		first := words[0]
		count += len(first)
	}
	switch how {
	case "inside":
		label := fmt.Sprint("n=", count)
		return divide(len(label), 0)
	}
	return divide(count, 0)
}

// wait blocks for good when nothing will ever send: the runtime's fatal deadlock error.
func wait(never chan int) int {
	return <-never
}

func run(how string) {
	switch how {
	case "panic":
		fmt.Println("average:", average(nil))
	case "recover":
		defer func() { fmt.Println("recovered:", recover()) }()
		average([]int{})
	case "fatal":
		log.Fatalf("cannot go on: %s", "no config")
	case "exit":
		os.Exit(3)
	case "deadlock":
		wait(make(chan int))
	case "block":
		tally([]string{"go"}, "inside")
	case "after-block":
		tally([]string{"go"}, "after")
	case "closure":
		func() { fmt.Println(divide(1, 0)) }()
	}
}

func main() {
	var wg sync.WaitGroup
	results := make(chan int, 3)
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go worker(i, &wg, results)
	}
	wg.Wait()
	close(results)
	sum := 0
	for r := range results {
		sum += r
	}
	fmt.Println("workers:", sum)
	ok, _ := login("ada", "hunter2-is-secret")
	fmt.Println("login:", ok, report(Account{Owner: "ada", Balance: 3, Password: "p4ssw0rd-field"}))
	if len(os.Args) > 1 {
		run(os.Args[1])
	}
}
