package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSample is one reading of /proc/<pid>/status.
type rssSample struct {
	rssMB  float64 // VmRSS: resident now
	hwmMB  float64 // VmHWM: the highest VmRSS so far (peak)
	anonMB float64 // RssAnon: the resident part that is the process's own memory (heap, stacks)
	fileMB float64 // RssFile: resident pages of mapped files (bbolt maps its data file)
}

// readRSS reads VmRSS and VmHWM of pid (Linux only).
func readRSS(pid int) (rssSample, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return rssSample{}, err
	}
	defer f.Close()
	var s rssSample
	fields := map[string]*float64{"VmRSS": &s.rssMB, "VmHWM": &s.hwmMB, "RssAnon": &s.anonMB, "RssFile": &s.fileMB}
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		dst := fields[k]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return rssSample{}, fmt.Errorf("/proc/%d/status %s: %q", pid, k, v)
		}
		*dst = kb / 1024
		found++
	}
	if found < 2 {
		return rssSample{}, fmt.Errorf("/proc/%d/status: no VmRSS/VmHWM", pid)
	}
	return s, sc.Err()
}

// memory is portreqd's memory over the run. VmRSS counts the pages of
// mapped files too: the embedded store maps its data file, so reading many
// documents raises VmRSS by page cache the kernel can drop at any time;
// RssAnon is the process's own memory.
type memory struct {
	StartMB         float64 `json:"start_rss_mb"`       // VmRSS when the first measurement starts (after seeding and login)
	SteadyMB        float64 `json:"steady_rss_mb"`      // median VmRSS sampled during the portreqd runs at the largest client count
	SteadyAnonMB    float64 `json:"steady_anon_mb"`     // median RssAnon over the same samples
	MaxSampleMB     float64 `json:"max_sampled_rss_mb"` // the largest VmRSS sampled during any run
	MaxSampleAnonMB float64 `json:"max_sampled_anon_mb"`
	PeakMB          float64 `json:"peak_rss_mb"` // VmHWM at the end: the peak over the process's life
	Samples         int     `json:"samples"`
	SteadyAt        int     `json:"steady_clients"`
	// Mixed is the steady RSS of the mixed scenario alone, at the largest
	// client count: the service's everyday load.
	Mixed *steadyRSS `json:"mixed,omitempty"`
}

// steadyRSS sums up the samples of one scenario at one client count.
type steadyRSS struct {
	Scenario     string  `json:"scenario"`
	Clients      int     `json:"clients"`
	MedianMB     float64 `json:"median_rss_mb"`
	MedianAnonMB float64 `json:"median_anon_mb"`
	MaxMB        float64 `json:"max_rss_mb"`
	MaxAnonMB    float64 `json:"max_anon_mb"`
	Samples      int     `json:"samples"`
}

// rssPeriod is how often VmRSS is sampled during a measured run.
const rssPeriod = 100 * time.Millisecond

// rssWatch samples portreqd's VmRSS during the measured part of each run.
type rssWatch struct {
	pid        int
	mu         sync.Mutex
	all        []rssSample
	by         map[int][]rssSample    // client count → samples
	byScenario map[string][]rssSample // rateKey(scenario, clients) → samples
}

func newRSSWatch(pid int) *rssWatch {
	return &rssWatch{pid: pid, by: map[int][]rssSample{}, byScenario: map[string][]rssSample{}}
}

// during samples from after the warmup until stop is called; stop returns
// the largest sample (VmRSS and RssAnon maxima) and the VmHWM at the end
// of the run.
func (w *rssWatch) during(name string, clients int, warmup time.Duration) (stop func() (largest rssSample, hwm float64)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var local []rssSample
	wg.Go(func() {
		select {
		case <-time.After(warmup):
		case <-done:
			return
		}
		t := time.NewTicker(rssPeriod)
		defer t.Stop()
		for {
			if s, err := readRSS(w.pid); err == nil {
				local = append(local, s)
			}
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	})
	return func() (rssSample, float64) {
		close(done)
		wg.Wait()
		hwm := 0.0
		if s, err := readRSS(w.pid); err == nil {
			hwm = s.hwmMB
			local = append(local, s)
		}
		w.mu.Lock()
		w.all = append(w.all, local...)
		w.by[clients] = append(w.by[clients], local...)
		w.byScenario[rateKey(name, clients)] = append(w.byScenario[rateKey(name, clients)], local...)
		w.mu.Unlock()
		var m rssSample
		for _, s := range local {
			m.rssMB, m.anonMB = max(m.rssMB, s.rssMB), max(m.anonMB, s.anonMB)
		}
		return m, hwm
	}
}

// summarize fills m from the samples: steady is the median at the largest
// client count.
func (w *rssWatch) summarize(m *memory, clients int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m.Samples = len(w.all)
	for _, s := range w.all {
		m.MaxSampleMB, m.MaxSampleAnonMB = max(m.MaxSampleMB, s.rssMB), max(m.MaxSampleAnonMB, s.anonMB)
	}
	if at := w.by[clients]; len(at) > 0 {
		st := steadyOf(at)
		m.SteadyMB, m.SteadyAnonMB, m.SteadyAt = st.MedianMB, st.MedianAnonMB, clients
	}
	if at := w.byScenario[rateKey(mixedName, clients)]; len(at) > 0 {
		st := steadyOf(at)
		st.Scenario, st.Clients = mixedName, clients
		m.Mixed = &st
	}
}

// steadyOf is the median and the largest of samples.
func steadyOf(samples []rssSample) steadyRSS {
	rss := make([]float64, len(samples))
	anon := make([]float64, len(samples))
	for i, s := range samples {
		rss[i], anon[i] = s.rssMB, s.anonMB
	}
	slices.Sort(rss)
	slices.Sort(anon)
	return steadyRSS{MedianMB: rss[len(rss)/2], MedianAnonMB: anon[len(anon)/2],
		MaxMB: rss[len(rss)-1], MaxAnonMB: anon[len(anon)-1], Samples: len(samples)}
}

func memoryLine(m *memory) string {
	mixed := ""
	if x := m.Mixed; x != nil {
		mixed = fmt.Sprintf("; under the %d-client %s load alone: median VmRSS %.1f MB (RssAnon %.1f MB), largest %.1f MB (RssAnon %.1f MB), %d samples",
			x.Clients, x.Scenario, x.MedianMB, x.MedianAnonMB, x.MaxMB, x.MaxAnonMB, x.Samples)
	}
	return fmt.Sprintf("portreqd memory: peak RSS (VmHWM, whole life) %.1f MB; steady RSS (median VmRSS sampled every %s during the %d-client portreqd runs) %.1f MB, of which anonymous (RssAnon: heap, stacks) %.1f MB, the rest mapped file pages (the binary and, on the embedded store, its data file, which bbolt maps); "+
		"largest sampled VmRSS %.1f MB (RssAnon %.1f MB); %.1f MB when measuring started",
		m.PeakMB, rssPeriod, m.SteadyAt, m.SteadyMB, m.SteadyAnonMB, m.MaxSampleMB, m.MaxSampleAnonMB, m.StartMB) + mixed
}
