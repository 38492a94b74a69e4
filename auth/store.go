package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Errors of the account and token store. ErrBadCredentials is the only one
// a login or a bearer check returns to a caller, whatever went wrong (no
// such user, wrong password, disabled, expired, revoked), so a response
// never tells whether an account exists; the Reason of a CredentialError
// says what it was, for the log and the audit.
var (
	ErrBadCredentials = errors.New("invalid credentials")
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrLastAdmin      = errors.New("this is the last enabled admin account")
)

// CredentialError is ErrBadCredentials with the real reason attached for
// logs. Its Error text is the generic one.
type CredentialError struct{ Reason string }

func (e *CredentialError) Error() string { return ErrBadCredentials.Error() }
func (e *CredentialError) Is(t error) bool {
	return t == ErrBadCredentials
}

func badCredentials(reason string) error { return &CredentialError{Reason: reason} }

// DBFile is the auth database's name under the data directory.
const DBFile = "auth.db"

const schema = `
CREATE TABLE IF NOT EXISTS users (
	name       TEXT PRIMARY KEY,
	role       TEXT NOT NULL,
	hash       TEXT NOT NULL,
	disabled   INTEGER NOT NULL DEFAULT 0,
	generation INTEGER NOT NULL DEFAULT 1, -- bumped on password/role/disable changes: ends the user's sessions
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	role     TEXT NOT NULL,
	digest   BLOB NOT NULL,
	created  INTEGER NOT NULL,
	expires  INTEGER,           -- unix nanoseconds; NULL = never
	revoked  INTEGER            -- unix nanoseconds; NULL = active
);
CREATE INDEX IF NOT EXISTS tokens_name ON tokens(name);
`

// Store holds accounts and API tokens in DATA_DIR/auth.db.
type Store struct {
	db        *sql.DB
	path      string
	params    HashParams
	dummyHash string // verified for unknown users, so they cost what known ones do
	now       func() time.Time
	hashSlots chan struct{}
}

// Options tune a Store; the zero value is the production setting.
type Options struct {
	// Hash are the argon2id parameters of new hashes (default
	// DefaultHashParams). Tests may lower them; stored hashes keep theirs.
	Hash HashParams
	// MaxConcurrentHashes bounds argon2id computations running at once
	// (default 4): each takes Hash.MemoryKiB of memory.
	MaxConcurrentHashes int
	// Now is the clock (default time.Now), for expiry tests.
	Now func() time.Time
}

// Open opens (creating if needed) the auth database under dataDir. The
// file is private to the station's user (0600).
func Open(dataDir string, opts Options) (*Store, error) {
	if opts.Hash == (HashParams{}) {
		opts.Hash = DefaultHashParams
	}
	if opts.MaxConcurrentHashes <= 0 {
		opts.MaxConcurrentHashes = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("open auth store: %w", err)
	}
	path := filepath.Join(dataDir, DBFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open auth store %s: %w", path, err)
	}
	f.Close()
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open auth store %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open auth store %s: create schema: %w", path, err)
	}
	dummy, err := hashPassword(GeneratePassword(), opts.Hash)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, path: path, params: opts.Hash, dummyHash: dummy, now: opts.Now,
		hashSlots: make(chan struct{}, opts.MaxConcurrentHashes)}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close auth store: %w", err)
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckName says why an account or token name is refused, or nil.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("name %q: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// User is an account as listed (never with its hash).
type User struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// Generation changes whenever the password, role or disabled flag
	// does; a session remembers it and ends when it differs.
	Generation int64 `json:"-"`
}

func (s *Store) hash(ctx context.Context, fn func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	fn()
	return nil
}

