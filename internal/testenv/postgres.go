package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// AdminDatabaseURL is the PostgreSQL URL that tests create their databases
// through.
func AdminDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// DatabaseURL creates an empty database for this test and returns its URL;
// the database is dropped (with any open connections) when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminDatabaseURL())
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s is not reachable: %v", redactURL(AdminDatabaseURL()), err)
	}
	name := fmt.Sprintf("adsync_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	// Identifiers cannot be bound as parameters; name is built from digits only.
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		_ = admin.Close(ctx)
		t.Fatalf("testenv: create database: %v", err)
	}
	_ = admin.Close(ctx)
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, AdminDatabaseURL())
		if err != nil {
			t.Errorf("testenv: drop database: %v", err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(AdminDatabaseURL())
	if err != nil {
		t.Fatalf("testenv: parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
