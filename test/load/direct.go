package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// Direct seeding builds Kazoo-shaped documents here, with portreqd's own
// types (porting.Account, porting.Request, porting.Claim,
// porting.PhoneNumber and their MarshalJSON), and writes them through
// porting.RawStore into the store before portreqd starts: far faster than
// the API for 100,000 requests, and the only way to spread modified times
// over the past 90 days.

// Database names, as portreqd and Kazoo name them (without prefix).
const (
	dbAccounts     = "accounts"
	dbPortRequests = "port_requests"
	dbClaims       = "port_number_claims"
)

const (
	day         = 86400
	spreadDays  = 90  // pvt_modified of the seeded requests lies within the last 90 days
	rawBatch    = 500 // documents per RawPutMany call
	attachSize  = 50 << 10
	attachName  = "bill.pdf"
	pageAccount = 0 // index of the customer the page scenario lists
	workAccount = 1 // index of the customer the create/submit/upload pools go to
)

// stateWeights is how the seeded requests spread over the seven states
// (percent): most requests of a long-running service are finished.
var stateWeights = []struct {
	state  porting.State
	weight int
}{
	{porting.Unconfirmed, 10}, {porting.Submitted, 8}, {porting.Pending, 7}, {porting.Scheduled, 5},
	{porting.Completed, 50}, {porting.Rejected, 8}, {porting.Canceled, 12},
}

// customerWeights is how the requests spread over the nine customers
// (percent): one big customer, whose completed page is measured.
var customerWeights = []int{40, 8, 8, 8, 8, 7, 7, 7, 7}

// rawTarget is a store opened directly, written before portreqd starts.
type rawTarget interface {
	porting.RawStore
	Close() error
}

// plan is what is decided about one request before documents are built:
// two passes, so that the page account can be topped up first.
type plan struct {
	customer int
	state    porting.State
	modified int64
	attach   bool
}

// dataset is the generated accounts and the random source of everything.
type dataset struct {
	rng       *rand.Rand
	now       int64 // Gregorian seconds
	master    *porting.Account
	resellers []*porting.Account
	customers []*porting.Account
	nextNum   int64
	pdf       []byte
	pdfDigest string
}

// seedDirectly opens the Kazoo store (on CouchDB at the run's prefix, or
// on the embedded engine in dataDir), writes the data set and closes the
// store.
func seedDirectly(ctx context.Context, cfg *config, c *couchServer, prefix, dataDir, apiKey string, stderr io.Writer) (*seed, error) {
	var (
		st      rawTarget
		err     error
		workers int
	)
	if c != nil {
		st, err = openKazoo(ctx, func() (engine.Engine, error) {
			return couch.Open(ctx, couch.Options{URL: c.raw, LeaseDB: prefix + "portreqd_leases"})
		}, kazoo.Options{Prefix: prefix, KazooDesigns: true})
		workers = 8 // pouchdb-server is one Node process
	} else {
		// The directory is locked while open: it is closed below, before
		// portreqd starts on it.
		st, err = openKazoo(ctx, func() (engine.Engine, error) {
			return bolt.OpenDir(dataDir, bolt.Options{})
		}, kazoo.Options{Prefix: prefix})
		workers = 16
	}
	if err != nil {
		return nil, err
	}
	s, err := writeDataset(ctx, cfg, st, apiKey, workers, stderr)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return s, err
}

// openKazoo opens the Kazoo store on the engine open returns.
func openKazoo(ctx context.Context, open func() (engine.Engine, error), o kazoo.Options) (*kazoo.Store, error) {
	eng, err := open()
	if err != nil {
		return nil, err
	}
	s, err := kazoo.Open(ctx, eng, o)
	if err != nil {
		_ = eng.Close()
		return nil, err
	}
	return s, nil
}

