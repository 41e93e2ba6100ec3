package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// watchPeak on this very process: touching 64 MB of fresh anonymous
// memory (outside the Go heap, which could reuse memory it holds) after
// the reset shows as a rise of most of that (the runtime may return other
// memory meanwhile), in VmHWM and in the sampled RssAnon.
func TestWatchPeak(t *testing.T) {
	if err := resetPeak(os.Getpid()); err != nil {
		t.Skipf("cannot reset the peak RSS here: %v", err)
	}
	stop, base, why := watchPeak(os.Getpid())
	if stop == nil {
		t.Fatal(why)
	}
	const size = 64 << 20
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	time.Sleep(3 * attachSamplePeriod)
	p := stop()
	if err := syscall.Munmap(b); err != nil {
		t.Fatal(err)
	}
	if rise := p.hwm - base.rssMB; rise < 48 {
		t.Errorf("peak rose by %.1f MB after touching 64 MB", rise)
	}
	if rise := p.anon - base.anonMB; rise < 48 {
		t.Errorf("sampled RssAnon rose by %.1f MB after touching 64 MB", rise)
	}
	if p.n < 2 {
		t.Errorf("%d samples", p.n)
	}
}
