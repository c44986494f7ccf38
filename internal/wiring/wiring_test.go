package wiring_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/config"
	"github.com/adsync/adsync/internal/testenv"
	"github.com/adsync/adsync/internal/wiring"
)

// aclUser creates a Redis ACL user for the test's lifetime and returns its
// name and password.
func aclUser(t *testing.T) (name, password string) {
	t.Helper()
	admin := testenv.Redis(t)
	name = fmt.Sprintf("adsync-test-%d", time.Now().UnixNano())
	password = "acl-secret-" + name
	require.NoError(t, admin.Do(t.Context(), "ACL", "SETUSER", name, "on", ">"+password, "~*", "&*", "+@all").Err())
	t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", name).Err() })
	return name, password
}

func redisURL(t *testing.T, user *url.Userinfo) string {
	t.Helper()
	u := url.URL{Scheme: "redis", User: user, Host: testenv.RedisAddr(), Path: fmt.Sprint("/", testenv.RedisDB(t))}
	return u.String()
}

func TestRedisLogsInAsTheACLUserOfTheURL(t *testing.T) {
	name, password := aclUser(t)
	cfg := config.Config{RedisURL: redisURL(t, url.UserPassword(name, password))}

	opt, rdb, err := wiring.Redis(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	who, err := rdb.Do(t.Context(), "ACL", "WHOAMI").Text()
	require.NoError(t, err)
	require.Equal(t, name, who, "the go-redis client")

	// asynq's own connections (asynqmon's among them) are made from opt.
	client := asynq.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	_, err = client.Enqueue(asynq.NewTask("acl-check", nil))
	require.NoError(t, err, "asynq connecting with the URL's user")
}

func TestRedisRefusesAWrongPasswordWithoutShowingIt(t *testing.T) {
	name, _ := aclUser(t)
	cfg := config.Config{RedisURL: redisURL(t, url.UserPassword(name, "not-the-password"))}

	_, _, err := wiring.Redis(t.Context(), cfg)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "not-the-password")
}
