module github.com/raulk/go-watchdog

go 1.21.0

require (
	github.com/benbjohnson/clock v1.3.5
	github.com/elastic/gosigar v0.14.3
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.30.0
)

require (
	github.com/pkg/errors v0.9.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
