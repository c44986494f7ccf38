package kubernetes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

// The README's overlay for a cluster without KEDA, as the README prints it,
// and what the test expects of it.
const (
	withoutKEDAHeading = "### Without KEDA"
	// overlayBase is how the README's overlay, in deploy/overlays/prod,
	// names this folder; the test points it at the folder from a temporary
	// directory instead.
	overlayBase     = "../../kubernetes"
	overlayReplicas = 3
)

// The overlay the README shows for a cluster without KEDA renders: it
// deletes the ScaledObject, sets the workers' replicas, and keeps the rest
// of the base, every object still decoding strictly. An overlay cannot
// leave a base's resource out, so this is the way the README must show.
func TestOverlayWithoutKEDA(t *testing.T) {
	overlay := readmeYAMLAfter(t, withoutKEDAHeading)
	require.Contains(t, overlay, "  - "+overlayBase+"\n", "the overlay's resources must name the base as %s", overlayBase)
	require.Contains(t, overlay, "$patch: delete", "the overlay must delete the ScaledObject")

	dir := t.TempDir()
	here, err := filepath.Abs(".")
	require.NoError(t, err)
	base, err := filepath.Rel(dir, here)
	require.NoError(t, err)
	kustomization := strings.Replace(overlay, "  - "+overlayBase+"\n", "  - "+filepath.ToSlash(base)+"\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o600))

	out, ok := kustomize(t, dir)
	if !ok {
		t.Skip("kubectl not found on PATH: the README's overlay without KEDA is not rendered")
	}
	objs, err := decodeStrict(out)
	require.NoError(t, err)

	require.Empty(t, objs["ScaledObject"], "the overlay still holds a ScaledObject")
	worker := get[*appsv1.Deployment](t, objs, "Deployment", workerName)
	require.NotNil(t, worker.Spec.Replicas, "without an autoscaler the overlay must set the workers' replicas")
	require.EqualValues(t, overlayReplicas, *worker.Spec.Replicas)
	require.Equal(t, "registry.example.com/adsync:1.0.0", container(t, worker, "worker").Image)
	require.Equal(t, "adsync", worker.Namespace)
	for kind, name := range map[string]string{
		"Deployment": schedulerName, "ConfigMap": configName, "Service": "adsync-worker-ops",
		"PodDisruptionBudget": workerName, "ServiceAccount": "adsync",
	} {
		require.Contains(t, objs[kind], name, "the overlay lost the base's %s %q", kind, name)
	}
}

// readmeYAMLAfter is the first ```yaml block of README.md after the line
// heading.
func readmeYAMLAfter(t *testing.T, heading string) string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, rest, found := strings.Cut(string(raw), "\n"+heading+"\n")
	require.True(t, found, "README.md has no heading %q", heading)
	_, rest, found = strings.Cut(rest, "\n```yaml\n")
	require.True(t, found, "README.md has no yaml block after %q", heading)
	block, _, found := strings.Cut(rest, "\n```\n")
	require.True(t, found, "the yaml block after %q is not closed", heading)
	return block + "\n"
}