// writeDataset generates the accounts and requests and writes them with
// their claims and numbers.
func writeDataset(ctx context.Context, cfg *config, st rawTarget, apiKey string, workers int, stderr io.Writer) (*seed, error) {
	start := time.Now()
	d := &dataset{
		rng: rand.New(rand.NewPCG(20260101, uint64(cfg.requests))), // the same data set for the same size
		now: porting.Gregorian(time.Now()),
	}
	d.pdf = buildPDF(attachSize, d.rng)
	sum := md5.Sum(d.pdf)
	d.pdfDigest = "md5-" + base64.StdEncoding.EncodeToString(sum[:])
	d.accounts(apiKey)

	plans, topped := d.plan(cfg.requests, cfg.maxAttachments)

	w := newRawWriter(ctx, st, workers)
	var accts []*porting.RawDoc
	for _, a := range append(append([]*porting.Account{d.master}, d.resellers...), d.customers...) {
		accts = append(accts, mustRaw(a))
	}
	w.many(dbAccounts, accts)
	w.flush() // the accounts first: a partial data set is at least browsable

	s := &seed{
		master:      d.master.ID,
		pageAccount: d.customers[pageAccount].ID,
		workAccount: d.customers[workAccount].ID,
		numbers:     newNumbers(),
		requests:    make([]seededRequest, 0, len(plans)),
	}
	stats := map[porting.State]int{}
	var nNumbers, nClaims, nInService, nAttach int
	buffers := map[string][]*porting.RawDoc{}
	add := func(db string, doc *porting.RawDoc) {
		buffers[db] = append(buffers[db], doc)
		if len(buffers[db]) >= rawBatch {
			w.many(db, buffers[db])
			buffers[db] = nil
		}
	}
	lastReport := time.Now()
	for i, p := range plans {
		if i%1000 == 0 {
			if err := w.err(); err != nil {
				w.close()
				return nil, err
			}
			if time.Since(lastReport) > 5*time.Second {
				lastReport = time.Now()
				fmt.Fprintf(stderr, "load: seeding: %d of %d requests generated, %d documents written (%.0f/s)\n",
					i, len(plans), w.written.Load(), float64(w.written.Load())/time.Since(start).Seconds())
			}
		}
		r, claims, numbers := d.request(i, p)
		stats[p.state]++
		nNumbers += len(r.Numbers())
		raw := mustRaw(r)
		if rawDocIsUnconfirmed(p) && s.rawDoc == nil {
			s.rawDoc = bodyOnly(raw)
		}
		if p.attach {
			nAttach++
			w.one(dbPortRequests, raw, d.pdf)
		} else {
			add(dbPortRequests, raw)
		}
		for _, c := range claims {
			add(dbClaims, mustRaw(c))
			nClaims++
		}
		for _, n := range numbers {
			add(porting.NumberDB(n.Number), mustRaw(n))
			nInService++
		}
		nums := r.Numbers()
		s.requests = append(s.requests, seededRequest{id: r.ID, account: r.AccountID, number: nums[d.rng.IntN(len(nums))]})
	}
	dbs := make([]string, 0, len(buffers))
	for db := range buffers {
		dbs = append(dbs, db)
	}
	slices.Sort(dbs)
	for _, db := range dbs {
		if len(buffers[db]) > 0 {
			w.many(db, buffers[db])
		}
	}
	w.close()
	if err := w.err(); err != nil {
		return nil, err
	}
	took := time.Since(start)

	s.notes = append(s.notes,
		fmt.Sprintf("written directly into the store before portreqd started (porting.RawStore: RawPutMany in batches of %d, RawPut for documents with an attachment), "+
			"%d documents in %.1fs (%.0f documents/s)", rawBatch, w.written.Load(), took.Seconds(), float64(w.written.Load())/took.Seconds()),
		fmt.Sprintf("accounts: 13 in a tree three levels deep (master → 3 resellers → 3 customers each); requests on the 9 customers, %d%% on the customer whose completed page is measured",
			customerWeights[pageAccount]),
		fmt.Sprintf("%d port requests (%s), %d numbers (1–20 per request, 40%% with one), pvt_modified spread evenly over the last %d days, a bill block on each",
			len(plans), stateSummary(stats), nNumbers, spreadDays),
		fmt.Sprintf("%d number claims (port_number_claims, for submitted/pending/scheduled) and %d numbers in service (numbers/<prefix> databases, for completed)", nClaims, nInService),
	)
	quarter := len(plans) / 4
	if nAttach < quarter {
		s.notes = append(s.notes, fmt.Sprintf("a 50 KB PDF attachment (%s) on %d requests, spread over all of them: fewer than the quarter (%d) of the realistic mix, capped by -max-attachments. "+
			"Attachments are only read by downloads, which no scenario measures on seeded requests; they weigh on the store's size and cache (the embedded store keeps them in its one file), so the cap flatters large runs a little",
			attachName, nAttach, quarter))
	} else {
		s.notes = append(s.notes, fmt.Sprintf("a 50 KB PDF attachment (%s) on %d requests (a quarter)", attachName, nAttach))
	}
	if topped > 0 {
		s.notes = append(s.notes, fmt.Sprintf("%d requests of the page customer were made completed in the last 30 days so that its completed page is full (small data sets only)", topped))
	}
	return s, nil
}

