module github.com/raulk/go-watchdog/cgroupcheck

go 1.22.0

replace github.com/raulk/go-watchdog => ../

require (
	github.com/containerd/cgroups/v3 v3.1.3
	github.com/raulk/go-watchdog v1.4.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/coreos/go-systemd/v22 v22.5.0 // indirect
	github.com/docker/go-units v0.5.0 // indirect
	github.com/elastic/gosigar v0.14.3 // indirect
	github.com/godbus/dbus/v5 v5.1.0 // indirect
	github.com/moby/sys/userns v0.1.0 // indirect
	github.com/opencontainers/runtime-spec v1.3.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.30.0 // indirect
	google.golang.org/protobuf v1.35.2 // indirect
)
