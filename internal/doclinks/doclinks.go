// Package doclinks checks the relative links of the project's Markdown
// (README.md and docs/): every link to a file or folder of the repository
// points at one that exists, and every #anchor at a heading of its page, so
// that a reader who follows a link never lands on nothing. Links to other
// sites are not fetched: the check needs no network.
package doclinks

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Problem is one link that does not resolve.
type Problem struct {
	// File is the Markdown file holding the link, relative to the root.
	File string
	// Target is the link as written.
	Target string
	// Reason says what is wrong with it.
	Reason string
}

// String is the problem as one line: file, target, reason.
func (p Problem) String() string { return fmt.Sprintf("%s: link %q: %s", p.File, p.Target, p.Reason) }

// Check reads each Markdown file (paths relative to root) and returns the
// links in them that do not resolve inside root. A file that cannot be read
// is an error, not a problem.
func Check(root string, files []string) ([]Problem, error) {
	var problems []Problem
	anchors := map[string]map[string]bool{} // file -> its headings' anchors
	for _, f := range files {
		links, err := linksOf(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if reason := resolve(root, f, l, anchors); reason != "" {
				problems = append(problems, Problem{File: f, Target: l, Reason: reason})
			}
		}
	}
	return problems, nil
}

// resolve returns why the link l of file f does not resolve, or "".
func resolve(root, f, l string, anchors map[string]map[string]bool) string {
	u, err := url.Parse(l)
	if err != nil {
		return "not a URL: " + err.Error()
	}
	if u.Scheme != "" || u.Host != "" {
		return "" // another site: not checked offline
	}
	target := f
	if u.Path != "" {
		if strings.HasPrefix(u.Path, "/") {
			return "absolute path: write it relative to the file"
		}
		target = filepath.Join(filepath.Dir(f), filepath.FromSlash(u.Path))
		if target == ".." || strings.HasPrefix(target, ".."+string(filepath.Separator)) {
			return "leaves the repository"
		}
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			return "no such file or folder: " + filepath.ToSlash(target)
		}
	}
	if u.Fragment == "" || !strings.HasSuffix(target, ".md") {
		return ""
	}
	if anchors[target] == nil {
		a, err := anchorsOf(filepath.Join(root, target))
		if err != nil {
			return err.Error()
		}
		anchors[target] = a
	}
	if !anchors[target][u.Fragment] {
		return fmt.Sprintf("no heading with anchor #%s in %s", u.Fragment, filepath.ToSlash(target))
	}
	return ""
}

// parse reads a Markdown file into goldmark's tree.
func parse(path string) (ast.Node, []byte, error) {
	src, err := os.ReadFile(path) // #nosec G304 -- the caller names the project's own Markdown files
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return goldmark.DefaultParser().Parse(text.NewReader(src)), src, nil
}

// linksOf returns the destinations of the links and images of a file.
// goldmark parses the Markdown, so links in code blocks are not taken for
// links and reference links are resolved: a regular expression would do
// neither.
func linksOf(path string) ([]string, error) {
	doc, _, err := parse(path)
	if err != nil {
		return nil, err
	}
	var links []string
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			links = append(links, string(n.Destination))
		case *ast.Image:
			links = append(links, string(n.Destination))
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", path, err)
	}
	return links, nil
}

// anchorsOf returns the anchors GitHub gives the headings of a file.
func anchorsOf(path string) (map[string]bool, error) {
	doc, src, err := parse(path)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		a := Slug(headingText(h, src))
		if k := seen[a]; k > 0 {
			anchors[fmt.Sprintf("%s-%d", a, k)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
		return ast.WalkSkipChildren, nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", path, err)
	}
	return anchors, nil
}

// headingText is the plain text of a heading, code spans included.
func headingText(h *ast.Heading, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(h, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := n.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// Slug is the anchor GitHub makes of a heading's text: lower case, spaces
// to hyphens, and every character that is not a letter, a digit, a hyphen
// or an underscore dropped.
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ErrNoFiles is returned by Markdown when the root holds no Markdown file to
// check, which means the root is wrong.
var ErrNoFiles = errors.New("no Markdown files found")

// Markdown lists README.md and every .md file under docs/ of root, relative
// to root.
func Markdown(root string) ([]string, error) {
	files := []string{}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err == nil {
		files = append(files, "README.md")
	}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list docs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoFiles, root)
	}
	return files, nil
}