func rawDocIsUnconfirmed(p plan) bool { return p.state == porting.Unconfirmed && !p.attach }

// bodyOnly is a request document's members without _id, _rev and
// _attachments: the body couch_put_doc writes.
func bodyOnly(d *porting.RawDoc) []byte { return slices.Clone(d.Body) }

func stateSummary(stats map[porting.State]int) string {
	var b bytes.Buffer
	for i, s := range porting.States {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", stats[s], s)
	}
	return b.String()
}

// id is a Kazoo-shaped id (32 lowercase hex) from the data set's source.
func (d *dataset) id() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(d.rng.Uint32())
	}
	return hex.EncodeToString(b[:])
}

// accounts builds the tree: the master (superduper admin, port authority,
// the run's API key, LOA branding), three resellers, nine customers.
func (d *dataset) accounts(apiKey string) {
	created := d.now - (spreadDays+30)*day
	d.master = &porting.Account{
		ID: d.id(), Name: "Load Test Telecom", Tree: []string{}, APIKey: apiKey,
		SuperDuperAdmin: true, PortAuthority: true, Created: created, Modified: created,
		Other: porting.Fields{},
	}
	d.master.Other.Set("realm", "loadtest.example.net")
	d.master.Other.Set("timezone", "America/Chicago")
	d.master.Other.Set("language", "en-us")
	d.master.Other.Set("loa_profile", map[string]any{
		"name": "Load Test Telecom", "address_lines": []string{"100 Main Street", "Chicago, IL 60601"},
		"email": "porting@loadtest.example.net", "phone": "+13125550100",
	})
	for r := range 3 {
		re := &porting.Account{
			ID: d.id(), Name: "Reseller " + strconv.Itoa(r+1), Tree: []string{d.master.ID}, APIKey: randomHex(32),
			Created: created + int64(r+1)*day, Modified: created + int64(r+1)*day, Other: porting.Fields{},
		}
		re.Other.Set("realm", "reseller"+strconv.Itoa(r+1)+".loadtest.example.net")
		re.Other.Set("timezone", "America/New_York")
		d.resellers = append(d.resellers, re)
		for c := range 3 {
			cu := &porting.Account{
				ID: d.id(), Name: fmt.Sprintf("Customer %d.%d", r+1, c+1), Tree: []string{d.master.ID, re.ID}, APIKey: randomHex(32),
				Created: re.Created + int64(c+1)*day, Modified: re.Created + int64(c+1)*day, Other: porting.Fields{},
			}
			cu.Other.Set("realm", fmt.Sprintf("c%d-%d.reseller%d.loadtest.example.net", r+1, c+1, r+1))
			cu.Other.Set("timezone", "America/Los_Angeles")
			d.customers = append(d.customers, cu)
		}
	}
}

// plan decides account, state, modified time and attachment of every
// request; it then makes sure the page customer has a full completed page
// inside the listing's default 31-day window (with an hour to spare, as
// the window moves during the run), topping up small data sets.
func (d *dataset) plan(n, maxAttach int) ([]plan, int) {
	plans := make([]plan, n)
	attachEvery := 4
	if maxAttach > 0 && n/attachEvery > maxAttach {
		attachEvery = (n + maxAttach - 1) / maxAttach
	}
	for i := range plans {
		plans[i] = plan{
			customer: pick(d.rng, customerWeights),
			state:    stateWeights[pick(d.rng, stateWeightList)].state,
			modified: d.now - 60 - d.rng.Int64N(spreadDays*day),
			attach:   maxAttach > 0 && i%attachEvery == attachEvery/2,
		}
	}
	const want = 55 // a page of 50, and a few rows that may slide out of the window
	edge := d.now - porting.MaxWindow + 3600
	have := 0
	for _, p := range plans {
		if p.customer == pageAccount && p.state == porting.Completed && p.modified > edge {
			have++
		}
	}
	topped := 0
	for i := range plans {
		if have >= want {
			break
		}
		p := &plans[i]
		if p.customer == pageAccount && p.state == porting.Completed && p.modified > edge {
			continue
		}
		p.customer, p.state, p.modified = pageAccount, porting.Completed, d.now-60-d.rng.Int64N(30*day)
		have++
		topped++
	}
	return plans, topped
}

var stateWeightList = func() []int {
	w := make([]int, len(stateWeights))
	for i, s := range stateWeights {
		w[i] = s.weight
	}
	return w
}()

