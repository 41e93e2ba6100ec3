package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/porting"
)

// masterKeyFile is the file of the data directory holding the master API
// key portreqd generated (mode 0600): a key printed once and lost is an
// installation no one can administer.
const masterKeyFile = "master-api-key"

// masterKeyCmd shows or replaces the master account's API key, for
// whoever holds the store:
//
//	portreqd master-key show   [--couchdb URL | --data-dir DIR] [--db-prefix P]
//	portreqd master-key rotate [--key KEY] [--couchdb URL | --data-dir DIR]
//
// The embedded store is locked by a running portreqd: stop it first (or
// read the key file it wrote).
func masterKeyCmd(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	action := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("portreqd master-key", flag.ContinueOnError)
	fs.SetOutput(out)
	usageOf(fs, "portreqd master-key show|rotate [flags]", "couchdb", "data-dir", "db-prefix")
	couchdb := fs.String("couchdb", "", "the store's CouchDB URL (empty: the embedded store under --data-dir)")
	dataDir := fs.String("data-dir", "./data", "the embedded store's directory; also where the key file is written")
	prefix := fs.String("db-prefix", "", "database name prefix on CouchDB (as given to portreqd)")
	key := fs.String("key", "", "rotate: the new key (at least 16 characters; a random 64-hex-digit key when empty)")
	if err := envDefaults(fs, getenv, "couchdb", "data-dir", "db-prefix"); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if action == "" && fs.NArg() > 0 {
		action = fs.Arg(0)
	}
	if action != "show" && action != "rotate" {
		return errors.New("master-key needs show or rotate (portreqd help master-key)")
	}
	if *key != "" && len(*key) < minAPIKeyLen {
		return fmt.Errorf("--key must be at least %d characters", minAPIKeyLen)
	}
	where := *couchdb
	if where == "" {
		where = *dataDir
	}
	st, _, err := openStore(ctx, where, *prefix, zap.NewNop())
	if err != nil {
		return err
	}
	defer st.Close()
	svc := porting.NewService(porting.Config{Store: st})
	var master *porting.Account
	if action == "show" {
		if master, err = st.MasterAccount(ctx); err != nil {
			return fmt.Errorf("master account: %w", err)
		}
	} else {
		if master, err = svc.SetMasterKey(ctx, *key); err != nil {
			return fmt.Errorf("rotate the master key: %w", err)
		}
		if path, err := writeMasterKey(*dataDir, master.APIKey); err != nil {
			fmt.Fprintf(out, "warning: the key file was not written: %v\n", err)
		} else {
			fmt.Fprintf(out, "written to %s\n", path)
		}
	}
	fmt.Fprintf(out, "master account %s\napi key %s\n", master.ID, master.APIKey)
	return nil
}

// writeMasterKey keeps key in the data directory's key file, readable by
// its owner only, and returns the file's path.
func writeMasterKey(dir, key string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, masterKeyFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps an existing file's mode
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// announceMaster tells the operator about the master account once the
// listener is up: a generated key is printed on out whatever the log
// level (the operator has no other way to learn it) and kept in the key
// file; a --master-api-key that the stored master does not have is
// reported, since it is used only when the master is created.
func announceMaster(cfg *config, master *porting.Account, created bool, keyFile string, log *zap.Logger, out io.Writer) {
	switch {
	case created && cfg.masterAPIKey == "":
		where := "not written to a file"
		if keyFile != "" {
			where = "also in " + keyFile + " (mode 0600)"
		}
		fmt.Fprintf(out, "portreqd: created the master account %s; its API key, shown once and %s:\n%s\n", master.ID, where, master.APIKey)
		log.Warn("created the master account with a generated API key (printed once, outside the log)",
			zap.String("account_id", master.ID), zap.String("key_file", keyFile))
	case created:
		log.Info("created master account", zap.String("account_id", master.ID))
	case cfg.masterAPIKey != "" && cfg.masterAPIKey != master.APIKey:
		log.Warn("--master-api-key differs from the stored master key and is ignored: it applies only when the master account is created; to change the stored key run `portreqd master-key rotate --key …`",
			zap.String("account_id", master.ID))
	default:
		log.Info("master account", zap.String("account_id", master.ID))
	}
}
