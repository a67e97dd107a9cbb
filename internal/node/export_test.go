package node

import "time"

// SetCertCheck makes the nodes started after it look at their certificate
// files every d; the returned func restores the default.
func SetCertCheck(d time.Duration) (restore func()) {
	old := certCheck
	certCheck = d
	return func() { certCheck = old }
}
