// goprof: a Go program that profiles itself with runtime/pprof, so that
// tests have a profile from Go's own writer: about a second of CPU in
// main.spinA (called by main.main and by main.spinB), main.mix inlined
// into main.spinB. Usage: goprof OUT.pprof
package main

import (
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

var sink uint64

//go:noinline
func spinA(n int) uint64 {
	var x uint64
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// small enough for the compiler to inline into spinB
func mix(x uint64) uint64 { return x ^ x>>7 }

//go:noinline
func spinB(n int) uint64 { return mix(spinA(n/2)) ^ spinA(n/2) }

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: goprof OUT.pprof\n")
		os.Exit(64)
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	// A second of CPU, not of wall (Go samples at 100 Hz); 30 s of wall
	// at most on a machine too busy to give it.
	start := time.Now()
	for cpu := 0.0; cpu < 1.0 && time.Since(start) < 30*time.Second; {
		sink += spinA(100000)
		sink += spinB(300000)
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		cpu = float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
	}
	pprof.StopCPUProfile()
	f.Close()
}
