package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/migrate"
)

// migrateCmd copies every document from one store to another:
//
//	portreqd migrate --from ./data --to http://admin:secret@127.0.0.1:5984
//
// A store is a data directory (embedded) or a CouchDB URL. It is safe to run
// again: documents already equal on the target are skipped.
func migrateCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("portreqd migrate", flag.ContinueOnError)
	fs.SetOutput(out)
	usageOf(fs, "portreqd migrate --from STORE --to STORE [flags]")
	from := fs.String("from", "", "source store: a data directory or a CouchDB URL")
	to := fs.String("to", "", "target store: a data directory or a CouchDB URL")
	fromPrefix := fs.String("from-db-prefix", "", "database name prefix on a CouchDB source")
	toPrefix := fs.String("to-db-prefix", "", "database name prefix on a CouchDB target")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("migrate needs --from and --to (a data directory or a CouchDB URL each)")
	}
	if *from == *to && *fromPrefix == *toPrefix {
		return fmt.Errorf("migrate: --from and --to name the same store")
	}
	log := zap.NewNop()
	src, srcDesc, err := openStore(ctx, *from, *fromPrefix, log)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, dstDesc, err := openStore(ctx, *to, *toPrefix, log) // installs design documents on CouchDB
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	fmt.Fprintf(out, "migrating from %s to %s\n", srcDesc, dstDesc)
	var progress io.Writer // a live bar on a terminal; in a log, only the outcome
	if isTerminal(out) {
		progress = out
	}
	rep, err := migrate.Copy(ctx, src, dst, progress)
	if err != nil {
		if rep != nil {
			fmt.Fprintln(out, "stopped after:", rep)
		}
		return err
	}
	fmt.Fprintln(out, "done:", rep)
	for _, n := range rep.Notes {
		fmt.Fprintln(out, "note:", n)
	}
	return nil
}

// isTerminal tells whether w is a terminal (a character device), where
// progress bars belong; a file or pipe would keep every frame.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
