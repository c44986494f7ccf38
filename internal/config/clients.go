package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/adsync/adsync/internal/secret"
)

// Client is one ad account that adsync syncs. Tasks carry only its ID;
// every worker resolves the credentials from its own configuration.
type Client struct {
	ID       string        `json:"id"`
	Email    string        `json:"email"`
	Password secret.Secret `json:"-"`
}

// clientEntry is one element of CLIENTS_FILE: the password is given inline
// or, better, through the name of an environment variable that holds it or
// the path of a file that does (a mounted secret).
type clientEntry struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Password     string `json:"password"`
	PasswordEnv  string `json:"password_env"`
	PasswordFile string `json:"password_file"`
}

// clientIDPattern keeps client ids safe to use in task ids, Redis keys,
// metric labels and log lines.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Clients returns the configured clients: those of ClientsFile when set,
// else the single client of the PLATFORM_* variables. Each problem found is
// reported on its own line.
func (c Config) Clients() ([]Client, error) {
	return c.clients(os.Getenv)
}

func (c Config) clients(getenv func(string) string) ([]Client, error) {
	if c.ClientsFile == "" {
		cl := Client{ID: c.PlatformClientID, Email: c.PlatformEmail, Password: c.PlatformPassword}
		var p Problems
		if cl.Email == "" {
			p = append(p, "PLATFORM_EMAIL: required when CLIENTS_FILE is not set")
		}
		if cl.Password.IsZero() {
			p = append(p, "PLATFORM_PASSWORD: required when CLIENTS_FILE is not set")
		}
		if !clientIDPattern.MatchString(cl.ID) {
			p = append(p, fmt.Sprintf("PLATFORM_CLIENT_ID: %q is not a valid client id (letters, digits, _ . -; at most 128)", cl.ID))
		}
		if len(p) > 0 {
			return nil, p
		}
		return []Client{cl}, nil
	}
	data, err := os.ReadFile(c.ClientsFile)
	if err != nil {
		return nil, Problems{fmt.Sprintf("CLIENTS_FILE: cannot read %s: %v", c.ClientsFile, errors.Unwrap(err))}
	}
	return parseClients(data, getenv)
}

func parseClients(data []byte, getenv func(string) string) ([]Client, error) {
	var entries []clientEntry
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, Problems{fmt.Sprintf("CLIENTS_FILE: not a JSON list of {id, email, password | password_env | password_file}: %v", err)}
	}
	if len(entries) == 0 {
		return nil, Problems{"CLIENTS_FILE: the list of clients is empty"}
	}
	var p Problems
	seen := make(map[string]int, len(entries))
	out := make([]Client, 0, len(entries))
	for i, e := range entries {
		where := fmt.Sprintf("CLIENTS_FILE: client #%d", i+1)
		if e.ID != "" {
			where += fmt.Sprintf(" (%s)", e.ID)
		}
		switch {
		case e.ID == "":
			p = append(p, where+": id is missing")
		case !clientIDPattern.MatchString(e.ID):
			p = append(p, fmt.Sprintf("%s: id %q is not valid (letters, digits, _ . -; at most 128)", where, e.ID))
		case seen[e.ID] > 0:
			p = append(p, fmt.Sprintf("%s: duplicate id, first used by client #%d", where, seen[e.ID]))
		default:
			seen[e.ID] = i + 1
		}
		if e.Email == "" {
			p = append(p, where+": email is missing")
		}
		password := e.Password
		switch {
		case countSet(e.Password, e.PasswordEnv, e.PasswordFile) > 1:
			p = append(p, where+": give one of password, password_env and password_file")
		case e.PasswordFile != "":
			var err error
			if password, err = readSecretFile(e.PasswordFile); err != nil {
				p = append(p, fmt.Sprintf("%s: password_file: %v", where, err))
			}
		case e.PasswordEnv != "":
			password = getenv(e.PasswordEnv)
			if password == "" {
				p = append(p, fmt.Sprintf("%s: password_env names %s, which is not set", where, e.PasswordEnv))
			}
		case e.Password == "":
			p = append(p, where+": password (or password_env or password_file) is missing")
		}
		out = append(out, Client{ID: e.ID, Email: e.Email, Password: secret.Secret(password)})
	}
	if len(p) > 0 {
		return nil, p
	}
	return out, nil
}

// countSet is how many of values are not empty.
func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
