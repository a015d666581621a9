package watchdogotel_test

import (
	"context"
	"fmt"

	watchdog "github.com/raulk/go-watchdog"
	watchdogotel "github.com/raulk/go-watchdog/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Register the instruments with a meter of the program's MeterProvider
// (here one with a manual reader; in a program, the provider that exports
// to the collector or to Prometheus, or otel.Meter of the global one).
func ExampleRegister() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	reg, err := watchdogotel.Register(provider.Meter("github.com/raulk/go-watchdog"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Unregister()

	err, stop := watchdog.HeapDriven(1<<30, 25, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case "watchdog.running", "watchdog.info", "watchdog.limit":
			p := m.Data.(metricdata.Gauge[int64]).DataPoints[0]
			fmt.Printf("%s{%s} %v, unit %q\n", m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value, m.Unit)
		case "watchdog.events":
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if kind, _ := p.Attributes.Value("kind"); kind.AsString() == "gc_forced" {
					fmt.Printf("%s{kind=%s} %v, unit %q\n", m.Name, kind.AsString(), p.Value, m.Unit)
				}
			}
		}
	}
	// Output:
	// watchdog.running{} 1, unit ""
	// watchdog.info{driver=heap,source=heap} 1, unit ""
	// watchdog.limit{} 1073741824, unit "By"
	// watchdog.events{kind=gc_forced} 0, unit "{event}"
}
