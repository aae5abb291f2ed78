package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium for browser tests: KWID_CHROMIUM, or Debian's.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KWID_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Skip("HTML browser test: needs Chromium (hack/test.sh installs Debian's chromium; or set KWID_CHROMIUM)")
	return ""
}

// TestHTMLInChromium renders the demo report in headless Chromium: no console errors, every
// finding row visible, the severity filter hides and shows rows, and a screenshot shows the
// findings (the severity badges' colours are on screen).
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	s := demoScan(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "http://") || strings.Contains(buf.String(), "https://cdn") {
		t.Error("the report must be self-contained (no network references)")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()

	if err := chromedp.Do(ctx); err != nil { // open the tab before listening
		t.Fatalf("starting chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	countVisible := `Array.from(document.querySelectorAll("tr.finding")).filter(r => r.offsetParent !== null).length`
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#findings"))); err != nil {
		t.Fatalf("loading the report: %v", err)
	}
	visible := must(chromedp.Run(ctx, chromedp.Evaluate[int](countVisible)))(t)
	shown := must(chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#shown"))))(t)
	shot := must(chromedp.Run(ctx, chromedp.FullScreenshot(100)))(t)
	high := chromedp.Click(chromedp.CSS(`input.f-sev[value="high"]`))
	if err := chromedp.Do(ctx, high); err != nil {
		t.Fatal(err)
	}
	afterFilter := must(chromedp.Run(ctx, chromedp.Evaluate[int](countVisible)))(t)
	if err := chromedp.Do(ctx, high); err != nil {
		t.Fatal(err)
	}
	afterRestore := must(chromedp.Run(ctx, chromedp.Evaluate[int](countVisible)))(t)
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console errors: %v", problems)
	}
	if visible != len(s.Findings) || visible == 0 {
		t.Errorf("%d finding rows visible, want %d", visible, len(s.Findings))
	}
	if want := s.Summary.Total - s.Summary.High; afterFilter != want || afterRestore != visible {
		t.Errorf("unchecking high shows %d rows (want %d), checking it again %d (want %d)", afterFilter, want, afterRestore, visible)
	}
	if want := fmt.Sprintf("%d of %d shown", visible, len(s.Findings)); shown != want {
		t.Errorf("row counter %q, want %q", shown, want)
	}
	if out := os.Getenv("KWID_ARTIFACTS"); out != "" {
		_ = os.WriteFile(filepath.Join(out, "report-demo.png"), shot, 0o644)
	}
	// The screenshot shows findings: the "high" badge colour (#d9480f) is on screen.
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if n := countColor(img, color.RGBA{0xd9, 0x48, 0x0f, 0xff}); n < 200 {
		t.Errorf("screenshot shows %d pixels of the high-severity badge colour; findings not visible", n)
	}
}

// must turns a (value, error) pair into a value, failing the test on error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func countColor(img image.Image, want color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if abs(int(r>>8)-int(want.R)) < 6 && abs(int(g>>8)-int(want.G)) < 6 && abs(int(bl>>8)-int(want.B)) < 6 {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
