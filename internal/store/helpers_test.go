package store

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/adsync/adsync/internal/testenv"
)

func dropDatabase(t *testing.T, dbURL string) {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Errorf("parse %s: %v", dbURL, err)
		return
	}
	name := strings.TrimPrefix(u.Path, "/")
	conn, err := pgx.Connect(context.Background(), testenv.AdminDatabaseURL())
	if err != nil {
		t.Errorf("connect: %v", err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

// withSuffix names another database on the same server.
func withSuffix(t *testing.T, dbURL, suffix string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", dbURL, err)
	}
	u.Path += suffix
	return u.String()
}
