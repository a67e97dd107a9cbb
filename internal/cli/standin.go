package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// serveStandIn serves a stand-in (the replay or the simulator) on addr
// until SIGINT or SIGTERM, then ends its open requests with closeFn.
func serveStandIn(cmd *cobra.Command, g *globals, addr string, h http.Handler, closeFn func(), banner string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		closeFn()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(g.errOut, banner+"\n", ln.Addr())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readInput reads the file named by args[i], or stdin when it is absent or "-".
func readInput(cmd *cobra.Command, args []string, i int) ([]byte, error) {
	if len(args) <= i || args[i] == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(args[i])
}
