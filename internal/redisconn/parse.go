package redisconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Kind is the shape of the Redis deployment a URL names.
type Kind int

// The deployments REDIS_URL can name.
const (
	// Single is one Redis server.
	Single Kind = iota
	// Sentinel is a primary with replicas, found through Redis Sentinel.
	Sentinel
	// Cluster is a Redis Cluster.
	Cluster
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	}
	return "single"
}

// Conn is a parsed REDIS_URL. Its zero value is not usable; build it with
// Parse.
type Conn struct {
	// Kind is the deployment the URL names.
	Kind Kind
	// Asynq is the same connection as asynq's option, for asynqmon.
	Asynq asynq.RedisConnOpt

	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// Parse reads a REDIS_URL in one of the forms of the package documentation.
// Its errors never quote the URL, which may hold passwords.
func Parse(raw string) (Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL
		}
		return Conn{}, fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Query().Has("addr") {
			return parseCluster(u)
		}
		return parseSingle(u)
	case "redis-sentinel", "rediss-sentinel":
		return parseSentinel(u)
	case "redis-cluster", "rediss-cluster":
		return parseCluster(u)
	case "redis-socket":
		return parseSocket(u)
	}
	return Conn{}, fmt.Errorf("unsupported scheme %q: use redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster://", u.Scheme)
}

func parseSingle(u *url.URL) (Conn, error) {
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return Conn{}, clean(err)
	}
	return Conn{Kind: Single, single: o, Asynq: asynq.RedisClientOpt{
		Network: o.Network, Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
	}}, nil
}

// parseSocket keeps asynq's redis-socket://[:password@]/path[?db=N] form by
// handing it to go-redis as unix://.
func parseSocket(u *url.URL) (Conn, error) {
	v := *u
	v.Scheme = "unix"
	return parseSingle(&v)
}

// parseSentinel rewrites asynq's sentinel form into go-redis's failover URL
// (first sentinel as the host, the others as addr, master as master_name)
// and parses that.
func parseSentinel(u *url.URL) (Conn, error) {
	hosts := strings.Split(u.Host, ",")
	q := u.Query()
	master := q.Get("master")
	q.Del("master")
	if master == "" {
		master = q.Get("master_name")
	}
	if master == "" {
		return Conn{}, errors.New("the Sentinel form needs ?master=NAME, the name the sentinels monitor")
	}
	q.Set("master_name", master)
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return Conn{}, fmt.Errorf("sentinel address %q is not host:port", h)
		}
	}
	v := url.URL{Scheme: strings.TrimSuffix(u.Scheme, "-sentinel"), User: u.User, Host: hosts[0], Path: u.Path, RawQuery: q.Encode()}
	o, err := redis.ParseFailoverURL(v.String())
	if err != nil {
		return Conn{}, clean(err)
	}
	return Conn{Kind: Sentinel, failover: o, Asynq: asynq.RedisFailoverClientOpt{
		MasterName: o.MasterName, SentinelAddrs: o.SentinelAddrs,
		SentinelUsername: o.SentinelUsername, SentinelPassword: o.SentinelPassword,
		Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
	}}, nil
}

// parseCluster parses a seed list in go-redis's cluster form. A cluster has
// only database 0, so a path naming another is refused rather than ignored.
func parseCluster(u *url.URL) (Conn, error) {
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return Conn{}, fmt.Errorf("a Redis Cluster has only database 0, the URL names %q", db)
	}
	v := *u
	v.Scheme = strings.TrimSuffix(u.Scheme, "-cluster")
	v.Path = ""
	o, err := redis.ParseClusterURL(v.String())
	if err != nil {
		return Conn{}, clean(err)
	}
	return Conn{Kind: Cluster, cluster: o, Asynq: asynq.RedisClusterClientOpt{
		Addrs: o.Addrs, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
	}}, nil
}

// clean strips the URL that url.Parse errors quote from go-redis's errors.
func clean(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// NewClient opens a go-redis client on the deployment: a plain client, a
// failover client that follows the sentinels to the current primary, or a
// cluster client. The caller closes it.
func (c Conn) NewClient() redis.UniversalClient {
	switch {
	case c.failover != nil:
		return redis.NewFailoverClient(c.failover)
	case c.cluster != nil:
		return redis.NewClusterClient(c.cluster)
	}
	return redis.NewClient(c.single)
}

// Redact returns raw with every password masked (the sentinels' in the
// userinfo, the primary's in the query), for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	for _, k := range []string{"password", "sentinel_password"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
