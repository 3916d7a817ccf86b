package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// TestSchedulerRunsARoundEveryInterval runs the scheduler for ten intervals
// of (fake) time while another replica holds the lease: it asks for the lease
// once at start and once each interval, never more, and counts every round,
// including one whose lease request failed.
func TestSchedulerRunsARoundEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Sender{Log: slog.New(slog.DiscardHandler)}
		asked := 0
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.RunScheduler(ctx, time.Minute, func(context.Context) (bool, error) {
				asked++
				if asked == 3 {
					return false, errors.New("database away")
				}
				return false, nil // held by another replica
			})
		}()
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait() // the round due at 10m is over
		if asked != 11 || s.Stats.SchedulerFollowing.Load() != 11 || s.Stats.SchedulerLeading.Load() != 0 {
			t.Errorf("after 10 intervals: the lease asked for %d times, rounds %d following, %d leading; want 11, 11, 0",
				asked, s.Stats.SchedulerFollowing.Load(), s.Stats.SchedulerLeading.Load())
		}
		cancel()
		<-done
	})
}

// TestGatherBatchesWhatComesWithinTheDelay: a batch is the first item and
// those that follow within the delay, at most size; the last one comes when
// the channel closes.
func TestGatherBatchesWhatComesWithinTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := make(chan int)
		var batches [][]int
		done := make(chan struct{})
		go func() {
			defer close(done)
			for b := range gather(ch, 3, 50*time.Millisecond) {
				batches = append(batches, b)
			}
		}()
		ch <- 1
		time.Sleep(10 * time.Millisecond)
		ch <- 2                            // within the delay: the same batch
		time.Sleep(100 * time.Millisecond) // the batch closes at 50 ms
		ch <- 3
		ch <- 4
		ch <- 5 // full
		ch <- 6
		close(ch)
		<-done
		if got := fmt.Sprint(batches); got != "[[1 2] [3 4 5] [6]]" {
			t.Errorf("batches %s, want [[1 2] [3 4 5] [6]]", got)
		}
	})
}