// pick returns an index with probability proportional to its weight.
func pick(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := rng.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// number hands out the next seeded number: area codes 900–999 in turn,
// which the load-time generator (newNumbers: +12…+18) never reaches, so
// that creations and submissions during the run never collide with them.
// They spread over 100 number databases (numbers/+1900 … numbers/+1999).
func (d *dataset) number() string {
	k := d.nextNum
	d.nextNum++
	return fmt.Sprintf("+1%03d%07d", 900+k%100, 2_000_000+k/100)
}

var (
	cities = []struct{ locality, region, zip string }{
		{"Chicago", "IL", "60601"}, {"Austin", "TX", "73301"}, {"Denver", "CO", "80202"}, {"Portland", "OR", "97201"},
		{"Atlanta", "GA", "30303"}, {"Boston", "MA", "02108"}, {"Phoenix", "AZ", "85001"}, {"Seattle", "WA", "98101"},
	}
	carriers = []string{"Verizon", "AT&T", "Lumen", "Comcast Business", "Frontier", "Bandwidth"}
	streets  = []string{"Main Street", "Oak Avenue", "Market Street", "2nd Street", "Lake Shore Drive", "Elm Street"}
)

// request builds request i from its plan, with the claims it holds (when
// active) and the numbers it put in service (when completed).
func (d *dataset) request(i int, p plan) (*porting.Request, []*porting.Claim, []*porting.PhoneNumber) {
	acct := d.customers[p.customer]
	k := 1
	if d.rng.IntN(100) >= 40 {
		k = 2 + d.rng.IntN(19)
	}
	nums := make([]string, k)
	numbers := map[string]map[string]any{}
	for j := range nums {
		nums[j] = d.number()
		numbers[nums[j]] = map[string]any{}
	}
	city := cities[d.rng.IntN(len(cities))]
	carrier := carriers[d.rng.IntN(len(carriers))]
	created := p.modified - d.rng.Int64N(21*day)
	if p.state == porting.Unconfirmed && d.rng.IntN(2) == 0 {
		created = p.modified // never edited since its creation
	}
	bill := map[string]any{
		"name":           acct.Name + " Inc.",
		"street_address": strconv.Itoa(100+d.rng.IntN(9800)) + " " + streets[d.rng.IntN(len(streets))],
		"locality":       city.locality, "region": city.region, "postal_code": city.zip,
		"account_number": fmt.Sprintf("%s-%07d", carrier[:1], d.rng.IntN(10_000_000)),
		"btn":            nums[0],
		"carrier":        carrier,
	}
	if d.rng.IntN(3) == 0 {
		bill["pin"] = strconv.Itoa(1000 + d.rng.IntN(9000))
	}
	pub := porting.Fields{}
	pub.Set("name", fmt.Sprintf("%s port %d", acct.Name, i+1))
	pub.Set("numbers", numbers)
	pub.Set("bill", bill)
	pub.Set("carrier", carrier)
	pub.Set("notifications", map[string]any{"email": map[string]any{"send_to": "noc@" + acct.Other.String("realm")}})
	r := &porting.Request{
		ID: d.id(), Public: pub, State: p.state, AccountID: acct.ID,
		Tree:    append(slices.Clone(acct.Tree), acct.ID),
		Created: created, Modified: p.modified, Private: porting.Fields{},
	}
	if p.state == porting.Scheduled || p.state == porting.Completed {
		pub.Set("scheduled_date", p.modified+day*int64(d.rng.IntN(3)))
	}
	// The moves that led to the state, evenly spaced from creation to the
	// last modification.
	var path [][2]porting.State
	u, s, pe, sc := porting.Unconfirmed, porting.Submitted, porting.Pending, porting.Scheduled
	switch p.state {
	case porting.Submitted:
		path = [][2]porting.State{{u, s}}
	case porting.Pending:
		path = [][2]porting.State{{u, s}, {s, pe}}
	case porting.Scheduled:
		path = [][2]porting.State{{u, s}, {s, pe}, {pe, sc}}
	case porting.Completed:
		path = [][2]porting.State{{u, s}, {s, pe}, {pe, sc}, {sc, porting.Completed}}
	case porting.Rejected:
		path = [][2]porting.State{{u, s}, {s, porting.Rejected}}
	case porting.Canceled:
		path = [][2]porting.State{{u, porting.Canceled}}
	}
	var submittedAt int64
	for j, mv := range path {
		var t porting.Transition
		t.Timestamp = created + (p.modified-created)*int64(j+1)/int64(len(path))
		t.Type = "transition"
		t.Transition = porting.TransitionState{New: mv[1], Previous: mv[0]}
		who := d.master
		if mv[1] == porting.Submitted || mv[0] == porting.Unconfirmed {
			who = acct
		}
		t.Authorization.Account.ID, t.Authorization.Account.Name = who.ID, who.Name
		if mv[1] == porting.Rejected {
			t.Reason = "losing carrier: account number does not match"
		}
		if mv[1] == porting.Submitted {
			submittedAt = t.Timestamp
		}
		r.Transitions = append(r.Transitions, t)
	}
	if p.attach {
		r.Attachments = map[string]porting.Attachment{attachName: {
			ContentType: "application/pdf", Length: int64(len(d.pdf)), Digest: d.pdfDigest,
		}}
	}
	var claims []*porting.Claim
	var inService []*porting.PhoneNumber
	switch {
	case p.state.Active():
		for _, n := range nums {
			claims = append(claims, &porting.Claim{Number: n, RequestID: r.ID, AccountID: acct.ID, Created: submittedAt, Type: porting.ClaimType})
		}
	case p.state == porting.Completed:
		for _, n := range nums {
			inService = append(inService, &porting.PhoneNumber{Number: n, State: porting.NumberInService, AssignedTo: acct.ID,
				PortedIn: true, PortID: r.ID, Created: p.modified, Modified: p.modified, Other: porting.Fields{}})
		}
	}
	return r, claims, inService
}

// mustRaw marshals a document with its own MarshalJSON and splits it as the
// stores keep it.
func mustRaw(v any) *porting.RawDoc {
	b, err := json.Marshal(v)
	if err != nil {
		panic("load: marshal seed document: " + err.Error())
	}
	d, err := porting.SplitRaw(b)
	if err != nil {
		panic("load: split seed document: " + err.Error())
	}
	return d
}

// rawWriter writes batches on a few goroutines: RawPutMany for documents
// without attachments, RawPut for the others. The first error stops it.
type rawWriter struct {
	ctx     context.Context
	st      rawTarget
	workers int
	jobs    chan func() error
	wg      sync.WaitGroup
	mu      sync.Mutex
	first   error
	written atomic.Int64
}

func newRawWriter(ctx context.Context, st rawTarget, workers int) *rawWriter {
	w := &rawWriter{ctx: ctx, st: st, workers: workers}
	w.start(workers)
	return w
}

func (w *rawWriter) start(workers int) {
	w.jobs = make(chan func() error, workers*2)
	for range workers {
		w.wg.Go(func() {
			for job := range w.jobs {
				if w.err() != nil {
					continue
				}
				if err := job(); err != nil {
					w.mu.Lock()
					if w.first == nil {
						w.first = err
					}
					w.mu.Unlock()
				}
			}
		})
	}
}

func (w *rawWriter) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == nil && w.ctx.Err() != nil {
		return w.ctx.Err()
	}
	return w.first
}

