package scenario

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the result as JUnit XML: one test suite for the
// scenario, one test case per assertion (per vehicle where the assertion
// applies per vehicle) and per step that ran; a case that did not hold
// has a failure whose message says what, which vehicle and when. A check
// this build cannot make is a failure of type "unsupported" (it did not
// hold, and CI must not read it as passed); a check this run could not
// make (telemetry_stored against a station given by URL) is skipped, with
// the reason.
func WriteJUnit(w io.Writer, r *Result) error {
	s := junitSuite{
		Name:      r.Scenario,
		Time:      r.Wall.Seconds(),
		Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{
			{"file", r.File}, {"seed", fmt.Sprint(r.Seed)}, {"speedup", fmt.Sprint(r.Speedup)},
			{"simulated_time", r.SimTime.String()}, {"end", r.EndReason}, {"vehicles", strings.Join(r.Vehicles, ",")},
		},
	}
	class := "scenario." + classPart(r.Scenario)
	for _, c := range r.Cases {
		jc := junitCase{Name: c.Name(), Classname: class + "." + c.Kind, File: r.File, Line: c.Line}
		switch {
		case c.OK && c.Skipped:
			jc.Skipped = &junitSkipped{Message: c.Message}
			s.Skipped++
		case c.OK:
			jc.SystemOut = c.Message
		default:
			typ := "assertion"
			switch {
			case c.Unsupported:
				typ = "unsupported"
			case c.Kind == "step", c.Kind == "fault":
				typ = c.Kind
			}
			jc.Failure = &junitFailure{Message: c.Message, Type: typ, Text: fmt.Sprintf("%s\nat simulated %s; scenario %s line %d", c.Message, clock(c.At), r.File, c.Line)}
			s.Failures++
		}
		s.Cases = append(s.Cases, jc)
	}
	s.Tests = len(s.Cases)
	all := junitSuites{Name: r.Scenario, Tests: s.Tests, Failures: s.Failures, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func classPart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	return b.String()
}
