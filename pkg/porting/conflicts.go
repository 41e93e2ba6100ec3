package porting

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Sites that replicate to each other can each change one port request
// before they see the other's change; CouchDB then keeps both revisions
// (a conflict) and serves one of them, chosen arbitrarily. MergeRequestLeaves
// is the rule that turns the live revisions of one request into one
// document, the same on every site whatever order they arrive in:
//
//   - the base is the revision modified last (pvt_modified; ties go to the
//     revision CouchDB ranks higher): its members win where revisions
//     differ, except as below;
//   - history is the union of every revision's: transitions (newest first)
//     and comments (oldest first), each entry once;
//   - the state: completed if any revision completed it (its numbers are in
//     service); else canceled if any canceled it (its claims are released);
//     else the state of the newest transition in the merged history;
//   - attachments: every name any revision has; for a name on several, the
//     one of the revision modified last (MergedRequest.AttachmentFrom);
//   - a comment from portreqd records the merge on the request's timeline.
//
// The merged document's bytes depend only on the set of revisions, so two
// sites resolving the same conflict write the same revision, and
// replication brings no new conflict.

// Leaf is one live revision of a document in conflict.
type Leaf struct {
	Rev string
	Doc []byte
}

// MergedRequest is the resolution of a request's conflict.
type MergedRequest struct {
	// Base is the revision the merged document is written over; the
	// other revisions are deleted.
	Base string
	Doc  []byte // the merged document, _id and _rev (Base) included, no _attachments
	// Attachments names, for each attachment the merged document keeps,
	// the revision whose copy it keeps.
	Attachments map[string]string
	State       State
	Note        string // what the timeline comment says
}

// revRank orders revisions as CouchDB ranks conflict winners: the higher
// generation, then the greater hash.
func revRank(a, b string) int {
	ga, ha, _ := strings.Cut(a, "-")
	gb, hb, _ := strings.Cut(b, "-")
	if c := cmp.Compare(len(ga), len(gb)); c != 0 {
		return c
	}
	if c := strings.Compare(ga, gb); c != 0 {
		return c
	}
	return strings.Compare(ha, hb)
}

type leafDoc struct {
	rev      string
	members  map[string]json.RawMessage
	modified int64
	state    State
}

// MergeRequestLeaves merges the live revisions of one port request (two
// or more) by the rule above.
func MergeRequestLeaves(leaves []Leaf) (*MergedRequest, error) {
	if len(leaves) < 2 {
		return nil, fmt.Errorf("merge: %d revisions, nothing to merge", len(leaves))
	}
	docs := make([]leafDoc, 0, len(leaves))
	for _, l := range leaves {
		d := leafDoc{rev: l.Rev}
		if err := json.Unmarshal(l.Doc, &d.members); err != nil {
			return nil, fmt.Errorf("merge: revision %s is not a JSON object: %w", l.Rev, err)
		}
		_ = json.Unmarshal(d.members["pvt_modified"], &d.modified)
		_ = json.Unmarshal(d.members["pvt_port_state"], &d.state)
		docs = append(docs, d)
	}
	// Last modified first; CouchDB's ranking breaks ties.
	slices.SortFunc(docs, func(a, b leafDoc) int {
		if c := cmp.Compare(b.modified, a.modified); c != 0 {
			return c
		}
		return revRank(b.rev, a.rev)
	})
	base := docs[0]
	out := make(map[string]json.RawMessage, len(base.members)+2)
	for k, v := range base.members {
		out[k] = v
	}
	delete(out, "_conflicts")
	delete(out, "_attachments")
	delete(out, "_deleted")
	out["_rev"] = mustMarshal(base.rev)

	transitions := unionEntries(docs, "pvt_transitions")
	slices.SortStableFunc(transitions, func(a, b entry) int {
		if c := cmp.Compare(b.timestamp, a.timestamp); c != 0 {
			return c
		}
		return bytes.Compare(a.raw, b.raw)
	})
	comments := unionEntries(docs, "comments")
	slices.SortStableFunc(comments, func(a, b entry) int {
		if c := cmp.Compare(a.timestamp, b.timestamp); c != 0 {
			return c
		}
		return bytes.Compare(a.raw, b.raw)
	})

	state := mergedState(docs, transitions)
	modified := base.modified
	revs := make([]string, len(docs))
	states := make([]string, len(docs))
	for i, d := range docs {
		revs[i] = d.rev
		states[i] = string(d.state)
	}
	note := fmt.Sprintf("Changes made at two sites at once were merged (revisions %s, states %s): the request is %s, with every transition and comment of each.",
		strings.Join(revs, ", "), strings.Join(states, ", "), state)
	comments = append(comments, entry{timestamp: modified, raw: mustMarshal(map[string]any{
		"timestamp": modified, "content": note, "author": "portreqd", "is_private": false})})

	out["pvt_port_state"] = mustMarshal(state)
	out["pvt_modified"] = mustMarshal(modified)
	if len(transitions) > 0 {
		out["pvt_transitions"] = rawArray(transitions)
	}
	out["comments"] = rawArray(comments)
	// Every event any revision wrote stays to be delivered (by the site
	// that wrote it), and the merge adds its own: its id and content come
	// from the revisions merged, so every site writes the same one, and
	// the site of the newest event before it delivers it.
	outbox := unionEntries(docs, outboxMember)
	slices.SortStableFunc(outbox, func(a, b entry) int {
		if c := cmp.Compare(a.timestamp, b.timestamp); c != 0 {
			return c
		}
		return bytes.Compare(a.raw, b.raw)
	})
	// One event under one id: copies differ when two sites wrote one
	// creation (an Idempotency-Key's event id is the request's); the
	// earliest stays, which every site picks alike.
	ids := map[string]bool{}
	outbox = slices.DeleteFunc(outbox, func(e entry) bool {
		if e.id == "" {
			return false
		}
		dup := ids[e.id]
		ids[e.id] = true
		return dup
	})
	merged := Event{ID: mergeEventID(revs), Type: EventConflictResolved, Timestamp: modified, State: state, Reason: note}
	merged.Actor.Name = "portreqd"
	_ = json.Unmarshal(base.members["_id"], &merged.RequestID)
	_ = json.Unmarshal(base.members["pvt_account_id"], &merged.AccountID)
	if len(outbox) > 0 {
		var last Event
		_ = json.Unmarshal(outbox[len(outbox)-1].raw, &last)
		merged.Site = last.Site
	}
	outbox = append(outbox, entry{timestamp: modified, raw: mustMarshal(merged)})
	out[outboxMember] = rawArray(outbox)

	atts := map[string]string{}
	for i := len(docs) - 1; i >= 0; i-- { // the last modified revision's copy wins
		var stubs map[string]json.RawMessage
		_ = json.Unmarshal(docs[i].members["_attachments"], &stubs)
		for name := range stubs {
			atts[name] = docs[i].rev
		}
	}
	// Members sorted, strings as stored (no HTML escaping): the same bytes
	// on every site.
	var doc bytes.Buffer
	enc := json.NewEncoder(&doc)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return &MergedRequest{Base: base.rev, Doc: bytes.TrimSpace(doc.Bytes()), Attachments: atts, State: state, Note: note}, nil
}

