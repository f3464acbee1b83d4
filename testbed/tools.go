//go:build tools

// Package tools pins etcd's server, which is built as a binary from its module root.
package tools

import _ "go.etcd.io/etcd/server/v3"