// AddUser creates an account.
func (s *Store) AddUser(ctx context.Context, name string, role Role, password string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if role < Observer || role > Admin {
		return fmt.Errorf("role %v: want observer, operator or admin", role)
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return err
	}
	var h string
	var herr error
	if err := s.hash(ctx, func() { h, herr = hashPassword(password, s.params) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	now := s.now().UnixNano()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users(name, role, hash, created, updated) VALUES(?,?,?,?,?)`,
		name, role.String(), h, now, now)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("user %q: %w", name, ErrExists)
		}
		return fmt.Errorf("add user %q: %w", name, err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// GetUser returns one account.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, _, err := s.getUser(ctx, name)
	return u, err
}

func (s *Store) getUser(ctx context.Context, name string) (User, string, error) {
	var u User
	var role, hash string
	var created, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT name, role, hash, disabled, generation, created, updated FROM users WHERE name = ?`, name).
		Scan(&u.Name, &role, &hash, &u.Disabled, &u.Generation, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return u, "", fmt.Errorf("read user %q: %w", name, err)
	}
	u.Role, err = ParseRole(role)
	if err != nil {
		return u, "", fmt.Errorf("user %q in %s: %w", name, s.path, err)
	}
	u.Created, u.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return u, hash, nil
}

// ListUsers returns every account, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list users: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, 0, len(names))
	for _, n := range names {
		u, err := s.GetUser(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// CheckPassword verifies a login. Whatever fails, the error is
// ErrBadCredentials (a *CredentialError with the reason), and an unknown
// user costs one argon2id computation like a known one.
func (s *Store) CheckPassword(ctx context.Context, name, password string) (User, error) {
	if len(password) > maxPassword {
		return User{}, badCredentials("password longer than the maximum")
	}
	u, hash, err := s.getUser(ctx, name)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	if !known {
		hash = s.dummyHash
	}
	var ok bool
	var verr error
	if err := s.hash(ctx, func() { ok, verr = verifyPassword(password, hash) }); err != nil {
		return User{}, err
	}
	switch {
	case !known:
		return User{}, badCredentials("unknown user")
	case verr != nil:
		return User{}, badCredentials("stored hash unreadable: " + verr.Error())
	case !ok:
		return User{}, badCredentials("wrong password")
	case u.Disabled:
		return User{}, badCredentials("account disabled")
	}
	return u, nil
}

// SetPassword replaces an account's password (ending its sessions).
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPasswordPolicy(password); err != nil {
		return err
	}
	var h string
	var herr error
	if err := s.hash(ctx, func() { h, herr = hashPassword(password, s.params) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	return s.updateUser(ctx, name, `hash = ?`, h)
}

// SetRole changes an account's role (ending its sessions). The last
// enabled admin cannot be demoted.
func (s *Store) SetRole(ctx context.Context, name string, role Role) error {
	if role < Observer || role > Admin {
		return fmt.Errorf("role %v: want observer, operator or admin", role)
	}
	if role != Admin {
		if err := s.keepAnAdmin(ctx, name); err != nil {
			return err
		}
	}
	return s.updateUser(ctx, name, `role = ?`, role.String())
}

// SetDisabled disables or re-enables an account (ending its sessions).
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if disabled {
		if err := s.keepAnAdmin(ctx, name); err != nil {
			return err
		}
	}
	return s.updateUser(ctx, name, `disabled = ?`, disabled)
}

// RemoveUser deletes an account. The last enabled admin cannot be removed.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	if err := s.keepAnAdmin(ctx, name); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("remove user %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	return nil
}

// keepAnAdmin refuses to take away the admin role of the only enabled
// admin: a station nobody can administer needs a file-level repair.
func (s *Store) keepAnAdmin(ctx context.Context, name string) error {
	var others int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name != ?`, name).Scan(&others)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	u, err := s.GetUser(ctx, name)
	if err != nil {
		return err
	}
	if others == 0 && u.Role == Admin && !u.Disabled {
		return fmt.Errorf("user %q: %w", name, ErrLastAdmin)
	}
	return nil
}

func (s *Store) updateUser(ctx context.Context, name, set string, v any) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET `+set+`, generation = generation + 1, updated = ? WHERE name = ?`,
		v, s.now().UnixNano(), name)
	if err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	return nil
}

// HasAdmin reports whether an enabled admin account exists.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0`).Scan(&n); err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	return n > 0, nil
}

