package stream

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the stream service's Prometheus metrics.
type Metrics struct {
	Produced    *prometheus.CounterVec
	Duplicates  *prometheus.CounterVec
	Rejected    *prometheus.CounterVec
	Validated   *prometheus.CounterVec
	Latency     *prometheus.HistogramVec
	Subscribers *prometheus.GaugeVec
	Dropped     *prometheus.CounterVec
	Foreign     *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_events_produced_total", Help: "Events stored, by stream.",
		}, []string{"stream"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_events_duplicate_total", Help: "Valid events not stored again because their id was already stored.",
		}, []string{"stream"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_events_rejected_total", Help: "Events refused, by stream and reason (json, schema, id, time).",
		}, []string{"stream", "reason"}),
		Validated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_events_validated_total", Help: "Events checked against their stream's schema (by produce, check or a source), valid or not.",
		}, []string{"stream"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_produce_seconds", Help: "Time to validate and durably store one produce call.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"stream"}),
		Subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_subscribers", Help: "Readers following a stream now.",
		}, []string{"stream"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_subscribers_dropped_total", Help: "Live subscribers ended because they fell too far behind the stream.",
		}, []string{"stream"}),
		Foreign: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_foreign_messages_total", Help: "Messages sluice did not write (published straight to a stream's subject) that readers came across and skipped or flagged, once per reader.",
		}, []string{"stream"}),
	}
	if reg != nil {
		reg.MustRegister(m.Produced, m.Duplicates, m.Rejected, m.Validated, m.Latency, m.Subscribers, m.Dropped, m.Foreign)
	}
	return m
}
