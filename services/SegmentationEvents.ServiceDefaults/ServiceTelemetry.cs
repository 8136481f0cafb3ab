using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace SegmentationEvents.ServiceDefaults;

/// <summary>
/// OpenTelemetry as every service of the solution uses it: traces from MassTransit, Npgsql, ASP.NET Core and the
/// service's own sources; metrics from the same plus the runtime; logs with trace and span ids. Export: OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard <c>OTEL_*</c> variables apply), and a Prometheus scrape
/// endpoint at <c>/metrics</c> when <c>Telemetry:Prometheus</c> is true.
/// </summary>
public static class ServiceTelemetry
{
    public const string MassTransitSource = "MassTransit";

    public static OpenTelemetryBuilder AddServiceTelemetry(
        this IServiceCollection services, IConfiguration configuration, string serviceName, string[] sources, string[] meters)
    {
        services.Configure<LoggerFactoryOptions>(options =>
            options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(configuration["OTEL_SERVICE_NAME"] ?? serviceName))
            .WithTracing(tracing => tracing
                .AddSource(sources)
                .AddSource(MassTransitSource)
                .AddNpgsql()
                .AddAspNetCoreInstrumentation())
            .WithMetrics(metrics => metrics
                .AddMeter(meters)
                .AddMeter(MassTransitSource)
                .AddMeter(ConsumptionPauses.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation())
            .WithLogging();
        if (!string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            telemetry.UseOtlpExporter();
        if (PrometheusEnabled(configuration))
            telemetry.WithMetrics(metrics => metrics.AddPrometheusExporter());
        return telemetry;
    }

    /// <summary>Maps <c>/metrics</c> when the Prometheus exporter is enabled.</summary>
    public static WebApplication MapTelemetryEndpoints(this WebApplication app)
    {
        if (PrometheusEnabled(app.Configuration)) app.MapPrometheusScrapingEndpoint();
        return app;
    }

    private static bool PrometheusEnabled(IConfiguration configuration) => configuration.GetValue("Telemetry:Prometheus", false);
}
