package benchkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/adsync/adsync/internal/testenv"
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

// RedisCPU is the user and system time so far of the Redis server the
// benches use, found by the process id it reports (INFO server): other
// redis-server processes on the machine, such as the chaos tests' own,
// come and go and are not counted. 0 when the server cannot be asked.
func RedisCPU(ctx context.Context) time.Duration {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr()})
	defer func() { _ = rdb.Close() }()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if pid, err := strconv.Atoi(v); err == nil {
				return ProcessCPU(pid)
			}
		}
	}
	return 0
}
