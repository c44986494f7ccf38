package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// SecretVariables are the variables that may hold a secret. Each also has a
// NAME_FILE form naming a file that holds the value, as Docker and
// Kubernetes mount secrets, so the value need not sit in the environment.
var SecretVariables = []string{"PLATFORM_PASSWORD", "DATABASE_URL", "REDIS_URL", "ASYNQMON_PASSWORD"}

// fileSuffix turns a secret variable's name into its file form's.
const fileSuffix = "_FILE"

// withSecretFiles returns vars with every NAME_FILE of SecretVariables
// replaced by NAME holding the file's content. Env's own `file` option reads
// the variable itself as a path, which is not the NAME_FILE convention that
// Docker images and Kubernetes manifests use; hence this small loop.
// Problems name the variable and the path, never the content.
func withSecretFiles(vars map[string]string) (map[string]string, Problems) {
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	var p Problems
	for _, name := range SecretVariables {
		path, ok := vars[name+fileSuffix]
		if !ok {
			continue
		}
		delete(out, name+fileSuffix)
		if _, both := vars[name]; both {
			p = append(p, fmt.Sprintf("%s%s: set %s or %s%s, not both", name, fileSuffix, name, name, fileSuffix))
			continue
		}
		value, err := readSecretFile(path)
		if err != nil {
			p = append(p, fmt.Sprintf("%s%s: %v", name, fileSuffix, err))
			continue
		}
		out[name] = value
	}
	return out, p
}

// readSecretFile reads a mounted secret: its content without the trailing
// newline that editors and `echo` add. The error names the path and the
// reason (missing, unreadable, empty), never the content.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty path")
	}
	data, err := os.ReadFile(path) // #nosec G304 -- the operator names the file on purpose
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	value := strings.TrimRight(string(data), "\r\n")
	if value == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return value, nil
}
