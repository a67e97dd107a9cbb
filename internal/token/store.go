package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Errors of Authenticate and the store, matched with errors.Is.
var (
	ErrUnknown  = errors.New("unknown token")
	ErrExpired  = errors.New("token expired")
	ErrNotFound = errors.New("no such token")
	ErrTooMany  = errors.New("too many tokens")
)

// Bounds of the store.
const (
	// MaxTokens bounds the tokens of a catalog.
	MaxTokens = 10000
	// Fresh is how long a node trusts what it read of a token: a token
	// revoked on one node is refused on every node within it.
	Fresh = 500 * time.Millisecond
	// usedEvery is how often a token's last use is written (per node).
	usedEvery = time.Minute
	maxCached = 4096
	// BootstrapID is the id of the first admin token, made when a catalog
	// has none; only one node can create it.
	BootstrapID = "admin"
)

// Store keeps the tokens in the engine bucket "tokens", shared by every
// node of the engine; each node trusts what it read of a token for Fresh.
type Store struct {
	kv  engine.KV
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cached  // by the hash of the text presented
	reads singleflight.Group // one read of a token at a time, however many requests present it
}

type cached struct {
	tok  *Token
	rev  uint64
	read time.Time
}

// Open opens the token store of an engine.
func Open(ctx context.Context, eng engine.Engine) (*Store, error) {
	kv, err := eng.KV(ctx, "tokens")
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return &Store{kv: kv, now: time.Now, cache: map[string]cached{}}, nil
}

// NewRequest is a token to create.
type NewRequest struct {
	Name    string        `json:"name"`
	Grants  []Grant       `json:"grants"`
	Expires time.Duration `json:"-"`
	By      string        `json:"-"` // who creates it, as the history shows it
}

