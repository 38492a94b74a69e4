// Package auth holds who may do what at a Burgut station: accounts with a
// role (admin, operator, observer) and an argon2id password hash, bearer
// API tokens (stored as SHA-256 digests, shown once), browser sessions with
// CSRF protection, and login throttling. Accounts and tokens live in an
// SQLite database under the station's data directory (auth.db, WAL mode with
// a busy timeout), so the `burgut users` and `burgut tokens` commands work
// on it while the station runs, and the station sees their changes on the
// next request: every request looks its credential up again.
//
// The HTTP side (Guard, the login/logout/session handlers and the
// users/tokens admin API) answers 401 with WWW-Authenticate when no valid
// credential is given and 403 when the credential's role may not do what
// the route does. Error messages never say whether a user name exists.
package auth
