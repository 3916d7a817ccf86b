package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// paperd is a paperd process started by the benchmark, with a client connection.
type paperd struct {
	cmd                *exec.Cmd
	conn               *grpc.ClientConn
	grpcAddr, httpAddr string
	// ready is how long paperd took from its start until /readyz answered 200.
	ready    time.Duration
	stopOnce sync.Once
}

// startPaperd starts paperd with its data in dir and env added to the
// environment, on free loopback ports, and connects once it is ready, which it
// must be within limit.
func startPaperd(ctx context.Context, bin, dir string, limit time.Duration, env ...string) (*paperd, error) {
	grpcAddr, httpAddr, err := freeAddrs()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "paperd"))
	cmd.Env = append(append(os.Environ(), "PAPERD_DATA_DIR="+dir, "PAPERD_GRPC_ADDR="+grpcAddr,
		"PAPERD_HTTP_ADDR="+httpAddr, "PAPERD_LOG_LEVEL=warn"), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &paperd{cmd: cmd, grpcAddr: grpcAddr, httpAddr: httpAddr}
	if err := waitReady(ctx, "http://"+httpAddr+"/readyz", limit); err != nil {
		p.stop()
		return nil, err
	}
	p.ready = time.Since(began)
	if p.conn, err = grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// pid is paperd's process id.
func (p *paperd) pid() int { return p.cmd.Process.Pid }

// stop ends paperd (SIGTERM, and waits) and the connection; calling it again
// does nothing.
func (p *paperd) stop() {
	p.stopOnce.Do(func() {
		if p.conn != nil {
			_ = p.conn.Close()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
}

// kill ends paperd with SIGKILL, as a crash would, and waits for it to be gone;
// stop after it does nothing.
func (p *paperd) kill() {
	p.stopOnce.Do(func() {
		if p.conn != nil {
			_ = p.conn.Close()
		}
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	})
}

func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("paperd not ready after %v", limit)
}

func freeAddrs() (string, string, error) {
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		addrs = append(addrs, l.Addr().String())
		defer func() { _ = l.Close() }()
	}
	return addrs[0], addrs[1], nil
}

// settle waits until process pid uses less than 5% of a core over a second, or
// until limit, and returns how long it waited.
func settle(ctx context.Context, pid int, limit time.Duration) time.Duration {
	return settleFor(ctx, pid, 1, limit)
}

// settleFor waits until process pid has used less than 5% of a core in each of
// quiet seconds in a row, or until limit, and returns how long it waited. One
// quiet second does not show that a process is done: a search index merges its
// segments in bursts, with quiet seconds between them.
func settleFor(ctx context.Context, pid, quiet int, limit time.Duration) time.Duration {
	began := time.Now()
	for inARow := 0; inARow < quiet && time.Since(began) < limit && ctx.Err() == nil; {
		before := cpuTime(pid)
		time.Sleep(time.Second)
		if cpuTime(pid)-before < 50*time.Millisecond {
			inARow++
		} else {
			inARow = 0
		}
	}
	return time.Since(began)
}

// cpuTime returns the user plus system CPU time process pid has used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

func perRequest(cpu time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

// peakRSS returns the largest resident set size process pid has had.
func peakRSS(pid int) (int64, error) { return procStatusBytes(pid, "VmHWM") }

// currentRSS returns process pid's resident set size now.
func currentRSS(pid int) (int64, error) { return procStatusBytes(pid, "VmRSS") }

// procStatusBytes reads a size in kB, such as VmRSS, from /proc/pid/status.
func procStatusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s for process %d", field, pid)
}
