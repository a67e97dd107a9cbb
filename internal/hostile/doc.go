// Package hostile holds the hostile-input and ordinary-load suite: Go tests
// that start a real node on loopback and do to it what an attacker or a
// careless client would (huge numbers, a million bad events, cross-site
// requests, slow bodies, subscribers that never read, a full disk), then
// check that the answer is a clear 4xx or 5xx problem document, that the
// cost stayed bounded, that nothing was stored or lost, and that the node
// still serves others. One file per kind of attack; helpers in node_test.go.
package hostile
