package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Other processes on the machine (another benchmark, a build, a test
// suite) take CPU from the measured servers and skew a run. The tool
// cannot stop them, but it can say so: it compares the machine's busy CPU
// time (/proc/stat) with the CPU time of the processes of the run (this
// tool, portreqd, the ceiling server, the CouchDB server) over each
// measured run. Linux only; elsewhere nothing is reported.

// clockTicks is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// this runs on.
const clockTicks = 100

// cpuWatch knows the run's processes.
type cpuWatch struct {
	pids []int
	what string // the processes counted as the run's, for the report
}

// cpuMark is a reading at the start of a run.
type cpuMark struct {
	busy, ours int64
	ok         bool
}

// newCPUWatch counts this process and pids (named by names, in order) as
// the run's; a pid of 0 (not found) is left out.
func newCPUWatch(pids []int, names []string) *cpuWatch {
	w := &cpuWatch{pids: []int{os.Getpid()}}
	what := []string{"this tool"}
	for i, p := range pids {
		if p > 0 {
			w.pids = append(w.pids, p)
			what = append(what, names[i])
		}
	}
	w.what = strings.Join(what, ", ")
	return w
}

func (w *cpuWatch) mark() cpuMark {
	busy, ok := machineBusy()
	if !ok {
		return cpuMark{}
	}
	var ours int64
	for _, p := range w.pids {
		ours += processTicks(p)
	}
	return cpuMark{busy: busy, ours: ours, ok: true}
}

// others is the CPU (in CPUs, e.g. 0.4 = 40% of one) that processes
// outside the run used since m, over seconds.
func (w *cpuWatch) others(m cpuMark, seconds float64) (float64, bool) {
	now := w.mark()
	if !m.ok || !now.ok || seconds <= 0 {
		return 0, false
	}
	foreign := float64((now.busy-m.busy)-(now.ours-m.ours)) / clockTicks
	return max(foreign, 0) / seconds, true
}

// machineBusy is the busy CPU time of the whole machine, in ticks.
func machineBusy() (int64, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, false
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, false
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle, iowait
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return busy, true
}

// processTicks is the user and system CPU time of pid and its threads.
func processTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64) // utime, field 14
	s, _ := strconv.ParseInt(fields[12], 10, 64) // stime, field 15
	return u + s
}

// listenerPID finds the process listening on a loopback TCP port (the
// CouchDB server), by the socket inode in /proc/net/tcp; 0 when it cannot
// tell (another user's process, no /proc).
func listenerPID(port int) int {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// waitQuiet waits until other processes have used less than noisyCPU over
// half a second, or limit has passed; it returns how long it waited.
func (w *cpuWatch) waitQuiet(ctx context.Context, limit time.Duration) time.Duration {
	start := time.Now()
	for {
		m := w.mark()
		if !m.ok {
			return 0
		}
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-time.After(500 * time.Millisecond):
		}
		if others, ok := w.others(m, 0.5); !ok || others < noisyCPU || time.Since(start) >= limit {
			return time.Since(start)
		}
	}
}