// Token is an API token as listed (never with its secret).
type Token struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Role    Role       `json:"role"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// Active reports whether the token is neither revoked nor expired at now.
func (t Token) Active(now time.Time) bool {
	return t.Revoked == nil && (t.Expires == nil || now.Before(*t.Expires))
}

// CreateToken makes an API token and returns it: the only time its text
// exists outside the caller. ttl 0 means it never expires. Names are
// unique among active tokens.
func (s *Store) CreateToken(ctx context.Context, name string, role Role, ttl time.Duration) (string, Token, error) {
	if err := CheckName(name); err != nil {
		return "", Token{}, err
	}
	if role < Observer || role > Admin {
		return "", Token{}, fmt.Errorf("role %v: want observer, operator or admin", role)
	}
	if ttl < 0 {
		return "", Token{}, fmt.Errorf("expires %v: must not be negative", ttl)
	}
	now := s.now()
	tok, id, digest := newToken()
	t := Token{ID: id, Name: name, Role: role, Created: now.UTC()}
	var expires sql.NullInt64
	if ttl > 0 {
		e := now.Add(ttl).UTC()
		t.Expires = &e
		expires = sql.NullInt64{Int64: e.UnixNano(), Valid: true}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	defer tx.Rollback()
	var clash int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE name = ? AND revoked IS NULL AND (expires IS NULL OR expires > ?)`,
		name, now.UnixNano()).Scan(&clash); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	if clash > 0 {
		return "", Token{}, fmt.Errorf("token %q: %w (revoke it first or pick another name)", name, ErrExists)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tokens(id, name, role, digest, created, expires) VALUES(?,?,?,?,?,?)`,
		id, name, role.String(), digest[:], now.UnixNano(), expires); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	return tok, t, nil
}

func scanToken(sc interface{ Scan(...any) error }) (Token, []byte, error) {
	var t Token
	var role string
	var digest []byte
	var created int64
	var expires, revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &role, &digest, &created, &expires, &revoked); err != nil {
		return t, nil, err
	}
	var err error
	if t.Role, err = ParseRole(role); err != nil {
		return t, nil, fmt.Errorf("token %s: %w", t.ID, err)
	}
	t.Created = time.Unix(0, created).UTC()
	if expires.Valid {
		e := time.Unix(0, expires.Int64).UTC()
		t.Expires = &e
	}
	if revoked.Valid {
		r := time.Unix(0, revoked.Int64).UTC()
		t.Revoked = &r
	}
	return t, digest, nil
}

const tokenCols = `id, name, role, digest, created, expires, revoked`

// ListTokens returns every token, newest first, revoked ones included.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY created DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, _, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the token with this ID, or the active token with this
// name. Revoking takes effect on the station's next request.
func (s *Store) RevokeToken(ctx context.Context, idOrName string) (Token, error) {
	now := s.now()
	row := s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ? OR (name = ? AND revoked IS NULL) ORDER BY created DESC LIMIT 1`, idOrName, idOrName)
	t, _, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %q: %w", idOrName, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("revoke token %q: %w", idOrName, err)
	}
	if t.Revoked != nil {
		return t, nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL`, now.UnixNano(), t.ID); err != nil {
		return t, fmt.Errorf("revoke token %q: %w", idOrName, err)
	}
	r := now.UTC()
	t.Revoked = &r
	return t, nil
}

// CheckToken verifies a bearer token: ErrBadCredentials (with the reason)
// unless it is well-formed, known, matches, and is neither expired nor
// revoked.
func (s *Store) CheckToken(ctx context.Context, tok string) (Token, error) {
	id, digest, err := ParseToken(tok)
	if err != nil {
		return Token{}, badCredentials("malformed token")
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ?`, id)
	t, stored, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, badCredentials("unknown token")
	}
	if err != nil {
		return Token{}, fmt.Errorf("check token: %w", err)
	}
	switch {
	case subtle.ConstantTimeCompare(stored, digest[:]) != 1:
		return Token{}, badCredentials("token " + id + ": wrong secret")
	case t.Revoked != nil:
		return Token{}, badCredentials("token " + t.Name + " (" + id + ") revoked")
	case t.Expires != nil && !s.now().Before(*t.Expires):
		return Token{}, badCredentials("token " + t.Name + " (" + id + ") expired")
	}
	return t, nil
}
