package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// render is the base as `kubectl kustomize .` renders it. Where kubectl is
// missing, that step is skipped with a message and the resource files the
// kustomization lists are read as written (without its labels and image
// tag), so every other check still runs.
func render(t *testing.T) []byte {
	t.Helper()
	out, ok := kustomize(t, ".")
	if !ok {
		t.Log("kubectl not found on PATH: skipping `kubectl kustomize`; checking the resource files as written instead")
		return concatResources(t)
	}
	return out
}

// kustomize is `kubectl kustomize dir`; ok is false when kubectl is not on
// PATH. A failed render fails the test.
func kustomize(t *testing.T, dir string) (out []byte, ok bool) {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, false
	}
	cmd := exec.Command(kubectl, "kustomize", dir) // #nosec G204 -- kubectl from PATH on a folder of this test's, no outside input
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	require.NoError(t, err, "kubectl kustomize %s failed: %s", dir, stderr.String())
	return out, true
}

// concatResources joins the files of kustomization.yaml's resources list.
func concatResources(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("kustomization.yaml")
	require.NoError(t, err)
	var k struct {
		Resources []string `json:"resources"`
	}
	require.NoError(t, sigsyaml.Unmarshal(raw, &k))
	require.NotEmpty(t, k.Resources, "kustomization.yaml lists no resources")
	var all bytes.Buffer
	for _, r := range k.Resources {
		b, err := os.ReadFile(filepath.Clean(r))
		require.NoError(t, err, "resource %s", r)
		all.WriteString("---\n")
		all.Write(b)
		all.WriteString("\n")
	}
	return all.Bytes()
}

// documents splits a multi-document YAML stream, dropping empty documents.
func documents(stream []byte) ([][]byte, error) {
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML documents: %w", err)
		}
		if len(bytes.TrimSpace(doc)) > 0 && !bytes.Equal(bytes.TrimSpace(doc), []byte("---")) {
			docs = append(docs, doc)
		}
	}
}
