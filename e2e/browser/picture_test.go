//go:build browser

package browser

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireNotBlank fails unless b is a PNG that shows something: a blank or
// half-rendered page is one colour, or nearly so. At least 16 colours and
// no colour covering more than 97% of the pixels is far below what a
// rendered asynqmon table has, and far above a white or grey page.
func requireNotBlank(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err, "the screenshot is a PNG")
	colours, top := countColours(img)
	bounds := img.Bounds()
	pixels := bounds.Dx() * bounds.Dy()
	require.Positive(t, pixels, "the screenshot has pixels")
	t.Logf("screenshot %dx%d: %d colours, the commonest on %.1f%% of the pixels", bounds.Dx(), bounds.Dy(), colours, 100*float64(top)/float64(pixels))
	require.GreaterOrEqual(t, colours, 16, "the screenshot is blank: too few colours")
	require.Less(t, float64(top)/float64(pixels), 0.97, "the screenshot is blank: one colour covers nearly all of it")
}

// countColours counts the distinct colours of img and the pixels of the
// commonest one.
func countColours(img image.Image) (colours, top int) {
	seen := map[[4]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			k := [4]uint32{r, g, bl, a}
			seen[k]++
			top = max(top, seen[k])
		}
	}
	return len(seen), top
}

// TestRequireNotBlankTellsABlankPage proves the check can fail: a white
// page is blank, a page with text-like stripes of many colours is not.
func TestRequireNotBlankTellsABlankPage(t *testing.T) {
	white := image.NewRGBA(image.Rect(0, 0, 200, 100))
	for i := range white.Pix {
		white.Pix[i] = 0xff
	}
	colours, top := countColours(white)
	require.Equal(t, 1, colours)
	require.Equal(t, 200*100, top)

	drawn := image.NewRGBA(image.Rect(0, 0, 200, 100))
	copy(drawn.Pix, white.Pix)
	for y := 10; y < 90; y += 4 {
		for x := 0; x < 200; x++ {
			drawn.Set(x, y, image.NewUniform(rgba(uint8(x), uint8(y), 0x40)).C)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, drawn))
	requireNotBlank(t, buf.Bytes())
}

// rgba is an opaque colour.
func rgba(r, g, b uint8) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 0xff} }
