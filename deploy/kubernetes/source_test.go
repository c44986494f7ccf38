package kubernetes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is adsync's repository root, seen from this folder.
const repoRoot = "../.."

// parsePackage parses the non-test Go files of a folder of adsync's
// repository, so the checks compare the manifests with what the code
// really does rather than with a copy of it.
func parsePackage(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		require.NoError(t, err)
		files = append(files, f)
	}
	require.NotEmpty(t, files, "no Go files in %s", dir)
	return files
}

// stringLiterals is every string literal in files.
func stringLiterals(files []*ast.File) []string {
	var out []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out = append(out, s)
				}
			}
			return true
		})
	}
	return out
}

// servedGETPaths is the paths the ops server registers for GET
// (`mux.HandleFunc("GET /healthz", ...)` in internal/ops).
func servedGETPaths(t *testing.T) map[string]bool {
	t.Helper()
	paths := map[string]bool{}
	for _, s := range stringLiterals(parsePackage(t, "internal/ops")) {
		if p, ok := strings.CutPrefix(s, "GET "); ok && strings.HasPrefix(p, "/") {
			paths[p] = true
		}
	}
	require.NotEmpty(t, paths, "found no GET route in internal/ops")
	return paths
}

// configVariables is every variable named by an `env:"..."` tag in
// internal/config.
func configVariables(t *testing.T) map[string]bool {
	t.Helper()
	vars := map[string]bool{}
	for _, f := range parsePackage(t, "internal/config") {
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err == nil {
				if name := reflect.StructTag(tag).Get("env"); name != "" {
					vars[strings.Split(name, ",")[0]] = true
				}
			}
			return true
		})
	}
	require.NotEmpty(t, vars, "found no env tag in internal/config")
	return vars
}

// queueNames is the values of the Queue* string constants of
// internal/tasks: the asynq queues the workers serve.
func queueNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, f := range parsePackage(t, "internal/tasks") {
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range spec.Names {
				if !strings.HasPrefix(id.Name, "Queue") || i >= len(spec.Values) {
					continue
				}
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						names = append(names, s)
					}
				}
			}
			return true
		})
	}
	require.NotEmpty(t, names, "found no Queue* constant in internal/tasks")
	return names
}