// mergedState applies the state rule to the revisions and their merged
// transitions (newest first).
func mergedState(docs []leafDoc, transitions []entry) State {
	for _, terminal := range []State{Completed, Canceled} {
		for _, d := range docs {
			if d.state == terminal {
				return terminal
			}
		}
	}
	for _, t := range transitions {
		var tr struct {
			Transition struct {
				New State `json:"new"`
			} `json:"transition"`
		}
		if json.Unmarshal(t.raw, &tr) == nil && tr.Transition.New != "" {
			for _, d := range docs {
				if d.state == tr.Transition.New {
					return tr.Transition.New
				}
			}
		}
	}
	return docs[0].state
}

// entry is one element of a history array, compacted so that equal entries
// from two revisions compare equal.
type entry struct {
	timestamp int64
	id        string // the entry's "id" member (events have one), "" for none
	raw       []byte
}

func unionEntries(docs []leafDoc, member string) []entry {
	seen := map[string]bool{}
	var out []entry
	for _, d := range docs {
		var items []json.RawMessage
		if json.Unmarshal(d.members[member], &items) != nil {
			continue
		}
		for _, it := range items {
			var buf bytes.Buffer
			if json.Compact(&buf, it) != nil || seen[buf.String()] {
				continue
			}
			seen[buf.String()] = true
			var head struct {
				Timestamp int64  `json:"timestamp"`
				ID        string `json:"id"`
			}
			_ = json.Unmarshal(it, &head)
			out = append(out, entry{timestamp: head.Timestamp, id: head.ID, raw: buf.Bytes()})
		}
	}
	return out
}

func rawArray(es []entry) json.RawMessage {
	b := []byte{'['}
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.raw...)
	}
	return append(b, ']')
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("porting: encode: " + err.Error())
	}
	return b
}

// LastModifiedLeaf is the rule for documents without a history to merge
// (accounts, numbers): the revision modified last (pvt_modified; ties go
// to the revision CouchDB ranks higher) stands and the others are
// deleted. Revisions of one document created independently at two sites
// (the master account, whose id is fixed, made by a site that started
// before it replicated) are not edits of one another: there the earliest
// creation (pvt_created) stands, so that the master every site already
// uses keeps its key. It returns the revision that stands.
func LastModifiedLeaf(leaves []Leaf) string {
	best, bestMod, bestCreated := "", int64(0), int64(0)
	for i, l := range leaves {
		var d struct {
			Created  int64 `json:"pvt_created"`
			Modified int64 `json:"pvt_modified"`
		}
		_ = json.Unmarshal(l.Doc, &d)
		better := d.Modified > bestMod || (d.Modified == bestMod && revRank(l.Rev, best) > 0)
		if d.Created != 0 && bestCreated != 0 && d.Created != bestCreated {
			better = d.Created < bestCreated
		}
		if i == 0 || better {
			best, bestMod, bestCreated = l.Rev, d.Modified, d.Created
		}
	}
	return best
}

// mergeEventID is the id of the event a merge of revs writes: the same
// for the same revisions on every site.
func mergeEventID(revs []string) string {
	sorted := slices.Clone(revs)
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	return hex.EncodeToString(sum[:16])
}
