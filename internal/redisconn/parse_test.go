package redisconn

import (
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestParseSingle(t *testing.T) {
	c, err := Parse("rediss://app:pw@cache.example:6380/3")
	require.NoError(t, err)
	require.Equal(t, Single, c.Kind)
	opt, ok := c.Asynq.(asynq.RedisClientOpt)
	require.True(t, ok, "%T", c.Asynq)
	require.Equal(t, "cache.example:6380", opt.Addr)
	require.Equal(t, "app", opt.Username, "the ACL user is kept")
	require.Equal(t, "pw", opt.Password)
	require.Equal(t, 3, opt.DB)
	require.NotNil(t, opt.TLSConfig)
	require.Equal(t, "cache.example", opt.TLSConfig.ServerName)
	require.Equal(t, c.single.Addr, opt.Addr)
}

// asynq's sentinel form keeps working and gains the primary's own
// credentials, a database number and TLS.
func TestParseSentinel(t *testing.T) {
	c, err := Parse("rediss-sentinel://:sentinel-pw@s1:26379,s2:26380,s3:26381/2?master=mymaster&username=app&password=primary-pw&dial_timeout=2s")
	require.NoError(t, err)
	require.Equal(t, Sentinel, c.Kind)
	opt, ok := c.Asynq.(asynq.RedisFailoverClientOpt)
	require.True(t, ok, "%T", c.Asynq)
	require.Equal(t, "mymaster", opt.MasterName)
	require.Equal(t, []string{"s1:26379", "s2:26380", "s3:26381"}, opt.SentinelAddrs)
	require.Equal(t, "sentinel-pw", opt.SentinelPassword)
	require.Equal(t, "app", opt.Username)
	require.Equal(t, "primary-pw", opt.Password)
	require.Equal(t, 2, opt.DB)
	require.NotNil(t, opt.TLSConfig)
	require.Equal(t, "2s", c.failover.DialTimeout.String(), "go-redis's query options apply")

	// The form as asynq documents it.
	c, err = Parse("redis-sentinel://:pw@localhost:5000,localhost:5001?master=mymaster")
	require.NoError(t, err)
	opt = c.Asynq.(asynq.RedisFailoverClientOpt)
	require.Equal(t, []string{"localhost:5000", "localhost:5001"}, opt.SentinelAddrs)
	require.Equal(t, "pw", opt.SentinelPassword)
	require.Empty(t, opt.Password)
	require.Nil(t, opt.TLSConfig)
}

func TestParseCluster(t *testing.T) {
	for _, raw := range []string{
		"redis-cluster://:pw@n1:7000?addr=n2:7001&addr=n3:7002",
		"redis://:pw@n1:7000?addr=n2:7001&addr=n3:7002",
		"redis-cluster://:pw@n1:7000/0?addr=n2:7001&addr=n3:7002",
	} {
		c, err := Parse(raw)
		require.NoError(t, err, raw)
		require.Equal(t, Cluster, c.Kind, raw)
		opt, ok := c.Asynq.(asynq.RedisClusterClientOpt)
		require.True(t, ok, "%T", c.Asynq)
		require.Equal(t, []string{"n1:7000", "n2:7001", "n3:7002"}, opt.Addrs, raw)
		require.Equal(t, "pw", opt.Password)
	}
	c, err := Parse("rediss-cluster://n1:7000")
	require.NoError(t, err)
	require.NotNil(t, c.Asynq.(asynq.RedisClusterClientOpt).TLSConfig)
}

// Bad URLs are refused with a reason that never quotes the password.
func TestParseRefusesBadURLs(t *testing.T) {
	cases := map[string]string{
		"http://:secret-1@host:1":                              "unsupported scheme",
		"redis-sentinel://:secret-1@s1:26379":                  "needs ?master=NAME",
		"redis-sentinel://:secret-1@s1,s2:26379?master=m":      `"s1" is not host:port`,
		"redis-sentinel://:secret-1@s1:26379?master=m&bogus=1": "unexpected option: bogus",
		"redis-cluster://:secret-1@n1:7000/2":                  "only database 0",
		"redis://:secret-1@host:6379/notanumber":               "invalid database number",
		"redis://:secret-1@host:6379/0?addr=n2:7001&nope=2":    "unexpected option",
		"redis://:secret-1@h\x7fost:6379":                      "not a URL",
	}
	for raw, want := range cases {
		_, err := Parse(raw)
		require.ErrorContains(t, err, want, raw)
		require.NotContains(t, err.Error(), "secret-1", raw)
	}
}

func TestRedactMasksEveryPassword(t *testing.T) {
	got := Redact("redis-sentinel://:sentinel-pw@s1:26379,s2:26379/1?master=m&password=primary-pw")
	require.NotContains(t, got, "sentinel-pw")
	require.NotContains(t, got, "primary-pw")
	require.Contains(t, got, "master=m")
	require.Equal(t, "redis://:xxxxx@h:6379/0", Redact("redis://:pw@h:6379/0"))
}
