package operations

import (
	"math"
	"testing"
)

// A drone drawing 0.0667 %/s (25 min on a pack) learns that rate from
// whole-percent readings and leaves with exactly its reserve plus the
// trip home.
func TestPredictLearnsTheDronesOwnRate(t *testing.T) {
	const rate = 100.0 / 1500
	var s []BatterySample
	for ts := 0.0; ts <= 300; ts += 1 {
		s = append(s, BatterySample{T: 1000 + ts, Pct: math.Floor(90 - rate*ts)})
	}
	in := PredictInput{Samples: s, PriorRate: 0.2, Pct: 70, DistHomeM: 600, AltM: 45, Cruise: 10, Descent: 1.5, Reserve: 20}
	p := Predict(in)
	if !p.Learned || math.Abs(p.Rate-rate)/rate > 0.03 {
		t.Fatalf("rate %v learned %v, want ≈%v learned", p.Rate, p.Learned, rate)
	}
	if want := 600/10.0 + 45/1.5 + landingS; math.Abs(p.ReturnS-want) > 1e-9 {
		t.Fatalf("return %v s, want %v", p.ReturnS, want)
	}
	// Flying LeaveInS then home must land with the reserve.
	left := in.Pct - p.Rate*(p.LeaveInS+p.ReturnS)
	if math.Abs(left-in.Reserve) > 1e-6 {
		t.Fatalf("lands with %v %%, want the %v %% reserve", left, in.Reserve)
	}
}

// Too short a window keeps the prior; a pack swapped mid-window (rising
// charge) is not mistaken for a consumption.
func TestPredictFallsBackToThePrior(t *testing.T) {
	short := []BatterySample{{0, 90}, {30, 88}, {60, 86}}
	if p := Predict(PredictInput{Samples: short, PriorRate: 0.1, Pct: 86, Reserve: 20}); p.Learned || p.Rate != 0.1 {
		t.Fatalf("short window: %+v, want the prior", p)
	}
	rising := []BatterySample{{0, 20}, {50, 60}, {100, 100}}
	if p := Predict(PredictInput{Samples: rising, PriorRate: 0.1, Pct: 100, Reserve: 20}); p.Learned {
		t.Fatalf("rising charge learned as a rate: %+v", p)
	}
	if p := Predict(PredictInput{Pct: 50, Reserve: 20}); !math.IsInf(p.LeaveInS, 1) {
		t.Fatalf("no rate at all: leave in %v, want never", p.LeaveInS)
	}
	// Late: under the reserve already.
	if p := Predict(PredictInput{PriorRate: 0.1, Pct: 15, Reserve: 20}); p.LeaveInS >= 0 {
		t.Fatalf("below reserve: leave in %v, want negative", p.LeaveInS)
	}
}

func TestFullEndurance(t *testing.T) {
	if got := FullEndurance(100.0 / 1500); math.Abs(got-1500) > 1e-9 {
		t.Fatalf("%v", got)
	}
}
