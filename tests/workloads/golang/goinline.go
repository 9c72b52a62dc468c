// goinline.go - a Go program of known shape that profiles itself: main.main
// -> (*main.worker).spin (never inlined) -> main.mix (small, so inlined into
// spin by the Go compiler), for comparing cprof's frames with those of Go's
// own profiler (runtime/pprof), which expands inlined calls from pclntab.
//
// Usage: goinline SECONDS [PROFILE]
//
// Spins for SECONDS, or until SIGUSR1; with PROFILE, writes its own CPU
// profile of that time there, then exits 0. A timer ends the process a few
// seconds after SECONDS anyway, so no test can leave it spinning.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

type worker struct {
	state uint64
	spins uint64
}

// mix is a leaf small enough for the inliner: every call of it in spin is
// an inlined frame.
func mix(x uint64) uint64 {
	for i := 0; i < 200; i++ {
		x = x*6364136223846793005 + 1442695040888963407 // MIX_LINE
	}
	return x
}

//go:noinline
func (w *worker) spin(rounds int) {
	for r := 0; r < rounds; r++ {
		w.state = mix(w.state ^ uint64(r)) // SPIN_CALL_LINE
	}
	w.spins++
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goinline SECONDS [PROFILE]")
		os.Exit(2)
	}
	seconds, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil || seconds <= 0 {
		fmt.Fprintln(os.Stderr, "goinline: bad SECONDS:", os.Args[1])
		os.Exit(2)
	}
	d := time.Duration(seconds * float64(time.Second))
	time.AfterFunc(d+5*time.Second, func() { os.Exit(3) })

	var prof *os.File
	if len(os.Args) > 2 {
		prof, err = os.Create(os.Args[2])
		if err == nil {
			err = pprof.StartCPUProfile(prof)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goinline:", err)
			os.Exit(1)
		}
	}
	var stop atomic.Bool
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() { <-usr1; stop.Store(true) }()

	w := &worker{state: 1}
	end := time.Now().Add(d)
	for !stop.Load() && time.Now().Before(end) {
		w.spin(1000) // MAIN_CALL_LINE
	}
	if prof != nil {
		pprof.StopCPUProfile()
		if err := prof.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "goinline:", err)
			os.Exit(1)
		}
	}
	fmt.Println("spins", w.spins, "state", w.state)
}
