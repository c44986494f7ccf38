package clients

import (
	"encoding/json"
	"os"

	"github.com/adsync/adsync/internal/config"
)

// passwordFileVar names the file that holds PLATFORM_PASSWORD when no
// clients file is used.
const passwordFileVar = "PLATFORM_PASSWORD_FILE"

// FromConfig reads the clients the way the configuration says, each time
// anew: CLIENTS_FILE through config's own parser and validation, or the
// PLATFORM_* client, whose password is read again from
// PLATFORM_PASSWORD_FILE when that is set.
func FromConfig(cfg config.Config) Source {
	load := cfg.Clients
	if cfg.ClientsFile == "" && os.Getenv(passwordFileVar) != "" {
		// The password lives in a file: load the configuration again, which
		// reads it anew. The rest of the environment does not change while
		// the process runs.
		load = func() ([]config.Client, error) {
			fresh, err := config.Load()
			if err != nil {
				return nil, err
			}
			return fresh.Clients()
		}
	}
	return Source{Load: load, Paths: func() []string { return watchedFiles(cfg.ClientsFile) }}
}

// watchedFiles are the files the client list is read from: the clients
// file, the secret files its entries name, and PLATFORM_PASSWORD_FILE.
func watchedFiles(clientsFile string) []string {
	var paths []string
	if f := os.Getenv(passwordFileVar); f != "" {
		paths = append(paths, f)
	}
	if clientsFile == "" {
		return paths
	}
	paths = append(paths, clientsFile)
	return append(paths, passwordFiles(clientsFile)...)
}

// passwordFiles returns the password_file values of the clients file, read
// leniently: only to know what to watch. Validation is config's, on load.
func passwordFiles(clientsFile string) []string {
	data, err := os.ReadFile(clientsFile) // #nosec G304 -- the operator's own CLIENTS_FILE
	if err != nil {
		return nil
	}
	var entries []struct {
		PasswordFile string `json:"password_file"`
	}
	if json.Unmarshal(data, &entries) != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.PasswordFile != "" {
			out = append(out, e.PasswordFile)
		}
	}
	return out
}
