using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Storefront.Simulator;

/// <summary>
/// Exports MassTransit's publish spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, so a
/// trace starts at the upstream publish and continues in the segmentation service.
/// </summary>
internal static class Tracing
{
    public static IDisposable? StartIfConfigured() =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"))
            ? null
            : Sdk.CreateTracerProviderBuilder()
                .ConfigureResource(resource => resource.AddService("storefront-simulator"))
                .AddSource("MassTransit")
                .AddOtlpExporter()
                .Build();
}
