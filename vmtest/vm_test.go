//go:build vmtest

package vmtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// vmSpec is one machine: it binds the memory controller to one cgroup
// version; each of its scenarios runs in its own cgroup and worker process.
type vmSpec struct {
	name      string
	cgroup    string
	scenarios []string
}

// vms are the machines TestVM boots, two at a time with the default -parallel
// on two cores.
var vms = []vmSpec{
	// v2-move and v2-shrink mostly wait for the watchdog's limit refresh
	// (every 5 s): they share machines with busier scenarios rather than
	// boot their own.
	{"v2-a", "v2", []string{"v2-docker", "v2-parent-limit", "v2-nolimit", "v2-move"}},
	{"v2-b", "v2", []string{"v2-workingset", "v2-oomkill", "v2-shrink"}},
	{"v1", "v1", []string{"v1-docker", "v1-parent-limit", "v1-nolimit", "v1-workingset"}},
}

// selectedVMs returns vms, or only the machines named in VMTEST_VMS
// (comma-separated) when it is set.
func selectedVMs(t *testing.T) []vmSpec {
	names := os.Getenv("VMTEST_VMS")
	if names == "" {
		return vms
	}
	var out []vmSpec
	for _, name := range strings.Split(names, ",") {
		found := false
		for _, vm := range vms {
			if vm.name == strings.TrimSpace(name) {
				out, found = append(out, vm), true
			}
		}
		require.True(t, found, "VMTEST_VMS names %q; the machines are %v", name, vms)
	}
	return out
}

// vmTimeout bounds one VM boot, from QEMU start to power-off. A boot takes
// 5 to 40 s here; with two VMs at a time, three VMs finish within 4 minutes
// even if every one of them hangs.
const vmTimeout = 100 * time.Second

// TestVM boots the guest under QEMU (TCG, no KVM needed) with the distro
// kernel and checks every scenario's result line. It needs
// qemu-system-x86_64 and a /boot/vmlinuz-* with its modules: setup.sh
// installs them. Serial logs go to $VMTEST_LOGDIR when set; $VMTEST_CHURN
// (MiB/s, or "burst") sets the garbage rate of the pressure workloads;
// VMTEST_VMS picks machines by name (selectedVMs).
func TestVM(t *testing.T) {
	kernel, err := FindKernel()
	require.NoError(t, err)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	require.NoError(t, err, "run vmtest/setup.sh")
	brd, err := kernel.Module("drivers/block/brd.ko")
	require.NoError(t, err)
	brdBytes, err := os.ReadFile(brd)
	require.NoError(t, err)

	work := t.TempDir()
	initBin := filepath.Join(work, "init")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", initBin, "./guest")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the guest:\n%s", out)
	bin, err := os.ReadFile(initBin)
	require.NoError(t, err)
	cpio, err := BuildInitramfs(bin, map[string][]byte{"/lib/brd.ko": brdBytes})
	require.NoError(t, err)
	initrd := filepath.Join(work, "initramfs.cpio")
	require.NoError(t, os.WriteFile(initrd, cpio, 0o644))
	t.Logf("kernel %s, initramfs %d KiB, qemu %s", kernel.Image, len(cpio)/1024, qemu)

	logDir := os.Getenv("VMTEST_LOGDIR")
	if logDir == "" {
		logDir = work
	}
	require.NoError(t, os.MkdirAll(logDir, 0o755))

	for _, vm := range selectedVMs(t) {
		t.Run(vm.name, func(t *testing.T) {
			t.Parallel()
			logPath := filepath.Join(logDir, vm.name+".serial.log")
			logFile, err := os.Create(logPath)
			require.NoError(t, err)
			defer logFile.Close()
			cmdline := "vmtest.cgroup=" + vm.cgroup + " vmtest.scenarios=" + strings.Join(vm.scenarios, ",")
			if churn := os.Getenv("VMTEST_CHURN"); churn != "" {
				cmdline += " vmtest.churn=" + churn
			}
			run, err := VM{
				QEMU:    qemu,
				Kernel:  kernel.Image,
				Initrd:  initrd,
				Append:  cmdline,
				Timeout: vmTimeout,
			}.Boot(context.Background(), logFile)
			t.Logf("VM %s ran %.1fs; serial log %s", vm.name, run.Elapsed.Seconds(), logPath)
			ok := err == nil && !run.TimedOut && run.Done && len(run.Fatal) == 0
			for _, name := range vm.scenarios {
				t.Run(name, func(t *testing.T) {
					res, found := run.Results[name]
					if !found {
						t.Fatalf("scenario %s did not report a result", name)
					}
					t.Logf("%s", res.Details)
					if !res.Pass {
						ok = false
						t.Fatalf("scenario %s failed in the VM: %s", name, res.Details)
					}
				})
			}
			if !ok {
				tail(t, logPath)
			}
			require.NoError(t, err, "QEMU")
			require.False(t, run.TimedOut, "VM %s still running after %v; QEMU was killed", vm.name, vmTimeout)
			require.Empty(t, run.Fatal, "the guest could not run its scenarios")
			require.True(t, run.Done, "the guest did not print VMTEST DONE")
			require.Len(t, run.Results, len(vm.scenarios), "results: %v", run.Results)
		})
	}
}

// tail logs the last lines of the serial log of a failed VM.
func tail(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("reading %s: %v", path, err)
		return
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	t.Logf("last lines of %s:\n%s", path, bytes.Join(lines, []byte("\n")))
}
