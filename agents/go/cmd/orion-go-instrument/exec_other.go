//go:build !unix

package main

import "errors"

// become: where a process cannot be replaced, runTool runs the tool as a child.
func become(tool string, args []string) error { return errors.ErrUnsupported }
