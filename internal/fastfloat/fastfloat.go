// Package fastfloat formats float64s exactly as strconv's shortest
// formats do ('f' and 'g' with precision -1), taking a short cut for the
// values telemetry is mostly made of: decimals of at most 15 significant
// digits, such as a MAVLink integer scaled by a power of ten (latitude
// 1e-7 degrees, altitude millimetres, speeds cm/s, voltages mV).
//
// Why: the station formats every float of every state it encodes (the
// WebSocket and MQTT JSON, InfluxDB line protocol), some 20 per vehicle
// state, tens of thousands of states a second at fleet scale; strconv's
// shortest-digit search was ~5 % of `burgut serve`'s CPU at 2,000
// vehicles. The short cut is one multiplication, one division and a
// comparison; values it cannot prove (most float32-derived ones) go to
// strconv, so the output is strconv's, byte for byte, for every input.
package fastfloat

import (
	"math"
	"strconv"
)

// AppendF appends v as strconv.AppendFloat(b, v, 'f', -1, 64) does.
func AppendF(b []byte, v float64) []byte {
	if out, ok := appendFast(b, v, 1e15); ok {
		return out
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// AppendG appends v as strconv.AppendFloat(b, v, 'g', -1, 64) does.
func AppendG(b []byte, v float64) []byte {
	// 'g' writes an exponent below 1e-4 and from 1e6 (shortest digits'
	// exponent < -4 or >= 6); between, it is 'f'.
	if a := math.Abs(v); a == 0 || (a >= 1e-4 && a < 1e6) {
		if out, ok := appendFast(b, v, 1e6); ok {
			return out
		}
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// appendFast appends v in 'f' form when v is the float64 nearest to a
// decimal m×10^-k of at most 15 significant digits and |v| < limit
// (≤ 1e15), and reports whether it did.
//
// Why that is strconv's output: the decimal rounds to v (checked below:
// m and 10^k are exact float64s and IEEE division is correctly rounded,
// so float64(m)/10^k is the float64 nearest m×10^-k), and no decimal
// with fewer significant digits does — two distinct decimals of at most
// 15 significant digits near v differ by at least 10^(e-14) (e = v's
// decimal exponent), more than the 2^-52·v that separates the decimals
// rounding to v. So m's digits are the shortest, and the only ones of
// their length: the digits strconv finds.
func appendFast(b []byte, v float64, limit float64) ([]byte, bool) {
	if v == 0 {
		if math.Signbit(v) {
			return append(b, "-0"...), true
		}
		return append(b, '0'), true
	}
	a := math.Abs(v)
	if !(a < limit) { // also NaN
		return b, false
	}
	// k: the most decimals that keep m below 1e15 (15 digits).
	k := 15
	for k > 0 && a >= pow10[15-k] {
		k--
	}
	s := a * pow10[k]
	if s >= 1e15 {
		return b, false
	}
	m := uint64(s + 0.5)
	if float64(m)/pow10[k] != a {
		return b, false // not a decimal of ≤ 15 digits (or not at this scale)
	}
	// Strip trailing zeros, eight, four, two, then one at a time: a
	// value of few decimals (a latitude to 1e-7 carries 13 decimals
	// here, six of them zeros) took a division per zero, the largest
	// part of this function's time.
	if k >= 8 && m%1e8 == 0 {
		m /= 1e8
		k -= 8
	}
	if k >= 4 && m%1e4 == 0 {
		m /= 1e4
		k -= 4
	}
	if k >= 2 && m%100 == 0 {
		m /= 100
		k -= 2
	}
	if k >= 1 && m%10 == 0 {
		m /= 10
		k--
	}
	if v < 0 {
		b = append(b, '-')
	}
	if k == 0 {
		return strconv.AppendUint(b, m, 10), true
	}
	p := uint64(pow10[k])
	b = strconv.AppendUint(b, m/p, 10)
	b = append(b, '.')
	frac := m % p
	// k digits, with the leading zeros AppendUint leaves out.
	n := len(b)
	b = append(b, "000000000000000"[:k]...)
	for i := n + k - 1; frac > 0; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	return b, true
}
