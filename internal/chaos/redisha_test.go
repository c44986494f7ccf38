//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// sentinelPassword guards the sentinels themselves; the primary and its
// replica use redisPassword, so the URL must carry both.
const sentinelPassword = "Chaos-SentinelPa55-c41d"

// masterName is the name the sentinels monitor.
const masterName = "adsync"

// sentinelSet is a primary, a replica and three sentinels on free loopback
// ports, without persistence. The sentinels call the primary down after
// downAfter without an answer and promote the replica.
type sentinelSet struct {
	t         *testing.T
	dir       string
	primary   *redisNode
	replica   *redisNode
	sentinels []*proc
	ports     []int
}

// redisNode is one redis-server of a set.
type redisNode struct {
	name string
	port int
	proc *proc
}

func (n *redisNode) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// downAfter is the sentinels' down-after-milliseconds: how long a silent
// primary is given before the failover starts.
const downAfter = time.Second

// requireTool fails the test when a program the target installs is
// missing (`make chaos` runs scripts/redis-ha.sh first).
func requireTool(t *testing.T, name string) {
	t.Helper()
	_, err := exec.LookPath(name)
	require.NoError(t, err, "%s is missing: run scripts/redis-ha.sh (make chaos does)", name)
}

// startRedisNode starts a redis-server that requires redisPassword and
// uses it towards its primary too, so either node can be the primary.
func startRedisNode(t *testing.T, dir, name string, extra ...string) *redisNode {
	t.Helper()
	n := &redisNode{name: name, port: freePort(t)}
	nodeDir := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(nodeDir, 0o700))
	args := append([]string{"--port", strconv.Itoa(n.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", redisPassword, "--masterauth", redisPassword, "--dir", nodeDir}, extra...)
	n.proc = startProc(t, dir, name, "redis-server", nil, args...)
	c := redis.NewClient(&redis.Options{Addr: n.addr(), Password: redisPassword})
	defer c.Close()
	testenv.WaitFor(t, 10*time.Second, name+" to answer", func() bool { return c.Ping(context.Background()).Err() == nil })
	return n
}

// startSentinelSet starts the primary, the replica (caught up), and three
// sentinels that all see both.
func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	requireTool(t, "redis-sentinel")
	s := &sentinelSet{t: t, dir: t.TempDir()}
	s.primary = startRedisNode(t, s.dir, "redis-primary")
	s.replica = startRedisNode(t, s.dir, "redis-replica", "--replicaof", "127.0.0.1", strconv.Itoa(s.primary.port))
	rc := redis.NewClient(&redis.Options{Addr: s.replica.addr(), Password: redisPassword})
	defer rc.Close()
	testenv.WaitFor(t, 20*time.Second, "the replica to sync", func() bool {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	for i := 1; i <= 3; i++ {
		port := freePort(t)
		conf := filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.conf", i))
		// Sentinel rewrites its file as the state changes, so each has its own.
		require.NoError(t, os.WriteFile(conf, []byte(strings.Join([]string{
			"port " + strconv.Itoa(port),
			"bind 127.0.0.1",
			"dir " + s.dir,
			"requirepass " + sentinelPassword,
			"sentinel sentinel-pass " + sentinelPassword,
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", masterName, s.primary.port),
			fmt.Sprintf("sentinel auth-pass %s %s", masterName, redisPassword),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", masterName, downAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s 10000", masterName),
			fmt.Sprintf("sentinel parallel-syncs %s 1", masterName),
		}, "\n")+"\n"), 0o600))
		s.sentinels = append(s.sentinels, startProc(t, s.dir, fmt.Sprintf("sentinel-%d", i), "redis-sentinel", nil, conf))
		s.ports = append(s.ports, port)
	}
	// Ready when every sentinel knows the replica and the other sentinels.
	for _, port := range s.ports {
		sc := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: sentinelPassword})
		var state string
		ok := waitUntil(60*time.Second, func() bool {
			ctx := context.Background()
			reps, err1 := sc.Replicas(ctx, masterName).Result()
			sens, err2 := sc.Sentinels(ctx, masterName).Result()
			state = fmt.Sprintf("replicas=%d (%v) sentinels=%d (%v)", len(reps), err1, len(sens), err2)
			return err1 == nil && err2 == nil && len(reps) == 1 && len(sens) == 2
		})
		require.True(t, ok, "sentinel on %d did not discover the replica and the other sentinels: %s", port, state)
		_ = sc.Close()
	}
	return s
}

// url is adsync's REDIS_URL for the set: the sentinels' password before
// the @, the primary's as a query parameter.
func (s *sentinelSet) url() string {
	hosts := make([]string, len(s.ports))
	for i, p := range s.ports {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return fmt.Sprintf("redis-sentinel://:%s@%s/0?master=%s&password=%s", sentinelPassword, strings.Join(hosts, ","), masterName, redisPassword)
}

// currentPrimary asks a sentinel which address it holds for the primary.
func (s *sentinelSet) currentPrimary() string {
	sc := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.ports[0]), Password: sentinelPassword})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(context.Background(), masterName).Result()
	if err != nil || len(addr) != 2 {
		return ""
	}
	return addr[0] + ":" + addr[1]
}

// clusterSet is a Redis Cluster of three primaries on free loopback ports.
type clusterSet struct {
	nodes []*redisNode
}

// startCluster starts three cluster-enabled servers and joins them with
// `redis-cli --cluster create`, every slot served.
func startCluster(t *testing.T) *clusterSet {
	t.Helper()
	requireTool(t, "redis-cli")
	dir := t.TempDir()
	c := &clusterSet{}
	var addrs []string
	for i := 1; i <= 3; i++ {
		n := startRedisNode(t, dir, fmt.Sprintf("cluster-%d", i), "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", i)), "--cluster-node-timeout", "2000")
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.addr())
	}
	args := append([]string{"-a", redisPassword, "--no-auth-warning", "--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput() // #nosec G204 -- fixed program, test's own arguments
	require.NoError(t, err, "redis-cli --cluster create:\n%s", out)
	for _, n := range c.nodes {
		nc := redis.NewClient(&redis.Options{Addr: n.addr(), Password: redisPassword})
		testenv.WaitFor(t, 30*time.Second, n.name+" to see the cluster ok", func() bool {
			info, err := nc.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		_ = nc.Close()
	}
	return c
}

// url is adsync's REDIS_URL for the cluster: a seed list.
func (c *clusterSet) url() string {
	var extra []string
	for _, n := range c.nodes[1:] {
		extra = append(extra, "addr="+n.addr())
	}
	return fmt.Sprintf("redis-cluster://:%s@%s?%s", redisPassword, c.nodes[0].addr(), strings.Join(extra, "&"))
}

// waitUntil polls cond every 100 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
