package doclinks

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every relative link of README.md and docs/ leads to a file, a folder or a
// heading that exists.
func TestProjectDocsLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := Markdown(root)
	require.NoError(t, err)
	require.Contains(t, files, "README.md")
	problems, err := Check(root, files)
	require.NoError(t, err)
	var broken []string
	for _, p := range problems {
		broken = append(broken, p.String())
	}
	require.Empty(t, broken, "links in README.md and docs/ that lead nowhere")
}

func TestCheckReportsEachKindOfBrokenLink(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	}
	write("README.md", "# Top\n\n## How it works\n\n"+
		"[ok](docs/a.md) [ok anchor](docs/a.md#the-limit-l-per-window) [self](#how-it-works) [folder](docs/)\n"+
		"[site](https://example.com/nowhere) [mail](mailto:x@example.com) ![img](docs/img/p.svg)\n"+
		"[gone](docs/gone.md) [bad anchor](docs/a.md#nothing) [bad self](#nowhere) [out](../x.md) [abs](/etc/passwd)\n"+
		"[ref][r]\n\n[r]: docs/missing-ref.md\n\n"+
		"```\n[in code](docs/not-checked.md)\n```\n")
	write("docs/a.md", "# A\n\n## The limit: L per window\n\n[back](../README.md#top)\n")
	write("docs/img/p.svg", "<svg/>")

	files, err := Markdown(root)
	require.NoError(t, err)
	require.Equal(t, []string{"README.md", "docs/a.md"}, files)
	problems, err := Check(root, files)
	require.NoError(t, err)
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	require.Equal(t, []string{
		`README.md: link "docs/gone.md": no such file or folder: docs/gone.md`,
		`README.md: link "docs/a.md#nothing": no heading with anchor #nothing in docs/a.md`,
		`README.md: link "#nowhere": no heading with anchor #nowhere in README.md`,
		`README.md: link "../x.md": leaves the repository`,
		`README.md: link "/etc/passwd": absolute path: write it relative to the file`,
		`README.md: link "docs/missing-ref.md": no such file or folder: docs/missing-ref.md`,
	}, got)
}

func TestSlugIsGitHubsAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"How it works":                   "how-it-works",
		"The limit: L per window":        "the-limit-l-per-window",
		"Redis in production":            "redis-in-production",
		"`enqueuer sync --wait`":         "enqueuer-sync---wait",
		"Runbook: a client's password":   "runbook-a-clients-password",
		"Sentinel & Cluster (REDIS_URL)": "sentinel--cluster-redis_url",
	} {
		require.Equal(t, want, Slug(heading), heading)
	}
}

func TestMarkdownRefusesARootWithoutDocs(t *testing.T) {
	_, err := Markdown(t.TempDir())
	require.ErrorIs(t, err, ErrNoFiles)
}
