package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one of portreqd's subcommands, for the help text.
type command struct {
	name, args, what string
}

// commands lists every subcommand; serving the API is the default.
var commands = []command{
	{"", "[flags]", "serve the API (the default): the embedded store under --data-dir, or CouchDB with --couchdb"},
	{"migrate", "--from STORE --to STORE", "copy every document from one store (a data directory or a CouchDB URL) to another, and verify"},
	{"replicate", "--site URL --site URL…", "set up and keep replication between sites; `replicate status` reports on it"},
	{"master-key", "show|rotate [flags]", "show the master account's API key, or replace it (for whoever holds the store)"},
	{"healthcheck", "[--listen ADDR]", "probe a running portreqd's /healthz (the container image's health check)"},
	{"help", "[command]", "this text, or a command's flags"},
}

// helpCmd prints the overview, or a subcommand's help when named.
func helpCmd(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	if len(args) == 0 {
		printOverview(out, getenv)
		return nil
	}
	switch args[0] {
	case "migrate", "replicate", "master-key", "healthcheck":
		// Each command's own flag set prints its flags for --help.
		return runHelpOf(ctx, args[0], out, getenv)
	case "serve", "help":
		printOverview(out, getenv)
		return nil
	}
	return fmt.Errorf("help: no command %q (commands: migrate, replicate, master-key, healthcheck)", args[0])
}

// runHelpOf asks a subcommand for its --help.
func runHelpOf(ctx context.Context, name string, out io.Writer, getenv func(string) string) error {
	var err error
	help := []string{"--help"}
	switch name {
	case "migrate":
		err = migrateCmd(ctx, help, out)
	case "replicate":
		err = replicateCmd(ctx, help, out)
	case "master-key":
		err = masterKeyCmd(ctx, help, getenv, out)
	case "healthcheck":
		err = healthcheck(ctx, help, getenv, out)
	}
	if isHelp(err) {
		return nil
	}
	return err
}

// printOverview is `portreqd help`: what portreqd is, its commands, and
// the server's flags with their environment variables.
func printOverview(out io.Writer, getenv func(string) string) {
	fmt.Fprint(out, `portreqd serves 2600Hz Kazoo Crossbar's port_requests API, storing its data
in CouchDB as Kazoo does, or in an embedded store on one machine.

Usage:
`)
	for _, c := range commands {
		fmt.Fprintf(out, "  %s\n      %s\n", strings.Join(strings.Fields("portreqd "+c.name+" "+c.args), " "), c.what)
	}
	fmt.Fprint(out, "\nServer flags (each also read from the PORTREQ_ environment variable shown;\na flag on the command line wins):\n\n")
	fs := serverFlags(&config{})
	printFlags(out, fs, func(string) bool { return true })
	fmt.Fprint(out, "\n`portreqd help COMMAND` (or `portreqd COMMAND --help`) shows a command's flags.\n")
}

// printFlags lists fs's flags, one paragraph each, with the environment
// variable of those withEnv accepts.
func printFlags(out io.Writer, fs *flag.FlagSet, withEnv func(name string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		if withEnv(f.Name) {
			line += "  (" + envName(f.Name) + ")"
		}
		fmt.Fprintln(out, line)
		fmt.Fprintf(out, "      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(out, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(out)
	})
}

// usageOf makes fs print a command's synopsis and flags for --help; the
// flags named in env also read PORTREQ_ variables.
func usageOf(fs *flag.FlagSet, synopsis string, env ...string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", synopsis)
		printFlags(fs.Output(), fs, func(name string) bool { return slices.Contains(env, name) })
	}
}

// isHelp tells whether err is a flag set's answer to -h or --help, which
// is no failure: help exits 0.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
