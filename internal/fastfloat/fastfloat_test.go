package fastfloat

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func check(t *testing.T, v float64) {
	t.Helper()
	if got, want := string(AppendF(nil, v)), strconv.FormatFloat(v, 'f', -1, 64); got != want {
		t.Fatalf("AppendF(%b) = %s, strconv %s", v, got, want)
	}
	if got, want := string(AppendG(nil, v)), strconv.FormatFloat(v, 'g', -1, 64); got != want {
		t.Fatalf("AppendG(%b) = %s, strconv %s", v, got, want)
	}
}

// Every kind of value the station formats, and the edges of the short
// cut, come out as strconv writes them.
func TestMatchesStrconv(t *testing.T) {
	special := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.1 + 0.2, 1e-4, 1e-4 * (1 - 1e-16), 9.9999e-5, 1e-5, 1e-6, 1e-7,
		1e6, 999999.9999999999, 1e6 - 1, 1e15, 1e15 - 1, 1e15 + 2, 999999999999999.9, 1e21, 1e22, 1e-320, math.SmallestNonzeroFloat64,
		math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 123456789012345, 12345678901234.5, 0.000123456789012345,
		47.3977419, -122.0838851, 584.123, 1e-14, 5e-324, 2.5, 0.5, 1.5e-5, 4.35, 100, 1e2 + 1e-13}
	for _, v := range special {
		check(t, v)
		check(t, -v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		// MAVLink integers scaled by powers of ten (positions, altitudes, speeds, volts).
		n := r.Int64N(1<<53) >> r.IntN(53)
		for _, k := range []int{0, 1, 2, 3, 5, 7, 9, 15} {
			check(t, float64(n)/math.Pow(10, float64(k)))
			check(t, -float64(n)/math.Pow(10, float64(k)))
		}
		// Decimals with every count of trailing zeros in the short cut's
		// 15 digits (the zeros are stripped in steps of 8, 4, 2 and 1).
		for z := 0; z <= 15 && i < 3000; z++ {
			m := (r.Int64N(999)+1)*10 + 1 // no trailing zero of its own
			v := float64(m) * math.Pow(10, float64(z))
			for _, k := range []int{0, 1, 4, 7, 8, 12, 15} {
				check(t, v/math.Pow(10, float64(k)))
			}
		}
		// float32 readings widened (airspeed, attitude), and angles from them.
		f := float32(r.NormFloat64() * 100)
		check(t, float64(f))
		check(t, float64(f)*180/math.Pi)
		// Any double at all.
		check(t, math.Float64frombits(r.Uint64()))
		check(t, r.Float64()*math.Pow(10, float64(r.IntN(40)-20)))
	}
}

func FuzzMatchesStrconv(f *testing.F) {
	for _, v := range []float64{0, 1e-4, 1e6, 47.3977419, 0.30000000000000004, 1e15} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) { check(t, math.Float64frombits(bits)) })
}

var sink []byte

// BenchmarkAppend: a latitude (an int scaled by 1e-7), a speed (cm/s) and
// a float32 angle, against strconv.
func BenchmarkAppend(b *testing.B) {
	vals := []float64{47.3977419, -122.0838851, 12.34, 584.123, 0.5, float64(float32(0.1234567)) * 180 / math.Pi}
	b.Run("fastfloat", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sink = AppendG(sink[:0], vals[i%len(vals)])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sink = strconv.AppendFloat(sink[:0], vals[i%len(vals)], 'g', -1, 64)
		}
	})
}
