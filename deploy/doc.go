// Package deploy holds the files to run sluice in production: a systemd
// unit with its config, and Kubernetes manifests for a NATS JetStream
// cluster, PostgreSQL and several sluice nodes (docs/DEPLOY.md). It has no
// code: its tests check the files against the code they deploy, so that a
// flag renamed or a config key removed fails here before it fails a
// deployment.
package deploy
