// Package redisconn turns REDIS_URL into the two handles adsync needs on
// one Redis deployment: asynq's RedisConnOpt (for asynqmon, which builds
// its own client from it) and a go-redis UniversalClient (for asynq's
// server, client and inspector, the rate limiter and the run starter). Three
// deployments are understood:
//
//	redis://[user:password@]host:port[/db]          one server (rediss:// for TLS)
//	redis-sentinel://[user:password@]s1:26379,s2:26379[/db]?master=NAME[&password=P]
//	                                                a primary and replicas under Sentinel
//	                                                (rediss-sentinel:// for TLS)
//	redis-cluster://[user:password@]n1:7000?addr=n2:7001&addr=n3:7002
//	                                                a Redis Cluster seed list
//	                                                (rediss-cluster:// for TLS; also
//	                                                redis://n1:7000?addr=n2:7001, go-redis's form)
//
// In the Sentinel form the user and password before @ are the sentinels'
// (asynq's convention), and the primary's own are the query parameters
// username and password. The forms are handed to go-redis's own parsers
// (ParseURL, ParseFailoverURL, ParseClusterURL), so their query options
// (dial_timeout, pool_size, skip_verify, ...) work as go-redis documents.
// The older redis-socket:// form of asynq is kept.
//
// With TLS, a Sentinel or Cluster connection checks each server's
// certificate against the address it dials (go-redis would check them all
// against the first sentinel's or seed's host). Parse's errors quote no part
// of the URL a password could have landed in.
package redisconn