func (w *rawWriter) many(db string, docs []*porting.RawDoc) {
	w.jobs <- func() error {
		if err := w.st.RawPutMany(w.ctx, db, docs); err != nil {
			return fmt.Errorf("RawPutMany %s (%d documents): %w", db, len(docs), err)
		}
		w.written.Add(int64(len(docs)))
		return nil
	}
}

func (w *rawWriter) one(db string, doc *porting.RawDoc, body []byte) {
	w.jobs <- func() error {
		open := func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		if err := w.st.RawPut(w.ctx, db, doc, open); err != nil {
			return fmt.Errorf("RawPut %s/%s: %w", db, doc.ID, err)
		}
		w.written.Add(1)
		return nil
	}
}

// flush waits for every queued write and makes the writer usable again.
func (w *rawWriter) flush() {
	w.close()
	w.start(w.workers)
}

// close waits for every queued write and ends the workers.
func (w *rawWriter) close() {
	close(w.jobs)
	w.wg.Wait()
}

// buildPDF is a well-formed one-page PDF of about size bytes (within a
// few hundred): the filler is an image stream of random (incompressible, as scans are) bytes,
// and the cross-reference table holds the true offsets.
func buildPDF(size int, rng *rand.Rand) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>")
	content := "q 612 0 0 792 0 0 cm /Im1 Do Q"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	n := max(size-b.Len()-300, 16) // the image: n grey pixels in one row
	fill := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			fill[i+j] = byte(v >> (8 * j))
		}
	}
	offsets = append(offsets, b.Len())
	fmt.Fprintf(&b, "5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n",
		n, n)
	b.Write(fill)
	b.WriteString("\nendstream\nendobj\n")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}
