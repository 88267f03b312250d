package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var saveScreenshots = flag.Bool("screenshots", false, "browser tests: save the screenshots in testdata/ (for the README) instead of a temporary directory")

// TestBrowser runs every rule in headless Chromium, driven by chromedp: the application
// and the identity server's pages as a person sees them. Without Chromium it skips,
// unless OCS_REQUIRE_BROWSER=1 (as in .ci/run), which makes that a failure.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser: 20 s; run without -short (CI does, and fails if it skips)")
	}
	chromium := findChromium(t)
	shots := t.TempDir()
	if *saveScreenshots {
		shots = "testdata"
	}
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			rule.run(t, newBrowser(t, chromium, shots))
		})
	}
}

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on this machine: install Debian's package (apt-get install chromium) to run the browser tests"
	if os.Getenv("OCS_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (OCS_REQUIRE_BROWSER=1 makes this a failure)")
	}
	t.Skip(msg)
	return ""
}

// browser is a driver backed by a headless Chromium of its own: a new process with an
// empty profile, stopped when the test ends.
type browser struct {
	ctx      context.Context
	chromium string
	shots    string
}

func newBrowser(t *testing.T, chromium, shots string) *browser {
	t.Helper()
	// Only loopback is reachable here: everything that would phone home is off.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 640),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, so a broken installation fails here with its reason.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return &browser{ctx: ctx, chromium: chromium, shots: shots}
}

// fresh returns the browser with its cookies cleared: a new session for the application,
// without the second or so a new Chromium takes to start.
func (b *browser) fresh(t *testing.T) driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("browser: clearing cookies: %v", err)
	}
	b.open(t, "about:blank")
	return b
}

// run runs steps with a deadline, failing the test on an error.
func (b *browser) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v\n(at %s)", what, err, b.current(t).describe())
	}
}

// current is the page the browser shows.
func (b *browser) current(t *testing.T) page {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("browser: location: %v", err)
	}
	h, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatalf("browser: page of %s: %v", u, err)
	}
	return page{url: u, html: h}
}

// clickAndWait clicks the element with the id and waits until a new document has loaded
// (the old one is marked, so a redirect back to the same URL counts too).
func (b *browser) clickAndWait(t *testing.T, id string) page {
	t.Helper()
	b.run(t, "click #"+id,
		chromedp.WaitVisible(chromedp.ID(id)),
		chromedp.Evaluate[chromedp.Void](`window.__oldDocument = true`),
		chromedp.Click(chromedp.ID(id)),
	)
	// Asking during a navigation fails ("target navigated"): ask again until the new
	// document answers.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__oldDocument === undefined && document.readyState === "complete"`))
		cancel()
		if err == nil && loaded {
			return b.current(t)
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser: no new page after clicking #%s (last error: %v)", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) signIn(t *testing.T, appURL, user string) page {
	t.Helper()
	b.open(t, appURL+"/")
	p := b.clickAndWait(t, "signin")
	if !p.has("submit") {
		return p // not the sign-in page: an error page
	}
	b.run(t, "type the user", chromedp.SendKeys(chromedp.ID("username"), user))
	return b.clickAndWait(t, "submit")
}

func (b *browser) cancelSignIn(t *testing.T, appURL string) page {
	t.Helper()
	b.open(t, appURL+"/")
	p := b.clickAndWait(t, "signin")
	if !p.has("cancel") {
		t.Fatalf("no Cancel on %s", p.describe())
	}
	return b.clickAndWait(t, "cancel")
}

func (b *browser) press(t *testing.T, id string) page {
	t.Helper()
	return b.clickAndWait(t, id)
}

func (b *browser) open(t *testing.T, u string) page {
	t.Helper()
	b.run(t, "open "+u, chromedp.Navigate(u))
	return b.current(t)
}

// screenshot saves the page as testdata/screenshot-NAME.png (with -screenshots) or in a
// temporary directory, and checks that it is a real picture.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 200 {
		t.Fatalf("screenshot of %dx%d pixels", r.Dx(), r.Dy())
	}
	path := filepath.Join(b.shots, fmt.Sprintf("screenshot-%s.png", name))
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
