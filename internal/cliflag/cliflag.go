// Package cliflag holds the repeatable string flag every Burgut command
// uses (--mavlink, --ws-origin, --gcs, --fault, --target), so they all
// behave alike.
package cliflag

import "strings"

// List is a repeatable string flag: each occurrence appends a value. What
// the list holds before the first Set is a default, and the first value
// given replaces it rather than adding to it; values loaded from a config
// file or the environment (see Load) are replaced the same way by the
// first command-line value.
type List struct {
	p        *[]string
	replace  bool // the next Set starts a new list
	fromLoad bool // the values came from Load
}

// NewList binds a List to p; p's current contents are the default.
func NewList(p *[]string) *List { return &List{p: p, replace: true} }

// String joins the values with commas (flag's default-value display).
func (l *List) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

// Set appends s, first dropping a default or loaded list.
func (l *List) Set(s string) error {
	if l.replace {
		*l.p = nil
		l.replace = false
	}
	*l.p = append(*l.p, s)
	return nil
}

// Values returns the current list.
func (l *List) Values() []string { return *l.p }

// Load replaces the list with values from a config file or the environment;
// the first later Set (a command-line value) replaces them in turn.
func (l *List) Load(values []string) {
	*l.p = append([]string(nil), values...)
	l.replace, l.fromLoad = true, true
}

// Given reports whether the list holds values from Load or Set rather than
// its default.
func (l *List) Given() bool { return l.fromLoad || !l.replace }
