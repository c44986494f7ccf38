// Package kubernetes holds no code: this folder is adsync's kustomize base
// (README.md beside this file), and the module exists for its offline
// validation tests, so that the Kubernetes and KEDA API types they decode
// into stay out of adsync's own go.mod. `make test` runs them.
package kubernetes
