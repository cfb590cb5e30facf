//go:build unix

package main

import (
	"os"
	"syscall"
)

// become runs the tool in this process's place: a build runs hundreds of tools, and a
// child process would add its own start to each.
func become(tool string, args []string) error {
	return syscall.Exec(tool, append([]string{tool}, args...), os.Environ())
}
