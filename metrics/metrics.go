// Package metrics serves the station's Prometheus /metrics. It is a pull
// design: every family is read at scrape time from the counters each part
// already keeps (its Stats()-style accessor), so exposing a stage adds no
// work to its hot path and no part depends on Prometheus. The app layer
// says which family reads what (app/metrics.go); the metric names and what
// they mean are documented in docs/metrics.md.
package metrics

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Kind is a family's Prometheus type.
type Kind int

const (
	// Counter only grows (totals since start).
	Counter Kind = iota
	// Gauge goes up and down (queue depths, connected clients).
	Gauge
)

// Family describes one metric family: its name, help text, kind and the
// names of its labels.
type Family struct {
	Name   string
	Help   string
	Kind   Kind
	Labels []string
}

// Emit reports one series of a family: its value and its label values, in
// the order of Family.Labels.
type Emit func(value float64, labelValues ...string)

// Registry holds the families of one process; Handler serves them.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a registry that already carries the Go runtime and process
// (CPU, RSS, open files) collectors, so a scrape shows the station's own
// cost next to its throughput.
func New() *Registry {
	reg := prometheus.NewRegistry()
	// Besides the default Go series: how long runnable goroutines waited
	// for a CPU (go_sched_latencies_seconds) and the stop-the-world pauses
	// (go_sched_pauses_total_gc_seconds) — where the station's latency
	// goes when the machine or the runtime is busy.
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Add registers a family whose series are produced by read at every
// scrape. read must be quick and safe to call from any goroutine. It
// returns an error for an invalid or duplicate family.
func (r *Registry) Add(f Family, read func(emit Emit)) error {
	vt := prometheus.CounterValue
	if f.Kind == Gauge {
		vt = prometheus.GaugeValue
	}
	c := &familyCollector{desc: prometheus.NewDesc(f.Name, f.Help, f.Labels, nil), vt: vt, read: read}
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: family %s: %w", f.Name, err)
	}
	return nil
}

// SummaryEmit reports one series of a summary family: the number of
// observations, their sum, and the label values.
type SummaryEmit func(count uint64, sum float64, labelValues ...string)

// AddSummary registers a summary family (count and sum, no quantiles),
// e.g. a latency whose part keeps only the total time and the count.
func (r *Registry) AddSummary(f Family, read func(emit SummaryEmit)) error {
	c := &summaryCollector{desc: prometheus.NewDesc(f.Name, f.Help, f.Labels, nil), read: read}
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: family %s: %w", f.Name, err)
	}
	return nil
}

// HistogramEmit reports one series of a histogram family: the number of
// observations, their sum, the cumulative count at each upper bound, and
// the label values.
type HistogramEmit func(count uint64, sum float64, buckets map[float64]uint64, labelValues ...string)

// AddHistogram registers a histogram family whose series are produced by
// read at every scrape (e.g. from latency.Histogram snapshots).
func (r *Registry) AddHistogram(f Family, read func(emit HistogramEmit)) error {
	c := &histogramCollector{desc: prometheus.NewDesc(f.Name, f.Help, f.Labels, nil), read: read}
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: family %s: %w", f.Name, err)
	}
	return nil
}

// Handler serves the registry in the Prometheus text (or negotiated)
// format. A family whose read fails shows up as a scrape error naming it,
// never as a crash.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gather returns the current families (tests and the health endpoint).
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

type familyCollector struct {
	desc *prometheus.Desc
	vt   prometheus.ValueType
	read func(Emit)
}

func (c *familyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *familyCollector) Collect(ch chan<- prometheus.Metric) {
	c.read(func(v float64, lv ...string) {
		m, err := prometheus.NewConstMetric(c.desc, c.vt, v, lv...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	})
}

type summaryCollector struct {
	desc *prometheus.Desc
	read func(SummaryEmit)
}

func (c *summaryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *summaryCollector) Collect(ch chan<- prometheus.Metric) {
	c.read(func(n uint64, sum float64, lv ...string) {
		m, err := prometheus.NewConstSummary(c.desc, n, sum, nil, lv...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	})
}

type histogramCollector struct {
	desc *prometheus.Desc
	read func(HistogramEmit)
}

func (c *histogramCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *histogramCollector) Collect(ch chan<- prometheus.Metric) {
	c.read(func(n uint64, sum float64, buckets map[float64]uint64, lv ...string) {
		m, err := prometheus.NewConstHistogram(c.desc, n, sum, buckets, lv...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	})
}
