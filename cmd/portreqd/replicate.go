package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/sites"
)

// siteList is a repeatable --site flag.
type siteList []string

func (s *siteList) String() string { return strings.Join(*s, ",") }
func (s *siteList) Set(v string) error {
	if !isCouchURL(v) {
		return fmt.Errorf("a site is a CouchDB URL (http:// or https://), got %q", couch.MaskURL(v))
	}
	*s = append(*s, v)
	return nil
}

// replicateCmd sets up and keeps replication between sites, or reports on
// it:
//
//	portreqd replicate --site http://admin:secret@a:5984 --site http://admin:secret@b:5984
//	portreqd replicate status --site … --site …
//
// Each site pulls every shared database of every other site, continuously
// (package sites). Without --once it stays and adds the databases that
// appear, every --every.
func replicateCmd(ctx context.Context, args []string, out io.Writer) error {
	status := len(args) > 0 && args[0] == "status"
	if status {
		args = args[1:]
	}
	fs := flag.NewFlagSet("portreqd replicate", flag.ContinueOnError)
	fs.SetOutput(out)
	usageOf(fs, "portreqd replicate [status] --site URL --site URL… [flags]")
	var urls siteList
	fs.Var(&urls, "site", "a site's CouchDB URL with admin credentials, as the other sites reach it (repeat for each site; at least two)")
	prefix := fs.String("db-prefix", "", "database name prefix of portreqd's databases (as given to portreqd)")
	once := fs.Bool("once", false, "set the replications up once and exit")
	remove := fs.Bool("remove", false, "delete the replication documents (the replications stop; data stays) and exit")
	every := fs.Duration("every", 30*time.Second, "how often to look for new databases to replicate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(urls) < 2 {
		return errors.New("replicate needs --site at least twice (every site, this one included)")
	}
	if *every < time.Second {
		return fmt.Errorf("--every must be at least 1s, got %s", *every)
	}
	k := &sites.Keeper{Prefix: *prefix, Log: slog.New(slog.NewTextHandler(out, nil))}
	for _, u := range urls {
		eng, err := couch.Open(ctx, couch.Options{URL: u, Logger: zap.NewNop(), LeaseDB: *prefix + "portreqd_leases"})
		if err != nil {
			return fmt.Errorf("site %s: %w", couch.MaskURL(u), err)
		}
		defer eng.Close()
		k.Sites = append(k.Sites, sites.Site{URL: u, Engine: eng})
	}
	switch {
	case status:
		return printStatus(ctx, k, out)
	case *remove:
		n, err := k.Remove(ctx)
		fmt.Fprintf(out, "removed %d replication documents\n", n)
		return err
	}
	for {
		rep, err := k.Sync(ctx)
		if err != nil {
			if *once || ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(out, "replicate: %v (next try in %s)\n", err, *every)
		} else {
			fmt.Fprintln(out, "replicate:", rep)
		}
		if *once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
}

// printStatus writes one line per replication and fails when any is not
// running (or waiting its turn), so that it serves as a health check.
func printStatus(ctx context.Context, k *sites.Keeper, out io.Writer) error {
	st, err := k.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tDATABASE\tFROM\tSTATE\tDOCS WRITTEN\tPENDING\tERROR")
	bad := 0
	for _, s := range st {
		from, db := "", s.DocID
		if rest, ok := strings.CutPrefix(s.DocID, "portreqd:"); ok {
			if i := strings.LastIndexByte(rest, ':'); i >= 0 {
				from, db = rest[:i], rest[i+1:]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Site, db, from, s.State, count(s.DocsWritten), count(s.ChangesPending), s.Error)
		if !s.Healthy() {
			bad++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case len(st) == 0:
		return errors.New("no replication set up (run portreqd replicate)")
	case bad > 0:
		return fmt.Errorf("%d of %d replications are not running", bad, len(st))
	}
	return nil
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
