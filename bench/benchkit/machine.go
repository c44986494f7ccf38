package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MachineCPU is a reading of the machine's CPU time so far, in ticks, from
// the first line of /proc/stat. Benchmarks report how busy the machine was
// and how much of its CPU the hypervisor took (steal): on a shared virtual
// machine, stolen time delays sleeps and requests, which a timing benchmark
// would otherwise blame on adsync.
type MachineCPU struct {
	busy, steal, all int64
}

// ReadMachineCPU reads /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	var m MachineCPU
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m, fmt.Errorf("read machine CPU: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	// Fields after "cpu": user nice system idle iowait irq softirq steal ...
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		m.all += v
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			m.steal += v
		default:
			m.busy += v
		}
	}
	return m, nil
}

// MachineShare is how the machine's CPU time was spent between two
// readings.
type MachineShare struct {
	// Busy is the share the machine's own processes used.
	Busy float64
	// Steal is the share the hypervisor gave to other machines.
	Steal float64
}

// Since is the share of CPU time spent between an earlier reading and m.
func (m MachineCPU) Since(earlier MachineCPU) MachineShare {
	all := m.all - earlier.all
	if all <= 0 {
		return MachineShare{}
	}
	return MachineShare{
		Busy:  float64(m.busy-earlier.busy) / float64(all),
		Steal: float64(m.steal-earlier.steal) / float64(all),
	}
}
