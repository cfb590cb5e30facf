// The shared scenarios in Go (tests/agents/scenarios.py says what each one's trace must
// hold, in every language): the first argument names the scenario.
package main

import (
	"fmt"
	"os"
	"sync"
)

func inner(depth int) int {
	return depth * 2
}

func middle(depth int) int {
	return inner(depth+1) + 1
}

func outer(depth int) int {
	return middle(depth+1) + 1
}

func thrower(depth int) int {
	limit := depth - 1
	if depth > limit {
		panic(fmt.Errorf("too deep: %d", depth))
	}
	return limit
}

func relay(depth int) int {
	return thrower(depth+1) + 1
}

func catcher() (result int) {
	defer func() {
		if recover() != nil {
			result = -1
		}
	}()
	return relay(2)
}

func work(id int) int {
	return inner(id)
}

func login(user string, password string) bool {
	token := os.Getenv("SCENARIO_TOKEN")
	if password != token {
		panic(fmt.Errorf("login failed for %s", user))
	}
	return true
}

func main() {
	switch os.Args[1] {
	case "nested":
		fmt.Println(outer(1))
	case "error":
		fmt.Println(catcher())
	case "crash":
		fmt.Println(relay(2))
	case "threads":
		var wg sync.WaitGroup
		for id := 1; id <= 2; id++ {
			wg.Add(1)
			go func(id int) {
				defer wg.Done()
				work(id)
			}(id)
		}
		wg.Wait()
	case "secret":
		fmt.Println(login("ada", os.Getenv("SCENARIO_PASSWORD")))
	}
}