// InvalidError is a request Create refuses, each problem by field.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Validate names what is wrong with a request, by field.
func (n NewRequest) Validate() error {
	var errs []error
	if n.Name == "" || len(n.Name) > 100 {
		errs = append(errs, errors.New("name: 1 to 100 characters"))
	}
	if len(n.Grants) == 0 {
		errs = append(errs, errors.New("grants: at least one (e.g. {\"resource\": \"stream:wiki.*\", \"role\": \"read\"})"))
	}
	if len(n.Grants) > 100 {
		errs = append(errs, errors.New("grants: at most 100"))
	}
	for i, g := range n.Grants {
		if err := g.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("grants[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Create makes a token and answers its text, which is kept nowhere.
func (s *Store) Create(ctx context.Context, n NewRequest) (Token, string, error) {
	if err := n.Validate(); err != nil {
		return Token{}, "", &InvalidError{err}
	}
	keys, err := s.kv.Keys(ctx, "")
	if err != nil {
		return Token{}, "", err
	}
	if len(keys) >= MaxTokens {
		return Token{}, "", fmt.Errorf("%w: the catalog holds %d, the most it keeps; revoke some", ErrTooMany, len(keys))
	}
	id, text := newSecret()
	t, err := s.put(ctx, id, text, n)
	return t, text, err
}

func (s *Store) put(ctx context.Context, id, text string, n NewRequest) (Token, error) {
	now := s.now().UTC().Truncate(time.Second)
	t := Token{ID: id, Name: n.Name, Grants: n.Grants, Created: now, CreatedBy: n.By, Hash: hashOf(text)}
	if n.Expires > 0 {
		e := now.Add(n.Expires)
		t.Expires = &e
	}
	b, _ := json.Marshal(t)
	if _, err := s.kv.Create(ctx, id, b); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Bootstrap makes the first admin token (every grant, id "admin") if the
// store holds no token: with text, or a new one. made says whether this
// call made it (text is then the token's text); on a catalog that has
// tokens, or when another node made it first, it does nothing.
func (s *Store) Bootstrap(ctx context.Context, text string) (made bool, _ string, _ error) {
	keys, err := s.kv.Keys(ctx, "")
	if err != nil || len(keys) > 0 {
		return false, "", err
	}
	if text == "" {
		_, text = newSecret()
	} else if err := checkText(text); err != nil {
		return false, "", err
	}
	_, err = s.put(ctx, BootstrapID, text, NewRequest{Name: "admin", Grants: []Grant{{Resource: All, Role: Admin}}, By: "bootstrap"})
	if errors.Is(err, engine.ErrExists) {
		return false, "", nil
	}
	return err == nil, text, err
}

// Authenticate finds the token whose text this is: ErrUnknown if none
// (or revoked), ErrExpired if it expired.
func (s *Store) Authenticate(ctx context.Context, text string) (*Token, error) {
	if text == "" || len(text) > 512 {
		return nil, ErrUnknown
	}
	hash := hashOf(text)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[hash]
	s.mu.Unlock()
	if !ok || now.Sub(c.read) >= Fresh {
		v, err, _ := s.reads.Do(hash, func() (any, error) {
			// Shared by every request waiting: not ended by the first one's leaving.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return s.lookup(ctx, text, hash)
		})
		if err != nil {
			s.forget(hash)
			return nil, err
		}
		c = v.(cached)
		c.read = now
		s.mu.Lock()
		if len(s.cache) >= maxCached {
			clear(s.cache) // read again what is used: cheaper than ordering them
		}
		s.cache[hash] = c
		s.mu.Unlock()
	}
	if c.tok.Expired(now) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, c.tok.Expires.Format(time.RFC3339))
	}
	if c.tok.LastUsed == nil || now.Sub(*c.tok.LastUsed) >= usedEvery {
		s.used(ctx, hash, c, now)
	}
	return c.tok, nil
}

// lookup reads the token a text names: by the id in it, then as the
// bootstrap token (whose text is whatever SLUICE_ADMIN_TOKEN was, which
// may look like one sluice makes).
func (s *Store) lookup(ctx context.Context, text, hash string) (cached, error) {
	for _, id := range []string{idOf(text), BootstrapID} {
		if id == "" {
			continue
		}
		b, rev, err := s.kv.Get(ctx, id)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return cached{}, err
		}
		var t Token
		if err := json.Unmarshal(b, &t); err != nil {
			return cached{}, fmt.Errorf("token %s: %w", id, err)
		}
		if t.matches(hash) {
			return cached{tok: &t, rev: rev}, nil
		}
	}
	return cached{}, ErrUnknown
}

// used records a token's last use, at most every usedEvery per node. It
// writes at the revision read, so it never brings back a revoked token;
// losing a race to another node's write loses nothing that matters.
func (s *Store) used(ctx context.Context, hash string, c cached, now time.Time) {
	t := *c.tok
	at := now.UTC().Truncate(time.Second)
	t.LastUsed = &at
	b, _ := json.Marshal(t)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	rev, err := s.kv.Update(ctx, t.ID, b, c.rev)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.cache[hash] = cached{tok: &t, rev: rev, read: c.read}
	} else if cur, ok := s.cache[hash]; ok && cur.tok == c.tok {
		// Another node wrote it (or it was revoked: the next read tells):
		// not again before usedEvery.
		cur.tok = &t
		s.cache[hash] = cur
	}
}

func (s *Store) forget(hash string) {
	s.mu.Lock()
	delete(s.cache, hash)
	s.mu.Unlock()
}

// List answers every token, oldest first, without their hashes.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	keys, err := s.kv.Keys(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(keys))
	for _, k := range keys {
		t, err := s.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // revoked meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sortByCreated(out)
	return out, nil
}

// Get answers one token, without its hash.
func (s *Store) Get(ctx context.Context, id string) (Token, error) {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, ".*> ") {
		return Token{}, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	b, _, err := s.kv.Get(ctx, id)
	if errors.Is(err, engine.ErrNotFound) {
		return Token{}, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	if err != nil {
		return Token{}, err
	}
	var t Token
	if err := json.Unmarshal(b, &t); err != nil {
		return Token{}, fmt.Errorf("token %s: %w", id, err)
	}
	return t.Public(), nil
}

// Revoke deletes a token: every node refuses it within Fresh.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	for h, c := range s.cache {
		if c.tok.ID == id {
			delete(s.cache, h)
		}
	}
	s.mu.Unlock()
	return nil
}

func sortByCreated(ts []Token) {
	slices.SortFunc(ts, func(a, b Token) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// checkText checks a token text given rather than made: long enough, and
// of the characters a header and a cookie carry as they are.
func checkText(text string) error {
	if len(text) < 24 || len(text) > 512 {
		return errors.New("SLUICE_ADMIN_TOKEN: 24 to 512 characters (e.g. `openssl rand -base64 32`)")
	}
	for _, c := range text {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`",;\`, c) {
			return fmt.Errorf("SLUICE_ADMIN_TOKEN: %q cannot be in a token (printable ASCII but space \" , ; \\)", c)
		}
	}
	return nil
}
