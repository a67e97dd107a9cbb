// Command sluice-test runs go test (./... unless given packages or flags,
// which it passes on), its output as go test writes it, then one line:
// which tests skipped for want of what (PostgreSQL, Chromium, python3, an
// S3 server...; internal/testenv), which go test's package-list mode hides.
// It exits with go test's status.
//
//	go run ./cmd/sluice-test
//	go run ./cmd/sluice-test -count=1 ./internal/cli/
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice/internal/testenv"
)

func main() {
	args := os.Args[1:]
	if !hasPackage(args) {
		args = append(args, "./...")
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-test:", err)
		os.Exit(2)
	}
	// one folder per checkout: go test's cache keeps a package's result,
	// and the folder keeps the skips of that result
	sum := sha256.Sum256([]byte(wd))
	dir := filepath.Join(os.TempDir(), "sluice-test-skips-"+hex.EncodeToString(sum[:6]))
	report := testenv.NewReport(dir)

	cmd := exec.Command("go", append([]string{"test"}, args...)...)
	cmd.Env = append(os.Environ(), testenv.SkipsEnv+"="+dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, io.MultiWriter(os.Stdout, report), os.Stderr
	signal.Ignore(os.Interrupt) // ^C reaches go test too: let it end and report
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "sluice-test:", err)
			os.Exit(2)
		}
		code = ee.ExitCode()
	}
	skips, err := report.Skips()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-test: reading the skips:", err)
	}
	line := testenv.Summary(skips)
	if len(skips) > 0 {
		var b strings.Builder
		for _, s := range skips {
			fmt.Fprintf(&b, "%s %s: %s\n", s.Package, s.Test, s.Reason)
		}
		if err := os.WriteFile(dir+".txt", []byte(b.String()), 0o644); err == nil {
			line += " (each, and why: " + dir + ".txt)"
		}
	} else {
		os.Remove(dir + ".txt")
	}
	fmt.Println(line)
	os.Exit(code)
}

// hasPackage reports whether args name a package: an argument that is not
// a flag and not a flag's value. go test's flags with a value are written
// -flag=value here or are ones we know.
func hasPackage(args []string) bool {
	valued := map[string]bool{"run": true, "count": true, "timeout": true, "p": true, "tags": true, "bench": true, "skip": true,
		"cpu": true, "parallel": true, "coverprofile": true, "o": true, "exec": true, "fuzz": true, "fuzztime": true, "benchtime": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-args" || a == "--args":
			return false
		case strings.HasPrefix(a, "-"):
			if !strings.Contains(a, "=") && valued[strings.TrimLeft(a, "-")] {
				i++
			}
		default:
			return true
		}
	}
	return false
}
