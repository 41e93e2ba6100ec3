package bolt

// SetReduceBatch sets the reduce batch size and returns a function that
// restores it.
func SetReduceBatch(n int) func() {
	old := reduceBatch
	reduceBatch = n
	return func() { reduceBatch = old }
}
