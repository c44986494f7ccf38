package clients

import (
	"slices"

	"github.com/adsync/adsync/internal/config"
)

// List is one validated client list, never changed after it is built: a
// reload makes a new List, so a reader holds a consistent one.
type List struct {
	ordered []config.Client
	byID    map[string]config.Client
}

// newList indexes clients by id; config's parser has already refused
// duplicate ids.
func newList(clients []config.Client) *List {
	l := &List{ordered: slices.Clone(clients), byID: make(map[string]config.Client, len(clients))}
	for _, c := range clients {
		l.byID[c.ID] = c
	}
	return l
}

// Get returns the client with the id, if the list has it.
func (l *List) Get(id string) (config.Client, bool) {
	c, ok := l.byID[id]
	return c, ok
}

// IDs returns the client ids in the file's order.
func (l *List) IDs() []string {
	ids := make([]string, len(l.ordered))
	for i, c := range l.ordered {
		ids[i] = c.ID
	}
	return ids
}

// Clients returns a copy of the clients in the file's order.
func (l *List) Clients() []config.Client { return slices.Clone(l.ordered) }

// Len is the number of clients.
func (l *List) Len() int { return len(l.ordered) }

// Change is what a reload changed, by client id: clients added, removed,
// and those whose email or password changed.
type Change struct {
	Added, Removed, Rotated []string
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Rotated) == 0 }

// diff compares two lists.
func diff(old, cur *List) Change {
	var ch Change
	for _, c := range cur.ordered {
		prev, ok := old.byID[c.ID]
		switch {
		case !ok:
			ch.Added = append(ch.Added, c.ID)
		case prev.Email != c.Email || prev.Password != c.Password:
			ch.Rotated = append(ch.Rotated, c.ID)
		}
	}
	for _, c := range old.ordered {
		if _, ok := cur.byID[c.ID]; !ok {
			ch.Removed = append(ch.Removed, c.ID)
		}
	}
	return ch
}
