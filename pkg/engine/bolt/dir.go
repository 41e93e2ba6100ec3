package bolt

import "path/filepath"

// FileName is the engine's file in a data directory.
const FileName = "engine.db"

// legacyFileName is the file of the store portreqd kept before this engine
// (boltstore, format 1, removed when the engines came); OpenDir upgrades it once.
const legacyFileName = "portreqd.db"

// LocalReads says reads cost no round trip: the file is in this process.
func (e *Engine) LocalReads() bool { return true }

// OpenDir opens the engine file of data directory dir (created when
// missing), so that portreqd and the tools seeding its directory agree on
// the file. A directory still holding the previous store's file is
// upgraded first, once (UpgradeLegacy: logged, the old file kept beside as
// a backup).
func OpenDir(dir string, o Options) (*Engine, error) {
	path := filepath.Join(dir, FileName)
	if _, err := UpgradeLegacy(filepath.Join(dir, legacyFileName), path, o); err != nil {
		return nil, err
	}
	return Open(path, o)
}
