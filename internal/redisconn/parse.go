package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
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

// encodeHint ends the errors of a URL whose shape is wrong: the usual cause
// is a password with a character that ends the user part of a URL.
const encodeHint = "(a password with / # ? @ & must be percent-encoded)"

// Parse reads a REDIS_URL in one of the forms of the package documentation.
// Its errors never quote the URL nor any part of it that a misplaced
// password could have landed in: only the scheme, the sentinels' addresses
// and go-redis's own option names.
func Parse(raw string) (Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's reasons quote the piece they stumbled on ("invalid
		// port \":pa\" after host" for redis://:pa/ss@host), which is a
		// piece of the password when one holds a / # or ?.
		return Conn{}, errors.New("not a valid URL " + encodeHint)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		// A fragment means nothing to Redis; it is a password's # cut short.
		return Conn{}, errors.New("a # part means nothing in a Redis URL " + encodeHint)
	}
	if u.Opaque != "" || !strings.Contains(raw, "://") {
		// "user:password@host" reads as scheme "user"; quote neither.
		return Conn{}, errors.New("not a valid URL: it starts with a scheme and :// (redis://, redis-sentinel://, redis-cluster://, ...) " + encodeHint)
	}
	if u.Scheme != "redis-socket" && strings.Contains(u.Path, "@") {
		// The path is a database number; an @ in it is the end of a
		// password whose / ended the user part early.
		return Conn{}, errors.New("not a valid URL " + encodeHint)
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
		return Conn{}, goRedisError(err)
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
	for i, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			// By position, not quoted: with a misplaced password the
			// "addresses" can be pieces of it.
			return Conn{}, fmt.Errorf("sentinel address %d of %d is not host:port %s", i+1, len(hosts), encodeHint)
		}
	}
	v := url.URL{Scheme: strings.TrimSuffix(u.Scheme, "-sentinel"), User: u.User, Host: hosts[0], Path: u.Path, RawQuery: q.Encode()}
	o, err := redis.ParseFailoverURL(v.String())
	if err != nil {
		return Conn{}, goRedisError(err)
	}
	o.TLSConfig = perAddressTLS(o.TLSConfig)
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
		return Conn{}, goRedisError(err)
	}
	o.TLSConfig = perAddressTLS(o.TLSConfig)
	return Conn{Kind: Cluster, cluster: o, Asynq: asynq.RedisClusterClientOpt{
		Addrs: o.Addrs, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
	}}, nil
}

// perAddressTLS returns a copy of a Sentinel or Cluster TLS configuration
// whose ServerName is empty. go-redis's ParseFailoverURL and
// ParseClusterURL set ServerName to the first sentinel's or seed's host and
// share the one configuration among every connection: the other sentinels,
// the primary and replicas, every cluster node. Each of those would then be
// checked against the first host's name and refused unless its certificate
// happened to carry it. With ServerName empty, crypto/tls takes the name
// from the address each connection dials (tls.DialWithDialer), so each
// server's certificate is checked against its own address.
func perAddressTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.ServerName = ""
	return c
}

// goRedisOption matches go-redis's errors about an option's value
// ("redis: invalid dial_timeout duration: ..."); the name is one of
// go-redis's own, the value after it is the user's.
var goRedisOption = regexp.MustCompile(`^redis: invalid ([a-z_]+) (number|duration|boolean)\b`)

// goRedisError turns an error of go-redis's URL parsers into one that
// quotes nothing the URL held. go-redis quotes the path, the option names
// and values it refuses, and any of them can be a piece of a password
// whose / ? & or # was not percent-encoded (redis://:1234/5678@host reads
// as database "5678@host"). So the reason is kept and the values dropped;
// the name of an option go-redis knows is kept, as it comes from go-redis.
func goRedisError(err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "redis: invalid database number"), strings.HasPrefix(msg, "redis: invalid URL path"):
		return errors.New("invalid database number: the path after the host must be one number " + encodeHint)
	case strings.HasPrefix(msg, "redis: unexpected option"):
		// The names are the user's and are not quoted: "a&b" in a query
		// password makes "b" an option.
		return errors.New("unexpected option in the query: go-redis's URL options are dial_timeout, read_timeout, pool_size, ... " + encodeHint)
	case strings.HasPrefix(msg, "redis: unable to parse addr param"):
		return errors.New("an addr= option is not host:port " + encodeHint)
	case strings.HasPrefix(msg, "redis: invalid URL scheme"):
		return errors.New("invalid URL scheme")
	}
	if m := goRedisOption.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("option %s is not a valid %s", m[1], m[2])
	}
	return errors.New("go-redis cannot read the URL " + encodeHint)
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
