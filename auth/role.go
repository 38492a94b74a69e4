package auth

import (
	"encoding/json"
	"fmt"
)

// Role is what an authenticated caller may do. Roles are ordered: each
// includes everything the roles below it may do.
type Role int

// Roles, from least to most privileged. Anonymous is the level of routes
// that need no credential (health, login, the login page).
const (
	Anonymous Role = iota
	Observer       // read-only: vehicles, events, history, stream, map
	Operator       // commands, uploads, parameters, areas, plans, assignments
	Admin          // users, tokens, audit log, configuration
)

var roleNames = [...]string{"anonymous", "observer", "operator", "admin"}

func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole parses an account or token role (observer, operator, admin).
func ParseRole(s string) (Role, error) {
	switch s {
	case "observer":
		return Observer, nil
	case "operator":
		return Operator, nil
	case "admin":
		return Admin, nil
	}
	return Anonymous, fmt.Errorf("role %q: want observer, operator or admin", s)
}

// Allows reports whether a caller with role r may use a route that needs
// role need.
func (r Role) Allows(need Role) bool { return r >= need }

// MarshalJSON writes the role's name.
func (r Role) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads a role name (observer, operator, admin).
func (r *Role) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("role: want a string (observer, operator or admin)")
	}
	v, err := ParseRole(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}
