package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
)

// tokenSecretFile is the embedded store's token key, beside its data.
const tokenSecretFile = "token-secret"

// localSecrets is a store that keeps a secret for every process on its
// server and from everyone else (kazoo.Store on CouchDB).
type localSecrets interface {
	LocalSecret(ctx context.Context, name string, newValue func() string) (string, error)
}

// tokenSecret is the HMAC key of auth tokens: --token-secret, else one
// generated once and kept with the store, so that tokens outlive a
// restart and replicas on one CouchDB accept each other's: in a file of
// the data directory (mode 0600) for the embedded store, in a _local
// document of the accounts database on CouchDB (never replicated: each
// site's tokens are its own).
func tokenSecret(ctx context.Context, cfg *config, st store, log *zap.Logger) ([]byte, error) {
	if cfg.tokenSecret != "" {
		return []byte(cfg.tokenSecret), nil
	}
	newSecret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	if cfg.couchdb == "" {
		path := filepath.Join(cfg.dataDir, tokenSecretFile)
		s, err := fileSecret(path, newSecret)
		if err != nil {
			return nil, fmt.Errorf("token secret: %w", err)
		}
		log.Info("no --token-secret: tokens are signed with the key kept in the data directory", zap.String("file", path))
		return []byte(s), nil
	}
	ls, ok := st.(localSecrets)
	if !ok {
		return nil, errors.New("token secret: this store keeps none; give --token-secret")
	}
	s, err := ls.LocalSecret(ctx, "portreqd_token_secret", newSecret)
	if err != nil {
		return nil, fmt.Errorf("token secret: %w", err)
	}
	log.Warn("no --token-secret: tokens are signed with a key kept in this CouchDB (_local/portreqd_token_secret of accounts), shared by the replicas on it but not by other sites; set --token-secret to choose one")
	return []byte(s), nil
}

// fileSecret reads the secret of file path, making it with newValue when
// there is none; of processes making it at once, the first stands.
func fileSecret(path string, newValue func() string) (string, error) {
	for range 3 {
		b, err := os.ReadFile(path)
		if err == nil {
			if s := strings.TrimSpace(string(b)); len(s) >= minTokenSecretLen {
				return s, nil
			}
			return "", fmt.Errorf("%s holds no key of %d characters or more", path, minTokenSecretLen)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, werr := f.WriteString(newValue() + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("%s could not be read back", path)
}
