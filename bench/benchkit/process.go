package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// ProcessCPU is a process's user and system time so far (fields 14 and 15
// of /proc/PID/stat, after the command name in parentheses).
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// pidsNamed lists the processes whose command name is name.
func pidsNamed(name string) []int {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	var out []int
	for _, c := range comms {
		b, err := os.ReadFile(c) // #nosec G304 -- a /proc/<pid>/comm path from the glob above
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(c))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// CPUOfProcessesNamed is the user and system time so far of every process
// whose command name is name, summed.
func CPUOfProcessesNamed(name string) time.Duration {
	var sum time.Duration
	for _, pid := range pidsNamed(name) {
		sum += ProcessCPU(pid)
	}
	return sum
}
